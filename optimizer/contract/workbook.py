"""Read a workbook into raw tables: cell values with the address they came from.

Nothing is interpreted here beyond finding sheets and headers; parsing and
checking live in `optimizer.contract.parse` so that scenario overrides (which
replace raw cells) are parsed and cited exactly like cells typed into the
workbook.

The file is untrusted: `optimizer.contract.package` identifies its bytes and
holds its zip package to the limits before openpyxl sees it. Sheets are
streamed row by row with openpyxl's own sheet parser, stopping at MAX_ROWS
whatever the sheet's dimension tag says, and keeping what a values-only read
would lose: formulas that were never calculated, merged
cells and hidden rows, columns and sheets. Nothing in the file is ever run.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from optimizer.common import limits
from optimizer.common.format import printable
from optimizer.common.problems import InputFileError, Problem, SourcingError
from optimizer.contract.package import (
    check_package,
    identify,
    load_workbook,
    read_bytes,
    unreadable,
)
from optimizer.contract.schema import SHEETS
from optimizer.contract.spec import SheetSpec

#: Most merged ranges cited per sheet; the rest are counted.
MAX_CITED = 10
#: The start of a <row> element, with any namespace prefix (`<row `, `<x:row>`).
ROW_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value such as #DIV/0! or #REF!, kept so it can be cited."""

    code: str

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class CellFault:
    """A cell whose value cannot be trusted (a formula never calculated, a damaged number).

    `reason` completes a sentence starting with the column name, e.g. `is a
    formula (=B2*2) with no saved value; ...`.
    """

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class RawCell:
    """A cell's value and where it came from (`Offers!C14`, or the Scenarios cell that set it)."""

    value: Any
    ref: str


@dataclass(frozen=True)
class RawRow:
    """One data row: its sheet row number and its cells by lower-case column name."""

    row: int
    cells: Mapping[str, RawCell]

    def get(self, column: str) -> RawCell | None:
        """The cell in `column`, or None when the sheet has no such column."""
        return self.cells.get(column)


@dataclass(frozen=True)
class RawTable:
    """A sheet's data rows plus its header map (column name -> letter)."""

    spec: SheetSpec
    sheet: str  # the sheet name as written in the workbook
    columns: Mapping[str, str]  # lower-case name -> column letter
    rows: tuple[RawRow, ...]

    def ref(self, column: str, row: int) -> str:
        """Cell address for a column and row, e.g. `C14` (`1` when the column is missing)."""
        return f"{self.columns.get(column, '')}{row}"


