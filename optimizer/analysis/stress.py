"""Monte Carlo stress test: random disruptions, each sample re-optimised.

A sample is one draw of the whole planning horizon: every risk (a Risks sheet
row, or the defaults below) happens or not with its probability. A sample's
disruptions are applied to the base ModelData (bounds and capacities scaled
down, tariffs raised) and the plan is re-optimised, so a sample's cost is what
the buyer pays after re-planning around the disruption (perfect recourse: a
lower bound on the real cost of the disruption).

Reproducibility: every sample's disruptions are drawn in the parent, up front,
from `numpy.random.default_rng(seed)`; samples are then cut into chunks of a
fixed size (never dependent on the worker count), each chunk re-solves its
samples in order on one warm optimizer, and results are gathered in sample
order. The same seed therefore gives the same numbers serially, on a process
pool or on Dask. A chunk that fails (twice) is reported: its samples have
status `failed` and are counted, never dropped.

Money is USD (total cost = the model's objective, unmet penalty included),
quantities t, probabilities and rates fractions.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from optimizer.analysis.replan import plan_totals
from optimizer.analysis.risks import (
    SUPPLIER_OUTAGE,
    Disruption,
    apply_disruptions,
    default_risks,
    draw_samples,
    read_risks,
    sample_block,
    scenario_raw,
)
from optimizer.analysis.stress_result import (
    SampleOutcome,
    StressResult,
    drivers_table,
    risks_table,
    samples_table,
    shortfall_table,
    summary_table,
    suppliers_table,
)
from optimizer.common.executor import Executor, TaskOutcome, run_tasks
from optimizer.common.problems import InvalidInputError, errors
from optimizer.contract.book import open_workbook, scenario_inputs
from optimizer.contract.parse import require_valid
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.model.data import ModelData, prepare
from optimizer.model.extensive import one_stage, solve_extensive
from optimizer.model.fast import FastOptimizer
from optimizer.model.first_stage import FirstStage, first_stage, plan_data
from optimizer.model.solution import EPS_T, Engine, Status

#: The stress test's default mode: every sample re-planned with hindsight, a lower bound.
PERFECT_RECOURSE: Final = "perfect recourse (lower bound: every sample re-planned with hindsight)"
#: Samples per task: fixed (not derived from the worker count) so results never depend on it.
DEFAULT_CHUNK: Final = 25
DEFAULT_SAMPLES: Final = 500


def stress_base(inputs: Inputs) -> ModelData:
    """The model data samples start from: unmet demand always allowed, at the workbook's
    penalty, so a disruption shows as a measured shortfall rather than an infeasible plan."""
    data = prepare(inputs)
    if data.settings.allow_unmet:
        return data
    return replace(data, settings=replace(data.settings, allow_unmet=True))


# --------------------------------------------------------------------------- solving


@dataclass(frozen=True)
class StressChunk:
    """Consecutive samples solved by one task; the workbook travels as bytes."""

    workbook: bytes
    name: str
    scenario: str
    first: int  # index of the chunk's first sample
    samples: tuple[tuple[Disruption, ...], ...]
    time_limit: float | None = None
    threads: int = 1
    #: a fixed first stage (optimizer.model.first_stage): re-plan only the second stage
    plan: tuple[float, ...] | None = None


def solve_sample(
    opt: Engine,
    base: ModelData,
    disruptions: Sequence[Disruption],
    time_limit: float | None = None,
    keep_plan: bool = False,
) -> SampleOutcome:
    """Apply the disruptions to `base`, update the warm model in place and re-solve."""
    start = time.perf_counter()
    data = apply_disruptions(base, disruptions)
    in_place = opt.update(data)
    sol = opt.solve(time_limit)
    optimal = sol.status is Status.OPTIMAL
    unmet = dict.fromkeys(data.materials, 0.0)
    for (m, _), q in sol.unmet.items():
        unmet[m] += q
    bought: dict[str, float] = {}
    if keep_plan:
        for b, q in sol.x.items():
            bought[b[0]] = bought.get(b[0], 0.0) + q
        for b, q in sol.untaken.items():  # a take-or-pay charge counts as depending on it
            bought[b[0]] = bought.get(b[0], 0.0) + q
    totals = plan_totals(data, sol)
    return SampleOutcome(
        status=sol.status.value,
        total_cost_usd=sol.objective_usd if optimal else None,
        penalty_usd=totals["penalty_usd"],
        buyer_spend_usd=totals["buyer_spend_usd"] if optimal else None,
        fiscal_cost_usd=totals["fiscal_cost_usd"] if optimal else None,
        unmet_t=tuple(unmet.values()),
        bought_t=bought,
        seconds=time.perf_counter() - start,
        rebuilt=not in_place,
    )


@functools.lru_cache(maxsize=4)
def chunk_inputs(workbook: bytes, name: str, scenario: str) -> Inputs:
    """The checked inputs of a chunk's workbook, read once per process and workbook: a run's
    chunks all carry the same bytes (Inputs are immutable; no solver state is kept)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(workbook)
        wb = open_workbook(path)
        inputs, problems = scenario_inputs(wb, scenario)
    return require_valid(inputs, problems)


