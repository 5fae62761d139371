"""Hostile workbooks, broken data and solver faults: each is a real file or a real fault.

Every case ends the same way: a message naming what and where, a distinct exit
code, no traceback, and nothing overwritten. `tests/hostile.py` builds the
files byte by byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from optimizer.common import limits
from optimizer.common.problems import InputFileError, OutputError
from optimizer.common.xlsx import FORMULA_START, write_input_workbook
from optimizer.contract import package
from optimizer.contract.book import Workbook, open_workbook, validate
from optimizer.model.data import ModelData
from optimizer.model.reference import Optimizer
from optimizer.model.solution import Status
from optimizer.output.report import summary_markdown, write_scenario_report
from optimizer.output.results import make_results
from optimizer.runs.cli import _status_code, main
from optimizer.runs.pipeline import model_data, solve_scenario
from tests import hostile
from tests.conftest import ROOT, Tables, tiny_tables

Write = Callable[[Tables], Path]


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """The CLI in-process: exit code, stdout, stderr; never a traceback."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def problems_of(path: Path) -> list[str]:
    """Every problem of the baseline, warnings tagged."""
    return [
        ("warning: " if p.severity == "warning" else "") + str(p)
        for p in validate(open_workbook(path))
    ]


def refusal(path: Path) -> str:
    """The InputFileError message for a file that must not be read."""
    with pytest.raises(InputFileError) as info:
        open_workbook(path)
    return str(info.value)


# ---------------------------------------- files that are not .xlsx


NOT_XLSX = {
    "csv": (
        b"material,period,demand_t\nGa,2026,10\n",
        r'looks like CSV/text \(first line: "material',
    ),
    "utf16_text": (
        "material\tdemand_t\r\nGa\t10\r\n".encode("utf-16"),
        r'looks like CSV/text \(first line: "material\\tdemand_t"\)',
    ),
    "xls": (hostile.legacy_xls(), r"legacy \.xls \(Excel 97-2003\) workbook"),
    "encrypted": (
        hostile.encrypted_workbook(),
        r"encrypted \(password-protected\) workbook.*legacy \.xls or encrypted workbook",
    ),
    "bare_ole2": (hostile.compound_file({"Contents": b"x"}), r"legacy \.xls or encrypted workbook"),
    "html": (b"<html><body><table><tr><td>Ga</td></tr></table></body></html>", r"HTML page"),
    "empty": (b"", r"is empty \(0 bytes\)"),
    "binary": (bytes(range(256)) * 4, r"its format is unknown"),
}


