"""Property tests over random valid workbooks: the solve never crashes and behaves like an LP.

Workbooks are small random table dicts (as in tests/conftest.py), parsed in
memory through the same path as a file (raw cells -> parse_inputs -> checks ->
model data), and for a few examples written to a real .xlsx and read back.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.common.problems import errors
from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import open_workbook
from optimizer.contract.parse import parse_inputs
from optimizer.contract.records import Inputs
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.workbook import RawCell, RawRow, RawTable, RawWorkbook
from optimizer.model.data import ModelData, prepare
from optimizer.model.reference import Optimizer
from optimizer.model.solution import Solution, Status
from optimizer.output.results import make_results
from optimizer.runs.pipeline import model_data
from tests.conftest import Tables

TOL = 1e-6
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def raw_workbook(tables: Tables) -> RawWorkbook:
    """Tables as the reader would return them, with real cell references."""
    out = {}
    for sheet, rows in tables.items():
        spec = SHEETS_BY_NAME[sheet.lower()]
        names = [c.name for c in spec.columns if any(c.name in r for r in rows)]
        letters = {name: chr(ord("A") + i) for i, name in enumerate(names)}
        raw_rows = tuple(
            RawRow(
                i,
                {n: RawCell(row.get(n), f"{sheet}!{letters[n]}{i}") for n in names},
            )
            for i, row in enumerate(rows, start=2)
        )
        out[spec.name] = RawTable(spec, sheet, letters, raw_rows)
    return RawWorkbook("memory", out)


def inputs_of(tables: Tables) -> Inputs:
    inputs, problems = parse_inputs(raw_workbook(tables))
    assert inputs is not None, [str(p) for p in errors(problems)]
    return inputs


def solve(tables: Tables) -> tuple[ModelData, Solution]:
    data = prepare(inputs_of(tables))
    return data, Optimizer(data).solve()


money = st.floats(min_value=1, max_value=500, allow_nan=False).map(lambda v: round(v, 2))
tonnes = st.integers(min_value=0, max_value=60).map(float)
rates = st.integers(min_value=0, max_value=100).map(lambda v: v / 100)


@st.composite
def workbooks(draw: st.DrawFn) -> Tables:
    """A small valid workbook: 1-2 materials, 1-3 periods, 2-4 countries (one China)."""
    materials = ["Ga", "Ge"][: draw(st.integers(1, 2))]
    periods = [2026, 2027, 2028][: draw(st.integers(1, 3))]
    countries = ["China", "Japan", "Australia", "Vietnam"][: draw(st.integers(2, 4))]
    tables: Tables = {
        "Materials": [{"material": m} for m in materials],
        "Demand": [
            {"material": m, "period": t, "demand_t": draw(tonnes)}
            for m in materials
            for t in periods
        ],
        "Countries": [
            {"country": c, "tariff_rate": draw(rates), "allied": draw(st.booleans())}
            for c in countries
        ],
        "Suppliers": [],
        "Offers": [],
    }
    for i in range(draw(st.integers(1, 5))):
        name = f"S{i}"
        tables["Suppliers"].append(
            {
                "supplier": name,
                "country": draw(st.sampled_from(countries)),
                "capacity_t": draw(st.one_of(st.none(), tonnes)),
            }
        )
        for m in draw(st.lists(st.sampled_from(materials), min_size=1, unique=True)):
            tables["Offers"].append(
                {
                    "supplier": name,
                    "material": m,
                    "price_usd_per_kg": draw(money),
                    "max_t": draw(st.one_of(st.none(), tonnes)),
                    "freight_usd_per_kg": draw(st.integers(0, 20).map(float)),
                }
            )
    if draw(st.booleans()):
        offer = draw(st.sampled_from(tables["Offers"]))
        low = draw(st.integers(0, 10))
        tables["Offtakes"] = [
            {
                "supplier": offer["supplier"],
                "material": offer["material"],
                "min_t": float(low),
                "max_t": float(low + draw(st.integers(0, 20))),
                "take_or_pay": draw(st.one_of(st.none(), rates)),
            }
        ]
    if draw(st.booleans()):
        tables["Stockpile"] = [
            {"material": materials[0], "initial_t": draw(tonnes), "reserve_t": draw(tonnes) / 4}
        ]
    tables["Settings"] = [
        {"setting": "exclude_china", "value": draw(st.booleans())},
        {"setting": "max_china_share", "value": draw(rates)},
        {"setting": "max_country_share", "value": draw(st.sampled_from([1.0, 0.6, 0.4]))},
        {"setting": "min_allied_share", "value": draw(st.sampled_from([0.0, 0.3]))},
        {"setting": "allow_unmet", "value": draw(st.booleans())},
    ]
    return tables


def check_invariants(data: ModelData, sol: Solution) -> None:
    """Capacities, offer and offtake bounds, policy shares and the stock balance hold."""
    x = sol.x
    for b, q in x.items():
        assert -TOL <= q <= data.buys[b].upper_t + TOL, b
    per_site: dict[tuple[str, str], float] = defaultdict(float)
    for b, q in x.items():
        per_site[(b[0], b[2])] += q
    for key, cap in data.capacity.items():
        assert per_site[key] <= cap + TOL, key
    for b, minimum in data.hard_minimum.items():
        assert x[b] >= minimum - TOL, b
    s = data.settings
    for mat in data.materials:
        before = data.stock[mat].initial_t if mat in data.stock else 0.0
        for t in data.periods:
            buys = data.buys_of(mat, t)
            bought = sum(x[b] for b in buys)
            china = sum(x[b] for b in buys if data.buys[b].china)
            allied = sum(x[b] for b in buys if data.buys[b].allied)
            assert china <= s.max_china_share * bought + TOL
            assert allied >= s.min_allied_share * bought - TOL
            if s.exclude_china:
                assert china <= TOL
            by_country: dict[str, float] = defaultdict(float)
            for b in buys:
                by_country[data.buys[b].country] += x[b]
            for q in by_country.values():
                assert q <= s.max_country_share * bought + TOL
            unmet = sol.unmet.get((mat, t), 0.0)
            after = sol.stock.get((mat, t), 0.0)
            scale = max(1.0, data.demand[(mat, t)], bought)
            assert abs(before + bought + unmet - data.demand[(mat, t)] - after) <= TOL * scale
            if mat in data.stock:
                assert after >= data.stock[mat].reserve_t - TOL
                before = after


def same(a: float | None, b: float | None) -> bool:
    assert a is not None and b is not None
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


@FAST
@given(workbooks())
def test_the_solve_never_crashes_and_invariants_hold(tables: Tables) -> None:
    data, sol = solve(tables)
    assert sol.status in (Status.OPTIMAL, Status.INFEASIBLE), sol.message
    if data.settings.allow_unmet and not data.hard_minimum:
        assert sol.status is Status.OPTIMAL  # unmet demand at the penalty is always possible
    res = make_results("baseline", data, sol)
    if sol.status is Status.OPTIMAL:
        check_invariants(data, sol)
        assert res.total_cost_usd is not None and res.total_cost_usd >= -TOL
        assert same(sum(res.cost_breakdown_usd.values()), res.total_cost_usd)
    else:
        assert sol.conflicts and sol.message.startswith(("infeasible", "demand cannot be met"))
        assert res.total_cost_usd is None


@FAST
@given(workbooks(), st.randoms(use_true_random=False))
def test_shuffling_rows_leaves_the_objective_unchanged(tables: Tables, rng: random.Random) -> None:
    _, sol = solve(tables)
    shuffled: Tables = {}
    for sheet, rows in tables.items():
        rows = list(rows)
        rng.shuffle(rows)
        if sheet == "Demand":  # periods are ordered by first appearance: keep that order
            order = {t: i for i, t in enumerate(dict.fromkeys(r["period"] for r in tables[sheet]))}
            rows.sort(key=lambda r: order[r["period"]])
        shuffled[sheet] = rows
    _, again = solve(shuffled)
    assert again.status is sol.status
    if sol.status is Status.OPTIMAL:
        assert same(again.objective_usd, sol.objective_usd)


def _resolve(data: ModelData, **changes: Any) -> Solution:
    return Optimizer(replace(data, **changes)).solve()


@FAST
@given(workbooks(), st.data())
def test_more_capacity_never_costs_more(tables: Tables, draw: st.DataObject) -> None:
    data, sol = solve(tables)
    if sol.status is not Status.OPTIMAL or not data.capacity:
        return
    key = draw.draw(st.sampled_from(sorted(data.capacity)))
    extra = draw.draw(st.integers(1, 50))
    more = _resolve(data, capacity={**data.capacity, key: data.capacity[key] + extra})
    assert more.status is Status.OPTIMAL
    assert more.objective_usd is not None and sol.objective_usd is not None
    assert more.objective_usd <= sol.objective_usd + 1e-6 * max(1.0, sol.objective_usd)


@FAST
@given(workbooks(), st.data())
def test_a_higher_tariff_never_costs_less(tables: Tables, draw: st.DataObject) -> None:
    data, sol = solve(tables)
    if sol.status is not Status.OPTIMAL:
        return
    country = draw.draw(st.sampled_from(sorted(data.countries)))
    rise = draw.draw(st.integers(1, 50)) / 100
    buys = {
        k: replace(b, tariff_rate=b.tariff_rate + rise) if b.country == country else b
        for k, b in data.buys.items()
    }
    dearer = _resolve(data, buys=buys)
    assert dearer.status is Status.OPTIMAL
    assert dearer.objective_usd is not None and sol.objective_usd is not None
    assert dearer.objective_usd >= sol.objective_usd - 1e-6 * max(1.0, sol.objective_usd)


@FAST
@given(workbooks())
def test_excluding_china_never_costs_less(tables: Tables) -> None:
    for row in tables["Settings"]:
        if row["setting"] == "exclude_china":
            row["value"] = False
    _, sol = solve(tables)
    tables["Settings"] = [
        r if r["setting"] != "exclude_china" else {**r, "value": True} for r in tables["Settings"]
    ]
    _, excluded = solve(tables)
    if excluded.status is Status.INFEASIBLE or sol.status is Status.INFEASIBLE:
        assert excluded.status is Status.INFEASIBLE or sol.status is Status.OPTIMAL
        return
    assert excluded.objective_usd is not None and sol.objective_usd is not None
    assert excluded.objective_usd >= sol.objective_usd - 1e-6 * max(1.0, sol.objective_usd)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables=workbooks())
def test_a_written_workbook_solves_like_the_tables(tables: Tables, tmp_path: Path) -> None:
    path = tmp_path / "random.xlsx"
    write_input_workbook(path, tables)
    _, from_file = model_data(open_workbook(path))
    _, sol = solve(tables)
    again = Optimizer(from_file).solve()
    assert again.status is sol.status
    if sol.status is Status.OPTIMAL:
        assert same(again.objective_usd, sol.objective_usd)
