"""Supply chains with tiers (contract v2): hand-solvable chains with exact optima, published
transshipment optima, compliance, tariffs by last transformation, and v1 unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from optimizer.contract.book import open_workbook, scenario_inputs
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.reference import Optimizer
from optimizer.output.results import Results
from optimizer.runs.pipeline import solve_scenario
from tests.conftest import ROOT, Tables

Solve = Callable[..., Results]
V1_WORKBOOK = ROOT / "tests" / "data" / "default_v1.xlsx"
V1_SOLUTION = ROOT / "tests" / "data" / "default_v1_solution.json"


def countries(*names: str, rate: float = 0.0, **rates: float) -> list[dict[str, Any]]:
    return [
        {"country": n, "tariff_rate": rates.get(n.replace(" ", "_"), rate), "allied": True}
        for n in names
    ]


def activity(res: Results, supplier: str, process: str) -> float:
    a = res.activity
    return float(a.loc[(a["supplier"] == supplier) & (a["process"] == process), "output_t"].sum())


def flow(res: Results, frm: str, to: str, material: str) -> float:
    f = res.flows
    pick = (f["from"] == frm) & (f["to"] == to) & (f["material"] == material)
    return float(f.loc[pick, "quantity_t"].sum())


def three_stage() -> Tables:
    """Mine (AU) -> separator (JP) -> metal plant (US): 10 t of metal demanded."""
    return {
        "Materials": [{"material": "ore"}, {"material": "oxide"}, {"material": "metal"}],
        "Demand": [{"material": "metal", "period": 2026, "demand_t": 10}],
        "Countries": countries("Australia", "Japan", "United States"),
        "Suppliers": [
            {"supplier": "Mine", "country": "Australia"},
            {"supplier": "Sep", "country": "Japan"},
            {"supplier": "Met", "country": "United States"},
        ],
        "Processes": [
            {"supplier": "Mine", "process": "mine", "output": "ore", "cost_usd_per_kg": 2},
            {"supplier": "Sep", "process": "separate", "output": "oxide", "cost_usd_per_kg": 5},
            {"supplier": "Met", "process": "reduce", "output": "metal", "cost_usd_per_kg": 10},
        ],
        "Inputs": [
            {"supplier": "Sep", "process": "separate", "material": "ore", "t_per_t": 4},
            {"supplier": "Met", "process": "reduce", "material": "oxide", "t_per_t": 1.25},
        ],
    }


def test_yields_multiply_over_two_stages(solve: Solve) -> None:
    """10 t metal needs 12.5 t oxide (1.25 t/t), which needs 50 t ore (4 t/t):
    50 x 2 + 12.5 x 5 + 10 x 10 = 262.5 USD thousand. No offer sheet at all."""
    res = solve(three_stage())
    assert res.status == "optimal"
    assert res.total_cost_usd == pytest.approx(262_500.0, abs=1e-6)
    assert activity(res, "Mine", "mine") == pytest.approx(50.0)
    assert activity(res, "Sep", "separate") == pytest.approx(12.5)
    assert flow(res, "Sep", "Met", "oxide") == pytest.approx(12.5)
    assert res.cost_breakdown_usd["processing"] == pytest.approx(262_500.0)
    assert res.buyer_spend_usd == pytest.approx(262_500.0)


def test_a_process_capacity_binds_and_the_rest_is_unmet_in_tonnes(solve: Solve) -> None:
    """The separator can make 10 t oxide: 8 t metal (10 / 1.25), 2 t unmet."""
    t = three_stage()
    t["Processes"][1]["capacity_t"] = 10
    res = solve(t)
    assert activity(res, "Met", "reduce") == pytest.approx(8.0)
    assert res.unmet_by_material == pytest.approx({"metal": 2.0})


def coproducts() -> Tables:
    """A separator fed 5 t ore per t NdPr makes 0.05 t Dy and 1 t Ce per t NdPr; Dy is also
    offered at $300/kg; nobody wants Ce."""
    return {
        "Materials": [{"material": m} for m in ("ore", "NdPr", "Dy", "Ce")],
        "Demand": [
            {"material": "NdPr", "period": 2026, "demand_t": 10},
            {"material": "Dy", "period": 2026, "demand_t": 1},
        ],
        "Countries": countries("Australia", "Malaysia"),
        "Suppliers": [
            {"supplier": "Mine", "country": "Australia"},
            {"supplier": "Sep", "country": "Malaysia"},
            {"supplier": "Trader", "country": "Malaysia"},
        ],
        "Offers": [{"supplier": "Trader", "material": "Dy", "price_usd_per_kg": 300}],
        "Processes": [
            {"supplier": "Mine", "process": "mine", "output": "ore", "cost_usd_per_kg": 1},
            {"supplier": "Sep", "process": "separate", "output": "NdPr", "cost_usd_per_kg": 10},
        ],
        "Inputs": [{"supplier": "Sep", "process": "separate", "material": "ore", "t_per_t": 5}],
        "Coproducts": [
            {"supplier": "Sep", "process": "separate", "material": "Dy", "t_per_t": 0.05},
            {"supplier": "Sep", "process": "separate", "material": "Ce", "t_per_t": 1.0},
        ],
    }


def test_coproducts_come_in_the_feed_ratio_and_the_unwanted_one_is_discarded(
    solve: Solve,
) -> None:
    """10 t NdPr (main output, cannot be discarded or overproduced without stock) brings
    0.5 t Dy and 10 t Ce: Ce is discarded, the other 0.5 t Dy is bought at $300/kg.
    Cost 50 t ore x 1 + 10 t x 10 + 0.5 t x 300 = 300 USD thousand."""
    res = solve(coproducts())
    assert res.total_cost_usd == pytest.approx(300_000.0)
    assert flow(res, "Sep", "buyer", "Dy") == pytest.approx(0.5)
    assert flow(res, "Trader", "buyer", "Dy") == pytest.approx(0.5)
    d = res.discarded
    assert d[["supplier", "material", "quantity_t"]].values.tolist() == [["Sep", "Ce", 10.0]]


def test_a_coproduct_can_pay_for_running_the_process_harder_into_stock(solve: Solve) -> None:
    """With a stockpile for NdPr, the separator can make 20 t (10 t into stock at no holding
    cost) to get the whole 1 t of Dy: 100 ore + 200 fee = 300 = buying 0.5 t Dy at 300:
    a tie at 300 USD thousand; at $301/kg for Dy the separator runs 20 t."""
    t = coproducts()
    t["Stockpile"] = [{"material": "NdPr", "initial_t": 0}]
    t["Offers"][0]["price_usd_per_kg"] = 301
    res = solve(t)
    assert activity(res, "Sep", "separate") == pytest.approx(20.0)
    assert res.total_cost_usd == pytest.approx(100_000.0 + 200_000.0)


def tolling() -> Tables:
    """Concentrate bought from a US mine ($4/kg) and tolled in Malaysia (fee $12/kg, 5 t per t
    oxide), against Chinese oxide at $45/kg. Oxide from Malaysia pays 10%, from China 0%."""
    return {
        "Materials": [
            {"material": "conc", "reference_price_usd_per_kg": 4},
            {"material": "oxide"},
        ],
        "Demand": [{"material": "oxide", "period": 2026, "demand_t": 10}],
        "Countries": [
            {"country": "United States", "tariff_rate": 0},
            {"country": "Malaysia", "tariff_rate": 0.10, "allied": True},
            {"country": "China", "tariff_rate": 0.0},
        ],
        "Suppliers": [
            {"supplier": "US mine", "country": "United States"},
            {"supplier": "Toller", "country": "Malaysia"},
            {"supplier": "CN", "country": "China"},
        ],
        "Offers": [
            {"supplier": "US mine", "material": "conc", "price_usd_per_kg": 4},
            {"supplier": "CN", "material": "oxide", "price_usd_per_kg": 45},
        ],
        "Processes": [
            {"supplier": "Toller", "process": "toll", "output": "oxide", "cost_usd_per_kg": 12}
        ],
        "Inputs": [{"supplier": "Toller", "process": "toll", "material": "conc", "t_per_t": 5}],
    }


def test_bought_concentrate_is_tolled_through_a_separator(solve: Solve) -> None:
    """Per kg oxide: 5 x $4 concentrate (to a foreign facility: no US duty) + $12 fee + 10% on
    the oxide's customs value (12 + 5 x 4 = 32) = 35.2 < 45: 10 t cost 352 USD thousand."""
    res = solve(tolling())
    assert res.total_cost_usd == pytest.approx(352_000.0)
    assert flow(res, "US mine", "Toller", "conc") == pytest.approx(50.0)
    c = res.cost_breakdown_usd
    assert c["purchase"] == pytest.approx(200_000.0)
    assert c["processing"] == pytest.approx(120_000.0)
    assert c["tariff"] == pytest.approx(32_000.0)
    alloc = res.allocation.set_index("supplier")
    assert alloc.loc["US mine", "to_facilities_t"] == pytest.approx(50.0)
    assert alloc.loc["US mine", "to_buyer_t"] == 0


