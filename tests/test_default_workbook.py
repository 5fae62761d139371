"""Invariants on the embedded default workbook, for the baseline and every scenario."""

from __future__ import annotations

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
from tests.conftest import ROOT

TOL = 1e-6

Solved = dict[str, tuple[Inputs, ModelData, Results]]


def test_default_workbook_is_valid_and_rich_enough(default_wb: Workbook) -> None:
    assert [p for p in validate(default_wb) if p.severity == "error"] == []
    _, data, _ = solve_scenario(default_wb)
    assert set(data.materials) == {"NdPr oxide", "Dy oxide", "Tb oxide", "Gallium", "Germanium"}
    assert data.periods == ("2026", "2027", "2028")
    suppliers = {b[0] for b in data.buys}
    countries = {d.country for d in data.buys.values()}
    assert len(suppliers) >= 15 and len(countries) >= 10
    for c in (
        "China",
        "Malaysia",
        "Thailand",
        "Vietnam",
        "Japan",
        "South Korea",
        "Australia",
        "United States",
        "Canada",
    ):
        assert c in countries, c
    assert len(default_wb.scenarios) >= 5
    inputs = solve_scenario(default_wb)[0]
    cambodia = [c for c in inputs.countries if c.country == "Cambodia"]
    assert cambodia and cambodia[0].tariff_rate == 0.19


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
        bought = alloc.groupby(["material", "period"])["quantity_t"].sum()
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


def test_exclude_china_zeroes_china_and_never_lowers_cost(solved: Solved) -> None:
    base = solved[BASELINE][2]
    no_china = solved["exclude_china"][2]
    assert base.china_share > 0
    assert no_china.china_share == 0
    assert no_china.total_cost_usd >= base.total_cost_usd
    # and Tb oxide falls short without China (too little heavy-rare-earth supply elsewhere)
    assert "Tb oxide" in set(no_china.unmet["material"])


def test_share_policies_hold_per_material_and_period(solved: Solved) -> None:
    for name, (_, data, res) in solved.items():
        s = data.settings
        for (m, t), grp in res.shares.groupby(["material", "period"]):
            china = grp.loc[grp["china"], "share"].sum()
            allied = grp.loc[grp["allied"], "share"].sum()
            assert china <= s.max_china_share + TOL, (name, m, t)
            assert allied >= s.min_allied_share - TOL, (name, m, t)
            assert grp["share"].max() <= s.max_country_share + TOL, (name, m, t)


def test_ndpr_floor_reaches_high_standard_suppliers(solved: Solved) -> None:
    _, data, _ = solved[BASELINE]
    mp = [b for k, b in data.buys.items() if k[1] == "NdPr oxide" and b.high_standard]
    assert mp and all(b.price_paid >= 110 for b in mp)
    _, data_all, _ = solved["ndpr_floor_all"]
    assert all(b.price_paid >= 110 for k, b in data_all.buys.items() if k[1] == "NdPr oxide")


def test_readme_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert Path(ROOT / "Makefile").read_text(encoding="utf-8").count("run:") >= 1
