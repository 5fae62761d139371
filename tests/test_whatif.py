"""What-if analyses: exact answers on a hand-solvable instance, invariants on the default workbook.

Tiny instance: CN1 landed 10 x 1.20 = 12.000 USD/kg, JP1 10.5 x 1.15 = 12.075 USD/kg,
demand 10 t in each of two periods.
"""

from __future__ import annotations

import csv
import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from optimizer.analysis.breakevens import offer_breakevens, plan_changes_at
from optimizer.analysis.country_breakevens import country_breakevens
from optimizer.analysis.frontier import cost_of_independence
from optimizer.analysis.policy import policy_costs
from optimizer.contract.book import Workbook, open_workbook
from optimizer.model.reference import Optimizer
from optimizer.model.solution import Status
from optimizer.output.compare import compare
from optimizer.runs.pipeline import model_data, solve_scenario
from tests.conftest import ROOT, Tables

Write = Callable[[Tables], Path]


@pytest.fixture
def close_call(tables: Tables) -> Tables:
    tables["Offers"][1]["price_usd_per_kg"] = 10.5
    return tables


def test_frontier_by_hand(write: Write, close_call: Tables) -> None:
    inputs, _ = model_data(open_workbook(write(close_call)))
    front = cost_of_independence(inputs, points=11)
    t = front.table
    assert list(t["max_china_share"]) == pytest.approx([1 - i / 10 for i in range(11)])
    # cost(s) = 2 periods x 1000 x (10 s x 12 + 10 (1 - s) x 12.075)
    expected = [2000 * (120 * s + 120.75 * (1 - s)) for s in t["max_china_share"]]
    assert list(t["buyer_spend_usd"]) == pytest.approx(expected)
    assert list(t["objective_usd"]) == pytest.approx(expected)  # nothing unmet: no penalty
    assert list(t["Ga: spend_usd"]) == pytest.approx(expected)
    assert front.last_step_usd == pytest.approx(2000 * 0.75 * 0.1)  # 150 USD
    assert "the last 10% of independence (10% -> 0% China share) changes it by +$0.0 M" in (
        front.sentence
    )
    # the x-axis measure: China's largest share of any material and period, by tonnes
    assert list(t["china_tonnes_share_max"]) == pytest.approx(list(t["max_china_share"]))
    assert list(t["unmet_t"]) == pytest.approx([0.0] * 11)


def test_offer_breakevens_by_hand(write: Write, close_call: Tables) -> None:
    _, data = model_data(open_workbook(write(close_call)))
    opt = Optimizer(data)
    sol = opt.solve()
    be = offer_breakevens(opt, sol).set_index(["supplier", "period"])
    # CN1 starts to lose volume when 10 (1 + r) > 12.075: r = 0.2075
    assert be.loc[("CN1", "2026"), "breakeven_tariff_rate"] == pytest.approx(0.2075)
    assert be.loc[("CN1", "2026"), "change"] == "starts to lose volume"
    # JP1 enters when 10.5 (1 + r) < 12: r = 1/7
    assert be.loc[("JP1", "2027"), "breakeven_tariff_rate"] == pytest.approx(12 / 10.5 - 1)
    assert be.loc[("JP1", "2027"), "change"] == "enters the plan"
    # crossing by a small margin changes the plan; staying short of it does not
    b = ("CN1", "Ga", "2026")
    assert plan_changes_at(opt, b, 0.2075 + 0.002, 10.0)
    assert not plan_changes_at(opt, b, 0.2075 - 0.002, 10.0)


def test_country_breakevens_by_hand(write: Write, close_call: Tables) -> None:
    _, data = model_data(open_workbook(write(close_call)))
    opt = Optimizer(data)
    sol = opt.solve()
    cb = country_breakevens(opt, sol).set_index("country")
    assert cb.loc["China", "volume_t"] == pytest.approx(20)
    assert 0.2075 <= cb.loc["China", "rate_volume_falls"] <= 0.2075 + 0.0025
    assert 12 / 10.5 - 1 - 0.0025 <= cb.loc["Japan", "rate_volume_rises"] <= 12 / 10.5 - 1
    assert cb.loc["Japan", "volume_t"] == 0 and cb["rate_volume_falls"].isna()["Japan"]
    assert opt.solve().objective_usd == pytest.approx(sol.objective_usd)  # model left as found