@pytest.mark.parametrize("kind", sorted(NOT_XLSX))
def test_files_that_are_not_xlsx_are_named_and_exit_66(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, message = NOT_XLSX[kind]
    path = tmp_path / "inputs.xlsx"  # renamed: the extension lies
    path.write_bytes(content)
    code, _, err = run_cli(capsys, "validate", path)
    assert code == 66
    assert err.startswith(f"error: {path}: ")
    assert re.search(message, err), err


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    xlsb = tmp_path / "book.xlsx"
    with zipfile.ZipFile(xlsb, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    assert "binary .xlsb workbook" in refusal(xlsb)
    ods = tmp_path / "sheet.xlsx"
    with zipfile.ZipFile(ods, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    assert "OpenDocument (.ods)" in refusal(ods)
    plain = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("a.txt", "hello")
    assert "a zip archive without the parts of a workbook" in refusal(plain)


def test_a_device_is_not_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "validate", "/dev/zero")  # would never end if read
    assert code == 66 and "not a regular file" in err


# ---------------------------------------- bombs


@pytest.fixture
def no_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if openpyxl is asked to open the file: refusals come before parsing."""

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("openpyxl opened a file that should have been refused")

    monkeypatch.setattr(openpyxl, "load_workbook", forbidden)


def test_billion_laughs_is_refused_before_parsing(tmp_path: Path, no_openpyxl: None) -> None:
    path = hostile.raw_xlsx(tmp_path / "laughs.xlsx", {"Offers": hostile.BILLION_LAUGHS})
    start = time.perf_counter()
    message = refusal(path)
    assert time.perf_counter() - start < 1.0
    assert "part xl/worksheets/sheet1.xml declares a DTD" in message and "refused" in message


@pytest.mark.parametrize(
    ("part", "prolog"),
    [
        ("xl/workbook.xml", '<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
        ("[Content_Types].xml", "<!-- padding -->" * 1100),  # prolog hiding a later DTD
    ],
)
def test_dtds_in_any_part_are_refused(tmp_path: Path, part: str, prolog: str) -> None:
    src = hostile.raw_xlsx(tmp_path / "ok.xlsx", hostile.tables_to_sheets(tiny_tables()))

    def edit(name: str, data: bytes) -> bytes:
        if name != part:
            return data
        text = data.decode()
        head, _, rest = text.partition("?>")
        return (head + "?>" + prolog + rest).encode()

    path = hostile.rewrite_zip(src, tmp_path / "dtd.xlsx", edit=edit)
    message = refusal(path)
    assert f"part {part}" in message
    assert "declares a DTD" in message or "prolog longer than" in message


def test_utf16_dtd_is_refused(tmp_path: Path) -> None:
    sheet = hostile.BILLION_LAUGHS.replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>'
    )
    path = tmp_path / "utf16.xlsx"
    hostile.raw_xlsx(path, {"Offers": ""})
    hostile.rewrite_zip(
        path,
        tmp_path / "utf16b.xlsx",
        edit=lambda n, d: sheet.encode("utf-16") if n.endswith("sheet1.xml") else d,
    )
    assert "declares a DTD" in refusal(tmp_path / "utf16b.xlsx")


def test_defusedxml_is_the_second_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the DTD check switched off, openpyxl's defusedxml parser still refuses the bomb."""
    assert openpyxl.DEFUSEDXML is True
    monkeypatch.setattr(package, "dtd_in_prolog", lambda *_a, **_k: None)
    for part in ("sheet", "workbook"):
        sheets = hostile.tables_to_sheets(tiny_tables())
        if part == "sheet":
            sheets["Offers"] = hostile.BILLION_LAUGHS
            path = hostile.raw_xlsx(tmp_path / "sheet.xlsx", sheets)
        else:
            src = hostile.raw_xlsx(tmp_path / "src.xlsx", sheets)
            bomb = (hostile.BILLION_LAUGHS.split("<worksheet")[0] + "<workbook/>").encode()

            def edit(name: str, data: bytes, bomb: bytes = bomb) -> bytes:
                return bomb if name == "xl/workbook.xml" else data

            path = hostile.rewrite_zip(src, tmp_path / "wb.xlsx", edit=edit)
        start = time.perf_counter()
        message = refusal(path)
        assert time.perf_counter() - start < 2.0
        assert "declares XML entities or a DTD (EntitiesForbidden)" in message, message


def test_zip_bomb_by_ratio_is_refused_before_parsing(tmp_path: Path, no_openpyxl: None) -> None:
    path = hostile.padded_sheet_bomb(tmp_path / "ratio.xlsx", 20 * limits.MiB)
    assert path.stat().st_size < 200_000
    message = refusal(path)
    assert "part xl/worksheets/sheet1.xml expands" in message
    assert f"more than the limit of {limits.MAX_RATIO}" in message


def test_zip_bomb_by_size_is_refused_before_parsing(tmp_path: Path, no_openpyxl: None) -> None:
    path = hostile.padded_sheet_bomb(tmp_path / "size.xlsx", 300 * limits.MiB)
    start = time.perf_counter()
    message = refusal(path)
    assert time.perf_counter() - start < 0.5  # decided from the zip directory alone
    assert "its parts expand to 300 MiB, more than the 200 MiB limit" in message


def test_too_many_parts_and_too_large_a_file(tmp_path: Path, no_openpyxl: None) -> None:
    many = tmp_path / "many.xlsx"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(limits.MAX_MEMBERS + 1):
            z.writestr(f"xl/media/{i}.txt", b"")
    assert f"more than the {limits.MAX_MEMBERS:,} limit" in refusal(many)
    big = tmp_path / "big.xlsx"
    with big.open("wb") as fh:
        fh.truncate(limits.MAX_FILE_BYTES + 1)  # sparse: no disk used
    assert "larger than the 50 MiB limit" in refusal(big)


# ---------------------------------------- rows and the dimension tag


def test_a_million_rows_are_refused_quickly(tmp_path: Path) -> None:
    path = hostile.million_row_sheet(tmp_path / "million.xlsx", 1_000_000, dimension="A1:C3")
    start = time.perf_counter()
    message = refusal(path)
    assert time.perf_counter() - start < 3.0
    assert f"sheet Offers has more than {limits.MAX_ROWS:,} rows" in message
    assert "whatever its size tag says" in message


def test_a_value_far_below_the_data_is_refused(tmp_path: Path) -> None:
    sheets = hostile.tables_to_sheets(tiny_tables())
    far = limits.MAX_ROWS + 5
    rows = hostile.sheet_rows_xml([["supplier", "material", "price_usd_per_kg"], ["JP1", "Ga", 12]])
    rows += f'<row r="{far}"><c r="A{far}"><v>1</v></c></row>'
    sheets["Offers"] = hostile.worksheet_xml(rows, dimension="A1:C2")
    message = refusal(hostile.raw_xlsx(tmp_path / "far.xlsx", sheets))
    assert f"reading stopped at row {far:,}" in message


@pytest.mark.parametrize("dimension", ["A1:A2", "A1:XFD1048576"])
def test_the_dimension_tag_is_ignored(tmp_path: Path, dimension: str) -> None:
    """A tag claiming too few cells loses nothing; one claiming the whole sheet costs nothing."""
    tables = tiny_tables()
    sheets = {
        name: xml.replace("<sheetData>", f'<dimension ref="{dimension}"/><sheetData>')
        for name, xml in hostile.tables_to_sheets(tables).items()
    }
    path = hostile.raw_xlsx(tmp_path / "dim.xlsx", sheets)
    start = time.perf_counter()
    wb = open_workbook(path)
    assert time.perf_counter() - start < 1.0
    offers = wb.raw.table("Offers")
    assert offers is not None and len(offers.rows) == 2
    assert offers.rows[1].cells["price_usd_per_kg"].value == 12  # column C, row 3
    assert problems_of(path) == []


# ---------------------------------------- macros, links, hidden data


def test_xlsm_is_read_macros_never_run(
    write: Write, tables: Tables, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hostile.make_xlsm(write(tables), tmp_path / "macro.xlsm")
    with zipfile.ZipFile(path) as z:
        assert "xl/vbaProject.bin" in z.namelist()
    code, out, _ = run_cli(capsys, "validate", path)
    assert code == 0
    assert (
        "workbook: warning: the workbook contains macros or controls (xl/vbaProject.bin); "
        "they are never run" in out
    )
    _, _, res = solve_scenario(open_workbook(path))
    assert res.status is Status.OPTIMAL and res.total_cost_usd is not None
    assert not list(tmp_path.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))


def test_external_links_are_not_followed(write: Write, tables: Tables, tmp_path: Path) -> None:
    path = hostile.add_external_link(write(tables), tmp_path / "linked.xlsx")
    assert problems_of(path) == [
        "warning: workbook: the workbook links to other files; links are not followed: cells "
        "that use them are read with the values saved in this file"
    ]


def test_hidden_sheets_rows_and_columns_are_warned(write: Write, tables: Tables) -> None:
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb["Countries"].sheet_state = "hidden"
    wb["Suppliers"].sheet_state = "veryHidden"
    wb["Demand"].row_dimensions[3].hidden = True
    wb["Offers"].column_dimensions["C"].hidden = True
    wb.save(path)
    found = problems_of(path)
    assert "warning: Countries: the sheet is hidden in Excel, but its 2 data rows are read" in found
    assert any("Suppliers: the sheet is very hidden" in p for p in found)
    assert (
        "warning: Demand: row 3 is hidden in Excel (or filtered out) but read like the others"
        in found
    )
    assert "warning: Offers: column C (price_usd_per_kg) is hidden in Excel but read" in found
    assert len(found) == 4  # warnings only: the data is valid


def test_merged_cells_in_the_data_are_cited(write: Write, tables: Tables) -> None:
    tables["Offers"][0]["max_t"] = 50
    tables["Offers"][0]["note"] = "quote"
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    ws = wb["Offers"]
    ws.merge_cells("D2:D3")  # max_t: row 3 looks like 50 in Excel, but is blank
    ws.merge_cells("E2:E3")  # an ignored note column: harmless
    wb.save(path)
    found = problems_of(path)
    assert found == [
        "Offers!D2:D3: merged cells (max_t): only D2 holds a value, the other cells are read "
        "as blank; unmerge them (Home > Merge & Center) and fill every cell"
    ]


def test_formulas_without_saved_values_are_cited_with_the_fix(tmp_path: Path) -> None:
    """openpyxl and pandas write formulas without results; Excel writes both."""
    tables = tiny_tables()
    sheets = hostile.tables_to_sheets(tables)
    Raw = hostile.Raw
    sheets["Offers"] = hostile.worksheet_xml(
        hostile.sheet_rows_xml(
            [
                ["supplier", "material", "price_usd_per_kg", "max_t", "freight_usd_per_kg"],
                [
                    "CN1",
                    "Ga",
                    10,
                    Raw('<c r="D2"><f>C2*2</f></c>'),
                    Raw('<c r="E2"><f>1/4</f><v>0.25</v></c>'),
                ],
                ["JP1", "Ga", Raw('<c r="C3"><f t="shared" si="0" ref="C3"/></c>'), 5],
            ]
        )
    )
    path = hostile.raw_xlsx(tmp_path / "formulas.xlsx", sheets)
    found = problems_of(path)
    fix = "open and save it in Excel (or LibreOffice) so the value is stored"
    assert found == [
        "Offers!D2: max_t is a formula (=C2*2) with no saved value: the file was written by a "
        f"program that does not calculate; {fix}",
        "Offers!C3: price_usd_per_kg is a formula (a shared formula) with no saved value: the "
        f"file was written by a program that does not calculate; {fix}",
    ]
    raw = open_workbook(path).raw.table("Offers")
    assert raw is not None and raw.rows[0].cells["freight_usd_per_kg"].value == 0.25  # saved value


def test_openpyxl_written_formula_is_cited(write: Write, tables: Tables) -> None:
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb["Suppliers"]["C2"] = "=50+50"  # capacity_t: blank would silently mean "no limit"
    wb.save(path)
    assert problems_of(path)[0].startswith(
        "Suppliers!C2: capacity_t is a formula (=50+50) with no saved value"
    )


# ---------------------------------------- dates


def test_dates_in_period_and_number_columns(write: Write, tables: Tables) -> None:
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb["Demand"]["B2"] = dt.datetime(2026, 1, 1)
    wb["Demand"]["C3"] = dt.datetime(2027, 3, 5)
    wb["Offers"]["C2"] = dt.time(12, 30)
    wb.save(path)
    assert problems_of(path) == [
        "Demand!B2: period must be a label such as 2026 (found the date 2026-01-01); type 2026 "
        "as text or as a number formatted as General",
        "Demand!C3: demand_t must be a number (found the date 2027-03-05: the cell is formatted "
        "as a date or time); format it as Number and retype the value",
        "Offers!C2: price_usd_per_kg must be a number (found the time 12:30:00: the cell is "
        "formatted as a date or time); format it as Number and retype the value",
    ]


def test_a_1904_workbook_reads_dates_in_its_own_calendar(write: Write, tables: Tables) -> None:
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb.epoch = CALENDAR_MAC_1904
    wb["Demand"]["B3"] = dt.datetime(2027, 1, 1)
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        assert 'date1904="1"' in z.read("xl/workbook.xml").decode()
        sheets = "".join(z.read(n).decode() for n in z.namelist() if "worksheets" in n)
    assert "<v>44926</v>" in sheets  # 2027-01-01 counted from 1904 (46388 from 1900)
    found = problems_of(path)
    assert found[0].startswith(
        "Demand!B3: period must be a label such as 2026 (found the date 2027-01-01)"
    )
    assert len(found) == 1  # the numbers beside it read as they are
    demand = open_workbook(path).raw.table("Demand")
    assert demand is not None and demand.rows[0].cells["demand_t"].value == 10


# ---------------------------------------- broken numbers and text


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<v>NaN</v>", 'holds "NaN", which is not a value Excel writes; retype the cell'),
        ("<v>inf</v>", 'holds "inf", which is not a value Excel writes; retype the cell'),
        ("<v>1e400</v>", "must be a finite number (found inf)"),
        ("<v>1E20</v>", "is implausibly large (1e+20; at most 1e+09)"),
        (
            '<v>5</v></c><c r="C2" t="s"><v>999</v>',
            'holds "999", which is not a value Excel writes; retype the cell',
        ),
    ],
)
def test_broken_numbers_in_the_xml_are_cited(tmp_path: Path, xml: str, message: str) -> None:
    sheets = hostile.tables_to_sheets(tiny_tables())
    sheets["Offers"] = sheets["Offers"].replace('<c r="C2"><v>10</v></c>', f'<c r="C2">{xml}</c>')
    path = hostile.raw_xlsx(tmp_path / "nums.xlsx", sheets)
    assert problems_of(path) == [f"Offers!C2: price_usd_per_kg {message}"]


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity", "1e20", "12 t", "1e400"])
def test_numeric_text_that_is_not_a_number_never_solves(
    write: Write, tables: Tables, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    tables["Offers"][0]["price_usd_per_kg"] = text
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "solve", write(tables), "--out", out)
    assert code == 65
    assert "Offers!C2: price_usd_per_kg" in err and "optimal" not in err
    assert not out.exists()


