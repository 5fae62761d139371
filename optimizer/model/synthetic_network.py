"""Seeded synthetic supply-chain networks (contract v2) for benchmarks, up to millions of variables.

`network_tables(size, seed)` returns the sheets of a v2 workbook: `families`
independent rare-earth-like chains, each mine -> separator (co-products) ->
metal plant -> magnet maker -> buyer, with Routes from every facility to a few
random facilities of the next stage, concentrate traders' offers that feed the
separators, a compliant (defence) segment of magnet demand, so every activity
and shipment of a facility outside China comes in two grades. Tariffs are flat
per country. Sizes: "net100k", "net1m" (about that many LP variables) or an
integer. The variable count is about families x periods x (facilities x 2
grades x (1 + routes per facility)).
"""

from __future__ import annotations

import random
from typing import Any

from optimizer.model.data import ModelData
from optimizer.model.synthetic import data_from_tables

Tables = dict[str, list[dict[str, Any]]]

#: Routes out of each facility to the next stage; LP variables per facility and period.
ROUTES = 4
VARS_PER_FACILITY = 40
STAGES = ("mine", "separate", "metal", "magnet")
COUNTRIES = (
    ("China", 0.20, False),
    ("Australia", 0.0, True),
    ("Japan", 0.03, True),
    ("Malaysia", 0.05, True),
    ("Vietnam", 0.10, False),
    ("Estonia", 0.02, True),
    ("United States", 0.0, True),
    ("Brazil", 0.08, False),
)


def network_shape(size: str | int) -> tuple[int, int, int]:
    """(families, facilities per stage, periods) for about `size` variables."""
    if isinstance(size, str):
        key = size.strip().lower()
        named = {"net100k": 100_000, "net1m": 1_000_000, "netsmall": 2_000}
        if key not in named:
            raise ValueError(f"unknown network size {size!r} (known: {', '.join(named)})")
        size = named[key]
    periods = 3
    # about 40 variables per facility of a stage per period (measured: 83,133 for 58 families
    # of 12 facilities per stage over 3 periods), with 12 facilities per stage
    facilities = 12 if size >= 20_000 else max(3, round(size / (periods * VARS_PER_FACILITY)))
    families = max(1, round(size / (periods * facilities * VARS_PER_FACILITY)))
    return families, facilities, periods


def network_tables(size: str | int, seed: int = 0) -> Tables:
    """The sheets of a synthetic v2 workbook (see the module docstring)."""
    families, n, periods = network_shape(size)
    rng = random.Random(seed)
    labels = [str(2026 + i) for i in range(periods)]
    tables: Tables = {
        "Materials": [],
        "Demand": [],
        "Countries": [
            {"country": c, "tariff_rate": rate, "allied": allied} for c, rate, allied in COUNTRIES
        ],
        "Suppliers": [],
        "Offers": [],
        "Processes": [],
        "Inputs": [],
        "Coproducts": [],
        "Routes": [],
        "Settings": [{"setting": "unmet_penalty_usd_per_kg", "value": 5000}],
    }
    for f in range(families):
        conc, oxide, heavy, metal, magnet = (
            f"conc {f}",
            f"oxide {f}",
            f"heavy {f}",
            f"metal {f}",
            f"magnet {f}",
        )
        light = f"light {f}"  # La/Ce: nobody here wants it, so it is discarded
        for m, price in (
            (conc, 5),
            (oxide, 100),
            (heavy, 400),
            (light, 1),
            (metal, 130),
            (magnet, 90),
        ):
            tables["Materials"].append({"material": m, "reference_price_usd_per_kg": price})
        names: dict[str, list[str]] = {}
        for stage in STAGES:
            names[stage] = []
            for i in range(n):
                country = COUNTRIES[rng.randrange(len(COUNTRIES))][0]
                s = f"F{f} {stage} {i}"
                names[stage].append(s)
                tables["Suppliers"].append(
                    {"supplier": s, "country": country, "capacity_t": rng.randint(500, 3000)}
                )
        trader = f"F{f} trader"
        tables["Suppliers"].append({"supplier": trader, "country": "Brazil"})
        tables["Offers"].append(
            {"supplier": trader, "material": conc, "price_usd_per_kg": 6, "max_t": 20_000}
        )
        for s in names["mine"]:
            tables["Processes"].append(
                {
                    "supplier": s,
                    "process": "mine",
                    "output": conc,
                    "cost_usd_per_kg": round(rng.uniform(3, 8), 2),
                    "capacity_t": rng.randint(2_000, 12_000),
                }
            )
        steps = (
            ("separate", oxide, conc, (5.0, 7.0), (10, 30)),
            ("metal", metal, oxide, (1.18, 1.25), (2, 10)),
            ("magnet", magnet, metal, (0.33, 0.37), (10, 30)),
        )
        for stage, out, feed, (lo, hi), (fee_lo, fee_hi) in steps:
            for s in names[stage]:
                tables["Processes"].append(
                    {
                        "supplier": s,
                        "process": stage,
                        "output": out,
                        "cost_usd_per_kg": round(rng.uniform(fee_lo, fee_hi), 2),
                    }
                )
                tables["Inputs"].append(
                    {
                        "supplier": s,
                        "process": stage,
                        "material": feed,
                        "t_per_t": round(rng.uniform(lo, hi), 3),
                    }
                )
                if stage == "separate":
                    tables["Coproducts"] += [
                        {
                            "supplier": s,
                            "process": stage,
                            "material": heavy,
                            "t_per_t": round(rng.uniform(0.005, 0.05), 4),
                        },
                        {
                            "supplier": s,
                            "process": stage,
                            "material": light,
                            "t_per_t": round(rng.uniform(1.0, 2.0), 3),
                        },
                    ]
                if stage == "magnet":
                    tables["Inputs"].append(
                        {"supplier": s, "process": stage, "material": heavy, "t_per_t": 0.03}
                    )
        nxt = {"mine": "separate", "separate": "metal", "metal": "magnet"}
        for stage, to_stage in nxt.items():
            material = {"mine": conc, "separate": oxide, "metal": metal}[stage]
            for s in names[stage]:
                for to in rng.sample(names[to_stage], min(ROUTES, n)):
                    tables["Routes"].append(
                        {
                            "from_supplier": s,
                            "to": to,
                            "material": material,
                            "freight_usd_per_kg": round(rng.uniform(0.1, 2.0), 2),
                        }
                    )
        for to in rng.sample(names["separate"], min(ROUTES, n)):
            tables["Routes"].append({"from_supplier": trader, "to": to, "material": conc})
        for s in names["separate"]:
            tables["Routes"].append({"from_supplier": s, "to": "buyer", "material": oxide})
            for to in rng.sample(names["magnet"], min(ROUTES, n)):
                tables["Routes"].append({"from_supplier": s, "to": to, "material": heavy})
        for s in names["magnet"]:
            tables["Routes"].append({"from_supplier": s, "to": "buyer", "material": magnet})
        scale = n / 12
        for t in labels:
            tables["Demand"] += [
                {"material": oxide, "period": t, "demand_t": round(rng.uniform(200, 800) * scale)},
                {
                    "material": magnet,
                    "period": t,
                    "demand_t": round(rng.uniform(800, 2500) * scale),
                },
                {
                    "material": magnet,
                    "period": t,
                    "demand_t": round(rng.uniform(50, 300) * scale),
                    "compliant": True,
                },
            ]
    return tables


def network_data(size: str | int, seed: int = 0) -> ModelData:
    """ModelData of a synthetic network, through the workbook parser and checks, in memory."""
    return data_from_tables(network_tables(size, seed))