def test_policy_costs_by_hand(write: Write, close_call: Tables) -> None:
    close_call["Settings"] = [{"setting": "max_china_share", "value": 0.3}]
    close_call["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 11, "applies_to": "all"}]
    close_call["Offtakes"] = [{"supplier": "CN1", "material": "Ga", "min_t": 2}]
    inputs, _ = model_data(open_workbook(write(close_call)))
    pc = policy_costs(inputs).set_index("kind")
    # with the floor, landed: CN1 11 x 1.2 = 13.2, JP1 11 x 1.15 = 12.65; cap 30% binds nothing
    # (JP1 is cheaper), so the cap costs 0; the floor costs 2000 x (10 x 12.65 - (3 x 12 + 7 x
    # 12.075)) = 2000 x 6.025; the 2 t CN1 minimum costs 2000 x 2 x (13.2 - 12.65)
    assert pc.loc["china", "cost_usd"] == pytest.approx(0.0, abs=1e-6)
    with_all = 2000 * (2 * 13.2 + 8 * 12.65)
    without_floor = 2000 * (3 * 12 + 7 * 12.075)
    assert pc.loc["price_floor", "cost_usd"] == pytest.approx(with_all - without_floor)
    assert pc.loc["offtake", "cost_usd"] == pytest.approx(2000 * 2 * (13.2 - 12.65))
    assert pc.loc["price_floor", "fiscal_usd"] == 0  # a buyer-paid floor costs taxpayers nothing
    assert (
        "The $11/kg Ga floor (all, paid by buyer) changes buyer spend by +$0.0 M over "
        in (pc.loc["price_floor", "sentence"])
    )


def test_comparison_tables(write: Write, close_call: Tables) -> None:
    close_call["Scenarios"] = [
        {
            "scenario": "no_china",
            "sheet": "Settings",
            "key": "exclude_china",
            "column": "value",
            "value": True,
        }
    ]
    wb = open_workbook(write(close_call))
    results = [solve_scenario(wb, n)[2] for n in wb.scenario_names]
    comp = compare(results)
    s = comp.summary.set_index("scenario")
    assert s.loc["no_china", "spend_delta_usd"] == pytest.approx(2000 * 0.075 * 10)
    assert s.loc["no_china", "spend_delta_pct"] == pytest.approx(0.075 / 12)
    changes = comp.allocation_changes.set_index("supplier")
    assert changes.loc["CN1", "change_t"] == pytest.approx(-20)
    assert changes.loc["JP1", "change_t"] == pytest.approx(20)
    bym = comp.by_material.set_index(["scenario", "material"])
    assert bym.loc[("no_china", "Ga"), "china_tonnes_share"] == 0
    assert bym.loc[("baseline", "Ga"), "china_tonnes_share"] == 1
    assert bym.loc[("baseline", "Ga"), "china_value_share"] == 1
    assert comp.sentences[0].startswith("no_china: buyer spend +$0.0 M (+0.6%)")


# --------------------------------------------------------------------------- default workbook


@pytest.fixture(scope="module")
def default_frontier(default_wb: Workbook):  # type: ignore[no-untyped-def]
    inputs, _ = model_data(default_wb)
    return cost_of_independence(inputs, points=11)


def test_default_frontier_is_monotone(default_frontier) -> None:  # type: ignore[no-untyped-def]
    # the objective never falls as the cap tightens (buyer spend alone can, when a tighter cap
    # leaves demand unmet)
    costs = list(default_frontier.table["objective_usd"])
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(costs))
    assert costs[-1] > costs[0]
    shares = list(default_frontier.table["china_tonnes_share_max"])
    caps = list(default_frontier.table["max_china_share"])
    assert all(s <= c + 1e-9 for s, c in zip(shares, caps, strict=True))


def test_default_policy_costs_are_non_negative(default_wb: Workbook) -> None:
    for name in ("baseline", "stockpile_build", "allied_minimum_80", "china_share_cap_50"):
        inputs, _ = model_data(default_wb, name)
        pc = policy_costs(inputs)
        assert len(pc) >= 1, name
        # never negative, up to rounding: objectives reach ~5e11 USD where the penalty prices
        # unmet magnets, whose float spacing is ~6e-5 USD; a tenth of a cent is far above it
        assert (pc["objective_usd"] >= -1e-3).all(), (name, pc)
    floor = policy_costs(model_data(default_wb)[0])
    assert floor["lever"].str.contains("NdPr oxide floor").any()