def test_control_characters_and_overlong_text_are_cited(
    write: Write, tables: Tables, tmp_path: Path
) -> None:
    tables["Suppliers"][1]["supplier"] = "JP1\x9b2J"  # CSI: a terminal escape
    found = problems_of(write(tables))
    assert found[0] == (
        'Suppliers!A3: supplier contains the control character U+009B ("JP1\\x9b2J"); '
        "retype the cell"
    )
    tables = tiny_tables()  # Excel and openpyxl cut text at 32,767 characters; raw XML need not
    tables["Materials"][0]["unit"] = "t" * (limits.MAX_TEXT_CHARS + 1)
    path = hostile.raw_xlsx(tmp_path / "long.xlsx", hostile.tables_to_sheets(tables))
    assert problems_of(path) == ["Materials!B2: unit is longer than Excel's 32,767 characters"]


def test_numerics_that_hurt_the_solver_are_warned(write: Write, tables: Tables) -> None:
    tables["Offers"][1]["max_t"] = 1e-7
    tables["Offers"][0]["freight_usd_per_kg"] = 1e-5
    found = problems_of(write(tables))
    assert found == [
        "warning: Offers!E3: max_t 1e-07 t is below 1e-06 t (a gram): the solver treats it as "
        "0; enter 0 or check the unit",
        "warning: Offers!D2: costs span 1.0e+10 times: freight_usd_per_kg 1e-05 USD/kg at "
        "Offers!D2, unmet_penalty_usd_per_kg 100000 USD/kg at its default; beyond 1e+09 the "
        "solver may lose precision: check the units",
    ]


