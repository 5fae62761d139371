"""Emissions (issue 17): intensities, a carbon price, caps, the frontier, unknowns, indicators.

Known optima are worked by hand in each docstring.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from optimizer.analysis.emissions_frontier import emissions_frontier, least_emissions
from optimizer.contract.book import open_workbook, validate
from optimizer.contract.tables import parse_tables
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.reference import Optimizer
from optimizer.output.results import Results
from optimizer.runs import cli
from optimizer.runs.pipeline import model_data
from tests.conftest import ROOT, Tables
from tests.test_chain import magnets

Solve = Callable[..., Results]
Write = Callable[[Tables], Path]


def two_offers() -> Tables:
    """100 t of Ga: A sells at $10/kg emitting 5 kg CO2e/kg, B at $12/kg emitting 2 kg/kg."""
    return {
        "Materials": [{"material": "Ga"}],
        "Demand": [{"material": "Ga", "period": 2026, "demand_t": 100}],
        "Countries": [
            {"country": "Aland", "tariff_rate": 0},
            {"country": "Bland", "tariff_rate": 0},
        ],
        "Suppliers": [
            {"supplier": "A", "country": "Aland"},
            {"supplier": "B", "country": "Bland"},
        ],
        "Offers": [
            {
                "supplier": "A",
                "material": "Ga",
                "price_usd_per_kg": 10,
                "emissions_kg_co2e_per_kg": 5,
            },
            {
                "supplier": "B",
                "material": "Ga",
                "price_usd_per_kg": 12,
                "emissions_kg_co2e_per_kg": 2,
            },
        ],
    }


def _settings(t: Tables, **values: Any) -> Tables:
    t = copy.deepcopy(t)
    t["Settings"] = [{"setting": k, "value": v} for k, v in values.items()]
    return t


def bought(res: Results, supplier: str) -> float:
    a = res.allocation
    return float(a.loc[a["supplier"] == supplier, "quantity_t"].sum())


@pytest.mark.parametrize(
    ("price", "winner", "objective"),
    # A costs 10 + 5 P / 1000 per kg, B 12 + 2 P / 1000: equal at P = 2000 / 3 = 666.67 USD/t
    [(666.0, "A", 100_000 * (10 + 5 * 0.666)), (667.0, "B", 100_000 * (12 + 2 * 0.667))],
)
def test_carbon_price_switches_supplier_at_the_hand_computed_price(
    solve: Solve, price: float, winner: str, objective: float
) -> None:
    res = solve(_settings(two_offers(), carbon_price_usd_per_t_co2e=price))
    assert bought(res, winner) == pytest.approx(100.0)
    assert res.total_cost_usd == pytest.approx(objective)
    spend = 100_000 * (10 if winner == "A" else 12)
    assert res.buyer_spend_usd == pytest.approx(spend)  # the carbon charge is not money paid
    intensity = 5 if winner == "A" else 2
    assert res.cost_breakdown_usd["carbon_price"] == pytest.approx(100 * intensity * price)
    assert res.emissions_t_co2e == pytest.approx(100 * intensity)


def test_a_cap_splits_the_purchase_and_prices_abatement_on_both_engines() -> None:
    """Cap 350 t CO2e: 5a + 2b <= 350, a + b = 100, so a = 50, b = 50; cost 1,100,000; one more
    t CO2e of cap saves (12 - 10) x 1000 / (5 - 2) = 666.67 USD (the cap's dual)."""
    t = copy.deepcopy(two_offers())
    t["EmissionsCaps"] = [{"max_t_co2e": 350}]
    inputs, problems = parse_tables(t, "caps.xlsx")
    assert inputs is not None, problems
    data = prepare(inputs)
    for engine in (FastOptimizer(data), Optimizer(data)):
        sol = engine.solve()
        assert sol.x[("A", "Ga", "2026")] == pytest.approx(50.0)
        assert sol.objective_usd == pytest.approx(1_100_000.0)
        assert sol.duals["emissions_cap"][("*", "*")] == pytest.approx(-2000 / 3)


def test_frontier_points_and_abatement_by_hand() -> None:
    """Caps 500 (no cap binds), 400, 300, 200 t CO2e: a = (cap - 200) / 3, spend =
    1000 (10 a + 12 (100 - a)); abatement 666.67 USD/t wherever the cap binds."""
    inputs, _ = parse_tables(two_offers(), "f.xlsx")
    assert inputs is not None
    front = emissions_frontier(inputs, points=4)
    t = front.table
    assert list(t["emissions_cap_t_co2e"].round(6)) == [500.0, 400.0, 300.0, 200.0]
    for cap, spend in zip(t["emissions_cap_t_co2e"], t["buyer_spend_usd"], strict=True):
        a = (min(cap, 500) - 200) / 3
        assert spend == pytest.approx(1000 * (10 * a + 12 * (100 - a)), rel=1e-6)
    assert list(t["abatement_usd_per_t_co2e"].round(4)) == [0.0, 666.6667, 666.6667, 666.6667]
    assert (front.max_t_co2e, front.min_t_co2e) == pytest.approx((500.0, 200.0))
    assert list(t["total_cost_usd"]) == pytest.approx(list(t["buyer_spend_usd"]))  # no unmet


def test_default_frontier_is_monotone_and_its_ends_are_the_two_plans(default_wb: Any) -> None:
    """At least 11 points; cost never falls as the cap tightens; the first point is the plan
    without a cap, the last the least-emissions plan (its emissions are the least reachable)
    at the least cost among such plans."""
    inputs, data = model_data(default_wb)
    front = emissions_frontier(inputs, points=11)
    t = front.table
    assert len(t) >= 11 and set(t["status"]) == {"optimal"}
    caps = list(t["emissions_cap_t_co2e"])
    assert caps == sorted(caps, reverse=True)
    spend = list(t["total_cost_usd"])
    assert all(b >= a - 1e-6 * abs(a) for a, b in itertools.pairwise(spend))
    base = FastOptimizer(data).solve()
    assert spend[0] == pytest.approx(base.objective_usd, rel=1e-9)
    least = least_emissions(FastOptimizer(data))
    assert least is not None and t["counted_t_co2e"].iloc[-1] == pytest.approx(least, rel=1e-6)
    assert t["counted_t_co2e"].iloc[-1] < 0.9 * t["counted_t_co2e"].iloc[0]
    assert t["abatement_usd_per_t_co2e"].iloc[-1] > t["abatement_usd_per_t_co2e"].iloc[1] > 0


def test_unknown_intensities_are_listed_not_summed_as_zero(
    solve: Solve, write: Write, tmp_path: Path
) -> None:
    """C has no stated intensity and is cheapest: the total counts A's and B's stated tonnes
    only; results.json lists C as unknown. Under a cap, `highest` counts C at 5 (A's), so the
    cap is not met by buying the undocumented source; `zero` would let it."""
    t = two_offers()
    t["Countries"].append({"country": "Cland", "tariff_rate": 0})
    t["Suppliers"].append({"supplier": "C", "country": "Cland", "capacity_t": 40})
    t["Offers"].append({"supplier": "C", "material": "Ga", "price_usd_per_kg": 9})
    res = solve(t)
    assert bought(res, "C") == pytest.approx(40.0) and bought(res, "A") == pytest.approx(60.0)
    assert res.emissions_t_co2e == pytest.approx(60 * 5)  # not 60 x 5 + 40 x 0 "known"
    assert res.emissions_unknown_t == pytest.approx(40.0)
    assert cli.main(["solve", str(write(t)), "--out", str(tmp_path / "r")]) == 0
    doc = json.loads((tmp_path / "r" / "baseline" / "results.json").read_text())
    assert doc["emissions_t_co2e"]["total"] == pytest.approx(300.0)
    assert doc["emissions_t_co2e"]["complete"] is False
    assert [(u["supplier"], u["quantity_t"]) for u in doc["emissions_unknown"]] == [("C", 40.0)]
    capped = copy.deepcopy(t)
    capped["EmissionsCaps"] = [{"max_t_co2e": 260}]
    # highest: 5 c + 5 a + 2 b <= 260 with a + b + c = 100: (5 - 2)(a + c) <= 60, a + c = 20
    high = solve(capped)
    assert bought(high, "B") == pytest.approx(80.0)
    # zero: 5 a + 2 b <= 260: C 40 (counts 0), then a = (260 - 120) / 3 = 46.67, b = 13.33
    low = solve(_settings(capped, unknown_emissions="zero"))
    assert bought(low, "C") == pytest.approx(40.0) and bought(low, "B") == pytest.approx(40 / 3)


def test_emissions_through_the_tiers_with_a_coproduct(solve: Solve) -> None:
    """magnets(): AU mine 3 kg CO2e/kg conc, MY separation 5 per kg oxide (5 t conc per t, a
    Ce co-product of 2 t per t, discarded), CN oxide offer 18, sintering 8. Direct: mine 20 x 3
    = 60, separation 4 x 5 = 20, sinter 15 x 8 = 120, CN oxide 2 x 18 = 36: 236 t. MY oxide
    embodies (5 + 5 x 3) / (1 + 2) = 6.67 per t (mass allocation with the Ce), so the magnets
    embody 15 x (8 + 0.4 x (4 x 6.67 + 2 x 18) / 6) = 182.67 t; the discarded Ce the rest."""
    t = magnets()
    t["Materials"].append({"material": "Ce"})
    t["Coproducts"] = [
        {"supplier": "MY sep", "process": "separate", "material": "Ce", "t_per_t": 2}
    ]
    t["Offers"][0]["emissions_kg_co2e_per_kg"] = 18
    for p, e in zip(t["Processes"], (3, 5, 8), strict=True):
        p["emissions_kg_co2e_per_kg"] = e
    res = solve(t)
    assert res.emissions_t_co2e == pytest.approx(236.0)
    by_stage = res.emissions.groupby("stage")["emissions_t_co2e"].sum()
    assert by_stage["mine"] == pytest.approx(60.0) and by_stage["sinter"] == pytest.approx(120.0)
    d = res.delivered_emissions.set_index("material")
    assert d.loc["magnet", "emissions_t_co2e"] == pytest.approx(182.0 + 2 / 3)
    assert bool(d.loc["magnet", "complete"])


def test_high_standard_by_indicators_sets_who_gets_the_floor(solve: Solve) -> None:
    """A $11/kg buyer-paid floor for high-standard suppliers; by indicators A (Aland, 2 per
    1,000, not listed) is high-standard, B (Bland, 8 per 1,000) is not: A is paid 11, so B at 12
    ... stays dearer: A 100 t at 11. Without Bland's row, B is not high-standard either."""
    t = two_offers()
    t["Offers"][0]["price_usd_per_kg"] = 10
    t["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 11, "paid_by": "buyer"}]
    t["Indicators"] = [
        {"country": "Aland", "indicator": "forced_labour_per_1000", "value": 2, "source": "x"},
        {"country": "Aland", "indicator": "child_or_forced_labour_listed", "value": 0},
        {"country": "Bland", "indicator": "forced_labour_per_1000", "value": 8, "source": "y"},
        {"country": "Bland", "indicator": "child_or_forced_labour_listed", "value": 0},
    ]
    by_flag = solve(t)  # no Suppliers flag set: no floor applies
    assert by_flag.buyer_spend_usd == pytest.approx(100_000 * 10)
    rule = solve(_settings(t, high_standard_rule="indicators"))
    assert rule.buyer_spend_usd == pytest.approx(100_000 * 11)
    a = rule.allocation.set_index("supplier")
    assert a.loc["A", "price_paid_usd_per_kg"] == pytest.approx(11.0)


@pytest.mark.parametrize(
    ("sheet", "column", "value", "cell", "words"),
    [
        ("Offers", "emissions_kg_co2e_per_kg", -1, "Offers!D2", "must not be negative"),
        ("Offers", "emissions_kg_co2e_per_kg", "inf", "Offers!D2", "finite"),
        ("Indicators", "indicator", "slavery", "Indicators!B2", "forced_labour_per_1000"),
        ("Indicators", "value", 3, "Indicators!C2", "0 or 1"),
    ],
)
def test_bad_responsible_inputs_are_cited_at_their_cell(
    write: Write, sheet: str, column: str, value: Any, cell: str, words: str
) -> None:
    t = two_offers()
    t["Indicators"] = [
        {"country": "Aland", "indicator": "irma_audit", "value": 1, "source": "audit report"}
    ]
    if sheet == "Offers":
        t["Offers"][0] = {
            k: t["Offers"][0][k] for k in ("supplier", "material", "price_usd_per_kg")
        }
        t["Offers"][0][column] = value
        t["Offers"][1].pop("emissions_kg_co2e_per_kg")
    else:
        t[sheet][0][column] = value
    found = [p for p in validate(open_workbook(write(t))) if p.severity == "error"]
    assert any(p.where == cell and words in p.message for p in found), [str(p) for p in found]


def test_an_unreachable_cap_is_infeasible_and_names_the_least_reachable(
    write: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The least 100 t of Ga can emit is 100 x 2 = 200 t CO2e; a cap of 150 cannot be met."""
    t = two_offers()
    t["Settings"] = [{"setting": "allow_unmet", "value": False}]
    t["EmissionsCaps"] = [{"material": "Ga", "period": 2026, "max_t_co2e": 150}]
    code = cli.main(["solve", str(write(t)), "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 3
    assert "EmissionsCaps!C2" in out and "200.0 t CO2e" in out, out


def test_the_default_workbook_states_its_intensities_with_sources() -> None:
    """Every default offer and process either states an intensity or says in its source why not."""
    book = openpyxl.load_workbook(ROOT / "inputs" / "default.xlsx", read_only=True)
    for sheet in ("Offers", "Processes"):
        rows = list(book[sheet].iter_rows(values_only=True))
        header = [str(h) for h in rows[0]]
        e, src = header.index("emissions_kg_co2e_per_kg"), header.index("source")
        for row in rows[1:]:
            assert "Emissions" in str(row[src]), (sheet, row[:3])
            if row[e] is None:
                assert "unknown" in str(row[src]), (sheet, row[:3])
    ind = list(book["Indicators"].iter_rows(values_only=True))
    assert len(ind) > 10 and all(r[4] for r in ind[1:])  # every indicator has its source
