"""Evaluating two-stage plans: sample sets, cost distributions, fixed-plan re-solves.

What `optimizer.analysis.resilient` measures a plan with. A plan is a vector of
first-stage values (optimizer.model.first_stage); evaluating it re-plans the second
stage of every sample on a warm one-stage engine (`plan_data` makes the fixed plan an
ordinary ModelData), in sample (serially, on the merged distinct samples) or out of
sample (on the stress test's chunked executor, one outcome per drawn sample). Total
cost is the objective (buyer spend plus the modelling prices) plus the first-stage
cost, USD; unmet demand in t.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer.analysis.risks import Disruption, sample_block
from optimizer.analysis.stress import StressChunk, solve_sample, stress_chunk
from optimizer.common.executor import Executor, TaskOutcome, run_tasks
from optimizer.contract.schema import KG_PER_T
from optimizer.model.extensive import (
    OneStage,
    SampleVectors,
    cvar,
    quantile,
    solve_extensive,
)
from optimizer.model.fast import FastOptimizer
from optimizer.model.first_stage import (
    EPS_COMMIT,
    STOCKPILE,
    FirstStage,
    plan_data,
)
from optimizer.model.solution import EPS_T

#: progress(what, done, total): long runs report their phases through it
Progress = Callable[[str, int, int], None]


def quiet(_what: str, _done: int, _total: int) -> None:
    """The default progress callback: say nothing."""


@dataclass
class SampleSet:
    """Distinct disruption samples with their probabilities and their extensive-form vectors."""

    draws: list[tuple[Disruption, ...]]
    probabilities: list[float]
    vectors: list[SampleVectors]
    keeps: list[list[float]]
    drawn: int  # samples drawn (before identical ones were merged)


def sample_set(
    stage: OneStage, draws: Sequence[tuple[Disruption, ...]], progress: Progress = quiet
) -> SampleSet:
    """Merge identical draws and compute each distinct sample's vectors."""
    counts = Counter(draws)
    n = len(draws)
    out = SampleSet([], [], [], [], n)
    for i, (drawn, count) in enumerate(counts.items()):
        vectors, keeps = sample_block(stage, drawn)
        out.draws.append(drawn)
        out.probabilities.append(count / n)
        out.vectors.append(vectors)
        out.keeps.append(keeps)
        if i % 200 == 0:
            progress("building samples", i, len(counts))
    return out


@dataclass(frozen=True)
class Distribution:
    """Statistics of total cost (objective + first stage) over a weighted sample set."""

    expected_cost_usd: float
    cvar_usd: float
    p50_cost_usd: float
    p95_cost_usd: float

    @staticmethod
    def of(costs: Any, probabilities: Sequence[float], alpha: float) -> Distribution:
        """The statistics of `costs` (a sequence or array) weighted by `probabilities`."""
        return Distribution(
            float(np.dot(probabilities, costs)),
            cvar(costs, probabilities, alpha),
            quantile(costs, probabilities, 0.5),
            quantile(costs, probabilities, 0.95),
        )

    def objective(self, risk_weight: float) -> float:
        """E + lambda x CVaR: what the stochastic plan minimises."""
        return self.expected_cost_usd + risk_weight * self.cvar_usd


def evaluate_in_sample(
    first: FirstStage,
    values: Sequence[float],
    samples: SampleSet,
    engine: FastOptimizer | None = None,
) -> tuple[list[float], list[float]]:
    """Total cost and unmet t per distinct sample of a fixed plan (warm one-stage re-solves;
    `engine`: one to re-use, as every plan of a first stage has the same structure)."""
    data = plan_data(first, values)
    opt = engine if engine is not None else FastOptimizer(data, threads=1)
    fixed = first.cost(values)
    costs, unmet = [], []
    for drawn in samples.draws:
        out = solve_sample(opt, data, drawn)
        costs.append(math.inf if out.total_cost_usd is None else out.total_cost_usd + fixed)
        unmet.append(sum(out.unmet_t))
    return costs, unmet


def wait_and_see(stage: OneStage, samples: SampleSet, progress: Progress = quiet) -> list[float]:
    """Each sample's optimum with hindsight: first stage chosen for that sample alone."""
    out = []
    for i, (vec, keep) in enumerate(zip(samples.vectors, samples.keeps, strict=True)):
        sol = solve_extensive(stage, [vec], [keep], [1.0], threads=1)
        out.append(sol.objective_usd if sol.status == "optimal" else math.inf)
        if i % 100 == 0:
            progress("wait-and-see", i, len(samples.vectors))
    return out


