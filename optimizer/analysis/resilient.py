"""Resilient plans: commit now, re-plan under disruption (two-stage stochastic LP with CVaR).

The planner commits to the first stage (optimizer.model.first_stage: offtakes signed,
options reserved, stock built) before knowing which disruptions happen; each
disruption sample (optimizer.analysis.risks, drawn from a seed as the stress test
draws them) then re-plans purchases, use of stock and unmet demand. Identical samples
are merged into one block with their summed probability. The extensive form
(optimizer.model.extensive) minimises E[total cost] + lambda x CVaR_alpha[total cost].

What it answers, all in USD and t:
- the recommended commitments, and the deterministic plan's (the first stage of the
  plan with no disruption: what a planner signs today assuming nothing goes wrong);
- in sample: RP (the stochastic optimum), EEV (the deterministic plan's first stage
  re-planned in every sample), WS (each sample solved with hindsight, first stage
  included); VSS = EEV - RP >= 0 and EVPI = RP - WS >= 0, all measured with the same
  objective E + lambda x CVaR;
- out of sample: both plans evaluated on an independent set of samples (its own seed
  stream), on the stress test's executor and chunks, so any worker count gives the
  same numbers;
- the frontier of expected cost against CVaR over several lambda, and per commitment
  the protection it buys: how much CVaR rises when it alone is dropped to its lower
  bound, per USD of what it commits.

"Total cost" is the model's objective (buyer spend, the unmet-demand penalty and the
carbon price: modelling prices, never money) plus the first-stage cost; buyer spend,
fiscal cost and unmet tonnes are always reported apart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from optimizer.analysis.plan_eval import (
    Distribution,
    OutOfSample,
    Progress,
    SampleSet,
    evaluate_in_sample,
    out_of_sample,
    protection_table,
    quiet,
    sample_set,
    wait_and_see,
)
from optimizer.analysis.risks import (
    Disruption,
    default_risks,
    draw_samples,
    read_risks,
    scenario_raw,
)
from optimizer.analysis.stress import StressChunk, stress_base
from optimizer.common.executor import Executor
from optimizer.common.problems import InvalidInputError, Problem, errors
from optimizer.contract.book import open_workbook, scenario_inputs
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.model.extensive import (
    ExtensiveSolution,
    OneStage,
    one_stage,
    quantile,
    solve_extensive,
)
from optimizer.model.fast import FastOptimizer
from optimizer.model.first_stage import (
    EPS_COMMIT,
    FirstStage,
    commitments,
    first_stage,
    plan_data,
)
from optimizer.model.solution import Status

DEFAULT_SAMPLES: Final = 200
DEFAULT_EVAL_SAMPLES: Final = 1000
DEFAULT_CHUNK: Final = 50
#: lambda values of the expected-cost vs CVaR frontier (the run's own lambda is added)
FRONTIER_WEIGHTS: Final = (0.0, 0.1, 0.3, 1.0, 3.0)
#: HiGHS's method for the extensive form unless one is asked for: simplex beat the
#: interior point method 4.4x at 100 samples and 6.3x at 1,000 (make bench, 2026-12-02;
#: docs/resilient.md); no size measured favoured IPM
DEFAULT_METHOD: Final = "simplex"


@dataclass
class ResilientResult:
    """Everything `sourcing resilient` reports (USD, t, fractions)."""

    scenario: str
    seed: int
    samples: int
    distinct_samples: int
    eval_samples: int
    risk_weight: float
    cvar_level: float
    method: str
    decisions: int
    recommended: list[dict[str, Any]]  # commitments
    deterministic_plan: list[dict[str, Any]]
    in_sample: dict[str, float]
    recommended_eval: OutOfSample
    deterministic_eval: OutOfSample
    frontier: list[dict[str, float]]
    protection: list[dict[str, Any]]
    extensive: dict[str, Any]
    risks_source: str
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def vss_usd(self) -> float:
        return self.in_sample["vss_usd"]

    @property
    def evpi_usd(self) -> float:
        return self.in_sample["evpi_usd"]


@dataclass(frozen=True)
class Setup:
    """A workbook read and checked for a resilient run."""

    inputs: Inputs
    first: FirstStage
    stage: OneStage
    risks: list[Any]
    from_sheet: bool
    blob: bytes
    name: str
    warnings: list[str]


def prepare_run(workbook: str | Path, scenario: str = BASELINE) -> Setup:
    """Read the workbook, its risks and its decisions; compile the one-stage LP.

    Raises InputFileError, UnknownScenarioError and InvalidInputError (bad cells, or no
    decided row: nothing to choose).
    """
    path = Path(workbook)
    wb = open_workbook(path)
    inputs, problems = scenario_inputs(wb, scenario)
    sheet_risks, risk_problems = read_risks(scenario_raw(wb, scenario), inputs)
    problems += risk_problems
    if inputs is None or errors(problems):
        raise InvalidInputError(problems)
    base = stress_base(inputs)
    first = first_stage(inputs, base)
    if not first.decisions:
        raise InvalidInputError(
            [
                Problem(
                    "Offtakes",
                    "",
                    "no first-stage decision: mark an Offtakes row (with max_t) or a Stockpile "
                    "row (with build_max_t) decide TRUE for sourcing resilient to choose it",
                )
            ]
        )
    risks = sheet_risks if sheet_risks is not None else default_risks(base)
    warnings = [str(p) for p in problems if p.severity == "warning"]
    return Setup(
        inputs,
        first,
        one_stage(first),
        risks,
        sheet_risks is not None,
        path.read_bytes(),
        path.name,
        warnings,
    )


def eval_seed(seed: int) -> int:
    """The out-of-sample stream's seed: independent of the in-sample one (SeedSequence)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def solve_plan(
    setup: Setup,
    samples: SampleSet,
    risk_weight: float,
    alpha: float,
    method: str | None = None,
) -> ExtensiveSolution:
    """The stochastic optimum over a sample set; raises InvalidInputError when no plan
    is feasible (commitments no sample can carry)."""
    chosen = method or DEFAULT_METHOD
    sol = solve_extensive(
        setup.stage,
        samples.vectors,
        samples.keeps,
        samples.probabilities,
        risk_weight,
        alpha,
        chosen,
    )
    if sol.status != "optimal":
        first = setup.first
        lowest = FastOptimizer(plan_data(first, [d.lower_t for d in first.decisions])).solve()
        why = "" if lowest.status is Status.OPTIMAL else f" Even undisrupted: {lowest.message}"
        raise InvalidInputError(
            [
                Problem(
                    "Offtakes",
                    "",
                    f"the two-stage plan is {sol.status.lower()}: the decisions' lower bounds "
                    "(min_t, build_min_t) cannot be carried in every sample; lower them or "
                    f"relax the limits they collide with.{why}",
                )
            ]
        )
    return sol


