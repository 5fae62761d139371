"""Table edits from the app, before they reach the validator: half-typed rows and form entries.

A row the planner is still typing must never blank the plan nor be solved as something
it does not say. Rows the editor returns are sorted three ways: blank rows (an Enter on
the last row) are dropped; a new row missing a required cell, or a limit whose blank
would mean "no limit" / "every period" (`EXPLICIT_ON_NEW`), is held back as unfinished
and named; every other row goes to the validator as typed. The form's entries replace
the row with the same key (the contract's: supplier, material, period for Offers) or are
added after the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.tables import blank, key_cells
from optimizer.output.display import header

#: Cells a new editor row must fill although the contract lets them be blank: a blank
#: there means "no limit" or "every period", never what a half-typed row means.
EXPLICIT_ON_NEW: Mapping[str, tuple[str, ...]] = {
    "Offers": ("max_t", "period"),
    "Suppliers": ("capacity_t",),
}


@dataclass
class EditedRows:
    """What the editor returned for one sheet, sorted: rows to validate and rows held back."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # "Offers row 42: fill ..."
    held: list[dict[str, Any]] = field(default_factory=list)  # the unfinished rows' cells
    blank_rows: int = 0


def needed(sheet: str) -> tuple[str, ...]:
    """Columns a new row of the sheet must fill: the contract's required ones and
    `EXPLICIT_ON_NEW`."""
    spec = SHEETS_BY_NAME[sheet.lower()]
    required = tuple(c.name for c in spec.columns if c.required)
    return required + tuple(c for c in EXPLICIT_ON_NEW.get(sheet, ()) if c not in required)


def sort_rows(sheet: str, rows: Sequence[Mapping[str, Any]], loaded: int) -> EditedRows:
    """Drop blank rows, hold back new rows (past the `loaded` ones) with a needed cell
    blank, keep the rest; rows are numbered as in the sheet (header = row 1)."""
    out = EditedRows()
    for i, row in enumerate(rows):
        cells = {k: (None if blank(v) else v) for k, v in row.items()}
        if all(v is None for v in cells.values()):
            out.blank_rows += 1
            continue
        missing = [c for c in needed(sheet) if cells.get(c) is None]
        if i >= loaded and missing:
            names = ", ".join(header(c)[0] for c in missing)
            out.unfinished.append(f"{sheet} row {i + 2}: fill {names}")
            out.held.append(cells)
            continue
        out.rows.append(cells)
    return out


def upsert(
    rows: Sequence[Mapping[str, Any]], sheet: str, entry: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """The rows with `entry` in place of the row with its key (the sheet's key in the
    contract, compared as a scenario compares it), else added at the end; and what
    happened, in words ("Offers: Teck Trail Germanium 2027 added")."""
    keys = SHEETS_BY_NAME[sheet.lower()].key
    out = [dict(r) for r in rows]
    name = " ".join(str(entry.get(k)) for k in keys if entry.get(k) is not None) or "row"
    for r in out:
        if key_cells(r, keys) == key_cells(entry, keys):
            r.update(entry)
            return out, f"{sheet}: {name} changed"
    columns = dict.fromkeys(k for r in rows for k in r)
    out.append({**dict.fromkeys(columns), **entry})
    return out, f"{sheet}: {name} added"