def test_the_tolling_fee_break_even_is_where_the_route_starts_to_be_used(solve: Solve) -> None:
    """At a $25/kg fee tolling costs 20 + 25 + 0.1 x 45 = 49.5 > 45: China wins. The fee at
    which tolling starts: 20 + f + 0.1 (f + 20) = 45, f = 23 / 1.1 = 20.909."""
    t = tolling()
    t["Processes"][0]["cost_usd_per_kg"] = 25
    res = solve(t, analyze=True)
    assert activity(res, "Toller", "toll") == 0
    pb = res.process_breakevens.set_index(["supplier", "process"])
    assert pb.loc[("Toller", "toll"), "breakeven_fee_usd_per_kg"] == pytest.approx(
        23 / 1.1, abs=0.01
    )


def magnets() -> Tables:
    """A Japanese magnet maker buys Chinese oxide ($50/kg) or oxide separated in Malaysia from
    an Australian mine ($70/kg all in). 0.4 t oxide per t magnet, fee $20/kg. Demand: 10 t of
    compliant (defence) magnets and 5 t commercial."""
    return {
        "Materials": [{"material": m} for m in ("conc", "oxide", "magnet")],
        "Demand": [
            {"material": "magnet", "period": 2027, "demand_t": 10, "compliant": True},
            {"material": "magnet", "period": 2027, "demand_t": 5},
        ],
        "Countries": countries("China", "Japan", "Malaysia", "Australia"),
        "Suppliers": [
            {"supplier": "CN sep", "country": "China"},
            {"supplier": "JP magnets", "country": "Japan"},
            {"supplier": "MY sep", "country": "Malaysia"},
            {"supplier": "AU mine", "country": "Australia"},
        ],
        "Offers": [{"supplier": "CN sep", "material": "oxide", "price_usd_per_kg": 50}],
        "Processes": [
            {"supplier": "AU mine", "process": "mine", "output": "conc", "cost_usd_per_kg": 10},
            {"supplier": "MY sep", "process": "separate", "output": "oxide", "cost_usd_per_kg": 20},
            {
                "supplier": "JP magnets",
                "process": "sinter",
                "output": "magnet",
                "cost_usd_per_kg": 20,
            },
        ],
        "Inputs": [
            {"supplier": "MY sep", "process": "separate", "material": "conc", "t_per_t": 5},
            {"supplier": "JP magnets", "process": "sinter", "material": "oxide", "t_per_t": 0.4},
        ],
    }


