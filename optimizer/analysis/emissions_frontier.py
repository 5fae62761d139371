r"""The cost-vs-emissions frontier by the epsilon-constraint method, and the least reachable
emissions of a cap.

1. The unconstrained plan (the workbook's own levers) gives E_max, the
   emissions as a cap counts them (stated intensities, and for the sources
   without one what Settings `unknown_emissions` assumes).
2. The minimum: minimise E + M * unmet (M = 1e6 t CO2e per t unmet, so no plan
   lowers its emissions by leaving more demand unmet than it must), which
   gives E_min. A pure-emissions objective has many optimal plans (every plan
   that differs only in costs the emissions do not see: which of two clean
   offers, when stock is built, which route), so its cost is arbitrary; the
   frontier's last point is therefore the cheapest plan with E <= E_min: cost
   regularises it (a lexicographic second phase, exact, not a weighted sum).
3. Between them, `points` caps evenly spaced from E_max to E_min: minimise
   cost s.t. E <= cap (one EmissionsCaps row over all materials and the whole
   horizon; the workbook's own caps stay). Each point is a warm re-solve; the
   cap's dual is the marginal abatement cost, USD per t CO2e.

Cost never falls as the cap tightens: each point's feasible set is inside the
previous one's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis.replan import plan_totals
from optimizer.common.format import money_m
from optimizer.contract.records import Inputs
from optimizer.model.data import ModelData, prepare
from optimizer.model.emissions import ALL, CapKey, EmissionsData, cap_terms, plan_emissions
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Solution, Status

#: t CO2e per t of unmet demand in the emissions-only objective: above any intensity
UNMET_WEIGHT = 1e6
#: The last cap sits this much (relative) above E_min, so rounding cannot make it infeasible.
SLACK = 1e-9

COLUMNS = [
    "point",
    "emissions_cap_t_co2e",
    "emissions_t_co2e",
    "counted_t_co2e",
    "unknown_t",
    "total_cost_usd",
    "buyer_spend_usd",
    "cost_delta_usd",
    "fiscal_cost_usd",
    "unmet_t",
    "abatement_usd_per_t_co2e",
    "status",
]


@dataclass
class EmissionsFrontier:
    """One row per point, from the unconstrained plan to the least-emissions plan."""

    scenario: str
    table: pd.DataFrame
    max_t_co2e: float
    min_t_co2e: float
    sentence: str
    note: str
    seconds: float = 0.0


def emissions_coefficients(data: ModelData, lp: Any, key: CapKey = (ALL, ALL)) -> np.ndarray:
    """t CO2e per unit of each canonical column, as a cap row `key` counts them."""
    positions = {
        (family, k): first + i
        for family, (first, keys) in lp.columns.items()
        for i, k in enumerate(keys)
    }
    coef = np.zeros(lp.num_col)
    for column, c in cap_terms(data, key):
        coef[positions[column]] = c
    return coef


def least_emissions(opt: FastOptimizer, key: CapKey = (ALL, ALL)) -> float | None:
    """The least a plan of `opt`'s LP can emit as cap `key` counts it (demand served as far
    as the supply allows), or None when that LP has no plan."""
    lp = opt.lp
    own = emissions_coefficients(opt.data, lp, key)
    coef = own.copy()
    for name in ("u", "uc"):
        if name in lp.columns:
            first, keys = lp.columns[name]
            coef[first : first + len(keys)] = UNMET_WEIGHT
    values = opt.probe_objective(coef)
    if values is None:
        return None
    return float(np.dot(own, np.maximum(values, 0.0)))


def _with_cap(data: ModelData, cap: float) -> ModelData:
    em = data.emissions or EmissionsData(0.0, {}, {}, {})
    caps = dict(em.caps)
    caps[(ALL, ALL)] = min(cap, caps.get((ALL, ALL), cap))
    return replace(data, emissions=replace(em, caps=caps))


def emissions_frontier(
    inputs: Inputs, points: int = 11, scenario: str = "baseline"
) -> EmissionsFrontier:
    """Sweep a cap on all emissions from the unconstrained plan's to the least reachable."""
    start = time.perf_counter()
    data = prepare(inputs)
    opt = FastOptimizer(data)
    base = opt.solve()
    if base.status is not Status.OPTIMAL:
        table = pd.DataFrame(columns=COLUMNS)
        msg = f"the plan without a cap is {base.status.value}: {base.message}"
        return EmissionsFrontier(scenario, table, 0.0, 0.0, msg, msg)
    e_max = plan_emissions(data, base)[1]
    e_min = least_emissions(opt) or 0.0
    e_min = min(e_min, e_max)
    spend0 = plan_totals(data, base)["buyer_spend_usd"]
    caps = np.linspace(e_max, e_min, max(points, 2))
    rows = []
    for i, cap in enumerate(caps):
        if i == len(caps) - 1:
            cap = e_min * (1 + SLACK) + SLACK
        capped = _with_cap(data, float(cap))
        opt.update(capped)
        sol = opt.solve()
        rows.append(_point(i, float(cap), capped, sol, spend0))
    table = pd.DataFrame(rows, columns=COLUMNS)
    ok = table[table["status"] == "optimal"]
    span = e_max - e_min
    cost = float(ok["buyer_spend_usd"].iloc[-1] - spend0) if len(ok) else float("nan")
    sentence = (
        f"{scenario}: the unconstrained plan emits {e_max:,.0f} t CO2e; the least any plan can "
        f"emit is {e_min:,.0f} t CO2e ({span / e_max:.0%} less)"
        if e_max > 0
        else f"{scenario}: the plan emits nothing that a stated intensity counts"
    )
    if len(ok) and e_max > 0:
        sentence += f", for {money_m(cost, signed=True)} of buyer spend"
    note = (
        "Emissions as the cap counts them (counted_t_co2e: stated intensities, and what "
        f"Settings unknown_emissions = {inputs.settings.unknown_emissions} assumes for the rest); "
        "emissions_t_co2e counts stated intensities only. The last point is the cheapest "
        "least-emissions plan (cost regularises a pure-emissions objective). Abatement: the "
        "cap's dual, USD per t CO2e."
    )
    return EmissionsFrontier(
        scenario, table, e_max, e_min, sentence, note, time.perf_counter() - start
    )