@dataclass(frozen=True)
class RawWorkbook:
    """Every sheet of the contract that the file has, plus problems found while reading."""

    path: str
    tables: Mapping[str, RawTable]  # keyed by spec name, e.g. "Offers"
    problems: tuple[Problem, ...] = field(default=())

    def table(self, name: str) -> RawTable | None:
        """The table for a sheet of the contract, or None when the file lacks it."""
        return self.tables.get(name)

    def with_tables(self, tables: Mapping[str, RawTable]) -> RawWorkbook:
        """A copy with some tables replaced (used by scenarios; the original is never mutated)."""
        return replace(self, tables={**self.tables, **tables})


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --------------------------------------------------------------------------- the file itself


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read the contract's sheets from an .xlsx (or .xlsm) file.

    Raises InputFileError when the file is missing, not an .xlsx workbook, or
    refused by a limit; structural problems (missing sheet or column, merged
    or uncalculated cells) and warnings (macros, hidden data) come back in
    `problems`.
    """
    path = Path(path)
    data = read_bytes(path)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise InputFileError(f"{path}: not an .xlsx workbook: {identify(data)}")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            problems = check_package(path, archive)
    except zipfile.BadZipFile as exc:
        raise InputFileError(f"{path}: not an .xlsx workbook: damaged zip package ({exc})") from exc
    wb = load_workbook(path, data)
    try:
        tables, found = _read_sheets(path, wb)
    finally:
        wb.close()
    return RawWorkbook(str(path), tables, tuple(problems + found))


# --------------------------------------------------------------------------- sheets


def _read_sheets(path: Path, wb: Any) -> tuple[dict[str, RawTable], list[Problem]]:
    """Every contract sheet as a table (keyed by spec name), with problems and warnings."""
    by_lower: dict[str, str] = {}
    tables: dict[str, RawTable] = {}
    problems: list[Problem] = []
    for name in wb.sheetnames:
        key = name.strip().lower()
        if key in by_lower and key in {s.name.lower() for s in SHEETS}:
            problems.append(
                Problem(
                    name,
                    "",
                    f'two sheets are named like {name.strip()}: "{printable(by_lower[key])}" and '
                    f'"{printable(name)}"; only the first is read: rename or delete the other',
                )
            )
            continue
        by_lower.setdefault(key, name)
    if not any(spec.name.lower() in by_lower for spec in SHEETS):
        shown = ", ".join(printable(n, 31) for n in wb.sheetnames[:10]) or "none"
        problems.append(
            Problem(
                "",
                "",
                "none of the input sheets (Materials, Demand, Countries, Suppliers, Offers, ...) "
                f"is in this workbook (its sheets: {shown}); `sourcing template` writes a "
                "blank one",
            )
        )
    for spec in SHEETS:
        actual = by_lower.get(spec.name.lower())
        if actual is None:
            if spec.required:
                problems.append(Problem(spec.name, "", "required sheet is missing"))
            continue
        try:
            table, found = _read_sheet(path, wb, wb[actual], spec, actual)
        except SourcingError:
            raise
        except Exception as exc:  # a damaged sheet part: openpyxl raises many types
            raise unreadable(path, actual, exc) from exc
        problems.extend(found)
        if table is not None:
            tables[spec.name] = table
    return tables, problems


class _SheetParser(WorkSheetParser):  # type: ignore[misc]
    """openpyxl's streaming sheet parser, keeping what a values-only read drops.

    A formula with no saved value and a number openpyxl cannot parse become
    CellFaults, cited at their cell, instead of a silent blank or a crash.
    """

    def parse_cell(self, element: Any) -> dict[str, Any]:
        try:
            cell: dict[str, Any] = super().parse_cell(element)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError):
            coordinate = element.get("r")
            row, column = (
                coordinate_to_tuple(coordinate)
                if coordinate
                else (self.row_counter, self.col_counter)
            )
            raw = printable(element.findtext(VALUE_TAG) or "", 40)
            fault = CellFault(f'holds "{raw}", which is not a value Excel writes; retype the cell')
            return {"row": row, "column": column, "value": fault, "data_type": "n"}
        if cell["value"] is None:
            formula = element.find(FORMULA_TAG)
            if formula is not None and _uncalculated(element):
                shown = f"={printable(formula.text, 60)}" if formula.text else "a shared formula"
                cell["value"] = CellFault(
                    f"is a formula ({shown}) with no saved value: the file was written by a "
                    "program that does not calculate; open and save it in Excel (or LibreOffice) "
                    "so the value is stored"
                )
        return cell


def _uncalculated(element: Any) -> bool:
    """A formula cell without a saved result (an empty <v> is a result only for text)."""
    value = element.find(VALUE_TAG)
    if value is None:
        return True
    return not value.text and element.get("t", "n") not in ("str", "s", "inlineStr")


def _cell_value(cell: Mapping[str, Any]) -> Any:
    """A parsed cell's value: Excel errors kept as ExcelError, text stripped."""
    value = cell["value"]
    if cell.get("data_type") == "e" and isinstance(value, str):
        return ExcelError(value)
    if isinstance(value, str):
        return value.strip()
    return value


def _too_many_rows(path: Path, sheet: str, where: str) -> InputFileError:
    return InputFileError(
        f"{path}: refused: sheet {sheet} has more than {limits.MAX_ROWS:,} rows ({where}, "
        "whatever its size tag says); delete the unused rows below the data, even "
        "empty formatted ones, or split the sheet"
    )