def test_default_breakevens_change_the_plan_when_crossed(default_wb: Workbook) -> None:
    _, data = model_data(default_wb)
    opt = Optimizer(data)
    sol = opt.solve()
    be = offer_breakevens(opt, sol).dropna(subset=["breakeven_tariff_rate"])
    be = be[(be["headroom"].abs() > 0.01) & (be["breakeven_tariff_rate"] < 2)]
    top = be.sort_values("bought_t", ascending=False).head(4)
    top = pd.concat([top, be[be["bought_t"] == 0].head(4)])  # and any that would enter
    assert len(top) >= 4
    checked = 0
    for r in top.itertuples():
        b = (r.supplier, r.material, r.period)
        rate = r.breakeven_tariff_rate
        beyond = rate + 0.01 if r.change == "starts to lose volume" else rate - 0.01
        before = rate - 0.01 if r.change == "starts to lose volume" else rate + 0.01
        if beyond < 0:
            continue
        assert plan_changes_at(opt, b, beyond, r.bought_t), r
        assert not plan_changes_at(opt, b, max(before, 0.0), r.bought_t), r
        checked += 1
    assert checked >= 4


def test_cli_all_scenarios_writes_comparison_and_frontier(tmp_path: Path) -> None:
    env_run = [sys.executable, "-m", "optimizer"]
    out = tmp_path / "r"
    proc = subprocess.run(
        [*env_run, "solve", "--scenario", "exclude_china", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "comparison.md").read_text().startswith("# Scenario comparison")
    wb = openpyxl.load_workbook(out / "comparison.xlsx")
    assert {"Summary", "By material", "Allocation changes", "Headlines"} <= set(wb.sheetnames)
    report = openpyxl.load_workbook(out / "baseline" / "report.xlsx")
    assert {"Policy costs", "Tariff break-evens", "Country tariffs"} <= set(report.sheetnames)
    proc = subprocess.run(
        [*env_run, "frontier", "--points", "6", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "the last 10% of independence" in proc.stdout
    with (out / "frontier.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["max_china_share"]) for r in rows] == pytest.approx([1, 0.8, 0.6, 0.4, 0.2, 0])
    assert {"buyer_spend_usd", "unmet_t", "Tb oxide: spend_usd", "objective_usd"} <= set(rows[0])
    assert Status.OPTIMAL.value == rows[-1]["status"]


def test_no_effect_changes_say_why_by_hand(write: Write, close_call: Tables) -> None:
    """CN1 lands at 10 x 1.2 = $12/kg, JP1 at 10.5 x 1.15 = $12.075/kg: JP1 is not bought and
    enters below $12 (its reduced cost, $75/t, below its landed cost); a tariff on Japan
    moves nothing because nothing from Japan is bought either way."""
    from optimizer.runs.changes import no_effect_reasons
    from optimizer.runs.session import Session, WhatIf

    s = Session(open_workbook(write(close_call)))
    base = s.run(WhatIf(), with_frontier=False).results
    assert base is not None
    be = base.breakevens_by_period.set_index(["supplier", "period"])
    assert be.loc[("JP1", "2026"), "enters_below_usd_per_kg"] == pytest.approx(12.0)
    assert pd.isna(be.loc[("CN1", "2026"), "enters_below_usd_per_kg"])  # bought
    offers = [dict(r) for r in s.base_tables["Offers"]]
    offers[1]["price_usd_per_kg"] = 10.49
    w = WhatIf(tariffs={"Japan": 0.25}, edited={"Offers": offers})  # 10.49 x 1.25 = 13.1125
    res = s.run(w, with_frontier=False).results
    assert res is not None
    assert no_effect_reasons(w.tariffs, w.edited, s.base_tables, res, base) == [
        "US tariff on Japan 25% moves nothing: nothing from Japan is bought, before or after; "
        "its closest offer, JP1 Ga in 2026, lands at $13.11/kg and enters below $12.00/kg",
        "JP1 Ga is not bought in 2026: it lands at $13.11/kg, $1.11/kg above CN1; "
        "it enters below $12.00/kg",
    ]
    w = WhatIf(tariffs={"China": 0.205})  # CN1 at 12.05 still below JP1's 12.075: it stays
    res = s.run(w, with_frontier=False).results
    assert res is not None
    assert no_effect_reasons(w.tariffs, {}, s.base_tables, res, base) == [
        "US tariff on China 20.5% moves no tonnes: the plan still imports the same 20.0 t from "
        "China (no cheaper source; it pays the new duty)"
    ]
    offers[1]["price_usd_per_kg"] = 10.0  # now cheaper than CN1: bought, nothing to explain
    w = WhatIf(edited={"Offers": offers})
    res = s.run(w, with_frontier=False).results
    assert res is not None
    assert no_effect_reasons(w.tariffs, w.edited, s.base_tables, res, base) == []
