"""The fast path gives what Pyomo's persistent HiGHS interface gives: objective, primal, duals.

Both paths hand HiGHS the same LP (same rows, columns, order and coefficients),
so results are compared with a tolerance of 1e-9: any difference in orientation
(dual signs), index maps or coefficients shows up as a wrong value or key.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any

import highspy
import pytest

import optimizer.model.compiled as compiled
import optimizer.model.fast as fast
from optimizer.common.problems import InvalidInputError
from optimizer.contract.book import Workbook, open_workbook
from optimizer.model.build import build_model
from optimizer.model.compiled import compile_model
from optimizer.model.data import ModelData
from optimizer.model.explain import describe
from optimizer.model.fast import FastOptimizer
from optimizer.model.reference import Optimizer
from optimizer.model.solution import Solution, Status
from optimizer.model.synthetic import data_from_tables, generate_data
from optimizer.runs.pipeline import model_data
from tests.conftest import ROOT, Tables, tiny_tables

TOL = {"rel": 1e-9, "abs": 1e-7}


def _settings(tables: Tables, **values: Any) -> Tables:
    tables.setdefault("Settings", [])
    tables["Settings"] += [{"setting": k, "value": v} for k, v in values.items()]
    return tables


def variant(name: str) -> Tables:
    """The tiny instance of conftest with one feature switched on (or all of them)."""
    t = copy.deepcopy(tiny_tables())
    t["Countries"].append({"country": "Vietnam", "tariff_rate": 0.2})
    t["Suppliers"].append({"supplier": "VN1", "country": "Vietnam", "capacity_t": 8})
    t["Offers"].append({"supplier": "VN1", "material": "Ga", "price_usd_per_kg": 11, "max_t": 6})
    if name in ("china_cap", "all"):
        _settings(t, max_china_share=0.4)
    if name in ("country_cap", "all"):
        _settings(t, max_country_share=0.45)
    if name in ("allied_min", "all"):
        _settings(t, min_allied_share=0.4)
    if name in ("take_or_pay", "all"):
        t["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "min_t": 4, "take_or_pay": 0.8}]
    if name in ("hard_min", "all"):
        t.setdefault("Offtakes", []).append({"supplier": "VN1", "material": "Ga", "min_t": 2})
    if name in ("stockpile", "all"):
        t["Stockpile"] = [
            {"material": "Ga", "initial_t": 3, "reserve_t": 2, "holding_usd_per_kg": 0.5}
        ]
        t["Demand"][0]["demand_t"] = 0  # a stocked row with a zero right-hand side
    if name == "no_unmet":
        _settings(t, allow_unmet=False)
    return t


VARIANTS = ["base", "china_cap", "country_cap", "allied_min", "take_or_pay", "hard_min"]
VARIANTS += ["stockpile", "no_unmet", "all"]


def data_of(name: str) -> ModelData:
    """ModelData of a variant, parsed by the workbook parser (in memory)."""
    return data_from_tables(variant(name))


def assert_same(got: Solution, want: Solution) -> None:
    """Same status, objective, primal, duals and reduced costs, keyed and ordered alike."""
    assert got.status is want.status, (got.message, want.message)
    if want.objective_usd is None:
        assert got.objective_usd is None
    else:
        assert got.objective_usd == pytest.approx(want.objective_usd, **TOL)
    for part in ("x", "unmet", "stock", "untaken", "reduced_costs"):
        mine, theirs = getattr(got, part), getattr(want, part)
        assert list(mine) == list(theirs), part
        assert mine == pytest.approx(theirs, **TOL), part
    assert list(got.duals) == list(want.duals)
    for family, values in want.duals.items():
        assert list(got.duals[family]) == list(values), family
        assert got.duals[family] == pytest.approx(values, **TOL), family


@pytest.mark.parametrize("name", VARIANTS)
def test_cold_solve_matches_pyomo(name: str) -> None:
    data = data_of(name)
    want = Optimizer(data).solve()
    assert want.status is Status.OPTIMAL
    assert_same(FastOptimizer(data).solve(), want)


def test_dual_signs_are_pyomo_signs() -> None:
    """China cap 50%: buy 5 t from China (12 USD/kg landed) and 5 t from Japan (13.8)."""
    t = copy.deepcopy(tiny_tables())
    data = data_from_tables(_settings(t, max_china_share=0.5))
    sol = FastOptimizer(data).solve()
    assert sol.x[("CN1", "Ga", "2026")] == pytest.approx(5.0)
    # one more tonne of demand: half from each, (12 + 13.8) / 2 USD/kg = 12,900 USD/t
    assert sol.duals["balance"][("Ga", "2026")] == pytest.approx(12_900.0)
    # relaxing the cap by a tonne (<= row) saves 1,800 USD: the dual is negative
    assert sol.duals["china_cap"][("Ga", "2026")] == pytest.approx(-1_800.0)
    assert sol.reduced_costs[("JP1", "Ga", "2026")] == pytest.approx(0.0, abs=1e-6)
    assert_same(sol, Optimizer(data).solve())


def test_columns_and_rows_are_in_the_persistent_interface_order() -> None:
    data = data_of("all")
    pyomo = Optimizer(data)
    pyomo.solve()
    solver = pyomo._solver
    by_col = {i: solver._vars[v][0] for v, i in solver._pyomo_var_to_solver_var_map.items()}
    opt = FastOptimizer(data)
    for i, var in by_col.items():
        name, index = var.parent_component().local_name, var.index()
        assert opt.col_key(i) == (name, index)
    for i, con in solver._solver_con_to_pyomo_con_map.items():
        assert opt.row_key(i) == (con.parent_component().local_name, con.index())
    assert opt.col_key(len(by_col)) is None


def test_updates_match_pyomo_and_a_fresh_build() -> None:
    data = data_of("all")
    pyomo, mine = Optimizer(data), FastOptimizer(data)
    assert_same(mine.solve(), pyomo.solve())
    buys = {k: replace(b, tariff_rate=0.6) if b.china else b for k, b in data.buys.items()}
    tariff = replace(data, buys=buys)
    capacity = replace(tariff, capacity={k: v / 2 for k, v in tariff.capacity.items()})
    shares = replace(
        capacity,
        settings=replace(
            capacity.settings, max_china_share=0.3, max_country_share=0.7, min_allied_share=0.2
        ),
    )
    for changed in (tariff, capacity, shares, data):
        assert pyomo.update(changed) is True and mine.update(changed) is True
        got = mine.solve()
        assert_same(got, pyomo.solve())
        fresh = FastOptimizer(changed).solve()
        assert got.objective_usd == pytest.approx(fresh.objective_usd, **TOL)
    assert mine.rebuilds == 0


def test_share_change_by_passing_the_model_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many changed coefficients: the LP is passed again and the basis kept."""
    monkeypatch.setattr(fast, "MAX_COEFF_CHANGES", 0)
    data = generate_data("small", 2)
    pyomo, mine = Optimizer(data), FastOptimizer(data)
    assert_same(mine.solve(), pyomo.solve())
    changed = replace(data, settings=replace(data.settings, max_china_share=0.35))
    assert pyomo.update(changed) and mine.update(changed)
    assert_same(mine.solve(), pyomo.solve())


