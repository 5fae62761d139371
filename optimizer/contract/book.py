"""A workbook as the rest of the program sees it: its raw tables, named scenarios and problems.

`open_workbook` reads a file once; `scenario_inputs` applies a scenario's
overrides to a copy and parses it; `validate` collects every problem of the
baseline and the scenarios. Nothing here builds a model.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from optimizer.common.problems import InvalidInputError, Problem, UnknownScenarioError, errors
from optimizer.contract.parse import parse_inputs
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE, Scenario, apply_scenario, read_scenarios
from optimizer.contract.workbook import RawWorkbook, read_workbook

DEFAULT_WORKBOOK = Path(__file__).resolve().parents[2] / "inputs" / "default.xlsx"


@dataclass(frozen=True)
class Workbook:
    """A read workbook: raw tables, its named scenarios, and problems found so far."""

    raw: RawWorkbook
    scenarios: dict[str, Scenario]
    problems: tuple[Problem, ...]

    @property
    def path(self) -> str:
        """Where it was read from."""
        return self.raw.path

    @property
    def scenario_names(self) -> list[str]:
        """Baseline first, then the workbook's scenarios in order."""
        return [BASELINE, *self.scenarios]


def open_workbook(path: str | Path) -> Workbook:
    """Read a workbook and its scenario definitions (InputFileError if unreadable)."""
    raw = read_workbook(path)
    scenarios, problems = read_scenarios(raw)
    return Workbook(raw, scenarios, tuple(raw.problems) + tuple(problems))


def scenario_inputs(wb: Workbook, name: str = BASELINE) -> tuple[Inputs | None, list[Problem]]:
    """Parsed inputs of one scenario (None when invalid) with every problem found."""
    raw = wb.raw
    problems: list[Problem] = []
    if name != BASELINE:
        scenario = find_scenario(wb, name)
        raw, problems = apply_scenario(wb.raw, scenario)
        raw = RawWorkbook(raw.path, raw.tables, ())  # workbook-level problems are reported once
    inputs, found = parse_inputs(raw)
    problems.extend(found)
    if name == BASELINE:
        problems = list(wb.problems) + problems
    return (None if errors(problems) else inputs), problems


def find_scenario(wb: Workbook, name: str) -> Scenario:
    """A scenario by name, case-insensitively (UnknownScenarioError, a KeyError, otherwise)."""
    for key, scenario in wb.scenarios.items():
        if key.lower() == name.lower():
            return scenario
    raise UnknownScenarioError(f'unknown scenario "{name}" (known: {", ".join(wb.scenario_names)})')


def validate(wb: Workbook, names: Iterable[str] | None = None) -> list[Problem]:
    """Problems of the baseline and of each scenario, deduplicated, in order."""
    names = list(names) if names is not None else wb.scenario_names
    if BASELINE not in names:
        names = [BASELINE, *names]
    seen: dict[str, Problem] = {}
    for name in names:
        _, problems = scenario_inputs(wb, name)
        for p in problems:
            seen.setdefault(str(p) + p.severity, p)
    return list(seen.values())


def check_all(wb: Workbook, names: Iterable[str]) -> list[Problem]:
    """Raise InvalidInputError with every error of the given scenarios, before any solve;
    otherwise return their warnings (one pass over the scenarios for both)."""
    problems = validate(wb, names)
    if errors(problems):
        raise InvalidInputError(problems)
    return problems