def test_a_compliant_segment_is_fed_only_through_a_chain_outside_china(solve: Solve) -> None:
    """Compliant magnets: 10 t x (20 + 0.4 x (20 + 5 x 10)) = 10 x 48 = 480; commercial ones
    from Chinese oxide: 5 x (20 + 0.4 x 50) = 200. Total 680 USD thousand."""
    res = solve(magnets())
    assert res.total_cost_usd == pytest.approx(680_000.0)
    assert flow(res, "MY sep", "JP magnets", "oxide") == pytest.approx(4.0)
    assert flow(res, "CN sep", "JP magnets", "oxide") == pytest.approx(2.0)
    c = res.compliance.iloc[0]
    assert (c.demand_t, c.met_t, c.shortfall_t) == (10, 10, 0)
    origin = res.origin_by_stage.set_index(["stage", "country"])["quantity_t"]
    assert origin[("separate", "Malaysia")] == pytest.approx(10.0)
    assert origin[("sinter", "Japan")] == pytest.approx(15.0)


def test_a_japanese_magnet_made_from_chinese_oxide_cannot_serve_the_compliant_segment(
    solve: Solve,
) -> None:
    """Without the Malaysian separator the only oxide is Chinese: the 10 t compliant segment is
    unmet (in tonnes) although Japanese magnets could be made for it; commercial is met."""
    t = magnets()
    t["Processes"] = [p for p in t["Processes"] if p["supplier"] != "MY sep"]
    t["Inputs"] = [i for i in t["Inputs"] if i["supplier"] != "MY sep"]
    res = solve(t)
    c = res.compliance.iloc[0]
    assert (c.met_t, c.shortfall_t) == (0, 10)
    assert res.unmet_by_material == pytest.approx({"magnet": 10.0})
    assert activity(res, "JP magnets", "sinter") == pytest.approx(5.0)


