r"""The sourcing LP in Pyomo: one function per constraint family.

Notation (see docs/model.md): buys b = (supplier s, material m, period t);
x[b] tonnes bought; u[m,t] unmet tonnes; v[m,t] stock at the end of t;
w[b] untaken take-or-pay tonnes. Prices are USD/kg, quantities t, so every
cost term is multiplied by 1000 to give USD.

Every coefficient that a what-if may change (prices, tariffs, freight,
bounds, capacities, demand, shares, penalty, stock figures) is a mutable
Param, so `update_model` re-targets a built model without rebuilding it and a
persistent HiGHS instance re-solves from the previous basis.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import pyomo.environ as pyo

from optimizer.model_data import Buy, ModelData, Structure
from optimizer.schema import KG_PER_T


@dataclass
class BuiltModel:
    """A Pyomo model together with the structure it was built for."""

    model: pyo.ConcreteModel
    structure: Structure
    data: ModelData


def build_model(data: ModelData) -> BuiltModel:
    """Build the LP; reads like a table of contents of the model."""
    m = pyo.ConcreteModel(name="sourcing")
    add_sets(m, data)
    add_parameters(m, data)
    add_variables(m, data)
    add_demand_balance(m, data)
    add_stock_reserve(m, data)
    add_facility_capacity(m, data)
    add_offtake_minimum(m, data)
    add_take_or_pay(m, data)
    add_china_share_cap(m, data)
    add_country_share_cap(m, data)
    add_allied_share_minimum(m, data)
    add_objective(m, data)
    return BuiltModel(m, data.structure, data)


def add_sets(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Index sets built from the data: only purchases that exist."""
    m.T = pyo.Set(initialize=data.periods, ordered=True)
    m.M = pyo.Set(initialize=data.materials, ordered=True)
    m.MT = pyo.Set(initialize=[(mat, t) for mat in data.materials for t in data.periods])
    m.B = pyo.Set(initialize=list(data.buys), dimen=3, ordered=True)
    m.CAP = pyo.Set(initialize=list(data.capacity), dimen=2, ordered=True)
    m.HARD = pyo.Set(initialize=list(data.hard_minimum), dimen=3, ordered=True)
    m.TOP = pyo.Set(initialize=list(data.take_or_pay), dimen=3, ordered=True)
    m.S = pyo.Set(initialize=list(data.stock), ordered=True)
    m.ST = pyo.Set(initialize=[(mat, t) for mat in data.stock for t in data.periods], dimen=2)
    by_mt: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    for b in data.buys:
        by_mt[(b[1], b[2])].append(b)
    m._buys_by_mt = by_mt
    m.MT_BOUGHT = pyo.Set(initialize=[mt for mt in m.MT if by_mt.get(mt)], dimen=2)


