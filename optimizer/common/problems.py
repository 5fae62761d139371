"""Problems found in inputs, and the exceptions that carry them to the CLI and the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs, cited as `Sheet!Cell: message`."""

    sheet: str
    cell: str  # e.g. "C14", or "" when the whole sheet is at fault
    message: str
    severity: str = "error"  # "error" stops the run, "warning" is reported

    @classmethod
    def at(cls, ref: str, message: str, severity: str = "error") -> Problem:
        """A problem at a full reference such as `Offers!C14`."""
        sheet, _, cell = ref.rpartition("!")
        return cls(sheet, cell, message, severity)

    @property
    def where(self) -> str:
        """`Sheet!C14`, or just `Sheet` when no cell applies."""
        if not self.sheet:
            return "workbook"
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SourcingError(Exception):
    """Base class for errors shown to users; the CLI maps each subclass to an exit code."""


class InputFileError(SourcingError):
    """The workbook is missing or cannot be read as an .xlsx file (exit 66)."""


class InvalidInputError(SourcingError):
    """The workbook was read but its data is invalid (exit 65)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = [p for p in problems if p.severity == "error"]
        n = len(self.problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the inputs")


class UnknownScenarioError(SourcingError, KeyError):
    """A scenario name the workbook does not define (exit 64: the command line is wrong).

    Also a KeyError, so `wb.scenarios[name]`-style callers can catch it as one.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OutputError(SourcingError):
    """An output could not be written (exit 73)."""


def errors(problems: Sequence[Problem]) -> list[Problem]:
    """Only the problems that stop a run."""
    return [p for p in problems if p.severity == "error"]