def test_an_offer_of_unknown_provenance_is_not_assumed_clean_unless_declared(
    solve: Solve,
) -> None:
    """A Japanese oxide offer ($60/kg) without `compliant` cannot feed the compliant magnets;
    declared compliant it can, and it beats the Malaysian chain's $70/kg."""
    t = magnets()
    t["Suppliers"].append({"supplier": "JP oxide", "country": "Japan"})
    t["Offers"].append({"supplier": "JP oxide", "material": "oxide", "price_usd_per_kg": 60})
    undeclared = solve(t)
    assert flow(undeclared, "JP oxide", "JP magnets", "oxide") == 0
    t["Offers"][1]["compliant"] = True
    declared = solve(t)
    assert flow(declared, "JP oxide", "JP magnets", "oxide") == pytest.approx(4.0)
    assert declared.total_cost_usd == pytest.approx(680_000.0 - 10 * 1000 * 0.4 * 10)


def test_tariffs_apply_where_goods_enter_at_the_rate_of_last_transformation(
    solve: Solve,
) -> None:
    """Japanese magnets made from Chinese oxide pay Japan's 15% on the magnet's customs value
    (fee 20 + 0.4 x reference 50 = 40), not China's 50%; Chinese concentrate entering a US
    separator pays China's 50% on its own value ($10)."""
    t = magnets()
    t["Demand"] = [{"material": "magnet", "period": 2027, "demand_t": 10}]
    t["Countries"] = [
        {"country": "China", "tariff_rate": 0.5},
        {"country": "Japan", "tariff_rate": 0.15},
        {"country": "Malaysia", "tariff_rate": 0.0},
        {"country": "Australia", "tariff_rate": 0.0},
        {"country": "United States", "tariff_rate": 0.0},
    ]
    t["Materials"][1]["reference_price_usd_per_kg"] = 50
    t["Processes"] = [t["Processes"][2]]
    t["Inputs"] = [t["Inputs"][1]]
    res = solve(t)
    # 10 t x (0.4 x 50 oxide, no US duty into Japan + 20 fee + 15% x 40) = 10 x 46
    assert res.total_cost_usd == pytest.approx(460_000.0)
    f = res.flows.set_index(["from", "to"])
    assert f.loc[("JP magnets", "buyer"), "tariff_rate"] == pytest.approx(0.15)
    assert f.loc[("CN sep", "JP magnets"), "tariff_usd"] == 0
    # concentrate into a US separator
    t2 = tolling()
    t2["Suppliers"][1]["country"] = "United States"
    t2["Suppliers"][0]["country"] = "China"
    t2["Countries"][2]["tariff_rate"] = 0.5
    res2 = solve(t2)
    # per kg oxide: 5 x (4 + 50% x 4) + 12 fee, no duty on oxide made in the US = 42 < 45
    assert res2.total_cost_usd == pytest.approx(420_000.0)
    f2 = res2.flows.set_index(["from", "to"])
    assert f2.loc[("US mine", "Toller"), "tariff_rate"] == pytest.approx(0.5)
    assert f2.loc[("Toller", "buyer"), "tariff_usd"] == 0


def test_routes_restrict_who_ships_to_whom_and_their_limits_bind(solve: Solve) -> None:
    """With Routes rows for oxide, only listed routes carry it: Chinese oxide may go only to
    the buyer (not to the magnet maker); a 3 t limit on Malaysia -> Japan leaves 2.5 t of the
    magnet demand unmet (3 / 0.4 = 7.5 t magnets)."""
    t = magnets()
    t["Demand"] = [{"material": "magnet", "period": 2027, "demand_t": 10}]
    t["Routes"] = [
        {"from_supplier": "MY sep", "to": "JP magnets", "material": "oxide", "max_t": 3},
        {"from_supplier": "CN sep", "to": "Buyer", "material": "oxide"},
    ]
    res = solve(t)
    assert flow(res, "CN sep", "JP magnets", "oxide") == 0
    assert flow(res, "MY sep", "JP magnets", "oxide") == pytest.approx(3.0)
    assert res.unmet_by_material == pytest.approx({"magnet": 2.5})