def test_duplicate_keys_and_dangling_references(write: Write, tables: Tables) -> None:
    tables["Countries"].append({"country": "Japan ", "tariff_rate": 0.1})
    tables["Demand"].append({"material": "Ga", "period": "2026", "demand_t": 3})
    tables["TariffOverrides"] = [{"country": "Chile", "material": "Ga", "tariff_rate": 0}]
    tables["PriceFloors"] = [{"material": "Gallium", "floor_usd_per_kg": 5}]
    tables["Stockpile"] = [{"material": "Ge", "initial_t": 1}]
    tables["Offers"].append({"supplier": "KR1", "material": "Ga", "price_usd_per_kg": 9})
    found = problems_of(write(tables))
    assert "Countries!A4: duplicate row for (Japan); first at Countries!A3" in found
    assert "Demand!A4: duplicate row for (Ga, 2026); first at Demand!A2" in found
    assert any(p.startswith('TariffOverrides!A2: country "Chile" is not in') for p in found)
    assert 'PriceFloors!A2: material "Gallium" is not in Materials' in found
    assert 'Stockpile!A2: material "Ge" is not in Materials' in found
    assert 'Offers!A4: supplier "KR1" is not in Suppliers' in found


# ---------------------------------------- empty models


def test_empty_workbooks_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blank = tmp_path / "blank.xlsx"
    write_input_workbook(blank, {"Sheet1": []})
    code, out, _ = run_cli(capsys, "validate", blank)
    assert code == 65 and "workbook: none of the input sheets" in out
    headers = tmp_path / "headers.xlsx"
    write_input_workbook(headers, {name: [] for name in tiny_tables()})
    wb = openpyxl.load_workbook(headers)
    for name, rows in tiny_tables().items():
        wb[name].append(list(rows[0]))
    wb.save(headers)
    code, out, _ = run_cli(capsys, "validate", headers)
    assert code == 65
    assert "Offers!A2: no data rows and no Processes rows (the model would be empty)" in out
    assert "unknown" not in out