@dataclass
class OutOfSample:
    """A plan evaluated on the independent sample set (every sample, not merged)."""

    distribution: Distribution
    buyer_spend_usd: float  # expected, first stage included
    fiscal_cost_usd: float
    expected_unmet_t: float
    shortfall: list[dict[str, Any]]  # per material: probability, expected t, P95 t
    solved: int
    unsolved: int
    costs: list[float] = field(default_factory=list, repr=False)

    def record(self) -> dict[str, Any]:
        d = self.distribution
        return {
            "expected_cost_usd": d.expected_cost_usd,
            "cvar_usd": d.cvar_usd,
            "p50_cost_usd": d.p50_cost_usd,
            "p95_cost_usd": d.p95_cost_usd,
            "buyer_spend_usd": self.buyer_spend_usd,
            "fiscal_cost_usd": self.fiscal_cost_usd,
            "expected_unmet_t": self.expected_unmet_t,
            "solved_samples": self.solved,
            "unsolved_samples": self.unsolved,
            "shortfall": self.shortfall,
        }


def out_of_sample(
    chunks: list[tuple[str, StressChunk]],
    first: FirstStage,
    values: Sequence[float],
    alpha: float,
    executor: Executor,
    workers: int,
    scheduler: str | None,
) -> OutOfSample:
    """Evaluate a fixed plan on the stress test's chunked executor (same numbers on any
    worker count: chunks are fixed and re-solved in order)."""
    outcomes: list[TaskOutcome[Any]] = run_tasks(stress_chunk, chunks, executor, workers, scheduler)
    materials = first.second.materials
    costs, spend, fiscal, unmet = [], [], [], []
    unsolved = 0
    for (_, chunk), out in zip(chunks, outcomes, strict=True):
        results = out.value if out.ok and out.value is not None else [None] * len(chunk.samples)
        for o in results:
            if o is None or o.total_cost_usd is None:
                unsolved += 1
                continue
            costs.append(o.total_cost_usd)  # first stage included (stress_chunk adds it)
            spend.append(o.buyer_spend_usd or 0.0)
            fiscal.append(o.fiscal_cost_usd or 0.0)
            unmet.append(o.unmet_t)
    n = len(costs)
    p = [1.0 / n] * n if n else []
    q = np.asarray(unmet, dtype=float).reshape(n, len(materials))
    shortfall = [
        {
            "material": m,
            "probability": float((q[:, j] > EPS_T).mean()) if n else math.nan,
            "expected_t": float(q[:, j].mean()) if n else math.nan,
            "p95_t": float(np.percentile(q[:, j], 95)) if n else math.nan,
        }
        for j, m in enumerate(materials)
        if n and q[:, j].max() > EPS_T
    ]
    nan = math.nan
    return OutOfSample(
        Distribution.of(costs, p, alpha) if n else Distribution(nan, nan, nan, nan),
        float(np.mean(spend)) if n else nan,
        float(np.mean(fiscal)) if n else nan,
        float(q.sum(axis=1).mean()) if n else nan,
        shortfall,
        n,
        unsolved,
        costs,
    )


def protection_table(
    first: FirstStage,
    values: Sequence[float],
    samples: SampleSet,
    with_all: Distribution,
    unmet_with: Sequence[float],
    alpha: float,
) -> list[dict[str, Any]]:
    """Per commitment (a workbook row: one contract or one build, all its periods) above its
    lower bounds: drop it alone to them and re-plan every sample. Reports the CVaR and the
    expected unmet tonnes it saves, and CVaR saved per USD it commits (volume at the landed
    price, plus fees). Ranked by protection per USD, best first. `with_all` and `unmet_with`
    (t per sample) are the plan's own, as its solve gave them.
    """
    expected_unmet = float(np.dot(samples.probabilities, unmet_with))
    engine: FastOptimizer | None = None
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, d in enumerate(first.decisions):
        if values[i] - d.lower_t > EPS_COMMIT:
            groups.setdefault((d.kind, d.supplier, d.material), []).append(i)
    rows: list[dict[str, Any]] = []
    for (kind, supplier, material), members in groups.items():
        dropped = list(values)
        volume = committed = 0.0
        for i in members:
            d = first.decisions[i]
            dropped[i] = d.lower_t
            q = values[i] - d.lower_t
            price = d.fee_usd_per_kg
            if d.kind != STOCKPILE:
                price += first.second.buys[d.buy].landed
            volume += q
            committed += q * KG_PER_T * price
        if engine is None:
            engine = FastOptimizer(plan_data(first, dropped), threads=1)
        costs, unmet = evaluate_in_sample(first, dropped, samples, engine)
        without = Distribution.of(costs, samples.probabilities, alpha)
        saved = without.cvar_usd - with_all.cvar_usd
        rows.append(
            {
                "kind": kind,
                "supplier": supplier,
                "material": material,
                "periods": ", ".join(first.decisions[i].period for i in members),
                "quantity_t": volume,
                "committed_usd": committed,
                "cvar_saved_usd": saved,
                "expected_cost_saved_usd": without.expected_cost_usd - with_all.expected_cost_usd,
                "expected_unmet_saved_t": float(np.dot(samples.probabilities, unmet))
                - expected_unmet,
                "protection_per_usd": saved / committed if committed > 0 else math.nan,
            }
        )
    rows.sort(key=lambda r: -float(r["protection_per_usd"]) if r["committed_usd"] else 0.0)
    return rows
