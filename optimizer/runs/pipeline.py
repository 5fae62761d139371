"""The pipeline as plain functions: read -> validate -> model data -> build -> solve -> results.

The CLI, the app, the nightly runs and the Python API call these; nothing here
prints or exits. Reading and validating a workbook is `optimizer.contract.book`.
"""

from __future__ import annotations

from optimizer.analysis.breakevens import country_breakevens, lane_breakevens, offer_breakevens
from optimizer.analysis.policy import policy_costs
from optimizer.analysis.process_breakevens import process_breakevens
from optimizer.contract.book import Workbook, scenario_inputs
from optimizer.contract.parse import require_valid
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.model.data import ModelData, prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Engine, Solution, Status
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
    if name in wb.scenarios:
        results.description = wb.scenarios[name].description
    if analyze and solution.status is Status.OPTIMAL:
        analyse_plan(results, inputs, opt, solution)
    return inputs, data, results


def analyse_plan(results: Results, inputs: Inputs, opt: Engine, solution: Solution) -> None:
    """Fill the what-if tables of an optimal plan, re-solving `opt` (left as it was found)."""
    ranging = opt.cost_ranging()  # reads the basis of `solution`: before any re-solve
    results.breakevens_by_period = offer_breakevens(opt, solution, ranging)
    results.tariff_breakevens = lane_breakevens(opt, solution, ranging)
    results.country_breakevens = country_breakevens(opt, solution)
    if inputs.processes:
        opt.update(opt.data)
        base = opt.solve()  # ranging below reads this basis
        results.process_breakevens = process_breakevens(inputs, opt, base)
    results.policy_costs = policy_costs(inputs, opt)
    results.highlights += list(results.policy_costs["sentence"])