def test_two_sheets_with_one_name_are_cited(write: Write, tables: Tables) -> None:
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("offers ").append(["supplier", "material", "price_usd_per_kg"])
    wb.save(path)
    assert problems_of(path) == [
        'offers : two sheets are named like offers: "Offers" and "offers "; only the first is '
        "read: rename or delete the other"
    ]


def test_zero_demand_is_an_empty_plan_not_an_error(write: Write, tables: Tables) -> None:
    for row in tables["Demand"]:
        row["demand_t"] = 0
    path = write(tables)
    assert problems_of(path) == [
        "warning: Demand!C2: every demand_t is 0 (and no stock reserve to build): the plan "
        "will buy nothing"
    ]
    _, _, res = solve_scenario(open_workbook(path))
    assert res.status is Status.OPTIMAL and res.total_cost_usd == 0


def test_a_model_without_variables_is_not_unknown(write: Write, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "allow_unmet", "value": False}]
    _, data = model_data(open_workbook(write(tables)))
    empty = replace(data, buys={}, capacity={}, demand=dict.fromkeys(data.demand, 0.0))
    sol = Optimizer(empty).solve()
    assert sol.status is Status.OPTIMAL and sol.objective_usd == 0
    assert sol.message.startswith("empty model")


# ---------------------------------------- hostile text in outputs

HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+cmd|' /C calc'!A0", "-2+3"]


def test_formula_like_names_are_plain_text_in_every_output(
    tables: Tables, write: Write, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link, at, plus, minus = HOSTILE
    rename = {"JP1": link, "Japan": at, "Ga": plus}
    text = json.dumps(tables)
    for old, new in rename.items():
        text = text.replace(f'"{old}"', json.dumps(new))
    tables = json.loads(text)
    tables["Scenarios"] = [
        {"scenario": minus, "sheet": "Countries", "key": at, "column": "tariff_rate", "value": 0.3}
    ]
    path = write(tables)
    out = tmp_path / "out"
    assert run_cli(capsys, "solve", path, "--all-scenarios", "--out", out)[0] == 0
    assert run_cli(capsys, "frontier", path, "--points", "3", "--out", out)[0] == 0
    kinds = {p.suffix for p in out.rglob("*") if p.is_file()}
    assert {".xlsx", ".md", ".json", ".csv"} <= kinds
    seen: set[str] = set()
    for file in (p for p in out.rglob("*") if p.is_file()):
        if file.suffix == ".xlsx":
            with zipfile.ZipFile(file) as z:
                xml = "".join(z.read(n).decode() for n in z.namelist() if "worksheets/" in n)
            assert "<f>" not in xml, file
            for ws in openpyxl.load_workbook(file).worksheets:
                for row in ws.iter_rows():
                    for cell in row:
                        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                            assert cell.data_type == "s", (file, ws.title, cell.coordinate)
                            seen.add(cell.value)
        elif file.suffix == ".csv":
            for row in csv.reader(file.read_text().splitlines()):
                for value in row:
                    assert not value.startswith(FORMULA_START) or _is_number(value), (file, value)
                    seen.update(h for h in HOSTILE if value == "'" + h)
        elif file.suffix == ".md":
            for line in file.read_text().splitlines():
                if not line.strip("|-: "):
                    continue  # a table's separator row
                cells = [c.strip() for c in line.strip("|").split(" | ")] if "|" in line else []
                for value in [line.lstrip("#- *"), *cells]:
                    assert not value.startswith(FORMULA_START) or _is_number(value), (file, line)
    assert {link, at, plus} <= seen, seen
    doc = json.loads((out / "baseline" / "results.json").read_text())
    assert {a["supplier"] for a in doc["allocation"]} <= {link, "CN1"}  # data kept as it is


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").replace("%", ""))
    except ValueError:
        return False
    return True


# ---------------------------------------- solver faults


def test_infeasible_hard_demand_names_the_rows_after_confirming(
    write: Write, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables["Suppliers"][1]["capacity_t"] = 6
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "min_t": 4}]
    tables["Settings"] = [
        {"setting": "exclude_china", "value": True},
        {"setting": "allow_unmet", "value": False},
    ]
    _, data = model_data(open_workbook(write(tables)))
    opt = Optimizer(data)
    confirmations: list[object] = []
    original = Optimizer._confirm_without_presolve

    def spy(self: Optimizer) -> Status:
        status = original(self)
        confirmations.append((dict(self._solver.config.solver_options), status))
        return status

    monkeypatch.setattr(Optimizer, "_confirm_without_presolve", spy)
    sol = opt.solve()
    assert confirmations == [({"presolve": "off"}, Status.INFEASIBLE)]
    assert sol.status is Status.INFEASIBLE and sol.objective_usd is None
    assert "Ga 2026: short by 4 t of 10 t demand" in sol.message  # elastic re-solve
    assert "capacity of JP1 in 2026 (6 t)" in sol.message  # IIS rows
    assert "CN1 / Ga 2026 excluded (China origin)" in sol.message
    res = make_results("baseline", data, sol)
    assert res.total_cost_usd is None and _status_code([res]) == 3