def add_parameters(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Mutable parameters for every coefficient a what-if may change (values set by update)."""
    mutable = {"mutable": True, "within": pyo.Any}
    m.price = pyo.Param(m.B, initialize=0.0, **mutable)  # USD/kg paid (customs value)
    m.tariff = pyo.Param(m.B, initialize=0.0, **mutable)  # fraction
    m.freight = pyo.Param(m.B, initialize=0.0, **mutable)  # USD/kg
    m.upper = pyo.Param(m.B, initialize=math.inf, **mutable)  # t per period
    m.demand = pyo.Param(m.MT, initialize=0.0, **mutable)  # t
    m.capacity = pyo.Param(m.CAP, initialize=0.0, **mutable)  # t per period
    m.hard_min = pyo.Param(m.HARD, initialize=0.0, **mutable)  # t
    m.top_min = pyo.Param(m.TOP, initialize=0.0, **mutable)  # t
    m.top_cost = pyo.Param(m.TOP, initialize=0.0, **mutable)  # USD/kg on untaken minimum
    m.initial = pyo.Param(m.S, initialize=0.0, **mutable)  # t
    m.reserve = pyo.Param(m.S, initialize=0.0, **mutable)  # t
    m.holding = pyo.Param(m.S, initialize=0.0, **mutable)  # USD/kg per period
    m.penalty = pyo.Param(initialize=0.0, **mutable)  # USD/kg unmet
    m.china_share = pyo.Param(initialize=1.0, **mutable)  # fraction
    m.country_share = pyo.Param(initialize=1.0, **mutable)  # fraction
    m.allied_share = pyo.Param(initialize=0.0, **mutable)  # fraction
    set_parameters(m, data)


def set_parameters(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Write every parameter value from `data` (used at build and by update_model)."""
    for b, d in data.buys.items():
        m.price[b] = d.price_paid
        m.tariff[b] = d.tariff_rate
        m.freight[b] = d.freight
        m.upper[b] = d.upper_t
    for mt, q in data.demand.items():
        m.demand[mt] = q
    for st, q in data.capacity.items():
        m.capacity[st] = q
    for b, q in data.hard_minimum.items():
        m.hard_min[b] = q
    for b, (q, fraction) in data.take_or_pay.items():
        m.top_min[b] = q
        m.top_cost[b] = fraction * data.buys[b].price_paid
    for mat, s in data.stock.items():
        m.initial[mat] = s.initial_t
        m.reserve[mat] = s.reserve_t
        m.holding[mat] = s.holding_usd_per_kg
    settings = data.settings
    m.penalty = settings.unmet_penalty_usd_per_kg
    m.china_share = settings.max_china_share
    m.country_share = settings.max_country_share
    m.allied_share = settings.min_allied_share


def add_variables(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x[b] in [0, upper[b]] t; u[m,t] >= 0 only when unmet demand is allowed; v, w >= 0."""
    m.x = pyo.Var(m.B, bounds=lambda m, *b: (0.0, m.upper[b]))
    if data.settings.allow_unmet:
        m.u = pyo.Var(m.MT, domain=pyo.NonNegativeReals)
    m.v = pyo.Var(m.ST, domain=pyo.NonNegativeReals)
    m.w = pyo.Var(m.TOP, domain=pyo.NonNegativeReals)


def add_demand_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    """v[m,t-1] + sum_b x[b] + u[m,t] = demand[m,t] + v[m,t], with v[m,0] = initial[m]."""
    periods = list(data.periods)

    def rule(m: pyo.ConcreteModel, mat: str, t: str) -> object:
        bought = sum(m.x[b] for b in m._buys_by_mt.get((mat, t), ()))
        unmet = m.u[mat, t] if data.settings.allow_unmet else 0
        if mat in data.stock:
            i = periods.index(t)
            before = m.initial[mat] if i == 0 else m.v[mat, periods[i - 1]]
            return before + bought + unmet == m.demand[mat, t] + m.v[mat, t]
        if isinstance(bought, int) and isinstance(unmet, int):
            return pyo.Constraint.Skip  # nothing to decide; solve.py flags unmeetable demand
        return bought + unmet == m.demand[mat, t]

    m.balance = pyo.Constraint(m.MT, rule=rule)


def add_stock_reserve(m: pyo.ConcreteModel, data: ModelData) -> None:
    """v[m,t] >= reserve[m]: strategic stock kept at the end of every period."""
    m.reserve_min = pyo.Constraint(m.ST, rule=lambda m, mat, t: m.v[mat, t] >= m.reserve[mat])


def add_facility_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum over a supplier's offers in t of x <= capacity[s,t]."""
    by_st: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    for b in data.buys:
        by_st[(b[0], b[2])].append(b)
    m.facility_cap = pyo.Constraint(
        m.CAP, rule=lambda m, s, t: sum(m.x[b] for b in by_st[(s, t)]) <= m.capacity[s, t]
    )


def add_offtake_minimum(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x[b] >= min_t for offtakes with a hard minimum (no take-or-pay fraction)."""
    m.offtake_min = pyo.Constraint(m.HARD, rule=lambda m, *b: m.x[b] >= m.hard_min[b])


def add_take_or_pay(m: pyo.ConcreteModel, data: ModelData) -> None:
    """w[b] >= min_t - x[b]: the untaken minimum, paid at take_or_pay x price (objective)."""
    m.take_or_pay = pyo.Constraint(m.TOP, rule=lambda m, *b: m.w[b] >= m.top_min[b] - m.x[b])


def _bought(m: pyo.ConcreteModel, mat: str, t: str, keep: object = None) -> object:
    return sum(m.x[b] for b in m._buys_by_mt[(mat, t)] if keep is None or keep(b))  # type: ignore[operator]


def add_china_share_cap(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{China-origin b} x[b] <= max_china_share * P[m,t], P = total bought.

    Exclusion (exclude_china) is not a row: it sets upper[b] = 0 for China-origin buys.
    """

    def china(b: Buy) -> bool:
        return data.buys[b].china

    m.china_cap = pyo.Constraint(
        m.MT_BOUGHT,
        rule=lambda m, mat, t: _bought(m, mat, t, china) - m.china_share * _bought(m, mat, t) <= 0,
    )


def add_country_share_cap(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{b from country c} x[b] <= max_country_share * P[m,t]; rows only when the cap < 1."""
    if data.settings.max_country_share >= 1.0:
        return
    index = sorted(
        {(b[1], b[2], d.country) for b, d in data.buys.items()},
        key=lambda k: (data.materials.index(k[0]), data.periods.index(k[1]), k[2]),
    )
    m.MTC = pyo.Set(initialize=index, dimen=3, ordered=True)
    m.country_cap = pyo.Constraint(
        m.MTC,
        rule=lambda m, mat, t, c: (
            _bought(m, mat, t, lambda b: data.buys[b].country == c)
            - m.country_share * _bought(m, mat, t)
            <= 0
        ),
    )


def add_allied_share_minimum(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{allied b} x[b] >= min_allied_share * P[m,t]."""

    def allied(b: Buy) -> bool:
        return data.buys[b].allied

    m.allied_min = pyo.Constraint(
        m.MT_BOUGHT,
        rule=lambda m, mat, t: (
            _bought(m, mat, t, allied) - m.allied_share * _bought(m, mat, t) >= 0
        ),
    )


def add_objective(m: pyo.ConcreteModel, data: ModelData) -> None:
    """min 1000 * [sum landed*x + sum top_cost*w + penalty*sum u + sum holding*v] (USD)."""
    landed = sum((m.price[b] * (1 + m.tariff[b]) + m.freight[b]) * m.x[b] for b in m.B)
    top = sum(m.top_cost[b] * m.w[b] for b in m.TOP)
    unmet = m.penalty * sum(m.u[mt] for mt in m.MT) if data.settings.allow_unmet else 0
    holding = sum(m.holding[mat] * m.v[mat, t] for mat, t in m.ST)
    m.cost = pyo.Objective(expr=KG_PER_T * (landed + top + unmet + holding), sense=pyo.minimize)


def update_model(built: BuiltModel, data: ModelData) -> bool:
    """Re-target a built model to new data in place; False when the structure differs.

    A False answer means the caller must rebuild (e.g. a new offer, a capacity
    that was blank, a country cap switched on, unmet demand switched off).
    """
    if data.structure != built.structure:
        return False
    set_parameters(built.model, data)
    built.data = data
    return True
