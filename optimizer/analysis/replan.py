"""What every what-if analysis shares: re-solve a warm engine on changed data, cost per material.

Every analysis re-solves one built model: it changes parameters through the
engine's `update` (which rebuilds only when the index sets change) and lets
HiGHS warm-start from the previous basis. Money is USD, quantities t, rates
fractions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import ModelData
from optimizer.model.solution import Engine, Solution


def material_spend(data: ModelData, sol: Solution) -> dict[str, float]:
    """Buyer spend per material, USD: landed purchases, take-or-pay and holding (never the
    unmet-demand penalty, a modelling price). With a supply chain, a cost counts under the
    material it is paid on: a shipment's price, freight and tariff under what it carries, a
    process's fee under its output."""
    cost = dict.fromkeys(data.materials, 0.0)
    for b, q in sol.x.items():
        cost[b[1]] += q * KG_PER_T * data.buys[b].landed
    chain = data.chain
    if chain is not None:
        for act, q in sol.chain.get("y", {}).items():
            a = chain.acts[act]
            cost[a.output] += q * KG_PER_T * a.fee_usd_per_kg
        for e, q in sol.chain.get("f", {}).items():
            cost[e[2]] += q * KG_PER_T * chain.ships[e].spend_usd_per_kg
    for b, q in sol.untaken.items():
        cost[b[1]] += q * KG_PER_T * data.take_or_pay[b][1] * data.buys[b].price_paid
    for (m, _), q in sol.stock.items():
        cost[m] += q * KG_PER_T * data.stock[m].holding_usd_per_kg
    return cost


def plan_totals(data: ModelData, sol: Solution) -> dict[str, float]:
    """Buyer spend, fiscal cost and penalty of a solution (USD) and its unmet tonnes.

    spend + penalty (+ fiscal in the national-cost view) is the objective.
    """
    spend = sum(material_spend(data, sol).values())
    fiscal = sum(q * KG_PER_T * data.buys[b].support_usd_per_kg for b, q in sol.x.items())
    if data.chain is not None:
        ships = data.chain.ships
        fiscal += sum(
            q * KG_PER_T * ships[e].support_usd_per_kg for e, q in sol.chain.get("f", {}).items()
        )
    unmet = sum(sol.unmet.values())
    return {
        "buyer_spend_usd": spend,
        "fiscal_cost_usd": fiscal,
        "penalty_usd": unmet * KG_PER_T * data.settings.unmet_penalty_usd_per_kg,
        "unmet_t": unmet,
    }


def unmet_by_material(data: ModelData, sol: Solution) -> dict[str, float]:
    """Unmet tonnes per material over all periods (every material, 0 when met)."""
    out = dict.fromkeys(data.materials, 0.0)
    for (m, _), q in sol.unmet.items():
        out[m] += q
    return out


def resolve(opt: Engine, data: ModelData) -> Solution:
    """Point `opt` at `data` and solve (warm when the structure is unchanged)."""
    opt.update(data)
    return opt.solve()


def with_settings(data: ModelData, **changes: Any) -> ModelData:
    """A copy of `data` with some settings changed."""
    return replace(data, settings=replace(data.settings, **changes))