def unbounded_data(write: Write, tables: Tables) -> ModelData:
    """A negative landed cost injected after validation, with stock that can grow forever."""
    tables["Stockpile"] = [{"material": "Ga", "initial_t": 0}]
    _, data = model_data(open_workbook(write(tables)))
    buys = {
        k: replace(b, price_paid=-5.0) if b.supplier == "JP1" else b for k, b in data.buys.items()
    }
    capacity = {k: v for k, v in data.capacity.items() if k[0] != "JP1"}
    return replace(data, buys=buys, capacity=capacity)


def test_unbounded_is_reported_as_such(write: Write, tables: Tables) -> None:
    data = unbounded_data(write, tables)
    sol = Optimizer(data).solve()
    assert sol.status is Status.UNBOUNDED and sol.objective_usd is None
    assert "unbounded" in sol.message and "negative costs" in sol.message
    res = make_results("baseline", data, sol)
    assert res.total_cost_usd is None and _status_code([res]) == 3
    assert "**unbounded**" in summary_markdown(res)


def test_time_limit_reports_status_and_bound_honestly(default_wb: Workbook, tmp_path: Path) -> None:
    inputs, data = model_data(default_wb)
    optimum = Optimizer(data).solve().objective_usd
    assert optimum is not None
    limited = Optimizer(data).solve(time_limit=0.0)
    assert limited.status is Status.TIME_LIMIT and limited.objective_usd is None
    assert limited.message == "time limit reached before any feasible plan was found"
    bound = limited.best_bound_usd
    assert bound is None or bound <= optimum + 1e-6  # a bound, never a cost
    res = make_results("baseline", data, limited)
    assert res.total_cost_usd is None and _status_code([res]) == 4
    folder = write_scenario_report(res, inputs, tmp_path)
    doc = json.loads((folder / "results.json").read_text())
    assert doc["status"] == "time_limit" and doc["total_cost_usd"] is None
    assert doc["allocation"] == []
    assert "Buyer spend: **n/a**" in (folder / "summary.md").read_text()


# ---------------------------------------- output faults

