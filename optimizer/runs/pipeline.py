"""The pipeline as plain functions: read -> validate -> model data -> build -> solve -> results.

The CLI, the app, the nightly runs and the Python API call these; nothing here
prints or exits. Reading and validating a workbook is `optimizer.contract.book`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from optimizer.analysis.breakevens import lane_breakevens, offer_breakevens
from optimizer.analysis.country_breakevens import country_breakevens
from optimizer.analysis.emissions_frontier import unreachable_caps
from optimizer.analysis.policy import policy_costs
from optimizer.analysis.process_breakevens import process_breakevens
from optimizer.common.executor import run_tasks
from optimizer.common.problems import InvalidInputError, OutputError
from optimizer.contract.book import Workbook, scenario_inputs
from optimizer.contract.parse import require_valid
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.model.data import ModelData, prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Engine, Solution, Status
from optimizer.output.report import write_scenario_report
from optimizer.output.results import Results, make_results


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
    if solution.status is Status.INFEASIBLE:
        caps = unreachable_caps(inputs, data)
        if caps:
            results.message = "; ".join(caps)
            results.highlights = [*caps, *results.highlights]
    if name in wb.scenarios:
        results.description = wb.scenarios[name].description
    if analyze and solution.status is Status.OPTIMAL:
        analyse_plan(results, inputs, opt, solution, restore=False)  # opt is dropped here
    return inputs, data, results


def analyse_plan(
    results: Results, inputs: Inputs, opt: Engine, solution: Solution, restore: bool = True
) -> None:
    """Fill the what-if tables of an optimal plan, re-solving `opt` (left as it was found
    unless `restore` is False: a caller done with the engine saves a rebuild)."""
    ranging = opt.cost_ranging()  # reads the basis of `solution`: before any re-solve
    ships = opt.cost_ranging("f") if opt.data.chain is not None else None
    acts = opt.cost_ranging("y") if opt.data.chain is not None else None
    results.breakevens_by_period = offer_breakevens(opt, solution, ranging)
    results.tariff_breakevens = lane_breakevens(opt, solution, ranging, ships)
    results.country_breakevens = country_breakevens(opt, solution)
    if inputs.processes:
        opt.update(opt.data)
        results.process_breakevens = process_breakevens(inputs, opt, solution, acts)
    results.policy_costs = policy_costs(inputs, opt, restore=restore)
    results.highlights += list(results.policy_costs["sentence"])


@dataclass(frozen=True)
class ReportTask:
    """One scenario to solve and write in a worker process (the workbook travels pickled)."""

    wb: Workbook
    scenario: str
    out_dir: str
    time_limit: float | None = None
    analyze: bool = True
    threads: int | None = 1


#: what a worker hands back: the results and their folder, or the error to raise again in the
#: parent (bad data, an unwritable folder), so that exit codes keep their meaning in parallel
ReportOutcome = tuple[Results, Path] | BaseException


def solve_and_report(task: ReportTask) -> ReportOutcome:
    """Solve one scenario and write its report folder (module level: runs in a worker)."""
    try:
        inputs, _, res = solve_scenario(
            task.wb, task.scenario, task.time_limit, task.threads, task.analyze
        )
        return res, write_scenario_report(res, inputs, task.out_dir)
    except (InvalidInputError, OutputError, OSError) as exc:
        return exc


def solve_and_report_all(
    wb: Workbook,
    names: Sequence[str],
    out_dir: str | Path,
    time_limit: float | None = None,
    analyze: bool = True,
    workers: int = 1,
) -> Iterator[tuple[Results, Path]]:
    """Solve and write each scenario, in the order of `names`, on `workers` processes.

    Scenarios are independent LPs: with several workers each builds its own model
    and HiGHS runs on one thread (no oversubscription). Worker processes are forked
    from this one where the platform allows it and this process runs a single thread
    (no solver exists here yet, and the imports are paid once), spawned otherwise;
    errors are raised again here as they were raised there.
    """
    if workers <= 1 or len(names) <= 1:
        for name in names:
            inputs, _, res = solve_scenario(wb, name, time_limit, None, analyze)
            yield res, write_scenario_report(res, inputs, out_dir)
        return
    tasks = [(n, ReportTask(wb, n, str(out_dir), time_limit, analyze)) for n in names]
    # fork only from a single-threaded process (the CLI): forking while another thread holds
    # a lock (a host application's, a logging handler's) can leave the child waiting forever
    start: Literal["fork", "spawn"] = "fork" if threading.active_count() == 1 else "spawn"
    for out in run_tasks(
        solve_and_report, tasks, "process", min(workers, len(names)), start_method=start
    ):
        if not out.ok or out.value is None:
            raise RuntimeError(f"scenario {out.key}: {out.error}")
        if isinstance(out.value, BaseException):
            raise out.value
        yield out.value