def test_structure_change_rebuilds() -> None:
    data = data_of("china_cap")
    pyomo, mine = Optimizer(data), FastOptimizer(data)
    mine.solve()
    pyomo.solve()
    capped = replace(data, settings=replace(data.settings, max_country_share=0.45))
    assert mine.update(capped) is False and pyomo.update(capped) is False
    assert mine.rebuilds == 1
    assert "country_cap" in mine.solve().duals
    assert_same(mine.solve(), pyomo.solve())


def test_back_to_the_previous_structure_swaps_in_its_lp(default_wb: Workbook) -> None:
    """A structural what-if and back (as policy costs do): the second change swaps the kept LP
    back in, updated to the new data, instead of rebuilding; the optimum is a fresh one's."""
    base = model_data(default_wb)[1]
    strict = model_data(default_wb, "dfars_in_force")[1]
    assert strict.structure != base.structure
    engine = FastOptimizer(base)
    first = engine.solve()
    assert engine.update(strict) is False and engine.rebuilds == 1
    assert engine.solve().objective_usd == pytest.approx(
        FastOptimizer(strict).solve().objective_usd, **TOL
    )
    # back to the baseline's structure with other prices: no rebuild, the prices pushed
    dearer = replace(
        base, buys={k: replace(b, freight=b.freight + 5.0) for k, b in base.buys.items()}
    )
    assert dearer.structure == base.structure
    assert engine.update(dearer) is False and engine.rebuilds == 1
    got, want = engine.solve(), FastOptimizer(dearer).solve()
    assert got.objective_usd == pytest.approx(want.objective_usd, **TOL)
    assert got.objective_usd != pytest.approx(first.objective_usd, **TOL)
    assert engine.update(base) is True  # and in place from there on
    assert engine.solve().objective_usd == pytest.approx(first.objective_usd, **TOL)


