"""What both engines share: answers without a solver, and a solve's message from its status.

An infeasible answer is explained in the planner's words (`optimizer.model.explain`).
"""

from __future__ import annotations

import math
import time

import highspy
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.model.data import ModelData
from optimizer.model.explain import explain_infeasible
from optimizer.model.solution import Engine, Solution, Status

#: HiGHS model status -> Pyomo termination condition, as Pyomo's HiGHS interface maps it,
#: so `optimizer.model.engine.status_of` gives the same Status for both paths.
_TERMINATION = {
    "kNotset": TerminationCondition.unknown,
    "kLoadError": TerminationCondition.error,
    "kModelError": TerminationCondition.error,
    "kPresolveError": TerminationCondition.error,
    "kSolveError": TerminationCondition.error,
    "kPostsolveError": TerminationCondition.error,
    "kModelEmpty": TerminationCondition.unknown,
    "kOptimal": TerminationCondition.convergenceCriteriaSatisfied,
    "kInfeasible": TerminationCondition.provenInfeasible,
    "kUnboundedOrInfeasible": TerminationCondition.infeasibleOrUnbounded,
    "kUnbounded": TerminationCondition.unbounded,
    "kObjectiveBound": TerminationCondition.objectiveLimit,
    "kObjectiveTarget": TerminationCondition.objectiveLimit,
    "kTimeLimit": TerminationCondition.maxTimeLimit,
    "kIterationLimit": TerminationCondition.iterationLimit,
    "kSolutionLimit": TerminationCondition.iterationLimit,
    "kUnknown": TerminationCondition.unknown,
}


#: Model statuses after a warm run that mean "HiGHS failed", not "the LP is so".
WARM_FAILURES = (
    highspy.HighsModelStatus.kNotset,
    highspy.HighsModelStatus.kSolveError,
    highspy.HighsModelStatus.kUnknown,
)


def retry_without_presolve(highs: highspy.Highs) -> None:
    """Re-run a failed LP from scratch with presolve off.

    HiGHS 1.x's presolve can end in model status kNotset on an LP that solves without it
    (measured: the default workbook with a stock build and both China rare-earth
    suppliers out, under `sourcing resilient`); a cold run without presolve answers.
    """
    highs.setOptionValue("presolve", "off")
    try:
        highs.clearSolver()
        highs.run()
    finally:
        highs.setOptionValue("presolve", "choose")


def termination(status: highspy.HighsModelStatus) -> TerminationCondition:
    """The Pyomo termination condition of a HiGHS model status (as Pyomo's interface maps it)."""
    return _TERMINATION.get(status.name, TerminationCondition.unknown)


def answer_without_solver(data: ModelData) -> Solution | None:
    """The answer when HiGHS need not (or cannot usefully) run; None otherwise.

    Demand with no offer, no stock and unmet not allowed is infeasible, said in
    the planner's words; a model with no variable at all is the empty plan
    (HiGHS would answer "unknown"). `seconds` is the time this check took.
    """
    start = time.perf_counter()
    early = _unmeetable_demand(data)
    if early:
        return Solution(
            Status.INFEASIBLE,
            "demand cannot be met and allow_unmet is FALSE: " + "; ".join(early),
            conflicts=early,
            seconds=time.perf_counter() - start,
        )
    if (
        not data.buys
        and not data.stock
        and not data.settings.allow_unmet
        and (data.chain is None or not data.chain.acts)
    ):
        return Solution(
            Status.OPTIMAL,
            "empty model: no purchase is possible and no demand is to be met",
            objective_usd=0.0,
            best_bound_usd=0.0,
            seconds=time.perf_counter() - start,
        )
    return None


def finish(
    solution: Solution,
    engine: Engine,
    incumbent: float | None,
    bound: float | None,
    termination: str,
) -> None:
    """Objective, bound and message of a solve from its status (both engines).

    `incumbent`: the objective of the plan HiGHS holds (None without one);
    `bound`: the proven bound at a time limit; `termination`: the solver's own
    word for an error. An infeasible answer is explained from the engine.
    """
    status = solution.status
    if status is Status.OPTIMAL:
        solution.objective_usd = incumbent
        solution.best_bound_usd = incumbent
        solution.message = "optimal"
    elif status is Status.TIME_LIMIT:
        solution.objective_usd = incumbent
        solution.best_bound_usd = bound
        solution.message = (
            f"time limit reached; best plan found costs {incumbent:,.0f} USD"
            if incumbent is not None
            else "time limit reached before any feasible plan was found"
        )
    elif status is Status.INFEASIBLE:
        solution.conflicts = explain_infeasible(engine)
        solution.message = "infeasible: " + "; ".join(solution.conflicts)
    elif status is Status.UNBOUNDED:
        solution.message = "unbounded: some cost can fall without limit (check for negative costs)"
    else:
        solution.message = f"solver error ({termination})"


def finite_or_inf(value: float) -> float:
    """HiGHS reports infinity as kHighsInf (1e30 and beyond)."""
    if value >= highspy.kHighsInf:
        return math.inf
    if value <= -highspy.kHighsInf:
        return -math.inf
    return float(value)


def status_of(tc: TerminationCondition) -> Status:
    if tc is TerminationCondition.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if tc is TerminationCondition.provenInfeasible:
        return Status.INFEASIBLE
    if tc is TerminationCondition.unbounded:
        return Status.UNBOUNDED
    if tc is TerminationCondition.infeasibleOrUnbounded:
        return Status.INFEASIBLE  # confirmed or corrected by the presolve-off re-run
    if tc is TerminationCondition.maxTimeLimit:
        return Status.TIME_LIMIT
    return Status.ERROR


def _unmeetable_demand(data: ModelData) -> list[str]:
    """(material, period) pairs with demand, no offer, no stock and unmet not allowed."""
    if data.settings.allow_unmet:
        return []
    offered = {(b[1], b[2]) for b in data.buys}
    if data.chain is not None:  # or a shipment from a facility's process
        offered |= set(data.chain.to_buyer)
    what = "no offer" if data.chain is None else "no offer or process supplies it"
    out = [
        f"{mat} {t}: demand {q:,.6g} t but {what} in that period"
        for (mat, t), q in data.demand.items()
        if q > 0 and (mat, t) not in offered and mat not in data.stock
    ]
    chain = data.chain
    if chain is not None and chain.grades:
        compliant = {(b[1], b[2]) for b, d in data.buys.items() if d.compliant}
        compliant |= {(e[2], e[4]) for keys in chain.to_buyer.values() for e in keys if e[5] == "C"}
        out += [
            f"{mat} {t}: compliant demand {q:,.6g} t but nothing compliant can reach the buyer "
            "in that period"
            for (mat, t), q in chain.compliant_demand.items()
            if q > 0 and (mat, t) not in compliant and mat not in chain.compliant_stock
        ]
    return out