def stress_chunk(chunk: StressChunk) -> list[SampleOutcome]:
    """Re-solve a chunk's samples on one warm optimizer (runs in a worker, HiGHS on one thread)."""
    inputs = chunk_inputs(chunk.workbook, chunk.name, chunk.scenario)
    solver = SampleSolver(inputs, chunk.plan, chunk.threads)
    return [solver.solve(s, chunk.time_limit) for s in chunk.samples]


class SampleSolver:
    """Solves samples in one of three modes, on one warm engine.

    - no decided rows, no plan: each sample re-planned on the workbook's data;
    - a plan (`sourcing stress --plan`): its first stage fixed (`plan_data`), the rest
      re-planned, the first-stage cost added to the sample's cost and spend;
    - decided rows and no plan (perfect recourse): each sample also chooses its first
      stage with hindsight (the one-sample extensive form), then is re-planned under it,
      so the result stays a lower bound for every plan the decisions allow.
    """

    def __init__(self, inputs: Inputs, plan: Sequence[float] | None, threads: int = 1) -> None:
        self.base = stress_base(inputs)
        self.first: FirstStage | None = None
        self.fixed = 0.0
        data = self.base
        decided = any(k.decide for k in inputs.offtakes) or any(s.decide for s in inputs.stockpile)
        if plan is not None or decided:
            first = first_stage(inputs, self.base)
            if plan is not None:
                data, self.fixed = plan_data(first, plan), first.cost(plan)
            elif first.decisions:
                self.first = first
                self.stage = one_stage(first)
                data = plan_data(first, [d.lower_t for d in first.decisions])
        self.data = data
        self.opt = FastOptimizer(data, threads=threads)

    def solve(
        self, drawn: Sequence[Disruption], time_limit: float | None = None, keep_plan: bool = False
    ) -> SampleOutcome:
        """One sample's outcome (first-stage cost included)."""
        first = self.first
        if first is None:
            out = solve_sample(self.opt, self.data, drawn, time_limit, keep_plan)
            return with_fixed(out, self.fixed)
        vectors, keep = sample_block(self.stage, drawn)
        best = solve_extensive(self.stage, [vectors], [keep], [1.0], threads=1)
        values = best.values if best.status == "optimal" else [d.lower_t for d in first.decisions]
        out = solve_sample(self.opt, plan_data(first, values), drawn, time_limit, keep_plan)
        return with_fixed(out, first.cost(values))


def with_fixed(out: SampleOutcome, fixed: float) -> SampleOutcome:
    """A sample's outcome with the first-stage cost added to its total and buyer spend."""
    if not fixed or out.total_cost_usd is None:
        return out
    spend = None if out.buyer_spend_usd is None else out.buyer_spend_usd + fixed
    return replace(out, total_cost_usd=out.total_cost_usd + fixed, buyer_spend_usd=spend)


