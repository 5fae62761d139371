"""Invariants on the embedded default workbook, for the baseline and every scenario."""

from __future__ import annotations

import copy
from pathlib import Path

import openpyxl
import pytest

from optimizer.contract.book import DEFAULT_WORKBOOK, Workbook, validate
from optimizer.contract.docs import workbook_markdown
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.model.data import ModelData
from optimizer.model.solution import Status
from optimizer.output.results import COST_KEYS, Results
from optimizer.runs.pipeline import solve_scenario
from scripts.build_default_inputs import read_tables
from tests.chain_audit import audit
from tests.conftest import ROOT

TOL = 1e-6

Solved = dict[str, tuple[Inputs, ModelData, Results]]


def test_default_workbook_is_valid_and_rich_enough(default_wb: Workbook) -> None:
    """The v2 default workbook's materials are the Materials rows (oxides, their feeds and
    China-domestic variants, metal, magnets, 4N and 6N gallium, germanium and its
    intermediates). Malaysia now ships only through Lynas Kuantan's processes (the Lynas
    offers became the Mt Weld -> Kalgoorlie -> Kuantan chain), so countries are counted over
    offers and facilities."""
    assert [p for p in validate(default_wb) if p.severity == "error"] == []
    _, data, _ = solve_scenario(default_wb)
    assert set(data.materials) == {
        "NdPr oxide",
        "Dy oxide",
        "Tb oxide",
        "Gallium",
        "Germanium",
        "Mountain Pass concentrate",
        "Mt Weld concentrate",
        "Lynas MREC",
        "Kelantan ionic-clay MREC",
        "NdPr oxide (China domestic)",
        "Dy oxide (China domestic)",
        "Tb oxide (China domestic)",
        "NdPr metal",
        "NdFeB magnet",
        "Gallium 6N",
        "Germanium dioxide",
        "Germanium concentrate",
    }
    assert data.periods == ("2026", "2027", "2028")
    suppliers = {b[0] for b in data.buys}
    assert data.chain is not None
    countries = {d.country for d in data.buys.values()} | {
        a.country for a in data.chain.acts.values()
    }
    assert len(suppliers) >= 15 and len(countries) >= 10
    for c in (
        "China",
        "Malaysia",
        "Vietnam",
        "Japan",
        "South Korea",
        "Australia",
        "United States",
        "Canada",
    ):
        assert c in countries, c
    assert len(default_wb.scenarios) >= 5


