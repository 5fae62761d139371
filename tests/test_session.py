"""The what-if session behind the app: edits validated, model updated in place, no stale numbers."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from optimizer.contract.book import Workbook, open_workbook
from optimizer.model.solution import Status
from optimizer.runs.pipeline import solve_scenario
from optimizer.runs.session import (
    Session,
    WhatIf,
    apply_whatif,
    inputs_bytes,
    open_upload,
    report_bytes,
)
from tests.conftest import Tables

Write = Callable[[Tables], Path]


def test_controls_change_the_plan_and_update_in_place(default_wb: Workbook) -> None:
    s = Session(default_wb)
    base = s.run(WhatIf())
    assert base.results is not None and base.rebuilt
    assert base.results.total_cost_usd == pytest.approx(s.baseline.total_cost_usd)
    no_china = s.run(WhatIf(max_china_share=0.0))
    assert no_china.results is not None and not no_china.rebuilt  # parameters only
    assert no_china.results.china_value_share == 0
    assert no_china.results.total_cost_usd > base.results.total_cost_usd
    # a tariff control sets the whole rate of the country's lanes (TariffOverrides rows)
    cn = s.run(WhatIf(tariffs={"China": 0.45}))
    assert cn.results is not None
    assert cn.results.china_value_share < base.results.china_value_share
    assert set(
        cn.results.tariff_rates.loc[cn.results.tariff_rates["country"] == "China", "tariff_rate"]
    ) == {0.45}
    # going back is a cache hit with the very same numbers
    again = s.run(WhatIf())
    assert again is base and again.fingerprint == base.fingerprint


def test_results_are_tied_to_their_inputs(default_wb: Workbook) -> None:
    s = Session(default_wb)
    a = s.run(WhatIf(exclude_china=True), with_frontier=False)
    b = s.run(WhatIf(), with_frontier=False)
    assert a.fingerprint != b.fingerprint
    settings = {r["setting"]: r["value"] for r in a.tables["Settings"]}
    assert settings["exclude_china"] is True
    assert a.results is not None and a.results.china_value_share == 0
    assert b.results is not None and b.results.china_value_share > 0


def test_bad_edits_are_cited_and_produce_no_plan(default_wb: Workbook) -> None:
    s = Session(default_wb)
    offers = [dict(r) for r in s.base_tables["Offers"]]
    offers[1]["price_usd_per_kg"] = "TBD"
    out = s.run(WhatIf(edited={"Offers": offers}))
    assert out.results is None
    assert [str(p) for p in out.problems] == [
        'Offers!C3: price_usd_per_kg must be a number (found "TBD")'
    ]


def test_floor_control_adds_changes_and_removes_floors(default_wb: Workbook) -> None:
    s = Session(default_wb)
    t = apply_whatif(s.base_tables, WhatIf(floors={"NdPr oxide": 0.0, "Gallium": 900.0}))
    floors = {r["material"]: r["floor_usd_per_kg"] for r in t["PriceFloors"]}
    assert floors == {"Gallium": 900.0}
    assert {r["material"] for r in s.base_tables["PriceFloors"]} == {"NdPr oxide"}  # untouched


def test_downloaded_inputs_solve_to_the_same_plan(default_wb: Workbook, tmp_path: Path) -> None:
    s = Session(default_wb)
    w = WhatIf(exclude_china=True, tariffs={"Vietnam": 0.46}, floors={"Gallium": 900.0})
    out = s.run(w, with_frontier=False)
    assert out.results is not None and out.inputs is not None
    path = tmp_path / "whatif.xlsx"
    path.write_bytes(inputs_bytes(out.tables))
    _, _, res = solve_scenario(open_workbook(path))
    assert res.status is Status.OPTIMAL
    assert res.total_cost_usd == pytest.approx(out.results.total_cost_usd, rel=1e-12)
    report = openpyxl.load_workbook(io.BytesIO(report_bytes(out.results, out.inputs)))
    assert "Summary" in report.sheetnames


def test_rejected_uploads_explain_why(tmp_path: Path, write: Write, tables: Tables) -> None:
    wb, problems, msg = open_upload("data.xlsx", b"material,demand_t\nGa,1\n")
    assert wb is None and "not an .xlsx workbook" in msg and "data.xlsx" in msg
    wb, _, msg = open_upload("big.xlsx", b"x" * (10 * 1024 * 1024 + 1))
    assert wb is None and "limit is 10 MB" in msg
    tables["Offers"][0]["price_usd_per_kg"] = -1
    wb, problems, msg = open_upload("bad.xlsx", write(tables).read_bytes())
    assert wb is None and "previous workbook stays active" in msg
    assert [str(p) for p in problems] == [
        "Offers!C2: price_usd_per_kg must not be negative (found -1)"
    ]
    tables["Offers"][0]["price_usd_per_kg"] = 10
    wb, problems, msg = open_upload("good.xlsx", write(tables).read_bytes())
    assert wb is not None and msg == ""


def test_whatif_changes_in_words_in_a_file_name_and_per_material() -> None:
    """The app's changes panel and report title: each control and cell in words; the file
    name carries them; per material, the change in tonnes bought and unmet."""
    from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook
    from optimizer.runs.session import describe_whatif, material_deltas, whatif_slug

    s = Session(open_workbook(DEFAULT_WORKBOOK))
    offers = [dict(r) for r in s.base_tables["Offers"]]
    offers[0]["price_usd_per_kg"] = 50.0
    offers.append({"supplier": offers[1]["supplier"], "material": "Dy oxide", "max_t": 5.0})
    w = WhatIf(exclude_china=True, tariffs={"Vietnam": 0.46}, edited={"Offers": offers})
    changes = describe_whatif(w, s.base_tables)
    assert changes == [
        "China excluded",
        "US tariff on Vietnam 46%",
        "Offers row 2, price_usd_per_kg: 141 -> 50",
        f"Offers row {len(offers) + 1} added ({offers[1]['supplier']}, Dy oxide, 5)",
    ]
    assert whatif_slug([]) == "as-loaded"
    assert whatif_slug(changes[:2]) == "china-excluded-us-tariff-on-vietnam-46pct"
    assert len(whatif_slug(changes)) <= 60 + len("-4-changes")
    base = s.run(WhatIf(), with_frontier=False).results
    excl = s.run(WhatIf(exclude_china=True), with_frontier=False).results
    assert base is not None and excl is not None
    d = material_deltas(excl, base).set_index("material")
    for m, q in excl.unmet_by_material.items():
        assert d.loc[m, "unmet_change_t"] == pytest.approx(q - base.unmet_by_material.get(m, 0))
    bought = excl.allocation["quantity_t"].sum() - base.allocation["quantity_t"].sum()
    assert d["bought_change_t"].sum() == pytest.approx(bought)
