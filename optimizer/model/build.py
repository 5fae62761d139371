r"""The sourcing LP in Pyomo: one function per constraint family.

Notation (see docs/model.md): buys b = (supplier s, material m, period t);
x[b] tonnes bought; u[m,t] unmet tonnes; v[m,t] stock at the end of t;
w[b] untaken take-or-pay tonnes. Prices are USD/kg, quantities t, so every
cost term is multiplied by 1000 to give USD.

Every coefficient that a what-if may change (prices, tariffs, freight,
bounds, capacities, demand, shares, penalty, stock figures) is a mutable
Param, so `update_model` re-targets a built model without rebuilding it and a
persistent HiGHS instance re-solves from the previous basis (optimizer.model.fast
instead compiles the model once and updates HiGHS from the data directly).

Building is linear in the size of the LP: purchases are grouped once (by
material and period, by supplier and period, by origin), sums of purchases are
created directly as LinearExpressions, and the total bought P[m,t] is one
expression shared by the share rows of (m, t) (the rows' coefficients are the
same as if P were written out in each).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from optimizer.contract.schema import KG_PER_T
from optimizer.model.chain import (
    add_chain_parameters,
    add_chain_sets,
    add_chain_variables,
    add_compliant_balance,
    add_compliant_consumption,
    add_compliant_links,
    add_consumption,
    add_lane_balance,
    add_offer_limit,
    add_process_capacity,
    add_route_capacity,
    chain_objective_terms,
    linear,
    set_chain_parameters,
)
from optimizer.model.chain_data import Ship
from optimizer.model.data import Buy, ModelData, Structure
from optimizer.model.emissions import add_emissions_cap


@dataclass
class BuiltModel:
    """A Pyomo model together with the structure it was built for."""

    model: pyo.ConcreteModel
    structure: Structure
    data: ModelData


@dataclass
class _Groups:
    """Purchases grouped once, so no rule scans all purchases (build stays linear)."""

    by_mt: dict[tuple[str, str], list[Buy]]
    china_by_mt: dict[tuple[str, str], list[Buy]]
    allied_by_mt: dict[tuple[str, str], list[Buy]]
    by_mtc: dict[tuple[str, str, str], list[Buy]]
    by_st: dict[tuple[str, str], list[Buy]]
    #: shipments to the buyer (contract v2), grouped as the purchases are
    ships_by_mt: dict[tuple[str, str], list[Ship]] = field(default_factory=dict)
    ships_china_by_mt: dict[tuple[str, str], list[Ship]] = field(default_factory=dict)
    ships_allied_by_mt: dict[tuple[str, str], list[Ship]] = field(default_factory=dict)
    ships_by_mtc: dict[tuple[str, str, str], list[Ship]] = field(default_factory=dict)


def _ship_groups(data: ModelData, groups: _Groups) -> None:
    """Shipments to the buyer, by (material, period), origin flags and country."""
    if data.chain is None:
        return
    by_mt: dict[tuple[str, str], list[Ship]] = defaultdict(list)
    china: dict[tuple[str, str], list[Ship]] = defaultdict(list)
    allied: dict[tuple[str, str], list[Ship]] = defaultdict(list)
    by_mtc: dict[tuple[str, str, str], list[Ship]] = defaultdict(list)
    for mt, keys in data.chain.to_buyer.items():
        for e in keys:
            f = data.chain.ships[e]
            by_mt[mt].append(e)
            if f.china:
                china[mt].append(e)
            if f.allied:
                allied[mt].append(e)
            by_mtc[(mt[0], mt[1], f.country)].append(e)
    groups.ships_by_mt, groups.ships_china_by_mt = dict(by_mt), dict(china)
    groups.ships_allied_by_mt, groups.ships_by_mtc = dict(allied), dict(by_mtc)


def _groups(data: ModelData) -> _Groups:
    by_mt: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    china: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    allied: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    by_mtc: dict[tuple[str, str, str], list[Buy]] = defaultdict(list)
    by_st: dict[tuple[str, str], list[Buy]] = defaultdict(list)
    for b, d in data.buys.items():
        mt = (b[1], b[2])
        by_mt[mt].append(b)
        if d.china:
            china[mt].append(b)
        if d.allied:
            allied[mt].append(b)
        by_mtc[(b[1], b[2], d.country)].append(b)
        by_st[(b[0], b[2])].append(b)
    groups = _Groups(dict(by_mt), dict(china), dict(allied), dict(by_mtc), dict(by_st))
    _ship_groups(data, groups)
    return groups


def build_model(data: ModelData, matrix_only: bool = False) -> BuiltModel:
    """Build the LP; reads like a table of contents of the model.

    `matrix_only=True` leaves out the objective and the parameters only it and
    the purchase bounds use (price, tariff, freight, upper), for a caller that
    takes costs and column bounds from ModelData and only compiles the rows
    (optimizer.model.fast, whose tests compile the full model to check that both
    agree). Sets and constraints are the same either way.
    """
    m = pyo.ConcreteModel(name="sourcing")
    with PauseGC():  # millions of small objects: the cyclic GC would only slow this down
        add_sets(m, data)
        add_parameters(m, data, costs=not matrix_only)
        add_variables(m, data)
        add_demand_balance(m, data)
        add_stock_reserve(m, data)
        add_facility_capacity(m, data)
        add_offtake_minimum(m, data)
        add_take_or_pay(m, data)
        add_china_share_cap(m, data)
        add_country_share_cap(m, data)
        add_allied_share_minimum(m, data)
        if data.chain is not None:
            add_chain_families(m, data)
        add_emissions_cap(m, data)
        if not matrix_only:
            add_objective(m, data)
    return BuiltModel(m, data.structure, data)


def add_chain_families(m: pyo.ConcreteModel, data: ModelData) -> None:
    """The supply chain's rows (optimizer.model.chain), after the v1 rows."""
    add_lane_balance(m, data)
    add_consumption(m, data)
    add_compliant_consumption(m, data)
    add_process_capacity(m, data)
    add_route_capacity(m, data)
    add_offer_limit(m, data)
    add_compliant_balance(m, data)
    add_compliant_links(m, data)


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
    groups = _groups(data)
    m._groups = groups
    m.MT_BOUGHT = pyo.Set(
        initialize=[mt for mt in m.MT if mt in groups.by_mt or mt in groups.ships_by_mt], dimen=2
    )
    if data.chain is not None:
        add_chain_sets(m, data)


