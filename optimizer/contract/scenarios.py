"""Named scenarios: sets of single-cell overrides applied to a copy of the raw workbook.

A Scenarios row reads: scenario `vietnam_46` sets sheet `Countries`, key
`Vietnam`, column `tariff_rate` to `0.46`. Keys are the sheet's key columns
joined by `|`; `*` matches any value and missing trailing parts match every
row (`Offers` key `Korea Zinc Onsan|Germanium` hits every period's row). A key
that names every part but matches no row adds a row (a new tariff override, a
new setting). Overrides replace raw cells, so a bad value is reported at the
Scenarios cell that wrote it. The base workbook is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optimizer.common.problems import Problem
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.workbook import (
    CellFault,
    ExcelError,
    RawCell,
    RawRow,
    RawTable,
    RawWorkbook,
)

BASELINE = "baseline"
WILDCARD = "*"
#: Sheets whose rows are named things: adding one through a scenario is flagged.
ENTITY_SHEETS = frozenset({"Materials", "Countries", "Suppliers"})


@dataclass(frozen=True)
class Override:
    """One cell override: which sheet, which row(s) by key, which column, what value."""

    sheet: str
    key: tuple[str, ...]
    column: str
    value: RawCell
    refs: Mapping[str, str]  # Scenarios cells for sheet, key, column


@dataclass(frozen=True)
class Scenario:
    """A named set of overrides; the baseline has none."""

    name: str
    description: str = ""
    overrides: tuple[Override, ...] = ()


def key_text(value: Any) -> str:
    """Key text as compared: trimmed, lower-case, 2026.0 read as 2026, blank as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lower()


def read_scenarios(raw: RawWorkbook) -> tuple[dict[str, Scenario], list[Problem]]:
    """Every named scenario in the Scenarios sheet, in order of first appearance."""
    table = raw.table("Scenarios")
    if table is None:
        return {}, []
    problems: list[Problem] = []
    grouped: dict[str, list[Override]] = {}
    descriptions: dict[str, str] = {}
    display: dict[str, str] = {}
    for row in table.rows:
        cells = {name: row.get(name) for name in ("scenario", "sheet", "key", "column", "value")}
        missing = [n for n in ("scenario", "sheet", "key", "column") if _blank(cells[n])]
        for name in missing:
            ref = table.ref(name, row.row)
            problems.append(Problem(table.sheet, ref, f"{name} is required"))
        if missing:
            continue
        faults = [
            (n, c)
            for n, c in cells.items()
            if n != "value" and c is not None and isinstance(c.value, (ExcelError, CellFault))
        ]
        for n, c in faults:
            what = (
                f"holds the Excel error {c.value}; fix the formula or type the {n}"
                if isinstance(c.value, ExcelError)
                else str(c.value)
            )
            problems.append(Problem.at(c.ref, f"{n} {what}"))
        if faults:
            continue
        name_cell, sheet_cell, key_cell, column_cell = (
            cells["scenario"],
            cells["sheet"],
            cells["key"],
            cells["column"],
        )
        assert name_cell and sheet_cell and key_cell and column_cell
        name = str(name_cell.value).strip()
        if name.lower() == BASELINE:
            problems.append(
                Problem.at(
                    name_cell.ref, f'"{BASELINE}" is the workbook as it is; pick another name'
                )
            )
            continue
        spec = SHEETS_BY_NAME.get(key_text(sheet_cell.value))
        if spec is None or spec.name == "Scenarios":
            problems.append(Problem.at(sheet_cell.ref, f'unknown sheet "{sheet_cell.value}"'))
            continue
        column = key_text(column_cell.value)
        if column not in {c.name for c in spec.columns}:
            valid = ", ".join(c.name for c in spec.columns)
            problems.append(
                Problem.at(
                    column_cell.ref, f'{spec.name} has no column "{column_cell.value}" ({valid})'
                )
            )
            continue
        key = tuple(part.strip() for part in str(key_cell.value).split("|"))
        if len(key) > len(spec.key):
            problems.append(
                Problem.at(
                    key_cell.ref,
                    f"{spec.name} rows are keyed by {' | '.join(spec.key)}; "
                    f'"{key_cell.value}" has {len(key)} parts',
                )
            )
            continue
        value = cells["value"] or RawCell(None, f"{table.sheet}!{table.ref('value', row.row)}")
        refs = {"sheet": sheet_cell.ref, "key": key_cell.ref, "column": column_cell.ref}
        display.setdefault(name.lower(), name)
        grouped.setdefault(name.lower(), []).append(Override(spec.name, key, column, value, refs))
        desc = row.get("description")
        if desc is not None and not _blank(desc) and name.lower() not in descriptions:
            descriptions[name.lower()] = str(desc.value)
    scenarios = {
        display[k]: Scenario(display[k], descriptions.get(k, ""), tuple(v))
        for k, v in grouped.items()
    }
    return scenarios, problems


def _blank(cell: RawCell | None) -> bool:
    return cell is None or cell.value is None or str(cell.value).strip() == ""


def _matches(row: RawRow, key_columns: tuple[str, ...], key: tuple[str, ...]) -> bool:
    for column, part in zip(key_columns, key, strict=False):
        if part == WILDCARD:
            continue
        cell = row.get(column)
        if key_text(cell.value if cell else None) != key_text(part):
            return False
    return True


def apply_scenario(raw: RawWorkbook, scenario: Scenario) -> tuple[RawWorkbook, list[Problem]]:
    """A copy of the raw workbook with the scenario's cells replaced (rows added where keyed)."""
    problems: list[Problem] = []
    tables: dict[str, RawTable] = {}
    for ov in scenario.overrides:
        spec = SHEETS_BY_NAME[ov.sheet.lower()]
        table = tables.get(spec.name) or raw.table(spec.name) or RawTable(spec, spec.name, {}, ())
        rows = list(table.rows)
        hits = [i for i, r in enumerate(rows) if _matches(r, spec.key, ov.key)]
        for i in hits:
            rows[i] = RawRow(rows[i].row, {**rows[i].cells, ov.column: ov.value})
        if not hits:
            complete = len(ov.key) == len(spec.key) and WILDCARD not in ov.key
            if not complete:
                problems.append(
                    Problem.at(
                        ov.refs["key"],
                        f'no {spec.name} row matches "{" | ".join(ov.key)}" '
                        f"(key: {' | '.join(spec.key)})",
                    )
                )
                continue
            # columns the scenario does not set are blank, cited at the key cell that added the row
            cells = {c.name: RawCell(None, ov.refs["key"]) for c in spec.columns}
            cells.update(
                {
                    c: RawCell(part or None, ov.refs["key"])
                    for c, part in zip(spec.key, ov.key, strict=True)
                }
            )
            cells[ov.column] = ov.value
            rows.append(RawRow(0, cells))
            if spec.name in ENTITY_SHEETS:  # a typo here would silently add a new entity
                problems.append(
                    Problem.at(
                        ov.refs["key"],
                        f'adds a new {spec.name} row "{" | ".join(ov.key)}" (no row matched)',
                        "warning",
                    )
                )
        tables[spec.name] = RawTable(spec, table.sheet, table.columns, tuple(rows))
    return raw.with_tables(tables), problems