# --------------------------------------------------------------------------- transshipment


def transshipment(
    supply: dict[str, float],
    demand: dict[str, float],
    arcs: dict[tuple[str, str], tuple[float, float | None]],
) -> Tables:
    """A classic transshipment instance as a v2 workbook: every node a facility; supply nodes
    are sources, others pass material through (t_per_t 1); each demand node makes its own
    material for the buyer. Arc costs are route freight in USD/kg (so the objective is 1000 x
    the textbook's)."""
    nodes = sorted({n for arc in arcs for n in arc})
    processes, inputs, routes = [], [], []
    for n in nodes:
        if n in supply:
            processes.append(
                {"supplier": n, "process": "supply", "output": "unit", "capacity_t": supply[n]}
            )
        else:
            processes.append({"supplier": n, "process": "pass", "output": "unit"})
            inputs.append({"supplier": n, "process": "pass", "material": "unit", "t_per_t": 1})
        if n in demand:
            processes.append({"supplier": n, "process": "deliver", "output": f"at {n}"})
            inputs.append({"supplier": n, "process": "deliver", "material": "unit", "t_per_t": 1})
            routes.append({"from_supplier": n, "to": "buyer", "material": f"at {n}"})
    for (a, b), (cost, cap) in arcs.items():
        routes.append(
            {
                "from_supplier": a,
                "to": b,
                "material": "unit",
                "freight_usd_per_kg": cost,
                "max_t": cap,
            }
        )
    return {
        "Materials": [{"material": "unit"}, *({"material": f"at {n}"} for n in sorted(demand))],
        "Demand": [
            {"material": f"at {n}", "period": 1, "demand_t": q} for n, q in sorted(demand.items())
        ],
        "Countries": countries("Here"),
        "Suppliers": [{"supplier": n, "country": "Here"} for n in nodes],
        "Processes": processes,
        "Inputs": inputs,
        "Routes": routes,
        "Settings": [{"setting": "allow_unmet", "value": False}],
    }


def test_winston_widgetco_transshipment_optimum_is_6370(solve: Solve) -> None:
    """Winston, Operations Research: Applications and Algorithms (4th ed.), section 7.6,
    Widgetco: Memphis 150 and Denver 200 supply Los Angeles and Boston 130 each through New York
    and Chicago; published optimum $6,370 (the LP optimum is degenerate: objective only)."""
    arcs: dict[tuple[str, str], tuple[float, float | None]] = {
        ("Memphis", "New York"): (8, None),
        ("Memphis", "Chicago"): (13, None),
        ("Memphis", "Los Angeles"): (25, None),
        ("Memphis", "Boston"): (28, None),
        ("Denver", "New York"): (15, None),
        ("Denver", "Chicago"): (12, None),
        ("Denver", "Los Angeles"): (26, None),
        ("Denver", "Boston"): (25, None),
        ("New York", "Chicago"): (6, None),
        ("New York", "Los Angeles"): (16, None),
        ("New York", "Boston"): (17, None),
        ("Chicago", "New York"): (6, None),
        ("Chicago", "Los Angeles"): (14, None),
        ("Chicago", "Boston"): (16, None),
    }
    t = transshipment({"Memphis": 150, "Denver": 200}, {"Los Angeles": 130, "Boston": 130}, arcs)
    res = solve(t)
    assert res.status == "optimal"
    assert res.total_cost_usd / 1000 == pytest.approx(6370.0, abs=1e-6)