KILL_MID_WRITE = """
import sys, time, pathlib
from optimizer.contract.book import open_workbook
from optimizer.runs.pipeline import solve_scenario
from optimizer.output.report import write_scenario_report
inputs, _, res = solve_scenario(open_workbook(sys.argv[1]))
original = pathlib.Path.write_text
def write_text(self, *args, **kwargs):
    # report.xlsx is in the temporary folder; summary.md is being written
    print("MID-WRITE", flush=True)
    time.sleep(60)
    return original(self, *args, **kwargs)
pathlib.Path.write_text = write_text
write_scenario_report(res, inputs, sys.argv[2])
print("FINISHED", flush=True)
"""


def test_kill_while_writing_keeps_the_previous_report(
    write: Write, tables: Tables, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    inputs, _, res = solve_scenario(open_workbook(write(tables)))
    folder = write_scenario_report(res, inputs, out)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    tables["Countries"][0]["tariff_rate"] = 0.9
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_MID_WRITE, str(write(tables)), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "MID-WRITE", child.stderr
        # the new report is being written into a temporary folder beside the old one
        temps = [p for p in out.iterdir() if p.name.startswith(".baseline.")]
        assert temps and all(p.is_dir() and p.suffix == ".tmp" for p in temps)
        assert any((p / "report.xlsx").is_file() for p in temps)  # half the folder written
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
        os.kill(child.pid, signal.SIGKILL)  # no cleanup, no finally: a real crash
    finally:
        child.kill()
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p for p in out.iterdir() if p.name.startswith(".baseline.")]  # the dead writer's
    # the next write clears what the dead writer left and replaces the report whole
    inputs2, _, res2 = solve_scenario(open_workbook(write(tables)))
    write_scenario_report(res2, inputs2, out)
    assert {p.name for p in folder.iterdir()} == set(before)
    assert (folder / "results.json").read_bytes() != before["results.json"]
    assert sorted(p.name for p in out.iterdir()) == ["baseline"]


def test_full_disk_exits_73_and_keeps_the_previous_report(
    write: Write, tables: Tables, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real write fault: the kernel refuses to grow files past RLIMIT_FSIZE (EFBIG)."""
    out = tmp_path / "out"
    assert run_cli(capsys, "solve", write(tables), "--out", out)[0] == 0
    folder = out / "baseline"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(before["report.xlsx"]) > 8192

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    tables["Countries"][0]["tariff_rate"] = 0.9
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "solve", str(write(tables)), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert proc.returncode == 73, proc.stderr
    assert "File too large" in proc.stderr and "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temp files either


def test_read_only_folder_exits_73_and_keeps_the_previous_report(
    write: Write,
    tables: Tables,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    assert run_cli(capsys, "solve", write(tables), "--out", out)[0] == 0
    folder = out / "baseline"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    real_open = os.open

    def read_only(
        file: str | bytes | os.PathLike[str], flags: int, *args: object, **kw: object
    ) -> int:
        if str(file).startswith(str(out)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, flags, *args, **kw)  # type: ignore[arg-type]

    real_mkdir = os.mkdir

    def no_mkdir(path: str | os.PathLike[str], *args: object, **kw: object) -> None:
        if str(path).startswith(str(out)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_mkdir(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    monkeypatch.setattr(os, "mkdir", no_mkdir)  # a report folder is written as a new folder
    tables["Countries"][0]["tariff_rate"] = 0.9
    code, _, err = run_cli(capsys, "solve", write(tables), "--out", out)
    monkeypatch.undo()
    assert code == 73 and "Read-only file system" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_special_files_are_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "template", fifo, "--force")
    assert code == 73 and "not a regular file" in err
    assert fifo.is_fifo()
    with pytest.raises(OutputError, match="not a regular file"):
        from optimizer.common.files import write_text_atomic

        write_text_atomic(fifo, "x")


@pytest.mark.parametrize(
    "text", ["=1+1", " =1+1", "\t=1+1", "\r@SUM(1)", "\tplain", "  -2+3", "\n+cmd"]
)
def test_csv_cells_never_start_a_formula_even_after_blanks(text: str, tmp_path: Path) -> None:
    import pandas as pd

    from optimizer.common.xlsx import write_csv

    path = tmp_path / "out.csv"
    write_csv(path, pd.DataFrame({"supplier": [text, "Lynas"], "t": [1.0, -2.0]}))
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[1][0] == "'" + text and rows[2] == ["Lynas", "-2.0"]
