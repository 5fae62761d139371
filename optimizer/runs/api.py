"""The Python API for notebooks: the few calls an analyst needs, over the same pipeline as the CLI.

    import optimizer
    wb = optimizer.open_workbook()                  # inputs/default.xlsx, or a path
    base = optimizer.solve(wb)                      # Results: tables are pandas DataFrames
    both = optimizer.solve_all(wb, ["baseline", "exclude_china"])
    optimizer.compare(both).summary

Bad data raises `InvalidInputError` (its `.problems` cite every cell); an
unknown scenario raises KeyError naming the valid ones; an unreadable file
raises `InputFileError`. Nothing here prints or writes files (the writers are
in `optimizer.output`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from optimizer.analysis.frontier import Frontier, cost_of_independence
from optimizer.analysis.stress import DEFAULT_SAMPLES, run_stress
from optimizer.analysis.stress_result import StressResult
from optimizer.common.executor import Executor
from optimizer.contract.book import DEFAULT_WORKBOOK, Workbook, check_all, find_scenario
from optimizer.contract.book import open_workbook as _open
from optimizer.contract.scenarios import BASELINE
from optimizer.output.compare import Comparison
from optimizer.output.compare import compare as _compare
from optimizer.output.results import Results
from optimizer.runs.pipeline import model_data, solve_scenario

WorkbookLike = Workbook | str | Path | None


def open_workbook(path: str | Path | None = None) -> Workbook:
    """Read a workbook (the default one when `path` is None) with its named scenarios."""
    return _open(DEFAULT_WORKBOOK if path is None else path)


def _workbook(wb: WorkbookLike) -> Workbook:
    return wb if isinstance(wb, Workbook) else open_workbook(wb)


def scenarios(wb: WorkbookLike = None) -> list[str]:
    """Scenario names, baseline first, as the Scenarios sheet lists them."""
    return _workbook(wb).scenario_names


def _name(wb: Workbook, scenario: str) -> str:
    return BASELINE if scenario.lower() == BASELINE else find_scenario(wb, scenario).name


def solve(
    wb: WorkbookLike = None,
    scenario: str = BASELINE,
    *,
    analyze: bool = False,
    time_limit: float | None = None,
) -> Results:
    """Solve one scenario; `analyze` adds policy costs and tariff break-evens (slower)."""
    book = _workbook(wb)
    name = _name(book, scenario)
    check_all(book, [name])
    return solve_scenario(book, name, time_limit=time_limit, analyze=analyze)[2]


def solve_all(
    wb: WorkbookLike = None,
    scenarios: Iterable[str] | None = None,
    *,
    analyze: bool = False,
    time_limit: float | None = None,
) -> dict[str, Results]:
    """Solve the baseline and the given scenarios (all of them by default), name -> Results.

    Every scenario is validated before the first solve, so bad data fails fast
    with every problem listed.
    """
    book = _workbook(wb)
    names = book.scenario_names if scenarios is None else [_name(book, s) for s in scenarios]
    names = list(dict.fromkeys([BASELINE, *names]))
    check_all(book, names)
    return {n: solve_scenario(book, n, time_limit=time_limit, analyze=analyze)[2] for n in names}


def compare(results: Mapping[str, Results] | Iterable[Results]) -> Comparison:
    """Side-by-side tables of solved scenarios against the baseline (or the first one)."""
    values = list(results.values()) if isinstance(results, Mapping) else list(results)
    if not values:
        raise ValueError("compare needs at least one solved scenario")
    return _compare(values)


def frontier(wb: WorkbookLike = None, scenario: str = BASELINE, points: int = 11) -> Frontier:
    """Cost and unmet demand as the allowed China share falls from 100% to 0%."""
    book = _workbook(wb)
    name = _name(book, scenario)
    check_all(book, [name])
    inputs, _ = model_data(book, name)
    return cost_of_independence(inputs, points)


def stress(
    wb: WorkbookLike = None,
    scenario: str = BASELINE,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    *,
    workers: int = 1,
    executor: Executor = "serial",
) -> StressResult:
    """Monte Carlo disruptions (the Risks sheet or documented defaults), each re-optimised."""
    book = _workbook(wb)
    return run_stress(
        book.path,
        scenario=_name(book, scenario),
        samples=samples,
        seed=seed,
        executor=executor,
        workers=workers,
    )
