"""A test-only extensive form of the two-stage plan, built in Pyomo block by block.

optimizer.model.extensive replicates one compiled sample as sparse blocks (numpy,
scipy, highspy). This builds the same LP the slow, obvious way, so the two can be
compared (tests/test_resilient_reference.py): one Pyomo sub-block per sample,
each the full one-stage model `build_model(apply_disruptions(first.second, drawn))`
with its own objective `cost` (deactivated; its expression is the sample's
second-stage cost), the first-stage columns z (and eta) on the top model, and the
coupling written from the math of optimizer.model.first_stage's docstring:

    access      purchase_s(b) <= keep_sb z_b                     (every offtake)
    firm        purchase_s(b) >= keep_sb z_b                     (take_or_pay blank)
    take-or-pay w_s[b] >= keep_sb z_b - purchase_s(b)            (paid at f x price_paid,
                                                                  the sample's objective)
    stock build k_m added to the side of the first balance row that holds initial[m]
    CVaR        xi_s >= c1 z + cost_s - eta,  xi_s >= 0,  eta free

    min  c1 z + sum_s p_s cost_s + lambda (eta + 1/(1-alpha) sum_s p_s xi_s)

purchase_s(b) is x[b] plus (contract v2) the offer's shipments to facilities
f[e], e in chain.offer_ships[b]; keep_sb comes from `effects` (force majeure);
c1 = 1000 x the decision's fee (reserve fee or build price, USD/kg). The decided
purchase's own offtake_min / take_or_pay rows (opened to 0 by first_stage) are
replaced by the rows above. Solved with Pyomo's HiGHS interface
(pyomo.contrib.solver), as the reference engine (optimizer.model.reference) does.
Nothing here reads extensive.py's assembly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs
from pyomo.core.expr.visitor import identify_mutable_parameters

from optimizer.analysis.risks import Disruption, apply_disruptions, effects
from optimizer.model.build import build_model
from optimizer.model.first_stage import FIRM, OPTION, STOCKPILE, TAKE_OR_PAY, FirstStage

KG_PER_T = 1000.0  # USD/kg x t -> USD (written out: not imported from the code under test)


@dataclass
class Reference:
    """The Pyomo extensive form, its solver and the optimum (after `solve`)."""

    model: pyo.ConcreteModel
    solver: Highs
    objective_usd: float = float("nan")
    values: tuple[float, ...] = ()
    #: per draw: first-stage cost plus the sample's own objective at the optimum, USD
    sample_cost_usd: tuple[float, ...] = ()
    status: str = ""


def _purchase(blk: pyo.Block, data: Any, b: tuple[str, str, str]) -> Any:
    """What offer b sells in a sample block: x[b] plus its shipments to facilities (v2)."""
    expr = blk.x[b]
    if data.chain is not None:
        for e in data.chain.offer_ships.get(b, ()):
            expr = expr + blk.f[e]
    return expr


def _add_build(blk: pyo.Block, material: str, period: str, k: Any) -> None:
    """Add stock build k to the first balance row, on the side that holds initial[m]."""
    con = blk.balance[material, period]
    lhs, rhs = con.expr.args
    initial = blk.initial[material]
    on_lhs = any(p is initial for p in identify_mutable_parameters(lhs))
    on_rhs = any(p is initial for p in identify_mutable_parameters(rhs))
    if on_lhs == on_rhs:
        raise AssertionError(f"initial[{material}] not on exactly one side of {con.name}")
    con.set_value(lhs + k == rhs if on_lhs else lhs == rhs + k)


def build_reference(
    first: FirstStage,
    draws: Sequence[Sequence[Disruption]],
    probabilities: Sequence[float],
    risk_weight: float = 0.0,
    alpha: float = 0.95,
) -> pyo.ConcreteModel:
    """The extensive form over `draws` (one block each, duplicates allowed) as a Pyomo model."""
    if len(draws) != len(probabilities) or not draws:
        raise ValueError("need one probability per draw (and a draw)")
    decisions = first.decisions
    top = pyo.ConcreteModel(name="extensive_reference")
    n = len(decisions)
    top.z = pyo.Var(range(n), bounds=lambda m, i: (decisions[i].lower_t, decisions[i].upper_t))
    cvar = risk_weight > 0
    if cvar:
        top.eta = pyo.Var(domain=pyo.Reals)
        top.xi = pyo.Var(range(len(draws)), domain=pyo.NonNegativeReals)
        top.cvar_row = pyo.ConstraintList()
    top.first_cost = pyo.Expression(
        expr=sum(KG_PER_T * d.fee_usd_per_kg * top.z[i] for i, d in enumerate(decisions))
    )
    top.sample_cost = pyo.Expression(range(len(draws)))
    for s, drawn in enumerate(draws):
        data = apply_disruptions(first.second, drawn)
        keep, _, _ = effects(first.second, drawn)
        sample = build_model(data).model
        blk = pyo.Block()
        top.add_component(f"s{s}", blk)
        blk.transfer_attributes_from(sample)
        blk.cost.deactivate()
        blk.coupling = pyo.ConstraintList()
        for i, d in enumerate(decisions):
            z = top.z[i]
            if d.kind == STOCKPILE:
                _add_build(blk, d.material, d.period, z)
                continue
            b = d.buy
            kept = keep.get(b, 1.0)
            bought = _purchase(blk, data, b)
            blk.coupling.add(bought <= kept * z)
            if d.binding == FIRM:
                blk.offtake_min[b].deactivate()
                blk.coupling.add(bought >= kept * z)
            elif d.binding == TAKE_OR_PAY:
                blk.take_or_pay[b].deactivate()
                blk.coupling.add(blk.w[b] >= kept * z - bought)
            elif d.binding != OPTION:
                raise AssertionError(f"unknown binding {d.binding!r}")
        blk.second_cost = pyo.Expression(expr=blk.cost.expr)
        top.sample_cost[s] = top.first_cost + blk.second_cost
        if cvar:
            top.cvar_row.add(top.xi[s] >= top.sample_cost[s] - top.eta)
    blocks = [top.component(f"s{s}") for s in range(len(draws))]
    expected = top.first_cost + sum(
        p * blk.second_cost for p, blk in zip(probabilities, blocks, strict=True)
    )
    risk = 0
    if cvar:
        tail = sum(p * top.xi[s] for s, p in enumerate(probabilities)) / (1.0 - alpha)
        risk = risk_weight * (top.eta + tail)
    top.objective = pyo.Objective(expr=expected + risk, sense=pyo.minimize)
    return top


def _solver() -> Highs:
    solver = Highs()
    solver.config.load_solutions = False
    solver.config.raise_exception_on_nonoptimal_result = False
    solver.config.threads = 1
    return solver


def _run(ref: Reference) -> Any:
    results = ref.solver.solve(ref.model)
    ref.status = results.termination_condition.name
    if results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
        return None
    results.solution_loader.load_vars()
    return results


def solve_reference(
    first: FirstStage,
    draws: Sequence[Sequence[Disruption]],
    probabilities: Sequence[float],
    risk_weight: float = 0.0,
    alpha: float = 0.95,
) -> Reference:
    """Build and solve the Pyomo extensive form; objective (USD) and first-stage values."""
    ref = Reference(build_reference(first, draws, probabilities, risk_weight, alpha), _solver())
    results = _run(ref)
    if results is not None:
        ref.objective_usd = float(results.incumbent_objective)
        ref.values = tuple(float(pyo.value(v)) for v in ref.model.z.values())
        ref.sample_cost_usd = tuple(float(pyo.value(e)) for e in ref.model.sample_cost.values())
    return ref


def first_stage_spread(ref: Reference, slack_usd: float) -> list[float]:
    """Per decision, max - min of z_i over the solutions within `slack_usd` of the optimum.

    A unique optimal first stage shows as spreads of order slack / (the least rate,
    USD per t, at which moving z_i off its optimum costs); an alternative optimum as a
    spread of its own size. The model is left with its objective restored.
    """
    m = ref.model
    main = m.objective
    m.near_optimal = pyo.Constraint(expr=main.expr <= ref.objective_usd + slack_usd)
    main.deactivate()
    spreads = []
    try:
        for i in m.z:
            ends = []
            for sense in (pyo.minimize, pyo.maximize):
                m.probe = pyo.Objective(expr=m.z[i], sense=sense)
                if _run(ref) is None:
                    raise AssertionError(f"probe of z[{i}] is {ref.status}")
                ends.append(float(pyo.value(m.z[i])))
                m.del_component(m.probe)
            spreads.append(ends[1] - ends[0])
    finally:
        m.del_component(m.near_optimal)
        main.activate()
    return spreads
