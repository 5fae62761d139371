r"""The supply chain's part of the LP (contract v2): one function per constraint family.

Notation (docs/model.md, "Supply chains"): y[a] tonnes of output of activity
a = (facility s, process p, period t, grade g); f[e] tonnes shipped on
e = (from s, source, material m, to, t, g); d[l] co-product discarded on lane l;
uc[m,t] compliant demand left unmet; vc[m,t] the compliant part of the stock.
Grade C is compliant (no stage in an excluded country), N is not known to be.

    lane        k_l y[a(l)] = sum_{e out of l} f[e] (+ d[l] for a co-product)
    consumption sum_{e into (s,m,t)} f[e] = sum_p a[s,p,m,t] sum_g y[s,p,t,g]
    compliant   sum_{e into (s,m,t), g(e)=C} f[e] >= sum_p a[s,p,m,t] y[s,p,t,C]
    process cap sum_g y[s,p,t,g] <= cap[s,p,t]
    route cap   sum_{e on route r} f[e] (+ x of offers delivered on it) <= max[r]
    offer limit x[b] + sum_{e shipping offer b} f[e] <= limit[b]
    buyer C     vc[m,t-1] + sum_{C b} x[b] + sum_{e to buyer, C} f[e] + uc[m,t]
                    >= Dc[m,t] + vc[m,t]   (vc[m,0] = compliant initial stock)
    uc[m,t] <= u[m,t],  vc[m,t] <= v[m,t]

Facilities do not re-ship what they receive (what arrives is consumed), so a
shipment's origin is its shipping facility: the country of last
transformation. Every coefficient a what-if may change is a mutable Param;
yields are matrix coefficients and part of the model's structure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from optimizer.model.chain_data import COMPLIANT, ChainData, Lane, Node, RouteKey
from optimizer.model.data import ModelData


def linear(terms: Iterable[Any]) -> Any:
    """A sum of variables and (coefficient, variable) pairs as one LinearExpression (0 if none)."""
    args = [MonomialTermExpression(t) if isinstance(t, tuple) else t for t in terms]
    return LinearExpression(args) if args else 0


def chain_of(data: ModelData) -> ChainData:
    assert data.chain is not None
    return data.chain


def add_chain_sets(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Index sets of the chain's variables and rows (only what exists)."""
    c = chain_of(data)
    m.A = pyo.Set(initialize=list(c.acts), dimen=4, ordered=True)
    m.F = pyo.Set(initialize=list(c.ships), dimen=6, ordered=True)
    m.L = pyo.Set(initialize=list(c.lanes), dimen=5, ordered=True)
    m.DISC = pyo.Set(initialize=list(c.discards), dimen=5, ordered=True)
    m.NODE = pyo.Set(initialize=list(c.consume), dimen=3, ordered=True)
    m.NODE_C = pyo.Set(initialize=list(c.consume_compliant), dimen=3, ordered=True)
    m.PCAP = pyo.Set(initialize=list(c.process_cap), dimen=3, ordered=True)
    m.RCAP = pyo.Set(initialize=list(c.route_cap), dimen=4, ordered=True)
    m.OCAP = pyo.Set(initialize=list(c.offer_cap), dimen=3, ordered=True)
    m.MTC = pyo.Set(initialize=list(c.compliant_demand), dimen=2, ordered=True)
    m.STC = pyo.Set(
        initialize=[(mat, t) for mat in c.compliant_stock for t in data.periods],
        dimen=2,
        ordered=True,
    )


def add_chain_parameters(m: pyo.ConcreteModel, data: ModelData, costs: bool = True) -> None:
    """Mutable parameters of the chain (fees, shipment costs, bounds, capacities, demand)."""
    mutable = {"mutable": True, "within": pyo.Any}
    if costs:
        m.fee = pyo.Param(m.A, initialize=0.0, **mutable)  # USD/kg of output
        m.act_upper = pyo.Param(m.A, initialize=0.0, **mutable)  # t
        m.ship_cost = pyo.Param(m.F, initialize=0.0, **mutable)  # USD/kg shipped
        m.ship_upper = pyo.Param(m.F, initialize=0.0, **mutable)  # t
    m.process_cap = pyo.Param(m.PCAP, initialize=0.0, **mutable)  # t of output per period
    m.route_max = pyo.Param(m.RCAP, initialize=0.0, **mutable)  # t per period
    m.offer_limit = pyo.Param(m.OCAP, initialize=0.0, **mutable)  # t per period
    m.cdemand = pyo.Param(m.MTC, initialize=0.0, **mutable)  # t of compliant demand
    m.cinitial = pyo.Param(list(chain_of(data).compliant_initial), initialize=0.0, **mutable)
    set_chain_parameters(m, data)