def deterministic(setup: Setup) -> ExtensiveSolution:
    """The plan with no disruption: what is committed assuming nothing goes wrong."""
    stage = setup.stage
    nominal = stage.vectors(setup.first.second)
    return solve_extensive(stage, [nominal], [[1.0] * len(setup.first.decisions)], [1.0])


def plan_chunks(
    setup: Setup,
    scenario: str,
    draws: Sequence[tuple[Disruption, ...]],
    values: Sequence[float],
    chunk_size: int = DEFAULT_CHUNK,
) -> list[tuple[str, StressChunk]]:
    """Tasks that re-plan `draws` under the fixed first stage `values`."""
    plan = tuple(float(v) for v in values)
    return [
        (
            f"plan-{first + 1:06d}",
            StressChunk(
                setup.blob,
                setup.name,
                scenario,
                first,
                tuple(draws[first : first + chunk_size]),
                plan=plan,
            ),
        )
        for first in range(0, len(draws), chunk_size)
    ]


def run_resilient(
    workbook: str | Path,
    scenario: str = BASELINE,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    risk_weight: float | None = None,
    cvar_level: float | None = None,
    eval_samples: int = DEFAULT_EVAL_SAMPLES,
    executor: Executor = "serial",
    workers: int = 1,
    scheduler: str | None = None,
    method: str | None = None,
    frontier_weights: Sequence[float] = FRONTIER_WEIGHTS,
    progress: Progress = quiet,
) -> ResilientResult:
    """Choose the first stage against `samples` draws and evaluate it on `eval_samples` others.

    risk_weight / cvar_level: None = the workbook's Settings. Raises ValueError on
    samples < 1, eval_samples < 1, seed < 0, risk_weight < 0 or cvar_level outside (0, 1);
    InvalidInputError on bad cells (cited).
    """
    start = time.perf_counter()
    if samples < 1 or eval_samples < 1 or seed < 0:
        raise ValueError(
            f"need samples >= 1, eval samples >= 1 and seed >= 0 "
            f"(got {samples}, {eval_samples}, {seed})"
        )
    setup = prepare_run(workbook, scenario)
    settings = setup.inputs.settings
    lam = settings.risk_weight if risk_weight is None else risk_weight
    alpha = settings.cvar_level if cvar_level is None else cvar_level
    if not (lam >= 0 and math.isfinite(lam)) or not 0 < alpha < 1:
        raise ValueError(f"need risk weight >= 0 and 0 < cvar level < 1 (got {lam}, {alpha})")
    first, stage = setup.first, setup.stage
    base = first.second

    progress("drawing samples", 0, samples)
    draws = draw_samples(setup.risks, base, samples, seed)
    fit = sample_set(stage, draws, progress)
    progress("solving the extensive form", 0, 1)
    det = deterministic(setup)
    rec = solve_plan(setup, fit, lam, alpha, method)
    p = fit.probabilities

    det_costs, _ = evaluate_in_sample(first, det.values, fit)
    rec_dist = Distribution.of(rec.sample_cost_usd, p, alpha)
    det_dist = Distribution.of(det_costs, p, alpha)
    ws = wait_and_see(stage, fit, progress)
    ws_dist = Distribution.of(ws, p, alpha)
    rp = rec_dist.objective(lam)
    eev = det_dist.objective(lam)
    wsv = ws_dist.objective(lam)
    in_sample = {
        "rp_usd": rp,
        "eev_usd": eev,
        "ws_usd": wsv,
        "vss_usd": eev - rp,
        "evpi_usd": rp - wsv,
        "expected_cost_usd": rec_dist.expected_cost_usd,
        "cvar_usd": rec_dist.cvar_usd,
        "p95_cost_usd": rec_dist.p95_cost_usd,
        "var_usd": quantile(list(rec.sample_cost_usd), p, alpha),
        "deterministic_expected_cost_usd": det_dist.expected_cost_usd,
        "deterministic_cvar_usd": det_dist.cvar_usd,
    }

    frontier = []
    weights = sorted({*frontier_weights, lam})
    for i, w in enumerate(weights):
        progress("frontier", i, len(weights))
        sol = rec if w == lam else solve_plan(setup, fit, w, alpha, method)
        d = Distribution.of(sol.sample_cost_usd, p, alpha)
        frontier.append(
            {
                "risk_weight": w,
                "expected_cost_usd": d.expected_cost_usd,
                "cvar_usd": d.cvar_usd,
                "p95_cost_usd": d.p95_cost_usd,
                "first_stage_usd": first.cost(sol.values),
                "committed_t": sum(v for v in sol.values if v > EPS_COMMIT),
            }
        )

    progress("protection per commitment", 0, 1)
    unmet = list(rec.sample_unmet_t)
    protection = protection_table(first, rec.values, fit, rec_dist, unmet, alpha)

    eval_draws = draw_samples(setup.risks, base, eval_samples, eval_seed(seed))
    progress("out-of-sample evaluation", 0, 2)
    oos = [
        out_of_sample(
            plan_chunks(setup, scenario, eval_draws, values),
            first,
            values,
            alpha,
            executor,
            workers,
            scheduler,
        )
        for values in (rec.values, det.values)
    ]
    progress("out-of-sample evaluation", 2, 2)
    return ResilientResult(
        scenario=scenario,
        seed=seed,
        samples=samples,
        distinct_samples=len(fit.draws),
        eval_samples=eval_samples,
        risk_weight=lam,
        cvar_level=alpha,
        method=rec.method,
        decisions=len(first.decisions),
        recommended=commitments(first, rec.values),
        deterministic_plan=commitments(first, det.values),
        in_sample=in_sample,
        recommended_eval=oos[0],
        deterministic_eval=oos[1],
        frontier=frontier,
        protection=protection,
        extensive={
            "variables": rec.variables,
            "rows": rec.rows,
            "build_s": rec.build_s,
            "highs_s": rec.highs_s,
            "method": rec.method,
        },
        risks_source="Risks sheet" if setup.from_sheet else "defaults",
        seconds=time.perf_counter() - start,
        warnings=setup.warnings,
    )


