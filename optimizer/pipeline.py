"""The pipeline as plain functions: read -> validate -> model data -> build -> solve -> results.

The CLI, the app and the tests call these; nothing here prints or exits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from optimizer import whatif
from optimizer.fast import FastOptimizer
from optimizer.inputs import Inputs, parse_inputs, require_valid
from optimizer.model_data import ModelData, prepare
from optimizer.problems import InvalidInputError, Problem, errors
from optimizer.results import Results, make_results
from optimizer.scenarios import BASELINE, Scenario, apply_scenario, read_scenarios
from optimizer.solve import Engine, Solution, Status
from optimizer.workbook import RawWorkbook, read_workbook

DEFAULT_WORKBOOK = Path(__file__).resolve().parent.parent / "inputs" / "default.xlsx"


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
    """A scenario by name, case-insensitively (KeyError with the valid names otherwise)."""
    for key, scenario in wb.scenarios.items():
        if key.lower() == name.lower():
            return scenario
    raise KeyError(f'unknown scenario "{name}" (known: {", ".join(wb.scenario_names)})')


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


def model_data(wb: Workbook, name: str = BASELINE) -> tuple[Inputs, ModelData]:
    """Valid inputs and model data of a scenario (InvalidInputError otherwise)."""
    inputs, problems = scenario_inputs(wb, name)
    inputs = require_valid(inputs, problems)
    return inputs, prepare(inputs)


def solve_scenario(
    wb: Workbook,
    name: str = BASELINE,
    time_limit: float | None = None,
    threads: int | None = None,
    analyze: bool = False,
) -> tuple[Inputs, ModelData, Results]:
    """Build, solve and tabulate one scenario; `analyze` adds policy costs and break-evens."""
    inputs, data = model_data(wb, name)
    opt = FastOptimizer(data, threads=threads)
    solution = opt.solve(time_limit)
    results = make_results(name, data, solution)
    if analyze and solution.status is Status.OPTIMAL:
        analyse_plan(results, inputs, opt, solution)
    return inputs, data, results


def analyse_plan(results: Results, inputs: Inputs, opt: Engine, solution: Solution) -> None:
    """Fill the what-if tables of an optimal plan, re-solving `opt` (left as it was found)."""
    results.tariff_breakevens = whatif.offer_breakevens(opt, solution)  # reads the basis: first
    results.country_breakevens = whatif.country_breakevens(opt, solution)
    results.policy_costs = whatif.policy_costs(inputs, opt)
    results.highlights += list(results.policy_costs["sentence"])


def check_all(wb: Workbook, names: Iterable[str]) -> None:
    """Raise InvalidInputError with every error of the given scenarios, before any solve."""
    problems = validate(wb, names)
    if errors(problems):
        raise InvalidInputError(problems)