def test_default_tariffs_follow_the_measures_in_force(default_wb: Workbook) -> None:
    """The in_force regime on real dates: MFN by HTS line, Section 301, the IEEPA window.

    Malaysian NdPr oxide now enters from Lynas Kuantan's separation process (a chain
    shipment, not an offer): late_2025_deals charges it Malaysia's 19%. Chinese magnets
    (Tariffs rows for HTS 8505.11): MFN 2.1% + Section 301 25% from 2026; in 2026 also the
    IEEPA reciprocal and fentanyl tariffs (10% + 10%, 1 Jan - 23 Feb: 54 days; magnets were
    never in Annex II) and Section 122's 10% (24 Feb - 23 Jul: 150 days)."""
    _, data, res = solve_scenario(default_wb)
    assert (res.tariff_regime, res.data_date) == ("in_force", "2026-12-01")
    rate = {(d.country, d.material, d.period): d.tariff_rate for d in data.buys.values()}
    # Chinese gallium: MFN 3% + Section 301 25%; IEEPA duties exempt (Annex II)
    assert rate[("China", "Gallium", "2027")] == pytest.approx(0.28)
    # Chinese Dy oxide: MFN 3.7%, plus the 10% fentanyl tariff on 54 of 2026's 365 days
    # (1 Jan - 23 Feb); 2027 only MFN
    assert rate[("China", "Dy oxide", "2026")] == pytest.approx(0.037 + 0.10 * 54 / 365)
    assert rate[("China", "Dy oxide", "2027")] == pytest.approx(0.037)
    # NdPr oxide (a mixture of RE oxides) is MFN-free; FTA and domestic origins pay nothing
    assert rate[("China", "NdPr oxide", "2027")] == pytest.approx(0.0)
    assert rate[("Australia", "Gallium", "2028")] == 0.0
    assert rate[("United States", "Dy oxide", "2027")] == 0.0
    late = solve_scenario(default_wb, "late_2025_deals")[1]
    late_rate = {(d.country, d.material, d.period): d.tariff_rate for d in late.buys.values()}
    assert late.chain is not None and data.chain is not None
    malaysian = [
        f.tariff_rate
        for k, f in late.chain.ships.items()
        if (k[0], k[2], k[3], k[4]) == ("Lynas Kuantan", "NdPr oxide", "buyer", "2027")
    ]
    assert malaysian and all(r == pytest.approx(0.19) for r in malaysian)
    assert late_rate[("China", "Gallium", "2027")] == pytest.approx(0.03 + 0.25 + 0.10 + 0.10)

    def magnets(d: ModelData, supplier: str, period: str) -> float:
        assert d.chain is not None
        (rate,) = {
            f.tariff_rate
            for k, f in d.chain.ships.items()
            if (k[0], k[2], k[3], k[4]) == (supplier, "NdFeB magnet", "buyer", period)
        }
        return rate

    china = "China NdFeB magnet makers (aggregate)"
    assert magnets(data, china, "2027") == pytest.approx(0.021 + 0.25)
    assert magnets(data, china, "2026") == pytest.approx(
        0.021 + 0.25 + 0.20 * 54 / 365 + 0.10 * 150 / 365
    )
    assert magnets(data, "Shin-Etsu Japan", "2027") == pytest.approx(0.021)
    assert magnets(late, china, "2027") == pytest.approx(0.021 + 0.25 + 0.10 + 0.10)


def test_default_workbook_matches_its_csv_sources() -> None:
    """inputs/default.xlsx is generated from inputs/default/*.csv (`make inputs`)."""
    expected = read_tables()
    wb = openpyxl.load_workbook(DEFAULT_WORKBOOK, read_only=True)
    for sheet, rows in expected.items():
        values = list(wb[sheet].iter_rows(values_only=True))
        header = list(values[0])
        got = [dict(zip(header, r, strict=True)) for r in values[1:]]
        assert got == rows, f"{sheet} differs: run `make inputs`"
        assert all(r.get("source") for r in rows), f"{sheet}: a row has no source"
    assert set(wb.sheetnames) == set(expected)