def _point(i: int, cap: float, data: ModelData, sol: Solution, spend0: float) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(point=i, emissions_cap_t_co2e=cap, status=sol.status.value)
    if sol.status is not Status.OPTIMAL:
        return row
    totals = plan_totals(data, sol)
    stated, counted, unknown = plan_emissions(data, sol)
    dual = sol.duals.get("emissions_cap", {}).get((ALL, ALL), 0.0)
    row.update(
        emissions_t_co2e=stated,
        counted_t_co2e=counted,
        unknown_t=unknown,
        total_cost_usd=sol.objective_usd,
        buyer_spend_usd=totals["buyer_spend_usd"],
        cost_delta_usd=totals["buyer_spend_usd"] - spend0,
        fiscal_cost_usd=totals["fiscal_cost_usd"],
        unmet_t=totals["unmet_t"],
        abatement_usd_per_t_co2e=max(0.0, -float(dual)),
    )
    return row


def unreachable_caps(inputs: Inputs, data: ModelData) -> list[str]:
    """For an infeasible plan: each EmissionsCaps row below the least any plan can emit as it
    counts (the other rows lifted), cited at its cell, with that least value."""
    em = data.emissions
    if em is None or not em.caps:
        return []
    free = replace(data, emissions=replace(em, caps={}))
    opt = FastOptimizer(free)
    out = []
    for cap in inputs.emission_caps:
        key = (cap.material or ALL, cap.period or ALL)
        least = least_emissions(opt, key)
        if least is not None and least > cap.max_t_co2e * (1 + 1e-9) + 1e-9:
            what = f"{cap.material or 'all materials'}, {cap.period or 'the whole horizon'}"
            out.append(
                f"{cap.refs.get('max_t_co2e', 'EmissionsCaps')}: the cap of "
                f"{cap.max_t_co2e:,.1f} t CO2e ({what}) cannot be met: the least any plan can "
                f"emit there is {least:,.1f} t CO2e"
            )
    return out
