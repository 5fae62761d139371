"""The vocabulary the workbook contract is declared in: cell kinds, column, sheet and setting specs.

`optimizer.contract.schema` (the v1 sheets and the tariffs) and
`optimizer.contract.chain_schema` (the supply-chain sheets of contract v2) declare
the contract with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a cell is parsed."""

    TEXT = "text"
    NUMBER = "number"  # finite, >= 0
    RATE = "rate"  # fraction in [0, 1]; a percent-formatted cell is the same value
    BOOL = "bool"  # TRUE/FALSE, yes/no, 1/0
    PERIOD = "period"  # a label such as 2026, kept as text
    CHOICE = "choice"  # one of ColumnSpec.choices
    DATE = "date"  # a calendar date: a date cell, or ISO text 2026-02-20
    ANY = "any"  # parsed later by whatever the row points at (Settings.value, Scenarios.value)


@dataclass(frozen=True)
class ColumnSpec:
    """One column: name as written in row 1 (case-insensitive), type, unit, default, meaning."""

    name: str
    kind: Kind
    required: bool = False
    default: object = None
    unit: str = ""
    description: str = ""
    choices: tuple[str, ...] = ()
    #: the template offers a dropdown of the values in this sheet's first column
    lookup: str | None = None


@dataclass(frozen=True)
class SheetSpec:
    """One sheet: its columns and which of them identify a row (for duplicates and scenarios)."""

    name: str
    required: bool
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    extra: str = ""

    def column(self, name: str) -> ColumnSpec:
        """The spec of a column by (case-insensitive) name."""
        for col in self.columns:
            if col.name == name.lower():
                return col
        raise KeyError(name)


@dataclass(frozen=True)
class SettingSpec:
    """One row of the Settings sheet."""

    name: str
    kind: Kind
    default: object
    unit: str
    description: str


YES_NO = ("TRUE", "FALSE")

SOURCE_NOTE = "Any other column (e.g. `source`, `note`) is allowed and ignored by the model."
