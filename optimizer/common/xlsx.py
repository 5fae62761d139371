"""Writing workbooks safely: text stays text, files appear whole or not at all."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.common.files import atomic_path

#: Text starting with these is read by Excel as a formula or command.
FORMULA_START = ("=", "+", "-", "@")


def set_cell(
    ws: Worksheet, row: int, col: int, value: Any, number_format: str | None = None
) -> Any:
    """Write one value; text that Excel would run as a formula is stored as plain text."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        cell.value = value
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a live formula
        cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
    else:
        cell.value = value
    if number_format and isinstance(value, (int, float)) and not isinstance(value, bool):
        cell.number_format = number_format
    return cell


def write_rows(
    ws: Worksheet,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Mapping[str, str] | None = None,
    start_row: int = 1,
) -> int:
    """Header plus rows; returns the last row written. Formats are keyed by column name."""
    formats = formats or {}
    fmt = [formats.get(name) for name in header]
    for j, name in enumerate(header, start=1):
        set_cell(ws, start_row, j, name)
    r = start_row
    cells = ws._cells  # openpyxl's own store, as Worksheet.append fills it (the fast path)
    for r, row in enumerate(rows, start=start_row + 1):
        for j, value in enumerate(row, start=1):
            if isinstance(value, str) and value.startswith(FORMULA_START):
                set_cell(ws, r, j, value)
                continue
            cell = Cell(ws, row=r, column=j, value=value)
            f = fmt[j - 1] if j <= len(fmt) else None
            if f and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = f
            cells[(r, j)] = cell
    for j, name in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(10, min(40, len(name) + 4))
    return r


def write_input_workbook(
    path: str | Path, tables: Mapping[str, Sequence[Mapping[str, Any]]]
) -> None:
    """A workbook with one sheet per table; headers are the union of the rows' keys."""
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for sheet, rows in tables.items():
        ws = wb.create_sheet(sheet)
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        write_rows(ws, header, ([row.get(k) for k in header] for row in rows))
    save_atomic(wb, path)


def csv_text(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: formula-like text gets a leading quote.

    Formula-like, as OWASP's CSV-injection advice has it: starting with = + - @,
    with a tab or carriage return, or with = + - @ after leading blanks (some
    spreadsheets trim them when they import a CSV).
    """
    if isinstance(value, str) and (
        value.startswith(("\t", "\r")) or value.lstrip(" \t\r\n").startswith(FORMULA_START)
    ):
        return "'" + value
    return value


def write_csv(path: str | Path, df: Any) -> None:
    """Write a DataFrame as CSV (UTF-8, CRLF); formula-like text in cells and headers is defused."""
    safe = df.rename(columns=csv_text).map(csv_text)
    # CRLF line ends (RFC 4180): the csv module then also quotes a cell holding a bare
    # carriage return, which would otherwise split the row in a spreadsheet
    safe.to_csv(path, index=False, lineterminator="\r\n")


def save_workbook(wb: Workbook, path: str | Path) -> None:
    """Save to memory, then write the bytes to `path`.

    A failed write (a full disk) then leaves no half-closed zip behind, whose
    cleanup at exit would print a traceback.
    """
    buffer = io.BytesIO()
    wb.save(buffer)
    Path(path).write_bytes(buffer.getvalue())


def save_atomic(wb: Workbook, path: str | Path) -> None:
    """Save an openpyxl workbook atomically."""
    with atomic_path(path) as tmp:
        save_workbook(wb, tmp)
