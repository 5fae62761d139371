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


def test_downloaded_inputs_keep_every_sheet_of_the_workbook(
    default_wb: Workbook, tmp_path: Path
) -> None:
    """From the workbook file itself: Scenarios, Risks and `source` columns stay, periods are
    numbers, rates percentages; an edited offer keeps its source; the file solves to the
    what-if's plan (its baseline) and its untouched sheets are cell for cell the original."""
    from optimizer.contract.book import DEFAULT_WORKBOOK

    s = Session(default_wb)
    offers = [dict(r) for r in s.base_tables["Offers"]]
    offers[4]["price_usd_per_kg"] = 350.0
    offers.append({**offers[4], "supplier": "Teck Trail", "period": "2028", "max_t": 2.0})
    w = WhatIf(exclude_china=True, tariffs={"Vietnam": 0.46}, edited={"Offers": offers})
    out = s.run(w, with_frontier=False)
    assert out.results is not None
    original = DEFAULT_WORKBOOK.read_bytes()
    path = tmp_path / "whatif.xlsx"
    path.write_bytes(inputs_bytes(out.tables, original, s.loaded_tables))
    book = openpyxl.load_workbook(path)
    before = openpyxl.load_workbook(io.BytesIO(original))
    assert book.sheetnames[: len(before.sheetnames)] == before.sheetnames
    for name in ("Scenarios", "Risks", "Demand", "Materials"):  # untouched, cell for cell
        assert [[c.value for c in r] for r in book[name].iter_rows()] == [
            [c.value for c in r] for r in before[name].iter_rows()
        ]
    ws = book["Offers"]
    head = [c.value for c in ws[1]]
    assert head[-1] == "source"
    rows = [dict(zip(head, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    old_source = before["Offers"].cell(row=6, column=len(head)).value
    assert old_source and rows[4]["source"] == old_source  # the edited row keeps its source
    assert rows[4]["price_usd_per_kg"] == 350.0
    assert rows[-1]["period"] == 2028 and rows[-1]["source"] is None  # a number, not '2028'
    periods = [r["period"] for r in rows if r["period"] is not None]
    assert periods and all(isinstance(p, int) for p in periods)
    overrides = book["TariffOverrides"]
    col = [c.value for c in overrides[1]].index("tariff_rate") + 1
    cells = [overrides.cell(row=i, column=col) for i in range(2, overrides.max_row + 1)]
    assert cells and all(c.number_format.endswith("%") for c in cells)
    settings = {r[0]: r[1] for r in book["Settings"].iter_rows(min_row=2, values_only=True)}
    assert settings["exclude_china"] is True
    _, _, res = solve_scenario(open_workbook(path))
    assert res.status is Status.OPTIMAL
    assert res.total_cost_usd == pytest.approx(out.results.total_cost_usd, rel=1e-12)


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


def test_editor_rows_sorted_and_form_entries_upserted() -> None:
    """Blank rows are dropped; a new row missing a needed cell (max_t, period: a blank there
    would mean "no limit", "every period") is held back and named; loaded rows go to the
    validator as typed; a form entry replaces the row with its key, else is added."""
    from optimizer.runs.editing import sort_rows, upsert

    loaded = [{"supplier": "A", "material": "Ga", "price_usd_per_kg": 1.0, "max_t": None}]
    typed = [
        {**loaded[0], "price_usd_per_kg": None},  # a loaded row: the validator cites it
        {"supplier": "B", "material": None, "price_usd_per_kg": None, "max_t": None},
        {"supplier": "", "material": None, "price_usd_per_kg": float("nan"), "max_t": None},
        {"supplier": "C", "material": "Ga", "price_usd_per_kg": 2.0, "max_t": 3.0, "period": 2027},
    ]
    out = sort_rows("Offers", typed, loaded=1)
    assert out.blank_rows == 1
    assert out.unfinished == ["Offers row 3: fill Material, Price ($/kg), Max (t), Period"]
    assert [r["supplier"] for r in out.rows] == ["A", "C"] and out.held[0]["supplier"] == "B"
    rows, what = upsert(out.rows, "Offers", {"supplier": "c", "material": "Ga", "period": "2027"})
    assert what == "Offers: c Ga 2027 changed" and len(rows) == 2
    rows, what = upsert(rows, "Offers", {"supplier": "D", "material": "Ga", "period": None})
    assert what == "Offers: D Ga added" and rows[-1]["price_usd_per_kg"] is None


def test_a_deleted_row_is_one_change_not_a_shift_of_every_row_below() -> None:
    """Rows are aligned as a diff aligns lines: deleting the first offer lists it removed
    (with its cells), an edit below it keeps its own row number, an added row is added."""
    from optimizer.runs.session import row_changes

    old = [
        {"supplier": "A", "material": "Ga", "price_usd_per_kg": 1.0},
        {"supplier": "B", "material": "Ga", "price_usd_per_kg": 2.0},
        {"supplier": "C", "material": "Ga", "price_usd_per_kg": 3.0},
    ]
    new = [old[1], {**old[2], "price_usd_per_kg": 4.0}, {"supplier": "D", "material": "Ge"}]
    assert row_changes("Offers", old, new) == [
        "Offers row 2 removed (A, Ga, 1)",
        "Offers row 3, price_usd_per_kg: 3 -> 4",
        "Offers row 4 added (D, Ge)",
    ]


def test_offers_touched_by_an_edit_ignore_rows_that_only_moved() -> None:
    """Deleting the first offer touches no other row: only a changed or added row asks for
    a reason why it is not bought."""
    from optimizer.runs.changes import touched_offers

    old = [
        {"supplier": "A", "material": "Ga", "price_usd_per_kg": 1.0},
        {"supplier": "B", "material": "Ga", "price_usd_per_kg": 2.0},
        {"supplier": "C", "material": "Ga", "price_usd_per_kg": 3.0},
    ]
    new = [old[1], {**old[2], "price_usd_per_kg": 4.0}, {"supplier": "D", "material": "Ge"}]
    assert touched_offers({"Offers": new}, {"Offers": old}) == [("C", "Ga"), ("D", "Ge")]
