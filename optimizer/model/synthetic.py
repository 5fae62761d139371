"""Seeded synthetic instances for tests and benchmarks, from a few dozen to a million variables.

`generate_tables(size, seed)` returns the sheets of an input workbook as lists
of row dicts (the format `optimizer.common.xlsx.write_input_workbook` writes), so a
synthetic instance is a real workbook a planner could open. `generate_data`
turns the same tables into ModelData in memory through the workbook parser and
checks (`parse_inputs`, then `prepare`) without writing a file, which is what
the 100k and 1M sizes need.

Sizes: "small" (tests), "default" (about the size of inputs/default.xlsx),
"10k", "100k", "1m" (that many LP variables, about), or an integer.

Every instance uses every constraint family: facility capacities, offer limits,
offtakes with hard minimums and with take-or-pay, stockpiles with reserves, a
China share cap below 1, an allied share minimum above 0 and (up to 10k
variables) a country share cap below 1. Supply is tight, as in these markets:
offers are small next to demand, so cheap offers run out and capacities bind;
dearer allied "backstop" offers without a limit and unmet demand allowed at the
penalty keep every instance feasible, and little or nothing goes unmet.
Magnitudes are realistic: prices 10-5,000 USD/kg, tonnes 1-10,000.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.parse import parse_inputs, require_valid
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.workbook import RawCell, RawRow, RawTable, RawWorkbook
from optimizer.model.data import ModelData, prepare

Tables = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Dims:
    """Shape of an instance: purchases = suppliers x offers_per_supplier x periods (about)."""

    materials: int
    periods: int
    suppliers: int
    offers_per_supplier: int
    country_cap: bool = True


#: Named sizes; the number is the approximate count of LP variables (mostly purchases x);
#: "default" is about the size of inputs/default.xlsx, "small" is for tests.
SIZES: dict[str, Dims] = {
    "small": Dims(materials=3, periods=3, suppliers=12, offers_per_supplier=2),
    "default": Dims(materials=6, periods=3, suppliers=20, offers_per_supplier=2),
    "10k": Dims(materials=20, periods=12, suppliers=80, offers_per_supplier=10),
    # No country cap on the large sizes (as in the default workbook's baseline): its rows
    # hold every purchase of (m, t) once per origin country, which multiplies the matrix
    # by about 8 (1M: some 30 million coefficients, more than the 2 GB it is meant for).
    "100k": Dims(
        materials=60, periods=24, suppliers=300, offers_per_supplier=14, country_cap=False
    ),
    "1m": Dims(
        materials=200, periods=36, suppliers=1400, offers_per_supplier=20, country_cap=False
    ),
}

#: Origin countries: (name, allied). China is added separately.
COUNTRIES: tuple[tuple[str, bool], ...] = (
    ("Australia", True),
    ("Japan", True),
    ("South Korea", True),
    ("Canada", True),
    ("United States", True),
    ("Germany", True),
    ("France", True),
    ("United Kingdom", True),
    ("Malaysia", True),
    ("Thailand", True),
    ("Estonia", True),
    ("Norway", True),
    ("Finland", True),
    ("Belgium", True),
    ("Vietnam", False),
    ("Brazil", False),
    ("India", False),
    ("Kazakhstan", False),
    ("Myanmar", False),
    ("Laos", False),
    ("South Africa", False),
    ("Indonesia", False),
    ("Chile", False),
    ("Peru", False),
    ("Mexico", False),
    ("Argentina", False),
    ("Turkey", False),
    ("Madagascar", False),
    ("Tanzania", False),
    ("Greenland", True),
)
CHINA = "China"


def dims_for(size: str | int) -> Dims:
    """The shape of a named size, or of an instance with about `size` variables."""
    if isinstance(size, str):
        key = size.strip().lower()
        if key not in SIZES:
            raise ValueError(f"unknown size {size!r} (known: {', '.join(SIZES)} or an integer)")
        return SIZES[key]
    if size < 10:
        raise ValueError(f"size must be at least 10 variables (got {size})")
    periods = 3 if size < 2_000 else 12 if size < 50_000 else 24 if size < 500_000 else 36
    per_supplier = max(2, min(20, round(size**0.25)))
    lanes = max(4, round(size / periods))
    suppliers = max(4, round(lanes / per_supplier))
    materials = max(2, min(lanes // 8, round(lanes / 140) or 2))
    return Dims(materials, periods, suppliers, min(per_supplier, materials), size < 50_000)


def _period_labels(n: int) -> list[str]:
    if n <= 6:
        return [str(2026 + i) for i in range(n)]
    return [f"{2026 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


def generate_tables(size: str | int, seed: int = 0) -> Tables:
    """Workbook sheets of a synthetic instance; the same (size, seed) gives the same tables."""
    dims = dims_for(size)
    rng = random.Random(f"{seed}:{dims}")
    periods = _period_labels(dims.periods)
    materials = [f"MAT{i:03d}" for i in range(dims.materials)]

    # Materials: a base price (10-3,000 USD/kg) and a base demand per period (5-2,000 t).
    base_price = {m: math.exp(rng.uniform(math.log(12), math.log(3000))) for m in materials}
    base_demand = {m: math.exp(rng.uniform(math.log(5), math.log(2000))) for m in materials}
    growth = {m: rng.uniform(0.0, 0.25) for m in materials}  # per year

    countries = [(CHINA, False), *COUNTRIES]
    country_rows = []
    for name, allied in countries:
        rate = (
            rng.choice([0.2, 0.25, 0.3])
            if name == CHINA
            else rng.choice([0.0, 0.1, 0.15, 0.19, 0.2, 0.25, 0.35, 0.46])
        )
        country_rows.append(
            {"country": name, "tariff_rate": rate, "allied": allied, "china": name == CHINA}
        )

    # Suppliers: about 15% Chinese (cheap, large), the rest spread over the other countries.
    supplier_rows: list[dict[str, Any]] = []
    supplier_country: dict[str, str] = {}
    # suppliers 1-3 are in three different allied countries, so that even the smallest
    # instance can meet an allied minimum next to a country cap
    first_allied = rng.sample([c for c, allied in COUNTRIES if allied], 3)
    for i in range(dims.suppliers):
        if i % 7 == 0:
            country = CHINA
        elif i <= 3:
            country = first_allied[i - 1]
        else:
            country = COUNTRIES[rng.randrange(len(COUNTRIES))][0]
        name = f"S{i:05d} {country[:3].upper()}"
        supplier_country[name] = country
        supplier_rows.append({"supplier": name, "country": country})
    allied_of = dict(countries)
    suppliers: list[str] = list(supplier_country)

    # Lanes: each supplier offers `offers_per_supplier` materials; every material gets
    # at least one Chinese lane and three allied "backstop" lanes (dearer, unlimited) so
    # that demand and every share row can always be met.
    lanes: dict[tuple[str, str], bool] = {}  # (supplier, material) -> backstop
    china_suppliers = [s for s in suppliers if supplier_country[s] == CHINA] or suppliers[:1]
    allied_suppliers = [s for s in suppliers if allied_of[supplier_country[s]]] or suppliers
    by_country: dict[str, list[str]] = {}
    for s in allied_suppliers:
        by_country.setdefault(supplier_country[s], []).append(s)
    for m in materials:
        lanes[(rng.choice(china_suppliers), m)] = False
        for c in rng.sample(sorted(by_country), min(3, len(by_country))):
            lanes[(rng.choice(by_country[c]), m)] = True
    # a hard minimum can always be met within the country cap when three other countries
    # can sell the same material without limit
    firm = {m for m in materials if sum(1 for (_, n), b in lanes.items() if b and n == m) >= 3}
    for s in suppliers:
        for m in rng.sample(materials, min(dims.offers_per_supplier, len(materials))):
            lanes.setdefault((s, m), False)
    per_material = dict.fromkeys(materials, 0)
    for _, m in lanes:
        per_material[m] += 1

    offer_rows: list[dict[str, Any]] = []
    offtake_rows: list[dict[str, Any]] = []
    lane_load: dict[str, float] = dict.fromkeys(suppliers, 0.0)
    hard_min_load: dict[str, float] = dict.fromkeys(suppliers, 0.0)
    for (s, m), backstop in lanes.items():
        country = supplier_country[s]
        china = country == CHINA
        if backstop:
            factor = rng.uniform(1.4, 1.8)
        else:
            factor = rng.uniform(0.7, 0.95) if china else rng.uniform(0.85, 1.4)
        price = min(5000.0, max(10.0, base_price[m] * factor))
        freight = _r(rng.uniform(0.2, 0.01 * price + 1.0))
        # Tight supply, as in these markets: offers are small next to demand (together
        # about twice it), so the cheap ones run out and capacities and shares bind.
        share = base_demand[m] * rng.uniform(0.5, 3.5) / per_material[m]
        limited = not backstop and rng.random() < 0.8
        max_t = _r(max(1.0, share), 1) if limited else None
        lane_load[s] += base_demand[m] if backstop else share
        row = {
            "supplier": s,
            "material": m,
            "price_usd_per_kg": _r(price),
            "max_t": max_t,
            "freight_usd_per_kg": freight,
            "period": None,
        }
        roll = rng.random()
        if roll < 0.04 and len(periods) > 1:
            # a new line: only offered from some period on, one row per period
            start = rng.randrange(1, len(periods))
            for t in periods[start:]:
                offer_rows.append({**row, "period": t})
            continue
        offer_rows.append(row)
        if roll < 0.10 and len(periods) > 1:
            # a price change in one period: its own row overrides the blank-period row
            t = rng.choice(periods)
            changed = min(5000.0, max(10.0, price * rng.uniform(0.8, 1.3)))
            offer_rows.append({**row, "period": t, "price_usd_per_kg": _r(changed)})
        elif roll < 0.13 and allied_of[country] and not china and m in firm:
            # hard-minimum offtake: small (<= 2% of demand) so it never forces a breach
            q = _r(max(0.1, min(base_demand[m] * rng.uniform(0.005, 0.02), (max_t or 1e9) / 2)), 1)
            hard_min_load[s] += q
            offtake_rows.append({"supplier": s, "material": m, "min_t": q})
        elif roll < 0.16:
            # take-or-pay offtake, sometimes at a contract price and with a maximum
            q = _r(max(1.0, base_demand[m] * rng.uniform(0.02, 0.15)), 1)
            top: dict[str, Any] = {
                "supplier": s,
                "material": m,
                "min_t": q,
                "take_or_pay": _r(rng.uniform(0.5, 1.0)),
            }
            if rng.random() < 0.5:
                top["contract_price_usd_per_kg"] = _r(min(5000.0, max(10.0, price * 1.05)))
            if rng.random() < 0.5:
                top["max_t"] = _r(q * rng.uniform(1.5, 4.0), 1)
            offtake_rows.append(top)

    # small instances: make sure both kinds of offtake exist (where a free lane allows)
    kinds = {"take_or_pay" in r for r in offtake_rows}
    taken = {r["supplier"] for r in offtake_rows}
    free = [(s, m) for (s, m), b in lanes.items() if b and m in firm and s not in taken]
    if False not in kinds and free:  # a hard minimum on an allied backstop (unlimited) lane
        s, m = free[0]
        q = _r(max(0.1, base_demand[m] * 0.01), 1)
        hard_min_load[s] += q
        offtake_rows.append({"supplier": s, "material": m, "min_t": q})
        taken.add(s)
    free = [(s, m) for (s, m) in lanes if s not in taken]
    if True not in kinds and free:
        s, m = free[0]
        q = _r(max(1.0, base_demand[m] * 0.05), 1)
        offtake_rows.append({"supplier": s, "material": m, "min_t": q, "take_or_pay": 0.8})

    for row in supplier_rows:
        name = str(row["supplier"])
        if rng.random() < 0.85:
            cap = max(lane_load[name] * rng.uniform(0.4, 0.9), 1.0)
            # the hard minimums at a site must fit its capacity twice over
            row["capacity_t"] = _r(max(min(10_000.0, cap), 2.0 * hard_min_load[name] + 1.0), 1)
        row["high_standard"] = allied_of[supplier_country[name]] and rng.random() < 0.1

    demand_rows = []
    for m in materials:
        for i, t in enumerate(periods):
            years = i / 12 if len(periods) > 6 else i
            q = base_demand[m] * (1 + growth[m]) ** years * rng.uniform(0.9, 1.1)
            demand_rows.append({"material": m, "period": t, "demand_t": _r(min(10_000.0, q), 1)})

    stocked = rng.sample(materials, max(1, len(materials) // 6))
    stock_rows = [
        {
            "material": m,
            "initial_t": _r(base_demand[m] * rng.uniform(0.0, 0.3), 1),
            "reserve_t": _r(base_demand[m] * rng.uniform(0.0, 0.2), 1),
            "holding_usd_per_kg": _r(base_price[m] * rng.uniform(0.002, 0.01)),
        }
        for m in stocked
    ]
    floor_rows = [
        {
            "material": m,
            "floor_usd_per_kg": _r(base_price[m] * 1.1),
            "applies_to": "all" if rng.random() < 0.25 else "high_standard",
        }
        for m in rng.sample(materials, max(1, len(materials) // 15))
    ]
    override_rows = []
    for m in rng.sample(materials, max(1, len(materials) // 10)):
        name = rng.choice(countries)[0]
        override_rows.append({"country": name, "material": m, "tariff_rate": rng.choice([0, 0.03])})
    settings_rows: list[dict[str, Any]] = [
        {"setting": "max_china_share", "value": 0.5},
        {"setting": "min_allied_share", "value": 0.3},
        {"setting": "max_country_share", "value": 0.6 if dims.country_cap else 1},
        {"setting": "allow_unmet", "value": True},
        {"setting": "unmet_penalty_usd_per_kg", "value": 100_000},
    ]
    scenario_rows = [
        {
            "scenario": "china_tariff_50",
            "sheet": "Countries",
            "key": CHINA,
            "column": "tariff_rate",
            "value": 0.5,
            "description": "China-origin tariff raised to 50%.",
        },
        {
            "scenario": "no_country_cap",
            "sheet": "Settings",
            "key": "max_country_share",
            "column": "value",
            "value": 1,
            "description": "No cap on any one country's share.",
        },
    ]
    return {
        "Materials": [{"material": m, "unit": "t"} for m in materials],
        "Demand": demand_rows,
        "Countries": country_rows,
        "Suppliers": supplier_rows,
        "Offers": offer_rows,
        "TariffOverrides": override_rows,
        "PriceFloors": floor_rows,
        "Offtakes": offtake_rows,
        "Stockpile": stock_rows,
        "Settings": settings_rows,
        "Scenarios": scenario_rows,
    }


def raw_workbook(tables: Mapping[str, Sequence[Mapping[str, Any]]], path: str = "") -> RawWorkbook:
    """The RawWorkbook `read_workbook` would return for these tables (no file involved).

    Cells get the addresses they would have in the written workbook, so problems
    are cited the same way.
    """
    from openpyxl.utils import get_column_letter

    out: dict[str, RawTable] = {}
    for sheet, rows in tables.items():
        spec = SHEETS_BY_NAME[sheet.lower()]
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        letters = {name: get_column_letter(j + 1) for j, name in enumerate(header)}
        known = {c.name for c in spec.columns}
        raw_rows = []
        for r, row in enumerate(rows, start=2):
            cells = {
                name: RawCell(row.get(name), f"{sheet}!{letters[name]}{r}")
                for name in header
                if name in known
            }
            raw_rows.append(RawRow(r, cells))
        columns = {name: letter for name, letter in letters.items() if name in known}
        out[spec.name] = RawTable(spec, sheet, columns, tuple(raw_rows))
    return RawWorkbook(path or "<synthetic>", out, ())


def data_from_tables(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> ModelData:
    """Parse, check and prepare tables exactly as a workbook would be (InvalidInputError if bad)."""
    inputs, problems = parse_inputs(raw_workbook(tables))
    return prepare(require_valid(inputs, problems))


def generate_data(size: str | int, seed: int = 0) -> ModelData:
    """ModelData of a synthetic instance, in memory (the baseline; scenarios are not applied)."""
    return data_from_tables(generate_tables(size, seed))


def write_workbook(path: str | Path, size: str | int, seed: int = 0) -> Path:
    """Write a synthetic instance as an .xlsx input workbook; returns the path."""
    path = Path(path)
    write_input_workbook(path, generate_tables(size, seed))
    return path
