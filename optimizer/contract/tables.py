"""Inputs as plain tables (sheet -> rows of column -> value), and back through the validator.

The app edits tables; `parse_tables` sends them through the same reader and
checks as a workbook file, so an edited cell is validated and cited exactly
like a typed one (`Offers!C3`: row 3 is the table's second data row).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl.utils import get_column_letter

from optimizer.common.problems import Problem
from optimizer.contract.parse import parse_inputs
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import key_text
from optimizer.contract.schema import SHEETS, SHEETS_BY_NAME
from optimizer.contract.settings import SETTINGS
from optimizer.contract.workbook import RawCell, RawRow, RawTable, RawWorkbook

Tables = dict[str, list[dict[str, Any]]]

_RECORDS = {
    "Materials": "materials",
    "Demand": "demand",
    "Countries": "countries",
    "Suppliers": "suppliers",
    "Offers": "offers",
    "Processes": "processes",
    "Inputs": "process_inputs",
    "Coproducts": "coproducts",
    "Routes": "routes",
    "TariffOverrides": "tariff_overrides",
    "Tariffs": "tariffs",
    "Periods": "period_dates",
    "PriceFloors": "price_floors",
    "Offtakes": "offtakes",
    "Stockpile": "stockpile",
    "EmissionsCaps": "emission_caps",
    "Indicators": "indicators",
}


def inputs_to_tables(inputs: Inputs) -> Tables:
    """Every input sheet as rows of schema columns (Settings as setting/value rows)."""
    tables: Tables = {}
    for spec in SHEETS:
        attr = _RECORDS.get(spec.name)
        if attr is None:
            continue
        columns = [c.name for c in spec.columns]
        tables[spec.name] = [{c: getattr(r, c) for c in columns} for r in getattr(inputs, attr)]
    tables["Settings"] = [
        {"setting": s.name, "value": getattr(inputs.settings, s.name)} for s in SETTINGS
    ]
    return tables


def blank(value: Any) -> bool:
    """An empty cell of an in-memory table: None, NaN or empty text."""
    return value is None or (isinstance(value, float) and value != value) or value == ""


def row_id(row: Mapping[str, Any]) -> str:
    """A row's content as text: equal rows, equal ids (for sets and diffs of rows)."""
    return json.dumps(row, sort_keys=True, default=str)


def key_cells(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[str, ...]:
    """A row's key as a scenario matches it (`key_text`: trimmed, lower-case, 2026.0 read
    as 2026, blank as "")."""
    return tuple(key_text(None if blank(row.get(c)) else row.get(c)) for c in columns)


def raw_from_tables(tables: Mapping[str, Sequence[Mapping[str, Any]]], source: str) -> RawWorkbook:
    """A RawWorkbook from in-memory tables; row 1 is the header, data from row 2."""
    raw: dict[str, RawTable] = {}
    problems: list[Problem] = []
    for name, rows in tables.items():
        spec = SHEETS_BY_NAME.get(name.lower())
        if spec is None:
            continue
        header: list[str] = []
        for row in rows:
            header.extend(str(k).lower() for k in row if str(k).lower() not in header)
        for col in spec.columns:
            if col.required and col.name not in header:
                header.append(col.name)  # an empty table still has its headers
        letters = {c: get_column_letter(i + 1) for i, c in enumerate(header)}
        known = {c.name for c in spec.columns}
        data = []
        for i, row in enumerate(rows, start=2):
            lower = {str(k).lower(): v for k, v in row.items()}
            values = {
                c: (None if blank(lower.get(c)) else lower.get(c)) for c in header if c in known
            }
            if all(v is None for v in values.values()):
                continue
            cells = {c: RawCell(v, f"{spec.name}!{letters[c]}{i}") for c, v in values.items()}
            data.append(RawRow(i, cells))
        raw[spec.name] = RawTable(
            spec, spec.name, {c: letters[c] for c in header if c in known}, tuple(data)
        )
    for spec in SHEETS:
        if spec.required and spec.name not in raw:
            problems.append(Problem(spec.name, "", "required sheet is missing"))
    return RawWorkbook(source, raw, tuple(problems))


def parse_tables(
    tables: Mapping[str, Sequence[Mapping[str, Any]]], source: str = "edited inputs"
) -> tuple[Inputs | None, list[Problem]]:
    """Validate tables exactly like a workbook: typed Inputs (None if any error) and problems."""
    return parse_inputs(raw_from_tables(tables, source))
