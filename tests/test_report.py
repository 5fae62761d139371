"""The report as a planner opens it: sheets, native charts, formats, text that stays text."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from optimizer.common.problems import OutputError
from optimizer.contract.book import open_workbook
from optimizer.output.report import write_scenario_report
from optimizer.runs.pipeline import solve_scenario
from tests.conftest import Tables

Write = Callable[[Tables], Path]

HOSTILE = '=HYPERLINK("http://x","y")'


def test_report_workbook_contents(write: Write, tables: Tables, tmp_path: Path) -> None:
    tables["Settings"] = [{"setting": "max_china_share", "value": 0.3}]
    inputs, _, res = solve_scenario(open_workbook(write(tables)))
    folder = write_scenario_report(res, inputs, tmp_path)
    path = folder / "report.xlsx"
    with zipfile.ZipFile(path) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 2  # cost breakdown and volume by origin, native Excel charts
    wb = openpyxl.load_workbook(path)
    for sheet in (
        "Summary",
        "Volume by origin",
        "Allocation",
        "Costs",
        "Shares",
        "Unmet",
        "Shadow prices",
        "In Offers",
        "In Settings",
    ):
        assert sheet in wb.sheetnames
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Buyer spend (USD)"] == pytest.approx(res.buyer_spend_usd)
    assert (
        summary["Objective (USD): spend + unmet penalty, a modelling price"] == res.total_cost_usd
    )
    assert summary["Status"] == "optimal"
    alloc = wb["Allocation"]
    header = [c.value for c in alloc[1]]
    col = {name: i + 1 for i, name in enumerate(header)}
    assert alloc.cell(2, col["tariff_rate"]).number_format == "0.0%"
    assert alloc.cell(2, col["cost_usd"]).number_format.startswith('"$"')
    assert alloc.cell(2, col["quantity_t"]).number_format == "#,##0.0"
    texts = [r[0] for r in wb["Summary"].iter_rows(values_only=True) if r[0]]
    assert any("china share cap binds" in str(t) for t in texts)


def test_formula_like_names_stay_plain_text(write: Write, tables: Tables, tmp_path: Path) -> None:
    for rows, key in (("Suppliers", "supplier"), ("Offers", "supplier")):
        for row in tables[rows]:
            if row[key] == "JP1":
                row[key] = HOSTILE
    tables["Countries"][1]["country"] = "@SUM(1)"
    tables["Suppliers"][1]["country"] = "@SUM(1)"
    tables["Settings"] = [{"setting": "exclude_china", "value": True}]
    inputs, _, res = solve_scenario(open_workbook(write(tables)))
    assert res.allocation["supplier"].tolist() == [HOSTILE, HOSTILE]
    folder = write_scenario_report(res, inputs, tmp_path)
    wb = openpyxl.load_workbook(folder / "report.xlsx")
    found = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value in (HOSTILE, "@SUM(1)"):
                    assert cell.data_type == "s", (ws.title, cell.coordinate)
                    found += 1
    assert found >= 4
    with zipfile.ZipFile(folder / "report.xlsx") as z:
        sheets = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets"))
    assert "<f>" not in sheets  # no live formula anywhere
    md = (folder / "summary.md").read_text()
    assert "'=HYPERLINK" in md and "| =HYPERLINK" not in md
    doc = json.loads((folder / "results.json").read_text())
    assert doc["allocation"][0]["supplier"] == HOSTILE  # JSON keeps the data as it is


def test_failed_write_keeps_the_previous_report(
    write: Write, tables: Tables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, _, res = solve_scenario(open_workbook(write(tables)))
    folder = write_scenario_report(res, inputs, tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def disk_full(*_: object, **__: object) -> int:
        raise OSError(28, "No space left on device")

    # report.xlsx is saved to its temporary file, then writing summary.md fails
    monkeypatch.setattr(Path, "write_text", disk_full)
    tables["Countries"][0]["tariff_rate"] = 0.9
    inputs2, _, res2 = solve_scenario(open_workbook(write(tables)))
    with pytest.raises(OutputError, match="No space left"):
        write_scenario_report(res2, inputs2, tmp_path)
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before  # nothing replaced, no temporary files left behind
