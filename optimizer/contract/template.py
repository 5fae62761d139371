"""`sourcing template`: a blank workbook with every sheet, help under each header and dropdowns.

Row 1 holds the headers; row 2 is a description row whose first cell starts
with `#` (the reader skips such rows); data goes from row 3. Header cells carry
a comment with unit, default and meaning. Dropdowns list materials, countries,
suppliers, yes/no and the allowed choices.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from optimizer.common.xlsx import save_atomic, set_cell, write_rows
from optimizer.contract.docs import column_help, contract_rows
from optimizer.contract.schema import SHEETS
from optimizer.contract.settings import SETTINGS
from optimizer.contract.spec import Kind

#: Rows offered for dropdown lookups and validations.
MAX_ROWS = 2000
HELP_FONT = Font(italic=True, color="666666")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def write_template(path: str | Path) -> None:
    """Write the template workbook (atomically)."""
    wb = Workbook()
    about = wb.active
    assert about is not None
    about.title = "About"
    set_cell(about, 1, 1, "Sourcing optimizer input workbook").font = Font(bold=True, size=14)
    set_cell(about, 2, 1, "Row 1: headers. Rows starting with # are ignored. Data from row 3.")
    write_rows(
        about,
        ["sheet", "column", "required", "unit", "default", "meaning"],
        contract_rows(),
        start_row=4,
    )
    about.column_dimensions["F"].width = 80
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        for j, col in enumerate(spec.columns, start=1):
            cell = set_cell(ws, 1, j, col.name)
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.comment = Comment(column_help(col), "sourcing")
            text = column_help(col)
            set_cell(ws, 2, j, ("# " if j == 1 else "") + text).font = HELP_FONT
            ws.column_dimensions[get_column_letter(j)].width = max(16, len(col.name) + 4)
            _add_validation(ws, j, col.kind, col.choices, col.lookup)
        ws.freeze_panes = "A3"
        set_cell(ws, 1, len(spec.columns) + 1, "source").font = Font(bold=True)
        set_cell(ws, 2, len(spec.columns) + 1, "where the figure comes from").font = HELP_FONT
    settings = wb["Settings"]
    for i, s in enumerate(SETTINGS, start=3):
        set_cell(settings, i, 1, s.name)
        set_cell(settings, i, 2, s.default)
        set_cell(settings, i, 3, f"default; {s.description}")
    names = DataValidation(
        type="list", formula1='"' + ",".join(s.name for s in SETTINGS) + '"', allow_blank=True
    )
    settings.add_data_validation(names)
    names.add(f"A3:A{MAX_ROWS}")
    save_atomic(wb, path)


def _add_validation(
    ws: object, col: int, kind: Kind, choices: tuple[str, ...], lookup: str | None
) -> None:
    letter = get_column_letter(col)
    rng = f"{letter}3:{letter}{MAX_ROWS}"
    dv: DataValidation | None = None
    if lookup:
        dv = DataValidation(type="list", formula1=f"={lookup}!$A$3:$A${MAX_ROWS}", allow_blank=True)
    elif kind is Kind.BOOL:
        dv = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
    elif kind is Kind.CHOICE:
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True)
    elif kind is Kind.RATE:
        dv = DataValidation(
            type="decimal", operator="between", formula1="0", formula2="1", allow_blank=True
        )
        dv.error, dv.errorTitle = "A fraction between 0 and 1 (0.19 for 19%)", "Rate"
    elif kind is Kind.DATE:
        dv = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True)
        dv.error, dv.errorTitle = "A date, e.g. 2026-02-20", "Date"
    elif kind is Kind.NUMBER:
        dv = DataValidation(
            type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True
        )
        dv.error, dv.errorTitle = "A number, zero or more", "Number"
    if dv is not None:
        ws.add_data_validation(dv)  # type: ignore[attr-defined]
        dv.add(rng)