def test_default_workbook_and_its_scenarios_match_pyomo(default_wb: Workbook) -> None:
    """The default workbook (contract v2, a supply chain): baseline, then every scenario by
    update() on one optimizer per path, the same optimum on both. (The chain's columns are
    not laid out in the persistent interface's exact order, so among tied optima the vertex
    may differ; the v1 workbook below is matched vertex by vertex.)"""
    pyomo: Optimizer | None = None
    engine: FastOptimizer | None = None
    for name in default_wb.scenario_names:
        data = model_data(default_wb, name)[1]
        if pyomo is None or engine is None:
            pyomo, engine = Optimizer(data), FastOptimizer(data)
        else:
            assert engine.update(data) is pyomo.update(data)
        want, got = pyomo.solve(), engine.solve()
        assert got.status is want.status and want.objective_usd is not None
        assert got.objective_usd == pytest.approx(want.objective_usd, **TOL), name


def test_v1_workbook_and_its_scenarios_match_pyomo_vertex_by_vertex() -> None:
    """Baseline, then every scenario by update() on one optimizer per path.

    With match_persistent, warm re-solves take Pyomo's pivots and land on the same
    vertex among tied optima; without it (what the product runs), on an optimum of
    the same cost and the same marginal costs of demand.
    """
    default_wb = open_workbook(ROOT / "tests" / "data" / "default_v1.xlsx")
    pyomo: Optimizer | None = None
    mine: FastOptimizer | None = None
    quick: FastOptimizer | None = None
    for name in default_wb.scenario_names:
        data = model_data(default_wb, name)[1]
        if pyomo is None or mine is None or quick is None:
            pyomo, mine = Optimizer(data), FastOptimizer(data, match_persistent=True)
            quick = FastOptimizer(data)
        else:
            assert mine.update(data) is pyomo.update(data) is quick.update(data)
        want = pyomo.solve()
        assert_same(mine.solve(), want)
        got = quick.solve()
        assert got.status is want.status and want.objective_usd is not None
        assert got.objective_usd == pytest.approx(want.objective_usd, **TOL), name
    assert mine is not None and pyomo is not None and mine.rebuilds == pyomo.rebuilds


def test_cost_ranging_matches(default_wb: Workbook) -> None:
    data = model_data(default_wb)[1]
    pyomo, mine = Optimizer(data), FastOptimizer(data)
    pyomo.solve()
    mine.solve()
    want, got = pyomo.cost_ranging(), mine.cost_ranging()
    assert want and list(got) == list(want)
    for b, (down, up) in want.items():
        assert got[b][0] == pytest.approx(down, **TOL) and got[b][1] == pytest.approx(up, **TOL)


def test_infeasible_rows_and_columns_can_be_named() -> None:
    t = copy.deepcopy(tiny_tables())
    t["Suppliers"][1]["capacity_t"] = 6
    data = data_from_tables(_settings(t, exclude_china=True, allow_unmet=False))
    opt = FastOptimizer(data)
    sol = opt.solve()
    assert sol.status is Status.INFEASIBLE and sol.objective_usd is None
    assert "Ga 2026: short by 4 t of 10 t demand" in sol.message
    status, iis = opt.highs.getIis()
    assert status == highspy.HighsStatus.kOk and iis.valid_
    rows = [opt.row_key(r) for r in iis.row_index_]
    assert ("facility_cap", ("JP1", "2026")) in rows
    assert describe("facility_cap", ("JP1", "2026"), data) == "capacity of JP1 in 2026 (6 t)"
    cols = [opt.col_key(c) for c in iis.col_index_]
    assert ("x", ("CN1", "Ga", "2026")) in cols