def count_rows(archive: zipfile.ZipFile, part: str, limit: int) -> int:
    """<row> elements in a sheet part, counted on the raw XML, stopping once past `limit`.

    A fast refusal of a huge sheet before the slower parse; the parse enforces
    the same limit on what it actually reads.
    """
    count, tail = 0, b""
    with archive.open(part) as fh:
        while chunk := fh.read(1 << 20):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag may be cut by the chunk boundary: keep it
            cut = len(data) if cut < 0 else cut
            count += len(ROW_START.findall(data, 0, cut))
            tail = data[cut:]
            if count > limit:
                return count
    return count + len(ROW_START.findall(tail))


def _rows(path: Path, sheet: str, parser: Any) -> Iterator[tuple[int, dict[int, Any]]]:
    """(row number, {column number: value}) per <row>, refusing the file beyond MAX_ROWS."""
    for count, (number, cells) in enumerate(parser.parse(), start=1):
        if number > limits.MAX_ROWS or count > limits.MAX_ROWS:
            raise _too_many_rows(path, sheet, f"reading stopped at row {max(number, count):,}")
        yield number, {c["column"]: _cell_value(c) for c in cells if c["value"] is not None}


def _read_sheet(
    path: Path, wb: Any, ws: Any, spec: SheetSpec, sheet: str
) -> tuple[RawTable | None, list[Problem]]:
    """One sheet streamed once: its table, then merged, hidden and uncalculated cells."""
    part = getattr(ws, "_worksheet_path", None)
    if part is None:
        return None, [Problem(sheet, "", "is a chart sheet, not a sheet of rows")]
    if count_rows(wb._archive, part, limits.MAX_ROWS) > limits.MAX_ROWS:
        raise _too_many_rows(path, sheet, "counted in its XML before reading any")
    with wb._archive.open(part) as src:
        parser = _SheetParser(
            src,
            ws._shared_strings,
            data_only=True,
            epoch=wb.epoch,
            date_formats=getattr(wb, "_date_formats", set()),
            timedelta_formats=getattr(wb, "_timedelta_formats", set()),
        )
        table, problems = _read_table(spec, sheet, _rows(path, sheet, parser))
        if table is None:
            return None, problems
    problems += _merged_cells(table, parser.merged_cells)
    problems += _hidden(table, ws.sheet_state, parser.row_dimensions, parser.column_dimensions)
    return table, problems


def _read_table(
    spec: SheetSpec, sheet: str, rows: Iterable[tuple[int, Mapping[int, Any]]]
) -> tuple[RawTable | None, list[Problem]]:
    """Header map (row 1) and data rows; blank rows and rows starting with # are skipped."""
    problems: list[Problem] = []
    stream = iter(rows)
    first = next(stream, None)
    header: Mapping[int, Any] = {}
    if first is not None and first[0] == 1:
        header = first[1]
    elif first is not None:
        stream = chain([first], stream)
    columns: dict[str, int] = {}
    for idx, value in sorted(header.items()):
        letter = get_column_letter(idx)
        if isinstance(value, (ExcelError, CellFault)):
            what = f"holds the Excel error {value}" if isinstance(value, ExcelError) else value
            problems.append(Problem(sheet, f"{letter}1", f"the header {what}"))
            continue
        if _is_blank(value):
            continue
        name = str(value).strip().lower()
        if name in columns:
            problems.append(
                Problem(sheet, f"{letter}1", f"column '{printable(name)}' appears twice")
            )
            continue
        columns[name] = idx
    missing = [c.name for c in spec.columns if c.required and c.name not in columns]
    for name in missing:
        found = ", ".join(printable(c, 40) for c in columns) or "none"
        problems.append(
            Problem(sheet, "1", f"required column '{name}' is missing (found: {found})")
        )
    if missing:
        return None, problems
    known = {c.name: columns[c.name] for c in spec.columns if c.name in columns}
    letters = {name: get_column_letter(idx) for name, idx in known.items()}
    data: list[RawRow] = []
    for row_number, row in stream:
        values = {name: row.get(idx) for name, idx in known.items()}
        if all(_is_blank(v) for v in values.values()):
            continue
        first_value = values.get(spec.columns[0].name)
        if isinstance(first_value, str) and first_value.startswith("#"):
            continue  # a comment row, such as the template's description row
        cells = {
            name: RawCell(value, f"{sheet}!{letters[name]}{row_number}")
            for name, value in values.items()
        }
        data.append(RawRow(row_number, cells))
    return RawTable(spec, sheet, letters, tuple(data)), problems