def test_every_default_row_cites_a_source() -> None:
    for path in sorted((ROOT / "inputs" / "default").glob("*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].split(",")[-1] == "source", path.name


def test_docs_match_the_schema() -> None:
    docs = (ROOT / "docs" / "workbook.md").read_text(encoding="utf-8")
    assert docs == workbook_markdown(), "run `make docs`"


@pytest.fixture(scope="module")
def solved(default_wb: Workbook) -> Solved:
    return {name: solve_scenario(default_wb, name) for name in default_wb.scenario_names}


def test_every_scenario_solves_to_optimal(solved: Solved) -> None:
    for name, (_, _, res) in solved.items():
        assert res.status is Status.OPTIMAL, name


def test_capacities_bounds_and_demand_hold(solved: Solved) -> None:
    for name, (_, data, res) in solved.items():
        alloc = res.allocation
        per_site = alloc.groupby(["supplier", "period"])["quantity_t"].sum()
        for (s, t), cap in data.capacity.items():
            assert per_site.get((s, t), 0.0) <= cap + TOL, (name, s, t)
        for r in alloc.itertuples():
            assert r.quantity_t <= data.buys[(r.supplier, r.material, r.period)].upper_t + TOL
        # what reaches the buyer: deliveries of offers and of the chain's facilities (v2)
        to_buyer = res.flows[res.flows["to"] == "buyer"]
        bought = to_buyer.groupby(["material", "period"])["quantity_t"].sum()
        unmet = res.unmet.set_index(["material", "period"])["quantity_t"]
        stock = res.stock.set_index(["material", "period"])["stock_t"]
        for (m, t), q in data.demand.items():
            i = data.periods.index(t)
            before = (
                (data.stock[m].initial_t if i == 0 else stock[(m, data.periods[i - 1])])
                if m in data.stock
                else 0.0
            )
            after = stock[(m, t)] if m in data.stock else 0.0
            supplied = before + bought.get((m, t), 0.0) + unmet.get((m, t), 0.0) - after
            assert supplied == pytest.approx(q, abs=1e-5), (name, m, t)


def test_cost_components_add_up_to_the_objective(solved: Solved) -> None:
    for name, (_, _, res) in solved.items():
        total = sum(res.cost_breakdown_usd[k] for k in COST_KEYS)
        assert total == pytest.approx(res.total_cost_usd, rel=1e-9), name
        fiscal = res.fiscal_cost_usd if res.national_cost else 0.0
        assert res.buyer_spend_usd is not None and res.penalty_usd is not None
        carbon = res.cost_breakdown_usd["carbon_price"]  # a modelling price, as the penalty
        assert (carbon > 0) == (res.carbon_price_usd_per_t_co2e > 0), name
        assert res.buyer_spend_usd + res.penalty_usd + fiscal + carbon == pytest.approx(
            res.total_cost_usd, rel=1e-9
        ), name


def test_china_share_per_material_is_received_from_china_over_received(solved: Solved) -> None:
    """China's share of a material: tonnes (and customs value) the buyer receives from
    facilities in China over all it receives, from the Flows table."""
    for name, (_, _, res) in solved.items():
        received = res.flows[res.flows["to"] == "buyer"]
        for m in set(received["material"]):
            rows = received[received["material"] == m]
            china = rows["from_country"] == "China"
            tonnes, by_value = res.china_share_of(m)
            expected = rows.loc[china, "quantity_t"].sum() / rows["quantity_t"].sum()
            assert tonnes == pytest.approx(expected), (name, m)
            value = rows.loc[china, "value_usd"].sum() / rows["value_usd"].sum()
            assert by_value == pytest.approx(value), (name, m)


def test_every_scenario_says_what_it_is_and_why_when_it_changes_nothing(
    solved: Solved, default_wb: Workbook
) -> None:
    base = solved[BASELINE][2]
    moves = 0
    for name, scenario in default_wb.scenarios.items():
        assert scenario.description.strip(), name
        res = solved[name][2]
        same_spend = abs((res.buyer_spend_usd or 0) - (base.buyer_spend_usd or 0)) < 0.5
        same_plan = res.allocation["quantity_t"].round(6).tolist() == base.allocation[
            "quantity_t"
        ].round(6).tolist() and res.unmet_t == pytest.approx(base.unmet_t)
        if same_spend and same_plan:
            assert "changes nothing" in scenario.description, name
        else:
            moves += 1
    assert moves >= 10


def test_exclude_china_zeroes_china_and_never_lowers_cost(solved: Solved) -> None:
    """Without China the 2026 Tb oxide demand (12 t) goes wholly unmet: every tonne of
    ex-China Tb (MP 3 t, Lynas's co-product, Kelantan MREC) goes into magnets, where 1 kg of
    Tb makes 1 / 0.00692 = 145 kg of magnets, and unmet tonnes are penalised alike (Demand:
    Tb oxide 2026 12 t; Inputs: 0.00692 t Tb oxide per t magnet)."""
    base = solved[BASELINE][2]
    no_china = solved["exclude_china"][2]
    assert base.china_value_share > 0
    assert no_china.china_value_share == 0
    assert no_china.total_cost_usd >= base.total_cost_usd
    assert no_china.buyer_spend_usd >= base.buyer_spend_usd  # here nothing is saved by a shortfall
    short = no_china.unmet.set_index(["material", "period"])["quantity_t"]
    assert short[("Tb oxide", "2026")] == pytest.approx(12.0)


def test_share_policies_hold_per_material_and_period(solved: Solved) -> None:
    for name, (_, data, res) in solved.items():
        s = data.settings
        for (m, t), grp in res.shares.groupby(["material", "period"]):
            china = grp.loc[grp["china"], "share"].sum()
            allied = grp.loc[grp["allied"], "share"].sum()
            assert china <= s.max_china_share + TOL, (name, m, t)
            assert allied >= s.min_allied_share - TOL, (name, m, t)
            assert grp["share"].max() <= s.max_country_share + TOL, (name, m, t)


def test_the_government_pays_mps_ndpr_floor(solved: Solved) -> None:
    """The DoD floor: the buyer pays MP the market price, DoD pays the gap to $110.

    MP sells the buyer's NdPr oxide demand (1,050 + 1,575 + 2,450 t) plus, in 2026, 1.21 x
    50 t for MP Independence's metal (Processes: capacity 50 t; US magnet plants run only in
    2026, when import tariffs are highest). With the floor paid by the buyer ($110), the
    Kelantan MREC separated at Lynas (1,000 t REO over 2026-28 / 4.35 t per t NdPr) replaces
    as much MP NdPr and Independence stops; spend rises by at least $16/kg on what MP still
    sells and by at most the baseline's support (the baseline plan stays feasible)."""
    _, data, res = solved[BASELINE]
    mp = [b for k, b in data.buys.items() if k[1] == "NdPr oxide" and b.high_standard]
    assert mp and all(b.price_paid == 94 and b.support_usd_per_kg == 16 for b in mp)
    bought = res.allocation.loc[
        res.allocation["supplier"] == "MP Materials Mountain Pass", ["material", "quantity_t"]
    ]
    mp_ndpr = bought.loc[bought["material"] == "NdPr oxide", "quantity_t"].sum()
    assert mp_ndpr == pytest.approx(1050 + 1575 + 2450 + 1.21 * 50)  # MP is the cheapest NdPr
    assert res.fiscal_cost_usd == pytest.approx(mp_ndpr * 1000 * 16)
    _, data_b, res_b = solved["ndpr_floor_buyer_paid"]
    mp_b = [b for k, b in data_b.buys.items() if k[1] == "NdPr oxide" and b.high_standard]
    assert all(b.price_paid == 110 and b.support_usd_per_kg == 0 for b in mp_b)
    assert res_b.fiscal_cost_usd == 0
    sold_b = res_b.allocation.loc[
        (res_b.allocation["supplier"] == "MP Materials Mountain Pass")
        & (res_b.allocation["material"] == "NdPr oxide"),
        "quantity_t",
    ].sum()
    assert sold_b == pytest.approx(1050 + 1575 + 2450 - (100 + 300 + 600) / 4.35)
    rise = res_b.buyer_spend_usd - res.buyer_spend_usd
    assert sold_b * 1000 * 16 - 1e-3 <= rise <= res.fiscal_cost_usd + 1e-3


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert Path(ROOT / "Makefile").read_text(encoding="utf-8").count("run:") >= 1


def test_every_default_plan_passes_the_independent_chain_audit(solved: Solved) -> None:
    """Flow balance at every facility, yields and co-products, demand met or unmet, and
    compliance, re-derived from the workbook rows and the published tables (chain_audit.py)
    on every scenario of the default workbook; and the audit can fail: a flow moved by a
    tonne breaks a balance it names."""
    for name, (inputs, _, res) in solved.items():
        assert res.has_chain, name
        assert audit(inputs, res) == [], name
    inputs, _, res = solved[BASELINE]
    broken = copy.deepcopy(res)
    first = broken.flows.index[broken.flows["quantity_t"] > 1][0]
    broken.flows.loc[first, "quantity_t"] += 1.0
    assert audit(inputs, broken)
