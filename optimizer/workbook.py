"""Read a workbook into raw tables: cell values with the address they came from.

Nothing is interpreted here beyond finding sheets and headers; parsing and
checking live in `inputs.py` so that scenario overrides (which replace raw
cells) are parsed and cited exactly like cells typed into the workbook.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from optimizer.problems import InputFileError, Problem
from optimizer.schema import SHEETS, SheetSpec


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value such as #DIV/0! or #REF!, kept so it can be cited."""

    code: str

    def __str__(self) -> str:
        return self.code


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


def _cell_value(cell: Any) -> Any:
    """A cell's value, with Excel error cells kept as ExcelError and text stripped."""
    value = cell.value
    if getattr(cell, "data_type", None) == "e":
        return ExcelError(str(value))
    if isinstance(value, str):
        return value.strip()
    return value


def read_workbook(path: str | Path) -> RawWorkbook:
    """Read the contract's sheets from an .xlsx file.

    Raises InputFileError when the file is missing or not a readable workbook;
    structural problems (missing sheet or column) come back in `problems`.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a workbook")
    if not zipfile.is_zipfile(path):
        raise InputFileError(
            f"{path}: not an .xlsx workbook (CSV, legacy .xls or encrypted files are not read; "
            "save it from Excel as 'Excel Workbook (*.xlsx)')"
        )
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InputFileError(f"{path}: cannot be read as an .xlsx workbook ({exc})") from exc
    try:
        by_lower = {name.strip().lower(): name for name in wb.sheetnames}
        tables: dict[str, RawTable] = {}
        problems: list[Problem] = []
        for spec in SHEETS:
            actual = by_lower.get(spec.name.lower())
            if actual is None:
                if spec.required:
                    problems.append(Problem(spec.name, "", "required sheet is missing"))
                continue
            table, found = _read_table(spec, actual, wb[actual].iter_rows())
            problems.extend(found)
            if table is not None:
                tables[spec.name] = table
        return RawWorkbook(str(path), tables, tuple(problems))
    finally:
        wb.close()


def _read_table(
    spec: SheetSpec, sheet: str, rows: Iterator[Any]
) -> tuple[RawTable | None, list[Problem]]:
    """Header map and data rows of one sheet; blank rows and rows starting with # are skipped."""
    problems: list[Problem] = []
    header = next(rows, None)
    columns: dict[str, int] = {}
    for idx, cell in enumerate(header or ()):
        value = _cell_value(cell)
        if _is_blank(value):
            continue
        name = str(value).strip().lower()
        letter = get_column_letter(idx + 1)
        if name in columns:
            problems.append(Problem(sheet, f"{letter}1", f"column '{name}' appears twice"))
            continue
        columns[name] = idx
    missing = [c.name for c in spec.columns if c.required and c.name not in columns]
    for name in missing:
        found = ", ".join(columns) or "none"
        problems.append(
            Problem(sheet, "1", f"required column '{name}' is missing (found: {found})")
        )
    if missing:
        return None, problems
    known = {c.name: columns[c.name] for c in spec.columns if c.name in columns}
    letters = {name: get_column_letter(idx + 1) for name, idx in known.items()}
    data: list[RawRow] = []
    for row_number, row in enumerate(rows, start=2):
        values = {
            name: _cell_value(row[idx]) if idx < len(row) else None for name, idx in known.items()
        }
        if all(_is_blank(v) for v in values.values()):
            continue
        first = values.get(spec.columns[0].name)
        if isinstance(first, str) and first.startswith("#"):
            continue  # a comment row, such as the template's description row
        cells = {
            name: RawCell(value, f"{sheet}!{letters[name]}{row_number}")
            for name, value in values.items()
        }
        data.append(RawRow(row_number, cells))
    return RawTable(spec, sheet, letters, tuple(data)), problems