def _merged_cells(table: RawTable, merged: Any) -> list[Problem]:
    """Merged ranges that blank a cell of a data row: only the top-left cell holds the value."""
    if merged is None:
        return []
    data_rows = {r.row for r in table.rows} | {1}
    known = {_column_number(letter): name for name, letter in table.columns.items()}
    problems: list[Problem] = []
    hits = 0
    for rng in merged.mergeCell:
        min_col, min_row, max_col, max_row = range_boundaries(rng.ref)
        blanked = [
            known[c]
            for c in sorted(known)
            if min_col <= c <= max_col
            and any(
                (r, c) != (min_row, min_col) and r in data_rows for r in range(min_row, max_row + 1)
            )
        ]
        if not blanked and not (min_row == 1 and max_col > min_col):
            continue
        hits += 1
        if hits > MAX_CITED:
            continue
        anchor = f"{get_column_letter(min_col)}{min_row}"
        what = f" ({', '.join(blanked)})" if blanked else ""
        problems.append(
            Problem(
                table.sheet,
                rng.ref,
                f"merged cells{what}: only {anchor} holds a value, the other cells are read as "
                "blank; unmerge them (Home > Merge & Center) and fill every cell",
            )
        )
    if hits > MAX_CITED:
        problems.append(
            Problem(table.sheet, "", f"{hits - MAX_CITED} more merged ranges in the data")
        )
    return problems


def _column_number(letter: str) -> int:
    return int(column_index_from_string(letter))


def _hidden(
    table: RawTable,
    state: str,
    row_dims: Mapping[str, Mapping[str, Any]],
    col_dims: Mapping[str, Mapping[str, Any]],
) -> list[Problem]:
    """Warnings for data the planner cannot see in Excel but the model reads."""
    if not table.rows:
        return []
    problems = []
    if state in ("hidden", "veryHidden"):
        how = "very hidden (only the VBA editor shows it)" if state == "veryHidden" else "hidden"
        problems.append(
            Problem(
                table.sheet,
                "",
                f"the sheet is {how} in Excel, but its {len(table.rows):,} data rows are read",
                "warning",
            )
        )
    hidden_rows = {int(r) for r, attrs in row_dims.items() if _is_true(attrs.get("hidden"))}
    rows = [r.row for r in table.rows if r.row in hidden_rows]
    if rows:
        problems.append(
            Problem(
                table.sheet,
                "",
                f"row{'s' if len(rows) > 1 else ''} {_spans(rows)} "
                f"{'are' if len(rows) > 1 else 'is'} hidden in Excel (or filtered out) but "
                "read like the others",
                "warning",
            )
        )
    hidden_cols: set[int] = set()
    for attrs in col_dims.values():
        if _is_true(attrs.get("hidden")):
            low = int(attrs.get("min", 0))
            hidden_cols.update(range(low, int(attrs.get("max", low)) + 1))
    cols = [
        f"{letter} ({name})"
        for name, letter in table.columns.items()
        if _column_number(letter) in hidden_cols
    ]
    if cols:
        problems.append(
            Problem(
                table.sheet,
                "",
                f"column{'s' if len(cols) > 1 else ''} {', '.join(cols)} "
                f"{'are' if len(cols) > 1 else 'is'} hidden in Excel but read",
                "warning",
            )
        )
    return problems


def _is_true(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


def _spans(numbers: list[int]) -> str:
    """`3-5, 9` for [3, 4, 5, 9]; at most MAX_CITED spans, then a count."""
    spans: list[tuple[int, int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    text = ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in spans[:MAX_CITED])
    return text + (f" and {len(spans) - MAX_CITED} more" if len(spans) > MAX_CITED else "")