# --------------------------------------------------------------------------- the run


def run_stress(
    workbook: str | Path,
    scenario: str = BASELINE,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    executor: Executor = "serial",
    workers: int = 1,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    time_limit: float | None = None,
    retries: int = 1,
    plan: Sequence[float] | None = None,
    plan_label: str = PERFECT_RECOURSE,
) -> StressResult:
    """Draw `samples` disruption sets from `seed`, re-optimise each, and tabulate.

    Raises InputFileError (unreadable workbook), KeyError (unknown scenario),
    InvalidInputError (invalid data or Risks rows, every problem cited) and
    ValueError (samples < 1, chunk_size < 1, seed < 0).
    """
    start = time.perf_counter()
    if samples < 1 or chunk_size < 1 or seed < 0:
        raise ValueError(
            f"need samples >= 1, chunk_size >= 1 and seed >= 0 "
            f"(got {samples}, {chunk_size}, {seed})"
        )
    path = Path(workbook)
    wb = open_workbook(path)
    blob = path.read_bytes()
    inputs, problems = scenario_inputs(wb, scenario)
    sheet_risks, risk_problems = read_risks(scenario_raw(wb, scenario), inputs)
    problems += risk_problems
    if inputs is None or errors(problems):
        raise InvalidInputError(problems)
    fixed_plan = None if plan is None else tuple(float(v) for v in plan)
    solver = SampleSolver(inputs, fixed_plan)
    base = solver.base
    risks = sheet_risks if sheet_risks is not None else default_risks(base)
    draws = draw_samples(risks, base, samples, seed)
    if fixed_plan is None and solver.first is not None:
        plan_label = PERFECT_RECOURSE + ", decisions chosen per sample too"

    # the chosen plan, and each supplier it relies on lost alone, in the parent
    baseline = solver.solve((), time_limit, keep_plan=True)
    alone = {
        s: solver.solve((Disruption(SUPPLIER_OUTAGE, s, 1.0),), time_limit)
        for s in sorted(baseline.bought_t)
        if baseline.bought_t[s] > EPS_T
    }

    tasks = [
        (
            f"stress-{first + 1:06d}-{min(first + chunk_size, samples):06d}",
            StressChunk(
                blob,
                path.name,
                scenario,
                first,
                tuple(draws[first : first + chunk_size]),
                time_limit,
                plan=fixed_plan,
            ),
        )
        for first in range(0, samples, chunk_size)
    ]
    outcomes: list[TaskOutcome[list[SampleOutcome]]] = run_tasks(
        stress_chunk, tasks, executor, workers, scheduler, retries
    )
    per_sample: list[SampleOutcome | str] = []
    for (_, chunk), out in zip(tasks, outcomes, strict=True):
        if out.ok and out.value is not None and len(out.value) == len(chunk.samples):
            per_sample += out.value
        else:
            per_sample += [f"chunk {out.key} failed: {out.error or 'no result'}"] * len(
                chunk.samples
            )

    table = samples_table(base, draws, per_sample, baseline)
    warnings = [str(p) for p in problems if p.severity == "warning"]
    return StressResult(
        scenario=scenario,
        seed=seed,
        samples=table,
        summary=summary_table(
            table,
            baseline,
            (samples, seed, scenario, sheet_risks is not None),
            rebuilds=sum(isinstance(o, SampleOutcome) and o.rebuilt for o in per_sample),
        ),
        unmet=shortfall_table(base, table, baseline),
        suppliers=suppliers_table(base, risks, draws, table, baseline, alone),
        drivers=drivers_table(draws, table),
        risks=risks_table(risks, sheet_risks is not None),
        seconds=time.perf_counter() - start,
        risks_source="Risks sheet" if sheet_risks is not None else "defaults",
        executor=executor,
        workers=workers,
        warnings=warnings,
        plan=plan_label,
    )