def test_unmeetable_demand_exits_early() -> None:
    t = copy.deepcopy(tiny_tables())
    t["Materials"].append({"material": "Tb"})
    t["Demand"].append({"material": "Tb", "period": 2026, "demand_t": 3})
    sol = FastOptimizer(data_from_tables(_settings(t, allow_unmet=False))).solve()
    assert sol.status is Status.INFEASIBLE
    assert "Tb 2026: demand 3 t but no offer in that period" in sol.message


def test_time_limit_does_not_stick() -> None:
    opt = FastOptimizer(generate_data("small", 1))
    limited = opt.solve(time_limit=0.0)
    assert limited.status is Status.TIME_LIMIT and limited.objective_usd is None
    assert opt.solve().status is Status.OPTIMAL


def test_threads_are_passed_to_highs() -> None:
    opt = FastOptimizer(data_of("base"), threads=1)
    opt.solve()
    assert opt.highs.getOptionValue("threads")[1] == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_data_never_reaches_highs(bad: float) -> None:
    data = data_of("all")
    buys = {k: replace(b, tariff_rate=bad) if b.china else b for k, b in data.buys.items()}
    with pytest.raises(InvalidInputError):
        FastOptimizer(replace(data, buys=buys))
    opt = FastOptimizer(data)
    with pytest.raises(InvalidInputError):
        opt.update(replace(data, buys=buys))
    with pytest.raises(InvalidInputError):
        opt.update(replace(data, demand={k: bad for k in data.demand}))
    assert opt.data is data and opt.solve().status is Status.OPTIMAL
    capacity = dict(data.capacity)
    same = replace(data, capacity=capacity)
    opt.update(same)
    capacity[next(iter(capacity))] = bad  # a table changed in place is checked again
    with pytest.raises(InvalidInputError):
        opt.update(same)
    assert data.emissions is not None
    priced = replace(data, emissions=replace(data.emissions, carbon_price=bad))
    with pytest.raises(InvalidInputError):  # an update in place checks the emissions data too
        opt.update(priced)


def test_compile_checks_the_objective_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the objective in the model, a cost formula that differs from Pyomo's is refused."""
    data = data_of("all")
    compile_model(build_model(data))  # agrees
    monkeypatch.setattr(compiled, "x_costs", lambda buys: [1000.0 * d.price_paid for d in buys])
    with pytest.raises(RuntimeError, match="objective"):
        compile_model(build_model(data))


def test_empty_model_is_an_empty_plan() -> None:
    data = data_from_tables(_settings(copy.deepcopy(tiny_tables()), allow_unmet=False))
    empty = replace(data, buys={}, capacity={}, demand=dict.fromkeys(data.demand, 0.0))
    assert_same(FastOptimizer(empty).solve(), Optimizer(empty).solve())


def test_solution_values_behave_as_read_only_dicts() -> None:
    """The fast path's ArrayMaps: lookups, order, equality and pickling as plain dicts."""
    import pickle

    import numpy as np

    from optimizer.model.solution import ArrayMap, KeyIndex

    values = ArrayMap(KeyIndex([("a", "1"), ("b", "2")]), np.array([1.5, -2.0]))
    assert values[("b", "2")] == -2.0 and values.get(("c", "3"), 7.0) == 7.0
    assert list(values.items()) == [(("a", "1"), 1.5), (("b", "2"), -2.0)]
    assert sum(values.values()) == -0.5 and len(values) == 2 and ("a", "1") in values
    assert values == {("a", "1"): 1.5, ("b", "2"): -2.0}
    assert values != {("a", "1"): 1.5}
    with pytest.raises(KeyError):
        values[("c", "3")]
    copy_ = pickle.loads(pickle.dumps(values))
    assert type(copy_) is dict and copy_ == values
    # a solution's maps share one index per family, and later solves do not change earlier ones
    opt = FastOptimizer(data_of("all"))
    first = opt.solve()
    before = dict(first.x)
    opt.update(replace(opt.data, settings=replace(opt.data.settings, max_china_share=0.1)))
    second = opt.solve()
    assert dict(first.x) == before and dict(second.x) != before


