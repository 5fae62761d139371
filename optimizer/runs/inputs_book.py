"""A what-if's inputs as the planner's own workbook: every sheet kept, changed sheets rewritten.

The app's "Inputs of this what-if" download starts from the workbook file in use (the
upload or the default) so nothing of it is lost: the Scenarios and Risks sheets, notes,
`source` and other columns the contract does not read. Only the sheets whose rows the
what-if changes are rewritten; each rewritten row keeps the extra cells and the number
formats of the row it comes from (matched by the sheet's key), periods are written as
numbers when they are years, and rates as percentages. `sourcing solve` on the file
reads the what-if back as its baseline.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.common.xlsx import set_cell
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.spec import Kind, SheetSpec
from optimizer.contract.tables import Tables, blank, key_cells
from optimizer.output.styles import RATE as RATE_FORMAT  # as the report formats rates


def cell_value(spec: SheetSpec | None, column: str, value: Any) -> Any:
    """A table value as the cell it becomes: a year-like period as a number."""
    if blank(value):
        return None
    period = (
        spec is not None
        and column in {c.name for c in spec.columns}
        and spec.column(column).kind is Kind.PERIOD
    )
    return int(value) if period and isinstance(value, str) and value.isdigit() else value


def find_sheet(wb: Any, name: str) -> Worksheet | None:
    """The worksheet with this name, case-insensitively."""
    for ws in wb.worksheets:
        if ws.title.lower() == name.lower():
            return ws
    return None


def key_of(spec: SheetSpec | None, row: Mapping[str, Any]) -> tuple[str, ...]:
    """A row's key cells as text (the whole row without a spec)."""
    return key_cells(row, spec.key if spec is not None else tuple(sorted(row)))


def rewrite_sheet(ws: Worksheet, sheet: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Replace the sheet's data rows with `rows`, keeping its header, its extra columns'
    cells and each cell's number format (from the original row with the same key)."""
    spec = SHEETS_BY_NAME.get(sheet.lower())
    header = [str(c.value).strip().lower() if c.value is not None else "" for c in ws[1]]
    while header and not header[-1]:
        header.pop()
    for col in dict.fromkeys(k for r in rows for k in r):
        if col not in header:
            header.append(col)
            set_cell(ws, 1, len(header), col)
    old: dict[tuple[str, ...], list[tuple[dict[str, Any], dict[str, str]]]] = {}
    for cells in ws.iter_rows(min_row=2, max_col=len(header)):
        values = {h: c.value for h, c in zip(header, cells, strict=False) if h}
        if all(blank(v) for v in values.values()):
            continue
        formats = {h: c.number_format for h, c in zip(header, cells, strict=False) if h}
        old.setdefault(key_of(spec, values), []).append((values, formats))
    if ws.max_row > 1:
        ws.delete_rows(2, ws.max_row - 1)
    rates = {c.name for c in spec.columns if c.kind is Kind.RATE} if spec is not None else set()
    for i, row in enumerate(rows, start=2):
        matches = old.get(key_of(spec, row), [])
        values, formats = matches.pop(0) if matches else ({}, {})
        for j, col in enumerate(header, start=1):
            value = cell_value(spec, col, row[col]) if col in row else values.get(col)
            fmt = formats.get(col)
            if col in rates and (fmt is None or fmt == "General"):
                fmt = RATE_FORMAT
            cell = set_cell(ws, i, j, value)
            if fmt and fmt != "General":
                cell.number_format = fmt


def whatif_workbook(original: bytes, loaded: Tables, whatif: Tables) -> bytes:
    """The original workbook file with each sheet whose rows differ from `loaded` (the
    workbook's own baseline tables) rewritten from `whatif`; other sheets untouched."""
    wb = openpyxl.load_workbook(io.BytesIO(original))
    for sheet, rows in whatif.items():
        if rows == loaded.get(sheet, []):
            continue
        ws = find_sheet(wb, sheet)
        if ws is None:
            ws = wb.create_sheet(sheet)
        rewrite_sheet(ws, sheet, rows)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
