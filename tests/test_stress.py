"""The Monte Carlo stress test: seeded draws, hand-checkable samples, Risks validation, reports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from optimizer.analysis import risks, stress
from optimizer.analysis.risks import (
    ANY,
    COUNTRY_OUTAGE,
    EACH,
    EXPORT_BAN,
    SUPPLIER_OUTAGE,
    TARIFF_SHOCK,
    Disruption,
    Risk,
    apply_disruptions,
    default_risks,
    draw_samples,
)
from optimizer.analysis.stress import run_stress
from optimizer.common.problems import InvalidInputError, OutputError
from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook
from optimizer.contract.parse import parse_inputs
from optimizer.contract.records import Inputs
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.model.data import ModelData, prepare
from optimizer.output.stress_report import stress_lines, write_stress_report
from optimizer.runs.pipeline import model_data, solve_scenario
from tests.conftest import Tables

Write = Callable[[Tables], Path]

#: Tiny instance (conftest): CN1 lands at 10 * 1.20 = 12 USD/kg, JP1 at 12 * 1.15 = 13.8 USD/kg,
#: 10 t of Ga in each of 2026 and 2027.
BASELINE_USD = 20 * 12.0 * 1000  # everything from CN1: 240,000
WITHOUT_CN1_USD = 20 * 13.8 * 1000  # everything from JP1: 276,000


def risk_row(risk: str, target: str, probability: float, **more: object) -> dict[str, object]:
    """A Risks row with every column present, so column letters are fixed (A..F)."""
    row: dict[str, object] = {
        "risk": risk,
        "target": target,
        "probability": probability,
        "magnitude": None,
        "from_period": None,
        "note": None,
    }
    row.update(more)
    return row


def costs(result: stress.StressResult) -> list[float]:
    return [float(c) for c in result.samples["buyer_spend_usd"]]


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_gives_identical_numbers_serially_on_a_process_pool_and_on_dask() -> None:
    """40 samples of the default workbook in 4 chunks: every executor gives the same table."""
    runs = {
        name: run_stress(
            DEFAULT_WORKBOOK, samples=40, seed=11, executor=name, workers=2, chunk_size=10
        )
        for name in ("serial", "process", "dask")
    }
    serial = runs["serial"]
    assert serial.metric("solved_samples") == 40 and serial.metric("failed_samples") == 0
    assert serial.metric("model_rebuilds") == 0  # every sample re-targets the warm model
    assert serial.samples["n_disruptions"].sum() > 0  # something did happen
    columns = [c for c in serial.samples.columns if c != "seconds"]
    for name in ("process", "dask"):
        other = runs[name]
        pd.testing.assert_frame_equal(other.samples[columns], serial.samples[columns])
        pd.testing.assert_frame_equal(other.summary, serial.summary)
        pd.testing.assert_frame_equal(other.unmet, serial.unmet)
        pd.testing.assert_frame_equal(other.suppliers, serial.suppliers)
    again = run_stress(DEFAULT_WORKBOOK, samples=40, seed=11, chunk_size=7)
    # chunking changes nothing either, up to rounding: another chunk starts each sample's
    # warm solve from another basis, and an optimum of the same cost may sum in another order
    assert costs(again) == pytest.approx(costs(serial), rel=1e-12)
    other_seed = run_stress(DEFAULT_WORKBOOK, samples=40, seed=12, chunk_size=10)
    assert list(other_seed.samples["disruptions"]) != list(serial.samples["disruptions"])


def test_draws_are_seeded_and_follow_the_probabilities() -> None:
    inputs, data = _default_data()
    risks = [
        Risk(SUPPLIER_OUTAGE, EACH, 0.05),
        Risk(TARIFF_SHOCK, ANY, 0.5, 0.25),
        Risk(EXPORT_BAN, "Gallium", 0.2, from_period="2027"),
    ]
    first = draw_samples(risks, data, 4000, seed=3)
    assert first == draw_samples(risks, data, 4000, seed=3)
    assert first != draw_samples(risks, data, 4000, seed=4)
    suppliers = sorted({s.supplier for s in inputs.suppliers})
    for supplier in suppliers[:5]:
        hits = sum(any(d.label == f"supplier_outage {supplier}" for d in s) for s in first)
        assert abs(hits / 4000 - 0.05) < 0.015, supplier  # 4+ standard deviations
    shocks = [d for s in first for d in s if d.risk == TARIFF_SHOCK]
    assert abs(len(shocks) / 4000 - 0.5) < 0.04
    assert len({d.target for d in shocks}) >= 10  # `any` spreads over the origin countries
    assert all(d.magnitude == 0.25 for d in shocks)
    bans = [d for s in first for d in s if d.risk == EXPORT_BAN]
    assert bans and all(d.target == "Gallium" and d.from_period == "2027" for d in bans)


def _default_data() -> tuple[Inputs, ModelData]:
    return model_data(open_workbook(DEFAULT_WORKBOOK))


# --------------------------------------------------------------------------- hand-checkable cases


def test_a_certain_supplier_outage_costs_exactly_the_plan_without_that_supplier(
    tables: Tables, write: Write
) -> None:
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "CN1", 1.0)]
    result = run_stress(write(tables), samples=12, seed=1, chunk_size=5)
    # computed independently: the workbook with CN1 deleted, solved from scratch
    without = {
        **tables,
        "Suppliers": [s for s in tables["Suppliers"] if s["supplier"] != "CN1"],
        "Offers": [o for o in tables["Offers"] if o["supplier"] != "CN1"],
    }
    del without["Risks"]
    expected = solve_scenario(open_workbook(write(without)))[2].total_cost_usd
    assert expected == pytest.approx(WITHOUT_CN1_USD)
    assert costs(result) == pytest.approx([expected] * 12, rel=1e-9)
    assert set(result.samples["disruptions"]) == {"supplier_outage CN1"}
    assert result.metric("baseline_spend_usd") == pytest.approx(BASELINE_USD)
    assert result.metric("expected_spend_usd") == pytest.approx(WITHOUT_CN1_USD)
    assert result.metric("p95_spend_usd") == pytest.approx(WITHOUT_CN1_USD)
    assert result.metric("shortfall_probability") == 0.0
    top = result.suppliers.iloc[0]
    assert top["supplier"] == "CN1" and top["rank"] == 1
    assert top["alone_spend_increase_usd"] == pytest.approx(WITHOUT_CN1_USD - BASELINE_USD)
    assert top["outage_probability"] == 1.0 and top["samples_out"] == 12
    jp1 = result.suppliers.set_index("supplier").loc["JP1"]
    assert jp1["alone_spend_increase_usd"] == 0.0 and jp1["baseline_t"] == 0.0


def test_probability_zero_leaves_every_sample_at_the_baseline(tables: Tables, write: Write) -> None:
    tables["Risks"] = [
        risk_row(SUPPLIER_OUTAGE, "CN1", 0.0),
        risk_row(COUNTRY_OUTAGE, EACH, 0.0),
        risk_row(EXPORT_BAN, "Ga", 0.0),
    ]
    result = run_stress(write(tables), samples=10, seed=5)
    assert costs(result) == pytest.approx([BASELINE_USD] * 10)
    assert set(result.samples["disruptions"]) == {"none"}
    assert result.metric("risks") == "Risks sheet"
    assert result.metric("expected_spend_increase_usd") == pytest.approx(0.0, abs=1e-6)


def test_partial_export_ban_from_a_period_by_hand(tables: Tables, write: Write) -> None:
    """CN1 offers at most 8 t; a 50% ban from 2027 leaves it 4 t in 2027 only.

    2026: 8 t CN1 at 12 + 2 t JP1 at 13.8 = 123,600; 2027: 4 t CN1 + 6 t JP1 = 130,800.
    """
    tables["Offers"][0]["max_t"] = 8
    tables["Risks"] = [risk_row(EXPORT_BAN, "Ga", 1.0, magnitude=0.5, from_period=2027)]
    result = run_stress(write(tables), samples=3, seed=0)
    assert result.samples["disruptions"].iloc[0] == "export_ban Ga (50%) from 2027"
    assert costs(result) == pytest.approx([123_600 + 130_800] * 3)
    assert result.metric("baseline_spend_usd") == pytest.approx(2 * (96_000 + 27_600))


def test_shortfall_is_measured_even_when_the_workbook_forbids_unmet_demand(
    tables: Tables, write: Write
) -> None:
    """JP1 can ship 4 t a period: without CN1, 6 t a period (12 t) go unmet at the penalty."""
    tables["Suppliers"][1]["capacity_t"] = 4
    tables["Settings"] = [{"setting": "allow_unmet", "value": False}]
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "CN1", 1.0)]
    result = run_stress(write(tables), samples=4, seed=0)
    assert set(result.samples["status"]) == {"optimal"}
    assert list(result.samples["Ga: unmet_t"]) == pytest.approx([12.0] * 4)
    assert costs(result) == pytest.approx([8 * 13_800] * 4)  # buyer spend: JP1's 8 t only
    objective = [float(c) for c in result.samples["objective_usd"]]
    assert objective == pytest.approx([12 * 1000 * 100_000 + 8 * 13_800] * 4)  # + the penalty
    row = result.unmet.set_index("material").loc["Ga"]
    assert row["shortfall_probability"] == 1.0
    assert row["expected_shortfall_t"] == pytest.approx(12.0)
    assert row["p95_shortfall_t"] == pytest.approx(12.0)
    assert "probability of a Ga shortfall 100.0%" in result.headline


def test_losing_a_supplier_with_an_offtake_minimum_excuses_the_minimum(
    tables: Tables, write: Write
) -> None:
    """A hard 5 t/period minimum on JP1 would make its outage infeasible; force majeure
    lifts it, so the plan buys from CN1 alone (cheaper than the committed plan)."""
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "min_t": 5}]
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "JP1", 1.0)]
    result = run_stress(write(tables), samples=3, seed=0)
    committed = 2 * (5 * 12_000 + 5 * 13_800)
    assert result.metric("baseline_spend_usd") == pytest.approx(committed)
    assert costs(result) == pytest.approx([BASELINE_USD] * 3)
    jp1 = result.suppliers.set_index("supplier").loc["JP1"]
    assert jp1["alone_spend_increase_usd"] == pytest.approx(BASELINE_USD - committed)


def test_tariff_shock_adds_points_capped_at_one(tables: Tables, write: Write) -> None:
    tables["Countries"][0]["tariff_rate"] = 0.9
    inputs, problems = parse_inputs(open_workbook(write(tables)).raw)
    assert inputs is not None, problems
    data = prepare(inputs)
    shocked = apply_disruptions(data, [Disruption(TARIFF_SHOCK, "China", 0.25, "2027")])
    assert shocked.buys[("CN1", "Ga", "2026")].tariff_rate == 0.9
    assert shocked.buys[("CN1", "Ga", "2027")].tariff_rate == 1.0
    assert shocked.buys[("JP1", "Ga", "2027")].tariff_rate == 0.15
    assert shocked.structure == data.structure  # re-targets the model, never rebuilds it
    out = apply_disruptions(data, [Disruption(COUNTRY_OUTAGE, "Japan", 1.0)])
    assert out.buys[("JP1", "Ga", "2026")].upper_t == 0.0
    assert out.capacity[("JP1", "2026")] == 0.0 and out.capacity[("CN1", "2026")] == 100
    half = apply_disruptions(data, [Disruption(SUPPLIER_OUTAGE, "CN1", 0.5)])
    assert half.buys[("CN1", "Ga", "2026")].upper_t == 50.0  # unlimited offer: half the capacity


def test_scenario_overrides_reach_the_risks_sheet(tables: Tables, write: Write) -> None:
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "CN1", 0.0)]
    tables["Scenarios"] = [
        {
            "scenario": "sure_outage",
            "sheet": "Risks",
            "key": "supplier_outage|CN1",
            "column": "probability",
            "value": 1,
        }
    ]
    path = write(tables)
    assert costs(run_stress(path, samples=3)) == pytest.approx([BASELINE_USD] * 3)
    outage = run_stress(path, scenario="sure_outage", samples=3)
    assert costs(outage) == pytest.approx([WITHOUT_CN1_USD] * 3)
    with pytest.raises(KeyError, match="unknown scenario"):
        run_stress(path, scenario="nope", samples=3)


def test_defaults_apply_without_a_risks_sheet(tables: Tables, write: Write) -> None:
    result = run_stress(write(tables), samples=200, seed=2)
    assert result.risks_source == "defaults" and result.metric("risks") == "defaults"
    assert list(zip(result.risks["risk"], result.risks["target"], strict=True)) == [
        (SUPPLIER_OUTAGE, EACH),
        (COUNTRY_OUTAGE, EACH),
        (EXPORT_BAN, "Ga"),
        (TARIFF_SHOCK, ANY),
    ]
    probability = dict(zip(result.risks["risk"], result.risks["probability"], strict=True))
    assert probability == {
        SUPPLIER_OUTAGE: risks.DEFAULT_SUPPLIER_OUTAGE,
        COUNTRY_OUTAGE: risks.DEFAULT_COUNTRY_OUTAGE,
        EXPORT_BAN: risks.DEFAULT_EXPORT_BAN,  # "Ga" is not one of the controlled names
        TARIFF_SHOCK: risks.DEFAULT_TARIFF_SHOCK,
    }
    assert 0 < result.samples["n_disruptions"].astype(bool).mean() < 1
    assert SHEETS_BY_NAME["risks"].column("risk").choices == risks.RISK_KINDS
    # the default workbook names controlled materials: higher ban probabilities there
    _, data = _default_data()
    bans = {r.target: r.probability for r in default_risks(data) if r.risk == EXPORT_BAN}
    assert bans["Gallium"] == bans["Germanium"] == 0.20
    assert bans["Dy oxide"] == bans["Tb oxide"] == 0.15 and bans["NdPr oxide"] == 0.10


# --------------------------------------------------------------------------- validation


def test_risks_sheet_problems_are_cited_by_cell(tables: Tables, write: Write) -> None:
    tables["Risks"] = [
        risk_row(SUPPLIER_OUTAGE, "CN2", 0.1),  # row 2: unknown supplier
        risk_row(TARIFF_SHOCK, "Japna", 0.1),  # row 3: unknown country, with a hint
        risk_row(EXPORT_BAN, "Gallium", 0.1),  # row 4: unknown material
        risk_row("meteor", "CN1", 0.1),  # row 5: unknown risk kind
        risk_row(COUNTRY_OUTAGE, "Japan", 1.5),  # row 6: not a probability
        risk_row(SUPPLIER_OUTAGE, "JP1", 0.1, from_period=2030),  # row 7: not a Demand period
        risk_row(SUPPLIER_OUTAGE, "CN2", 0.2),  # row 8: duplicate of row 2
    ]
    path = write(tables)
    with pytest.raises(InvalidInputError) as caught:
        run_stress(path, samples=5)
    shown = [str(p) for p in caught.value.problems]
    assert [str(p) for p in risks.risk_problems(open_workbook(path))] == shown
    expected = [
        'Risks!B2: supplier "CN2" is not in Suppliers',
        'Risks!B3: country "Japna" is not in Countries (did you mean "Japan"?)',
        'Risks!B4: material "Gallium" is not in Materials',
        "Risks!A5: risk must be one of supplier_outage, country_outage, export_ban, "
        'tariff_shock (found "meteor")',
        "Risks!C6: probability is a fraction between 0 and 1",
        'Risks!E7: period "2030" is not a Demand period (2026, 2027)',
        "Risks!A8: duplicate row for (supplier_outage, CN2); first at Risks!A2",
    ]
    for text in expected:
        assert any(s.startswith(text) for s in shown), (text, shown)


def test_valid_risks_with_wildcards_pass_and_a_useless_ban_is_a_warning(
    tables: Tables, write: Write
) -> None:
    tables["Countries"][0]["china"] = False  # no China origin left: a ban changes nothing
    tables["Risks"] = [
        risk_row(SUPPLIER_OUTAGE, EACH, 0.1),
        risk_row(TARIFF_SHOCK, "ANY", 0.1),
        risk_row(EXPORT_BAN, "Ga", 0.1),
    ]
    result = run_stress(write(tables), samples=5)
    assert result.warnings == [
        'Risks!B4: "Ga" has no China-origin offer: this export ban changes nothing'
    ]


# --------------------------------------------------------------------------- failures


def test_a_failed_chunk_is_reported_never_dropped(
    tables: Tables, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "CN1", 1.0)]
    real = stress.stress_chunk

    def flaky(chunk: stress.StressChunk) -> list[stress.SampleOutcome]:
        if chunk.first == 10:
            raise RuntimeError("worker lost")
        return real(chunk)

    monkeypatch.setattr(stress, "stress_chunk", flaky)
    result = run_stress(write(tables), samples=30, chunk_size=10)
    status = list(result.samples["status"])
    assert status == ["optimal"] * 10 + ["failed"] * 10 + ["optimal"] * 10
    failed = result.samples[result.samples["status"] == "failed"]
    assert failed["buyer_spend_usd"].isna().all()
    assert failed["error"].str.contains("worker lost").all()
    assert result.metric("failed_samples") == 10 and result.metric("solved_samples") == 20
    assert result.metric("expected_spend_usd") == pytest.approx(WITHOUT_CN1_USD)
    assert any("10 samples failed" in line for line in stress_lines(result))


# --------------------------------------------------------------------------- reports


def test_report_files_are_written_with_chart_headline_and_safe_text(
    tables: Tables, write: Write, tmp_path: Path
) -> None:
    evil = '=HYPERLINK("http://x","y")'
    for row in tables["Suppliers"] + tables["Offers"]:
        if row["supplier"] == "CN1":
            row["supplier"] = evil
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, evil, 0.5), risk_row(COUNTRY_OUTAGE, EACH, 0.1)]
    result = run_stress(write(tables), samples=30, seed=4)
    out = tmp_path / "out"
    paths = write_stress_report(result, out)
    assert [p.name for p in paths] == ["stress.xlsx", "stress.md", "stress.json"]

    md = (out / "stress.md").read_text(encoding="utf-8")
    assert re.search(
        r"\*\*Expected buyer spend \$[\d,]+\.\d M, P95 \$[\d,]+\.\d M; "
        r"probability of a Ga shortfall \d+\.\d%\.\*\*",
        md,
    ), md[:300]
    assert "| '=HYPERLINK" in md and "| =HYPERLINK" not in md

    doc = json.loads((out / "stress.json").read_text(encoding="utf-8"))
    assert doc["summary"]["samples"] == 30 and len(doc["samples"]) == 30
    assert doc["summary"]["expected_spend_usd"] == pytest.approx(
        result.metric("expected_spend_usd")
    )
    assert doc["headline"] == result.headline
    assert sum(b["samples"] for b in doc["cost_buckets"]) == 30

    wb = openpyxl.load_workbook(out / "stress.xlsx")
    assert wb.sheetnames == [
        "Summary",
        "Spend distribution",
        "Shortfalls",
        "Suppliers",
        "Drivers",
        "Risks",
        "Samples",
    ]
    assert wb["Summary"]["A1"].value == result.headline
    assert len(wb["Spend distribution"]._charts) == 1
    suppliers = wb["Suppliers"]
    names = [c.value for c in suppliers["B"][1:]]
    assert evil in names
    cell = next(c for c in suppliers["B"] if c.value == evil)
    assert cell.data_type == "s"  # stored as text, not a live formula


def test_a_failed_write_leaves_the_previous_report_intact(
    tables: Tables, write: Write, tmp_path: Path
) -> None:
    result = run_stress(write(tables), samples=5)
    out = tmp_path / "out"
    write_stress_report(result, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "stress.json").unlink()
    (out / "stress.json").mkdir()  # the last file cannot be replaced
    changed = run_stress(write(tables), samples=6)
    with pytest.raises(OutputError):
        write_stress_report(changed, out)
    assert (out / "stress.xlsx").read_bytes() == before["stress.xlsx"]
    assert (out / "stress.md").read_bytes() == before["stress.md"]
    assert sorted(p.name for p in out.iterdir()) == ["stress.json", "stress.md", "stress.xlsx"]


def test_console_summary_names_the_numbers(tables: Tables, write: Write) -> None:
    tables["Risks"] = [risk_row(SUPPLIER_OUTAGE, "CN1", 1.0)]
    lines = stress_lines(run_stress(write(tables), samples=8, seed=3))
    assert lines[0].startswith("stress test of baseline: 8 samples, seed 3, risks from Risks sheet")
    assert lines[1] == (
        "buyer spend: baseline plan $0.2 M; expected $0.3 M, P50 $0.3 M, P95 $0.3 M, "
        "max $0.3 M; expected fiscal cost $0.0 M"
    )
    assert lines[2] == "shortfall probability: Ga 0.0% (expected 0.0 t, P95 0.0 t)"
    assert lines[3].startswith(
        "suppliers that matter most: 1. CN1 (if lost: spend +$0.0 M, 0.0 t more unmet); 2. JP1"
    )
    assert len(lines) == 4  # no warning line: nothing failed