def add_parameters(m: pyo.ConcreteModel, data: ModelData, costs: bool = True) -> None:
    """Mutable parameters for every coefficient a what-if may change (values set by update).

    `costs=False`: without price, tariff, freight and upper, which only the objective
    and the purchase bounds use (see build_model's matrix_only).
    """
    mutable = {"mutable": True, "within": pyo.Any}
    if costs:
        m.price = pyo.Param(m.B, initialize=0.0, **mutable)  # USD/kg paid (customs value)
        m.tariff = pyo.Param(m.B, initialize=0.0, **mutable)  # fraction
        m.freight = pyo.Param(m.B, initialize=0.0, **mutable)  # USD/kg
        m.upper = pyo.Param(m.B, initialize=math.inf, **mutable)  # t per period
        m.support = pyo.Param(m.B, initialize=0.0, **mutable)  # USD/kg price support counted
        m.stock_max = pyo.Param(m.S, initialize=math.inf, **mutable)  # t at each period end
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
    if data.chain is not None:
        add_chain_parameters(m, data, costs=costs)


def _store(param: pyo.Param, values: Iterable[float]) -> None:
    """Write values, in the Param's index order, into its ParamData (no index lookups)."""
    for p, v in zip(param.values(), values, strict=True):
        p.set_value(v)