def test_ampl_book_net1_transshipment_with_arc_capacities_optimum_is_1819(solve: Solve) -> None:
    """Fourer, Gay and Kernighan, AMPL (2nd ed.), chapter 15, net1.mod / net1.dat: PITT ships
    450 through NE and SE to five cities under arc capacities; published optimum 1819 (unique:
    PITT->NE 250 and NE->EWR 100 bind)."""
    arcs: dict[tuple[str, str], tuple[float, float | None]] = {
        ("PITT", "NE"): (2.5, 250),
        ("PITT", "SE"): (3.5, 250),
        ("NE", "BOS"): (1.7, 100),
        ("NE", "EWR"): (0.7, 100),
        ("NE", "BWI"): (1.3, 100),
        ("SE", "EWR"): (1.3, 100),
        ("SE", "BWI"): (0.8, 100),
        ("SE", "ATL"): (0.2, 100),
        ("SE", "MCO"): (2.1, 100),
    }
    demand = {"BOS": 90, "EWR": 120, "BWI": 120, "ATL": 70, "MCO": 50}
    res = solve(transshipment({"PITT": 450}, demand, arcs))
    assert res.total_cost_usd / 1000 == pytest.approx(1819.0, abs=1e-6)
    for (a, b), q in {("PITT", "NE"): 250, ("NE", "EWR"): 100, ("SE", "EWR"): 20}.items():
        assert flow(res, a, b, "unit") == pytest.approx(q), (a, b)


# --------------------------------------------------------------------------- engines and v1


def test_both_engines_agree_on_a_graded_chain(write: Callable[[Tables], Any]) -> None:
    """The reference engine (Pyomo's persistent HiGHS interface, the full model with its
    objective) and the fast path give the same optimum and duals on a chain with grades."""
    t = magnets()
    t["Routes"] = [
        {"from_supplier": "MY sep", "to": "JP magnets", "material": "oxide", "max_t": 3},
        {"from_supplier": "CN sep", "to": "JP magnets", "material": "oxide"},
    ]
    wb = open_workbook(write(t))

    inputs, _ = scenario_inputs(wb)
    assert inputs is not None
    data = prepare(inputs)
    fast, ref = FastOptimizer(data).solve(), Optimizer(data).solve()
    assert fast.objective_usd == pytest.approx(ref.objective_usd, rel=1e-12)
    for family in ("lane", "consume", "consume_compliant", "route_capacity", "compliant_balance"):
        assert dict(fast.duals[family]) == pytest.approx(dict(ref.duals[family]), abs=1e-6)


def test_a_v1_workbook_solved_through_v2_code_gives_the_same_plan_and_duals() -> None:
    """Every scenario of the 29 Nov 2026 default workbook (contract v1): objective, every
    purchase and every dual as recorded from the release before contract v2."""
    recorded = json.loads(V1_SOLUTION.read_text())
    wb = open_workbook(V1_WORKBOOK)

    for name, want in recorded.items():
        inputs, _ = scenario_inputs(wb, name)
        assert inputs is not None and not inputs.has_chain
        sol = FastOptimizer(prepare(inputs), threads=1).solve()
        assert sol.objective_usd == want["objective_usd"], name
        x = {"|".join(k): v for k, v in sol.x.items() if abs(v) > 1e-9}
        assert x == pytest.approx(want["x"], rel=1e-12), name
        for family, duals in want["duals"].items():
            got = {"|".join(map(str, k)): v for k, v in sol.duals[family].items() if abs(v) > 1e-9}
            assert got == pytest.approx(duals, rel=1e-12), (name, family)
        assert not sol.chain, name


# --------------------------------------------------------------------------- outputs


def test_reports_carry_the_chain_its_compliance_and_a_self_contained_sankey(
    write: Callable[[Tables], Any], tmp_path: Any
) -> None:
    """`sourcing solve` on a chain workbook: results.json has flows, activity, discarded,
    origin_by_stage and compliance with the contract's keys; report.xlsx has their sheets;
    chain.html is a Sankey that opens without a network (plotly.js inside, no remote script)."""
    import openpyxl

    from optimizer.runs import cli

    t = magnets()
    t["Materials"].append({"material": "Ce oxide"})
    t["Coproducts"] = [
        {"supplier": "MY sep", "process": "separate", "material": "Ce oxide", "t_per_t": 2}
    ]
    out = tmp_path / "out"
    assert cli.main(["solve", str(write(t)), "--out", str(out)]) == 0
    folder = out / "baseline"
    doc = json.loads((folder / "results.json").read_text())
    for key, fields in {
        "flows": {"from", "to", "material", "period", "quantity_t"},
        "activity": {"supplier", "process", "period", "output_t"},
        "discarded": {"supplier", "material", "period", "quantity_t"},
        "origin_by_stage": {"material", "period", "stage", "country", "quantity_t"},
        "compliance": {"material", "period", "demand_t", "met_t", "shortfall_t"},
    }.items():
        assert doc[key], key
        assert fields <= set(doc[key][0]), key
    assert doc["compliance"][0]["met_t"] == 10
    assert doc["total_cost_usd"] == pytest.approx(680_000.0 + 0.0)
    wb = openpyxl.load_workbook(folder / "report.xlsx", read_only=True)
    assert {"Compliance", "Origin by stage", "Flows", "Activity", "Discarded"} <= set(wb.sheetnames)
    html = (folder / "chain.html").read_text(encoding="utf-8")
    assert "Sankey" in html or "sankey" in html
    assert '<script src="http' not in html and "Plotly.newPlot" in html
    assert len(html) > 1_000_000  # plotly.js itself is inside
    assert "MY sep (Malaysia)" in html and "Buyer" in html