def set_chain_parameters(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Write the chain's parameter values from `data` (at build and by update_model)."""
    c = chain_of(data)
    if hasattr(m, "fee"):
        em = data.emissions
        for p, (k, a) in zip(m.fee.values(), c.acts.items(), strict=True):
            # the objective's cost per kg of output: the fee plus any carbon price on it
            p.set_value(a.fee_usd_per_kg + (em.act_carbon(k) if em is not None else 0.0))
        for p, a in zip(m.act_upper.values(), c.acts.values(), strict=True):
            p.set_value(a.upper_t)
        for p, f in zip(m.ship_cost.values(), c.ships.values(), strict=True):
            p.set_value(f.objective_cost)
        for p, f in zip(m.ship_upper.values(), c.ships.values(), strict=True):
            p.set_value(f.upper_t)
    for param, table in (
        (m.process_cap, c.process_cap),
        (m.route_max, c.route_cap),
        (m.offer_limit, c.offer_cap),
        (m.cdemand, c.compliant_demand),
        (m.cinitial, c.compliant_initial),
    ):
        for p, v in zip(param.values(), table.values(), strict=True):
            p.set_value(v)


def add_chain_variables(m: pyo.ConcreteModel, data: ModelData) -> None:
    """y[a] in [0, upper], f[e] in [0, upper], d, uc, vc >= 0."""
    if hasattr(m, "act_upper"):
        m.y = pyo.Var(m.A, bounds=lambda m, *a: (0.0, m.act_upper[a]))
        m.f = pyo.Var(m.F, bounds=lambda m, *e: (0.0, m.ship_upper[e]))
    else:  # matrix_only: the caller takes the bounds from ChainData
        m.y = pyo.Var(m.A, bounds=(0.0, None))
        m.f = pyo.Var(m.F, bounds=(0.0, None))
    m.d = pyo.Var(m.DISC, domain=pyo.NonNegativeReals)
    if data.settings.allow_unmet:
        m.uc = pyo.Var(m.MTC, domain=pyo.NonNegativeReals)
    m.vc = pyo.Var(m.STC, domain=pyo.NonNegativeReals)
    m._ys = dict(m.y.items())
    m._fs = dict(m.f.items())
    m._ds = dict(m.d.items())


def add_lane_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    """k_l y[a(l)] - sum_{e out of l} f[e] - d[l] = 0: what a process makes goes somewhere."""
    c, ys, fs, ds = chain_of(data), m._ys, m._fs, m._ds

    def rule(m: pyo.ConcreteModel, *lane: str) -> Any:
        coef, act, out = c.lanes[cast(Lane, lane)]
        terms: list[Any] = [(coef, ys[act])]
        terms.extend((-1.0, fs[e]) for e in out)
        if lane in ds:
            terms.append((-1.0, ds[lane]))
        return linear(terms) == 0

    m.lane = pyo.Constraint(m.L, rule=rule)


def add_consumption(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{e in} f[e] - sum a y = 0: what arrives at a facility is what its processes consume."""
    c, ys, fs = chain_of(data), m._ys, m._fs

    def rule(m: pyo.ConcreteModel, *node: str) -> Any:
        arriving, terms = c.consume[cast(Node, node)]
        return linear([*(fs[e] for e in arriving), *((-a, ys[act]) for act, a in terms)]) == 0

    m.consume = pyo.Constraint(m.NODE, rule=rule)


def add_compliant_consumption(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_{C e in} f[e] - sum a y[., C] >= 0: a compliant activity consumes compliant inputs.

    Compliant tonnes beyond that feed the facility's other activities (the
    consumption row counts every grade), so nothing is lost by grading.
    """
    c, ys, fs = chain_of(data), m._ys, m._fs

    def rule(m: pyo.ConcreteModel, *node: str) -> Any:
        arriving, terms = c.consume_compliant[cast(Node, node)]
        return linear([*(fs[e] for e in arriving), *((-a, ys[act]) for act, a in terms)]) >= 0

    m.consume_compliant = pyo.Constraint(m.NODE_C, rule=rule)


def add_process_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum_g y[s,p,t,g] <= cap[s,p,t]: a process's capacity bounds its main output."""
    c, ys = chain_of(data), m._ys
    m.process_capacity = pyo.Constraint(
        m.PCAP,
        rule=lambda m, *k: linear(ys[a] for a in c.process_acts[cast(Any, k)]) <= m.process_cap[k],
    )


def add_route_capacity(m: pyo.ConcreteModel, data: ModelData) -> None:
    """sum of the tonnes on a route (shipments, and offers delivered on it) <= max_t."""
    c, fs, xs = chain_of(data), m._fs, m._xs

    def rule(m: pyo.ConcreteModel, *k: str) -> Any:
        ships, buys = c.route_members[cast(RouteKey, k)]
        return linear([*(fs[e] for e in ships), *(xs[b] for b in buys)]) <= m.route_max[k]

    m.route_capacity = pyo.Constraint(m.RCAP, rule=rule)


def add_offer_limit(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x[b] + sum_{e ships b} f[e] <= limit[b]: an offer's limit covers all its destinations."""
    c, fs, xs = chain_of(data), m._fs, m._xs
    m.offer_limit_row = pyo.Constraint(
        m.OCAP,
        rule=lambda m, *b: (
            linear([xs[b], *(fs[e] for e in c.offer_ships[cast(Any, b)])]) <= m.offer_limit[b]
        ),
    )


def add_compliant_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    """vc[t-1] + compliant arrivals + uc - vc[t] >= Dc[m,t]: compliant demand takes only
    compliant supply (any compliant surplus serves the other demand through the balance row)."""
    c, fs, xs = chain_of(data), m._fs, m._xs
    previous = dict(zip(data.periods[1:], data.periods, strict=False))
    stocked = set(c.compliant_stock)
    direct: dict[tuple[str, str], list[Any]] = {}
    for b, d in data.buys.items():
        if d.compliant:
            direct.setdefault((b[1], b[2]), []).append(xs[b])
    allow_unmet = data.settings.allow_unmet

    def rule(m: pyo.ConcreteModel, mat: str, t: str) -> Any:
        terms: list[Any] = list(direct.get((mat, t), []))
        terms.extend(fs[e] for e in c.to_buyer.get((mat, t), ()) if e[5] == COMPLIANT)
        if allow_unmet:
            terms.append(m.uc[mat, t])
        if not terms and mat not in stocked:
            return pyo.Constraint.Skip  # nothing can serve it: engine.py explains the infeasibility
        rhs: Any = m.cdemand[mat, t]
        if mat in stocked:
            terms.append((-1.0, m.vc[mat, t]))
            if t in previous:
                terms.append(m.vc[mat, previous[t]])
            else:
                rhs = m.cdemand[mat, t] - m.cinitial[mat]
        return linear(terms) >= rhs

    m.compliant_balance = pyo.Constraint(m.MTC, rule=rule)


def add_compliant_links(m: pyo.ConcreteModel, data: ModelData) -> None:
    """uc[m,t] - u[m,t] <= 0 and vc[m,t] - v[m,t] <= 0: compliant parts of unmet and stock."""
    if data.settings.allow_unmet:
        m.compliant_unmet = pyo.Constraint(
            m.MTC, rule=lambda m, mat, t: linear([m.uc[mat, t], (-1.0, m.u[mat, t])]) <= 0
        )
    m.compliant_stock = pyo.Constraint(
        m.STC, rule=lambda m, mat, t: linear([m.vc[mat, t], (-1.0, m.v[mat, t])]) <= 0
    )


def chain_objective_terms(m: pyo.ConcreteModel, data: ModelData) -> Any:
    """sum fee[a] y[a] + sum ship_cost[e] f[e] (USD/kg x t; the caller multiplies by 1000)."""
    terms = [
        MonomialTermExpression((p, v)) for p, v in zip(m.fee.values(), m.y.values(), strict=True)
    ]
    terms.extend(
        MonomialTermExpression((p, v))
        for p, v in zip(m.ship_cost.values(), m.f.values(), strict=True)
    )
    return LinearExpression(terms) if terms else 0