def set_parameters(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Write every parameter value from `data` (used at build and by update_model)."""
    # Every indexed Param is dense over a set built from the matching dict, in its order.
    buys = data.buys.values()
    if hasattr(m, "price"):  # see add_parameters(costs=False)
        _store(m.price, [d.price_paid for d in buys])
        _store(m.tariff, [d.tariff_rate for d in buys])
        _store(m.freight, [d.freight for d in buys])
        _store(m.upper, [d.upper_t for d in buys])
        _store(m.support, [d.objective_extra for d in buys])
    for mt, q in data.demand.items():  # MT is every (material, period), in its own order
        m.demand[mt] = q
    _store(m.capacity, data.capacity.values())
    _store(m.hard_min, data.hard_minimum.values())
    top = data.take_or_pay
    _store(m.top_min, [q for q, _ in top.values()])
    _store(m.top_cost, [f * data.buys[b].price_paid for b, (_, f) in top.items()])
    for mat, s in data.stock.items():
        m.initial[mat] = s.initial_t
        m.reserve[mat] = s.reserve_t
        m.holding[mat] = s.holding_usd_per_kg
        if hasattr(m, "stock_max"):
            m.stock_max[mat] = s.max_t
    settings = data.settings
    m.penalty = settings.unmet_penalty_usd_per_kg
    m.china_share = settings.max_china_share
    m.country_share = settings.max_country_share
    m.allied_share = settings.min_allied_share


def add_variables(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x[b] in [0, upper[b]] t; u[m,t] >= 0 only when unmet demand is allowed; v, w >= 0."""
    if hasattr(m, "upper"):
        m.x = pyo.Var(m.B, bounds=lambda m, *b: (0.0, m.upper[b]))
    else:  # matrix_only: the caller takes the upper bounds from ModelData
        m.x = pyo.Var(m.B, bounds=(0.0, None))
    if data.settings.allow_unmet:
        m.u = pyo.Var(m.MT, domain=pyo.NonNegativeReals)
    if hasattr(m, "stock_max"):
        m.v = pyo.Var(m.ST, bounds=lambda m, mat, t: (0.0, m.stock_max[mat]))
    else:  # matrix_only: the caller takes the stock limits from ModelData
        m.v = pyo.Var(m.ST, domain=pyo.NonNegativeReals)
    m.w = pyo.Var(m.TOP, domain=pyo.NonNegativeReals)
    m._xs = dict(m.x.items())  # purchase -> VarData, without IndexedComponent lookups
    if data.chain is not None:
        add_chain_variables(m, data)


def _sum_x(m: pyo.ConcreteModel, buys: Iterable[Buy]) -> Any:
    """sum_b x[b] as one LinearExpression (0, like `sum`, when there is no purchase)."""
    xs = m._xs
    terms = [xs[b] for b in buys]
    return LinearExpression(terms) if terms else 0


def _total(m: pyo.ConcreteModel, mat: str, t: str) -> Any:
    """P[m,t], the total bought: built once per (m, t) and shared by its share rows."""
    cache: dict[tuple[str, str], Any] = m.__dict__.setdefault("_total_cache", {})
    key = (mat, t)
    if key not in cache:
        groups = m._groups
        cache[key] = _sum_xf(m, groups.by_mt.get(key, ()), groups.ships_by_mt.get(key, ()))
    return cache[key]


def _sum_xf(m: pyo.ConcreteModel, buys: Iterable[Buy], ships: Iterable[Ship]) -> Any:
    """sum_b x[b] + sum_e f[e]: purchases delivered and shipments to the buyer (v2)."""
    ships = list(ships)
    if not ships:
        return _sum_x(m, buys)
    fs = m._fs
    return linear([*(m._xs[b] for b in buys), *(fs[e] for e in ships)])


def _purchase(m: pyo.ConcreteModel, data: ModelData, b: Buy) -> Any:
    """What offer b sells: x[b], plus its shipments to facilities (contract v2)."""
    if data.chain is None or b not in data.chain.offer_ships:
        return m._xs[b]
    return linear([m._xs[b], *(m._fs[e] for e in data.chain.offer_ships[b])])


def add_demand_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    """v[m,t-1] + sum_b x[b] + u[m,t] = demand[m,t] + v[m,t], with v[m,0] = initial[m]."""
    previous = dict(zip(data.periods[1:], data.periods, strict=False))

    groups = m._groups

    def rule(m: pyo.ConcreteModel, mat: str, t: str) -> object:
        bought = _sum_xf(m, groups.by_mt.get((mat, t), ()), groups.ships_by_mt.get((mat, t), ()))
        unmet = m.u[mat, t] if data.settings.allow_unmet else 0
        if mat in data.stock:
            before = m.v[mat, previous[t]] if t in previous else m.initial[mat]
            return before + bought + unmet == m.demand[mat, t] + m.v[mat, t]
        if isinstance(bought, int) and isinstance(unmet, int):
            return pyo.Constraint.Skip  # nothing to decide; engine.py flags unmeetable demand
        return bought + unmet == m.demand[mat, t]

    m.balance = pyo.Constraint(m.MT, rule=rule)


def add_stock_reserve(m: pyo.ConcreteModel, data: ModelData) -> None:
    """v[m,t] >= reserve[m]: strategic stock kept at the end of every period."""
    m.reserve_min = pyo.Constraint(m.ST, rule=lambda m, mat, t: m.v[mat, t] >= m.reserve[mat])


def add_facility_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum over a supplier's offers in t of what they sell + its processes' output <= capacity[s,t].

    v1: what an offer sells is x; with a chain, also its shipments to facilities,
    and every activity of the supplier's processes counts its main output.
    """
    by_st = m._groups.by_st
    if data.chain is None:
        m.facility_cap = pyo.Constraint(
            m.CAP, rule=lambda m, s, t: _sum_x(m, by_st[(s, t)]) <= m.capacity[s, t]
        )
        return
    chain = data.chain
    acts: dict[tuple[str, str], list[Any]] = {}
    for a in chain.acts:
        acts.setdefault((a[0], a[2]), []).append(m._ys[a])
    fs = m._fs

    def rule(m: pyo.ConcreteModel, s: str, t: str) -> Any:
        terms: list[Any] = []
        for b in by_st.get((s, t), ()):
            terms.append(m._xs[b])
            terms.extend(fs[e] for e in chain.offer_ships.get(b, ()))
        terms.extend(acts.get((s, t), ()))
        return linear(terms) <= m.capacity[s, t]

    m.facility_cap = pyo.Constraint(m.CAP, rule=rule)


def add_offtake_minimum(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x[b] (+ its shipments to facilities) >= min_t for offtakes with a hard minimum."""
    m.offtake_min = pyo.Constraint(
        m.HARD, rule=lambda m, *b: _purchase(m, data, b) >= m.hard_min[b]
    )


def add_take_or_pay(m: pyo.ConcreteModel, data: ModelData) -> None:
    """w[b] >= min_t - x[b] (- its shipments): the untaken minimum, paid at take_or_pay x price."""
    m.take_or_pay = pyo.Constraint(
        m.TOP, rule=lambda m, *b: m.w[b] >= m.top_min[b] - _purchase(m, data, b)
    )


def add_china_share_cap(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{China-origin b} x[b] <= max_china_share * P[m,t], P = total bought.

    Exclusion (exclude_china) is not a row: it sets upper[b] = 0 for China-origin buys.
    """
    china, ships = m._groups.china_by_mt, m._groups.ships_china_by_mt
    m.china_cap = pyo.Constraint(
        m.MT_BOUGHT,
        rule=lambda m, mat, t: (
            _sum_xf(m, china.get((mat, t), ()), ships.get((mat, t), ()))
            - m.china_share * _total(m, mat, t)
            <= 0
        ),
    )


def add_country_share_cap(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{b from country c} x[b] <= max_country_share * P[m,t]; rows only when the cap < 1."""
    if data.settings.max_country_share >= 1.0:
        return
    by_mtc, ships = m._groups.by_mtc, m._groups.ships_by_mtc
    material = {mat: i for i, mat in enumerate(data.materials)}
    period = {t: i for i, t in enumerate(data.periods)}
    index = sorted(set(by_mtc) | set(ships), key=lambda k: (material[k[0]], period[k[1]], k[2]))
    m.MT_COUNTRY = pyo.Set(initialize=index, dimen=3, ordered=True)
    m.country_cap = pyo.Constraint(
        m.MT_COUNTRY,
        rule=lambda m, mat, t, c: (
            _sum_xf(m, by_mtc.get((mat, t, c), ()), ships.get((mat, t, c), ()))
            - m.country_share * _total(m, mat, t)
            <= 0
        ),
    )


def add_allied_share_minimum(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{allied b} x[b] >= min_allied_share * P[m,t]."""
    allied, ships = m._groups.allied_by_mt, m._groups.ships_allied_by_mt
    m.allied_min = pyo.Constraint(
        m.MT_BOUGHT,
        rule=lambda m, mat, t: (
            _sum_xf(m, allied.get((mat, t), ()), ships.get((mat, t), ()))
            - m.allied_share * _total(m, mat, t)
            >= 0
        ),
    )


def add_objective(m: pyo.ConcreteModel, data: ModelData) -> None:
    """min 1000 * [sum (landed + g)*x + sum top_cost*w + penalty*sum u + sum holding*v] (USD).

    landed[b] = price[b] (1 + tariff[b]) + freight[b] is what the buyer pays per kg;
    g[b] is the government's price support per kg, counted only in the national-cost
    view (Settings national_cost; 0 otherwise), so the objective is buyer spend plus
    the unmet-demand penalty (a modelling price), plus fiscal cost in that view.
    """
    price, tariff, freight, support = m.price, m.tariff, m.freight, m.support
    landed = LinearExpression(
        [
            MonomialTermExpression((p * (1 + r) + f + g, x))
            for p, r, f, g, x in zip(
                price.values(),
                tariff.values(),
                freight.values(),
                support.values(),
                m.x.values(),
                strict=True,
            )
        ]
    )
    top = sum(m.top_cost[b] * m.w[b] for b in m.TOP)
    unmet = m.penalty * sum(m.u[mt] for mt in m.MT) if data.settings.allow_unmet else 0
    holding = sum(m.holding[mat] * m.v[mat, t] for mat, t in m.ST)
    chain = chain_objective_terms(m, data) if data.chain is not None else 0
    m.cost = pyo.Objective(
        expr=KG_PER_T * (landed + top + unmet + holding + chain), sense=pyo.minimize
    )


def update_model(built: BuiltModel, data: ModelData) -> bool:
    """Re-target a built model to new data in place; False when the structure differs.

    A False answer means the caller must rebuild (e.g. a new offer, a capacity
    that was blank, a country cap switched on, unmet demand switched off).
    """
    if data.structure != built.structure:
        return False
    set_parameters(built.model, data)
    if data.chain is not None:
        set_chain_parameters(built.model, data)
    built.data = data
    return True