def fit_plan(
    workbook: str | Path,
    plan: str,
    scenario: str = BASELINE,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> tuple[tuple[float, ...], str]:
    """First-stage values for the stress test's fixed-plan mode, with a label.

    plan: `deterministic` (no-disruption plan), `recommended` (the stochastic plan on
    `samples` draws of the stream `eval_seed(seed)`, at the workbook's risk weight and
    CVaR level) or
    `workbook` (every decision at its lower bound: what the workbook already commits).
    """
    setup = prepare_run(workbook, scenario)
    first = setup.first
    if plan == "workbook":
        return tuple(d.lower_t for d in first.decisions), "workbook commitments (lower bounds)"
    if plan == "deterministic":
        return tuple(deterministic(setup).values), "deterministic plan (no disruption)"
    if plan == "recommended":
        s = setup.inputs.settings
        # fitted on a stream independent of the stress test's own draws from `seed`
        draws = draw_samples(setup.risks, first.second, samples, eval_seed(seed))
        sol = solve_plan(setup, sample_set(setup.stage, draws), s.risk_weight, s.cvar_level)
        return tuple(
            sol.values
        ), f"recommended plan (fitted on {samples} samples independent of the stress draws)"
    raise ValueError(f"unknown plan {plan!r} (deterministic, recommended, workbook)")