# --------------------------------------------------------------------------- bad input


def test_every_chain_mistake_is_cited_at_its_cell_at_once_and_nothing_is_written(
    write: Callable[[Tables], Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown supplier, process and material on Routes, Inputs and Coproducts; a zero and a
    negative t_per_t; a compliant offer from China; a loop that makes oxide from nothing: all
    in one run, each cell once, exit 65, no report folder."""
    from optimizer.runs import cli

    t = magnets()
    t["Offers"][0]["compliant"] = True  # Offers!G2: CN sep is in China
    t["Materials"].append({"material": "scrap"})
    t["Inputs"] += [
        {"supplier": "JP magnets", "process": "sintr", "material": "oxide", "t_per_t": 1},  # A4
        {"supplier": "MY sep", "process": "separate", "material": "unobtainium", "t_per_t": 1},
        {"supplier": "AU mine", "process": "mine", "material": "oxide", "t_per_t": 0},  # D6
        {"supplier": "CN sep", "process": "recycle", "material": "scrap", "t_per_t": -1},  # D7
    ]
    t["Processes"].append({"supplier": "CN sep", "process": "recycle", "output": "oxide"})
    t["Coproducts"] = [
        {"supplier": "Nowhere Inc", "process": "mine", "material": "conc", "t_per_t": 1},
    ]
    t["Routes"] = [{"from_supplier": "AU mine", "to": "Mars base", "material": "conc"}]
    # a gain loop: 1 t oxide -> 0.4 t magnet... closed by a process making 3 t oxide per t magnet
    t["Suppliers"].append({"supplier": "Alchemist", "country": "Japan"})
    t["Processes"].append({"supplier": "Alchemist", "process": "unmake", "output": "oxide"})
    t["Inputs"].append(
        {"supplier": "Alchemist", "process": "unmake", "material": "magnet", "t_per_t": 1 / 3}
    )
    out = tmp_path / "out"
    code = cli.main(["solve", str(write(t)), "--out", str(out)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 65
    assert not out.exists()
    for cited in (
        'Inputs!B4: process "sintr" of "JP magnets" is not in Processes (did you mean "sinter"?)',
        'Inputs!C5: material "unobtainium" is not in Materials',
        "Inputs!D6: t_per_t must be above 0 (found 0)",
        "Inputs!D7: t_per_t must not be negative (found -1)",
        'Coproducts!A2: supplier "Nowhere Inc" is not in Suppliers',
        'Routes!B2: "Mars base" is neither a Suppliers row nor `buyer`',
        'Offers!D2: compliant is TRUE, but "CN sep" is in China',
        "Inputs!D3: a loop of processes makes material from nothing",
        '"unmake" at "Alchemist" (magnet -> oxide, x3)',
        "8 problems in the inputs; nothing was written",
    ):
        assert cited in text, cited
    assert text.count("Inputs!D7") == 1


def test_a_process_whose_inputs_can_never_arrive_is_a_warning(
    write: Callable[[Tables], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Routes for oxide list no route into JP magnets: its input can never arrive there."""
    from optimizer.runs import cli

    t = magnets()
    t["Routes"] = [{"from_supplier": "CN sep", "to": "buyer", "material": "oxide"}]
    t["Processes"] = [p for p in t["Processes"] if p["supplier"] != "MY sep"]
    t["Inputs"] = [i for i in t["Inputs"] if i["supplier"] != "MY sep"]
    code = cli.main(["validate", str(write(t))])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code == 0
    assert 'Inputs!C2: warning: input "oxide" of "sinter" at "JP magnets" can never arrive' in text


def test_the_synthetic_network_is_a_valid_workbook_both_engines_solve_alike() -> None:
    """The benchmark's network generator (small size): valid through the workbook checks, every
    family used, the same optimum on both engines."""
    from optimizer.model.synthetic_network import network_data

    data = network_data("netsmall", seed=3)
    assert data.chain is not None and data.chain.grades
    fast, ref = FastOptimizer(data).solve(), Optimizer(data).solve()
    assert fast.status == "optimal"
    assert fast.objective_usd == pytest.approx(ref.objective_usd, rel=1e-9)
    used = {name for name, values in fast.chain.items() if any(v > 1e-6 for v in values.values())}
    assert {"y", "f", "d"} <= used


@pytest.mark.parametrize("instance", [three_stage, coproducts, tolling, magnets])
def test_an_independent_audit_finds_every_balance_and_compliance_rule_kept(
    write: Callable[[Tables], Any], instance: Callable[[], Tables]
) -> None:
    """tests/chain_audit.py re-derives the balances from the workbook rows and the published
    tables; it must find nothing on these plans, and must find a tampered flow."""
    from tests.chain_audit import audit

    wb = open_workbook(write(instance()))
    inputs, _ = scenario_inputs(wb)
    assert inputs is not None
    res = solve_scenario(wb)[2]
    assert audit(inputs, res) == []
    tampered = res.flows.copy()
    tampered.loc[tampered.index[0], "quantity_t"] += 1.0
    res.flows = tampered
    assert audit(inputs, res), "the audit must notice one tonne too many"


def test_stress_disruptions_reach_the_chain(write: Callable[[Tables], Any]) -> None:
    """An outage of the Malaysian separator leaves the compliant magnets unmet; a Chinese ban
    on oxide exports stops its oxide reaching the Japanese magnet maker, so the commercial
    magnets also come from the Malaysian chain: 15 t x 48 = 720 USD thousand."""
    from optimizer.analysis.risks import Disruption, apply_disruptions
    from optimizer.model.solution import Status

    inputs, _ = scenario_inputs(open_workbook(write(magnets())))
    assert inputs is not None
    data = prepare(inputs)
    opt = FastOptimizer(data)
    assert opt.solve().objective_usd == pytest.approx(680_000.0)
    outage = apply_disruptions(data, [Disruption("supplier_outage", "MY sep", 1.0)])
    assert opt.update(outage)  # same structure: updated in place
    sol = opt.solve()
    assert sol.status is Status.OPTIMAL
    assert sum(sol.chain["uc"].values()) == pytest.approx(10.0)
    ban = apply_disruptions(data, [Disruption("export_ban", "oxide", 1.0)])
    assert opt.update(ban)
    assert opt.solve().objective_usd == pytest.approx(720_000.0)


def test_compliant_demand_nothing_compliant_can_reach_is_explained_when_unmet_is_not_allowed(
    solve: Solve,
) -> None:
    """Only Chinese oxide and unmet not allowed: the compliant magnets are infeasible, said in
    the planner's words: the shortfall in tonnes (elastic re-solve) and the compliant demand
    row among the limits in conflict (HiGHS's IIS). With the magnet maker in China as well,
    nothing compliant can even reach the buyer: said before any solve."""
    t = magnets()
    t["Processes"] = [p for p in t["Processes"] if p["supplier"] != "MY sep"]
    t["Inputs"] = [i for i in t["Inputs"] if i["supplier"] != "MY sep"]
    t["Settings"] = [{"setting": "allow_unmet", "value": False}]
    res = solve(t)
    assert res.status == "infeasible"
    assert "magnet 2027: short by 10 t of 15 t demand" in res.message
    assert "compliant demand for magnet in 2027 (10 t, unmet not allowed)" in res.message
    t["Suppliers"][1]["country"] = "China"
    res = solve(t)
    assert res.status == "infeasible"
    assert "magnet 2027: compliant demand 10 t but nothing compliant can reach the buyer" in (
        res.message
    )