def test_compiled_columns_are_put_back_in_model_order() -> None:
    """_pick_columns: any column order, with the index ncols standing for an empty column."""
    import numpy as np
    import scipy.sparse

    a = scipy.sparse.csc_matrix(np.array([[1.0, 0.0, 3.0], [2.0, 4.0, 0.0]]))
    picked = compiled._pick_columns(a, np.array([2, 3, 0, 1]))
    assert picked.toarray().tolist() == [[3.0, 0.0, 1.0, 0.0], [0.0, 0.0, 2.0, 4.0]]
    assert compiled._pick_columns(a, np.array([], dtype=np.int64)).shape == (2, 0)


def test_sibling_engines_keep_their_kind_and_threads() -> None:
    """An explanation's elastic re-solve runs like its caller (one thread in a worker)."""
    data = data_of("base")
    fast_one = FastOptimizer(data, threads=1, match_persistent=True).sibling(data)
    assert type(fast_one) is FastOptimizer and fast_one.threads == 1 and fast_one.match_persistent
    pyomo_one = Optimizer(data, threads=1).sibling(data)
    assert type(pyomo_one) is Optimizer and pyomo_one.threads == 1


def test_a_warm_update_equals_a_cold_solve_across_every_default_scenario(
    default_wb: Workbook,
) -> None:
    """One engine updated through every scenario in order gives each scenario's cold optimum:
    a flag that moves a purchase between share rows (allied_minimum_80_strict makes Malaysia
    not allied) rebuilds instead of keeping the old rows, and a warm start HiGHS cannot
    finish (from exclude_china's basis back to a full plan) is re-run from scratch."""
    engine: FastOptimizer | None = None
    for name in default_wb.scenario_names:
        data = model_data(default_wb, name)[1]
        cold = FastOptimizer(data).solve()
        if engine is None:
            engine = FastOptimizer(data)
        else:
            engine.update(data)
        warm = engine.solve()
        assert warm.status is cold.status is Status.OPTIMAL, (name, warm.message)
        assert warm.objective_usd == pytest.approx(cold.objective_usd, rel=1e-9), name


def test_an_allied_flag_edited_in_a_what_if_moves_the_share_rows() -> None:
    """Japan not allied any more under a 60% allied minimum: the warm engine must rebuild (the
    flag is a matrix coefficient) and give the cold optimum."""
    t = copy.deepcopy(tiny_tables())
    t["Settings"] = [{"setting": "min_allied_share", "value": 0.6}]
    base = data_from_tables(t)
    t["Countries"][1]["allied"] = False
    edited = data_from_tables(t)
    engine = FastOptimizer(base)
    engine.solve()
    assert engine.update(edited) is False  # rebuilt
    assert engine.solve().objective_usd == pytest.approx(
        FastOptimizer(edited).solve().objective_usd
    )


def test_a_probe_is_the_re_solve_of_the_changed_costs_and_puts_them_back() -> None:
    """FastOptimizer.probe (break-evens' many one-lever what-ifs): the values it reads are
    those of a fresh solve of the data with that cost, and afterwards the LP is the
    original one (same optimum as before)."""
    data = data_of("all")
    opt = FastOptimizer(data)
    base = opt.solve()
    b = max((k for k, d in data.buys.items() if d.china), key=lambda k: base.x.get(k, 0.0))
    assert base.x[b] > 0
    d = data.buys[b]
    rate = d.tariff_rate + 2.0  # far enough to move China's volume
    cost = 1000 * (d.price_paid * (1 + rate) + d.freight + d.objective_extra)
    read = [("x", k) for k in data.buys]
    got = opt.probe({("x", b): cost}, read)
    fresh = FastOptimizer(replace(data, buys={**data.buys, b: replace(d, tariff_rate=rate)}))
    moved = fresh.solve()
    assert got is not None and got[list(data.buys).index(b)] < base.x[b]
    assert got == pytest.approx([moved.x.get(k, 0.0) for k in data.buys], abs=1e-6)
    again = opt.solve()
    assert again.objective_usd == pytest.approx(base.objective_usd, rel=1e-12)
    assert dict(again.x) == pytest.approx(dict(base.x), abs=1e-6)
