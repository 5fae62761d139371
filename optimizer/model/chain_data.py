"""The supply chain behind the offers (contract v2), resolved into the LP's index sets and numbers.

`prepare_chain` turns Processes, Inputs, Coproducts and Routes into:

- activities y[s, p, t, g]: tonnes of output of process p at facility s in
  period t, of grade g (C: compliant, every stage outside the excluded stage
  countries; N: not known to be), with a fee per kg and a customs value;
- shipments f[s, src, m, to, t, g]: tonnes of material m that facility s ships
  from its source src (its offers, src = "", or process src's output or
  co-product) to a facility `to` or to the buyer, with freight, the tariff where
  it enters the importer country, and, for offers, the price paid;
- lanes: what each process makes of each material (y times 1 for the output, k
  for a co-product) goes out as shipments (or, for co-products, is discarded);
- consumption nodes (s, m, t): what a facility receives of m is what its
  processes consume;
- the rows that limit them: process and route capacities, offer limits on
  networked offers, the compliant buyer balance.

Grades are carried only when some Demand row is `compliant`; otherwise every
activity and shipment is grade N and the model has no compliant rows. The
math is in docs/model.md ("Supply chains") and in optimizer.model.chain.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from optimizer.contract.chain import excluded_countries, in_period, is_buyer
from optimizer.contract.records import Inputs, Route
from optimizer.model.tariffs import LaneRate, lane_rates

Buy = tuple[str, str, str]  # (supplier, material, period)
MT = tuple[str, str]
Act = tuple[str, str, str, str]  # (supplier, process, period, grade)
Ship = tuple[str, str, str, str, str, str]  # (from, source, material, to, period, grade)
Lane = tuple[str, str, str, str, str]  # (supplier, process, material, period, grade)
Node = tuple[str, str, str]  # (facility, material, period)
RouteKey = tuple[str, str, str, str]  # (from_supplier, to, material, period)
ProcessPeriod = tuple[str, str, str]  # (supplier, process, period)

BUYER = "buyer"
COMPLIANT, OTHER = "C", "N"
#: The source of a shipment of offered material.
OFFER = ""


@dataclass(frozen=True)
class ActData:
    """One activity column y[s, p, t, g]."""

    supplier: str
    process: str
    period: str
    grade: str
    output: str
    country: str
    stage: str
    fee_usd_per_kg: float  # processing or tolling fee per kg of output (buyer spend)
    customs_value_usd_per_kg: float  # dutiable value of the output
    upper_t: float  # math.inf, or 0 when exclude_china rules the facility out
    china: bool
    #: the customs value is the default (fee + inputs at reference prices): it moves with the fee
    customs_default: bool = True


@dataclass(frozen=True)
class ShipData:
    """One shipment column f[s, src, m, to, t, g]."""

    from_supplier: str
    source: str  # "" = the facility's offers, else the process whose output or co-product it is
    material: str
    to: str  # a facility, or "buyer"
    period: str
    grade: str
    country: str  # of the shipping facility: the country of last transformation
    price_usd_per_kg: float  # offers: the price paid; processes: 0 (their fee is on y)
    freight_usd_per_kg: float  # route freight
    customs_value_usd_per_kg: float
    tariff_rate: float  # 0 unless the shipment enters the importer country
    upper_t: float
    china: bool
    allied: bool
    buy: Buy | None = None  # the offer shipped from
    route: RouteKey | None = None  # the Routes row it travels on
    coproduct: bool = False
    dutiable: bool = False  # enters the importer country: pays the US tariff (rate may be 0)
    support_usd_per_kg: float = 0.0  # government price support (offers under a paid floor)
    objective_extra: float = 0.0  # support counted in the national-cost view
    tariff_parts: tuple[tuple[str, float], ...] = ()

    @property
    def spend_usd_per_kg(self) -> float:
        """What the buyer pays per kg shipped: price + freight + tariff on the customs value."""
        return (
            self.price_usd_per_kg
            + self.freight_usd_per_kg
            + self.tariff_rate * self.customs_value_usd_per_kg
        )

    @property
    def objective_cost(self) -> float:
        """USD/kg the objective charges (spend, plus support in the national-cost view)."""
        return self.spend_usd_per_kg + self.objective_extra


Terms = tuple[tuple[Act, float], ...]


@dataclass(frozen=True)
class ChainData:
    """Everything the chain adds to the LP; empty families are empty tuples or dicts."""

    grades: bool
    acts: Mapping[Act, ActData]
    ships: Mapping[Ship, ShipData]
    #: lane -> (y's coefficient, its activity, shipments out); co-product lanes may discard
    lanes: Mapping[Lane, tuple[float, Act, tuple[Ship, ...]]]
    discards: tuple[Lane, ...]
    #: node -> (shipments in, (activity, t_per_t) consuming it); all grades, and C only
    consume: Mapping[Node, tuple[tuple[Ship, ...], Terms]]
    consume_compliant: Mapping[Node, tuple[tuple[Ship, ...], Terms]]
    process_cap: Mapping[ProcessPeriod, float]
    process_acts: Mapping[ProcessPeriod, tuple[Act, ...]]
    route_cap: Mapping[RouteKey, float]
    route_members: Mapping[RouteKey, tuple[tuple[Ship, ...], tuple[Buy, ...]]]
    #: networked offers (some shipment to a facility) -> those shipments
    offer_ships: Mapping[Buy, tuple[Ship, ...]]
    #: networked offers with a finite limit (offer max_t, offtake max_t) -> the limit
    offer_cap: Mapping[Buy, float]
    to_buyer: Mapping[MT, tuple[Ship, ...]]
    #: (material, period) of every material with compliant demand -> compliant demand t
    compliant_demand: Mapping[MT, float]
    compliant_initial: Mapping[str, float]
    #: stocked materials whose stock carries a compliant part
    compliant_stock: tuple[str, ...]
    #: stage label of each process (supplier, process) and of offered material
    stage_of: Mapping[tuple[str, str], str]
    material_stage: Mapping[str, str]
    excluded: frozenset[str]
    importer: str

    @cached_property
    def structure(self) -> tuple[Any, ...]:
        """What shapes the LP (keys of every family, and yields: matrix coefficients); computed
        once per ChainData (a what-if that keeps the chain compares it in pointer time)."""
        return (
            self.grades,
            tuple(self.acts),
            tuple(self.ships),
            # the share rows a shipment to the buyer sits in (origin flags: matrix coefficients)
            tuple((f.china, f.allied, f.country) for f in self.ships.values() if f.to == BUYER),
            tuple((k, c) for k, (c, _, _) in self.lanes.items()),
            self.discards,
            tuple((k, terms) for k, (_, terms) in self.consume.items()),
            tuple((k, terms) for k, (_, terms) in self.consume_compliant.items()),
            tuple(self.process_cap),
            tuple(self.route_cap),
            tuple(self.offer_cap),
            tuple(self.compliant_demand),
            self.compliant_stock,
        )


def _period_rows(rows: Any, key: Any, period: str) -> dict[tuple[str, ...], Any]:
    return in_period(rows, key, period, lambda r: r.period)


class _Resolver:
    """Index sets of the chain, built in one pass over the periods (linear in the network)."""

    def __init__(self, inputs: Inputs, countries: Mapping[str, tuple[bool, bool]]) -> None:
        self.inputs = inputs
        self.settings = inputs.settings
        self.country_of = {s.supplier: s.country for s in inputs.suppliers}
        self.flags = countries  # country -> (china, allied)
        self.excluded = excluded_countries(inputs)
        home = self.settings.importer_country.strip().lower()
        self.importer = next(
            (c.country for c in inputs.countries if c.country.strip().lower() == home),
            self.settings.importer_country,
        )
        self.grades = inputs.tracks_compliance
        self.routed = {r.material for r in inputs.routes}
        self.reference = {m.material: m.reference_price_usd_per_kg for m in inputs.materials}
        self.material_stage = {m.material: m.stage or "" for m in inputs.materials}
        stocked = {s.material for s in inputs.stockpile}
        self.wanted = {d.material for d in inputs.demand if d.demand_t > 0} | stocked

    def china(self, supplier: str) -> bool:
        return self.flags.get(self.country_of.get(supplier, ""), (False, False))[0]

    def allied(self, supplier: str) -> bool:
        return self.flags.get(self.country_of.get(supplier, ""), (False, False))[1]

    def in_importer(self, supplier: str) -> bool:
        return self.country_of.get(supplier) == self.importer

    def enters(self, frm: str, to: str) -> bool:
        """A shipment pays US duty where it enters the importer country."""
        return to == BUYER or (self.in_importer(to) and not self.in_importer(frm))

    def excluded_facility(self, supplier: str) -> bool:
        return self.country_of.get(supplier) in self.excluded


def _route_rows(inputs: Inputs, period: str) -> dict[tuple[str, str], list[tuple[str, Route]]]:
    """(from_supplier, material) -> [(to, route)] of the Routes rows applying in the period."""
    rows = _period_rows(inputs.routes, lambda r: (r.from_supplier, r.to_key, r.material), period)
    out: dict[tuple[str, str], list[tuple[str, Route]]] = defaultdict(list)
    for (frm, to, material), route in sorted(rows.items()):
        out[(frm, material)].append((BUYER if is_buyer(to) else to, route))
    return out


def prepare_chain(
    inputs: Inputs,
    buys: dict[Buy, Any],
    countries: Mapping[str, tuple[bool, bool]],
    periods: tuple[str, ...],
) -> tuple[ChainData, dict[Buy, Any]]:
    """The chain's data, and the purchases with their delivery to the buyer adjusted.

    An offer delivers to the buyer through x (as in v1); with Routes rows for its
    material, only on a route to the buyer (x pays the route's freight too, and
    is 0 without one). Its shipments to facilities are columns of the chain.
    """
    r = _Resolver(inputs, countries)
    exclude_china = inputs.settings.exclude_china
    acts: dict[Act, ActData] = {}
    ships: dict[Ship, ShipData] = {}
    lanes: dict[Lane, tuple[float, Act, tuple[Ship, ...]]] = {}
    discards: list[Lane] = []
    consume_in: dict[Node, list[Ship]] = defaultdict(list)
    consume_terms: dict[Node, list[tuple[Act, float]]] = defaultdict(list)
    consume_c_in: dict[Node, list[Ship]] = defaultdict(list)
    consume_c_terms: dict[Node, list[tuple[Act, float]]] = defaultdict(list)
    process_cap: dict[ProcessPeriod, float] = {}
    process_acts: dict[ProcessPeriod, tuple[Act, ...]] = {}
    route_cap: dict[RouteKey, float] = {}
    route_ships: dict[RouteKey, list[Ship]] = defaultdict(list)
    route_buys: dict[RouteKey, list[Buy]] = defaultdict(list)
    offer_ships: dict[Buy, list[Ship]] = defaultdict(list)
    to_buyer: dict[MT, list[Ship]] = defaultdict(list)
    stage_of: dict[tuple[str, str], str] = {}
    new_buys = dict(buys)

    # what each process is and needs, per period; (supplier, process) in sorted order
    processes = sorted({(p.supplier, p.process) for p in inputs.processes})
    pending_lanes: list[tuple[Lane, float, Act, str, float]] = []
    rate_lanes: set[tuple[str, str]] = set()
    for period in periods:
        rows = _period_rows(inputs.processes, lambda p: (p.supplier, p.process), period)
        needs = _period_rows(
            inputs.process_inputs, lambda i: (i.supplier, i.process, i.material), period
        )
        makes = _period_rows(
            inputs.coproducts, lambda c: (c.supplier, c.process, c.material), period
        )
        inputs_of: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
        for (s, p, m), row in sorted(needs.items()):
            inputs_of[(s, p)].append((m, row.t_per_t))
        coproducts_of: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
        for (s, p, m), row in sorted(makes.items()):
            coproducts_of[(s, p)].append((m, row.t_per_t))
        for s, p in processes:
            row = rows.get((s, p))
            if row is None:
                continue
            stage = row.stage or r.material_stage.get(row.output) or p
            stage_of[(s, p)] = stage
            feed = inputs_of.get((s, p), [])
            clean = not r.excluded_facility(s)
            if not r.grades:
                grades: tuple[str, ...] = (OTHER,)
            elif not feed:  # a source: its output is compliant where its facility is
                grades = (COMPLIANT,) if clean else (OTHER,)
            else:
                grades = (COMPLIANT, OTHER) if clean else (OTHER,)
            value = row.customs_value_usd_per_kg
            if value is None:
                value = row.cost_usd_per_kg + sum(a * r.reference.get(m, 0.0) for m, a in feed)
            upper = 0.0 if exclude_china and r.china(s) else math.inf
            keys = []
            for g in grades:
                act = (s, p, period, g)
                keys.append(act)
                acts[act] = ActData(
                    s,
                    p,
                    period,
                    g,
                    row.output,
                    r.country_of[s],
                    stage,
                    row.cost_usd_per_kg,
                    value,
                    upper,
                    r.china(s),
                    row.customs_value_usd_per_kg is None,
                )
                for m, a in feed:
                    consume_terms[(s, m, period)].append((act, a))
                    if g == COMPLIANT:
                        consume_c_terms[(s, m, period)].append((act, a))
                pending_lanes.append(((s, p, row.output, period, g), 1.0, act, "", value))
                for m, k in coproducts_of.get((s, p), []):
                    ref = r.reference.get(m, 0.0)
                    pending_lanes.append(((s, p, m, period, g), k, act, "co", ref))
                    rate_lanes.add((r.country_of[s], m))
            rate_lanes.add((r.country_of[s], row.output))
            process_acts[(s, p, period)] = tuple(keys)
            if row.capacity_t is not None:
                process_cap[(s, p, period)] = row.capacity_t
    for b in buys:
        rate_lanes.add((r.country_of[b[0]], b[1]))
    rates = lane_rates(inputs, sorted(rate_lanes), periods)

    consumers: dict[tuple[str, str], list[str]] = defaultdict(list)  # (m, t) -> facilities
    for s, m, t in sorted(consume_terms):
        consumers[(m, t)].append(s)
    routes_in = {t: _route_rows(inputs, t) for t in periods}

    def destinations(frm: str, m: str, t: str, buyer: bool) -> list[tuple[str, Route | None]]:
        """Where `frm` may ship m in t: itself, facilities that use m, and the buyer."""
        out: list[tuple[str, Route | None]] = []
        users = consumers.get((m, t), [])
        if frm in users:
            out.append((frm, None))  # its own use: no route needed
        if m in r.routed:
            for to, route in routes_in[t].get((frm, m), []):
                if to == BUYER:
                    if buyer and m in r.wanted:
                        out.append((BUYER, route))
                elif to != frm and to in users:
                    out.append((to, route))
        else:
            out.extend((to, None) for to in users if to != frm)
            if buyer and m in r.wanted:
                out.append((BUYER, None))
        return out

    def add_ship(key: Ship, data: ShipData) -> None:
        ships[key] = data
        _, _, m, to, t, g = key
        if to == BUYER:
            to_buyer[(m, t)].append(key)
        else:
            consume_in[(to, m, t)].append(key)
            if g == COMPLIANT:
                consume_c_in[(to, m, t)].append(key)
        if data.route is not None and data.route in route_cap:
            route_ships[data.route].append(key)

    def note_route(route: Route | None, frm: str, to: str, m: str, t: str) -> RouteKey | None:
        if route is None:
            return None
        key = (frm, to, m, t)
        if route.max_t is not None:
            route_cap[key] = route.max_t
        return key

    def shut(frm: str, to: str) -> bool:
        return exclude_china and (r.china(frm) or (to != BUYER and r.china(to)))

    for lane, coef, act, kind, value in pending_lanes:
        s, p, m, t, g = lane
        lane_rate = rates[(r.country_of[s], m, t)]
        out = []
        for to, route in destinations(s, m, t, buyer=True):
            key: Ship = (s, p, m, to, t, g)
            enters = r.enters(s, to) and to != s
            add_ship(
                key,
                ShipData(
                    s,
                    p,
                    m,
                    to,
                    t,
                    g,
                    r.country_of[s],
                    0.0,
                    route.freight_usd_per_kg if route else 0.0,
                    value,
                    lane_rate.rate if enters else 0.0,
                    0.0 if shut(s, to) else math.inf,
                    r.china(s),
                    r.allied(s),
                    route=note_route(route, s, to, m, t),
                    coproduct=kind == "co",
                    dutiable=enters,
                    tariff_parts=lane_rate.parts if enters else (),
                ),
            )
            out.append(key)
        lanes[lane] = (coef, act, tuple(out))
        if kind == "co":
            discards.append(lane)

    for b, d in buys.items():
        s, m, t = b
        grade = COMPLIANT if (r.grades and d.compliant) else OTHER
        offer_rate: LaneRate = rates[(r.country_of[s], m, t)]
        buyer_route = None
        for to, route in destinations(s, m, t, buyer=True):
            if to == BUYER:
                buyer_route = route
                continue
            key = (s, OFFER, m, to, t, grade)
            enters = r.enters(s, to) and to != s
            add_ship(
                key,
                ShipData(
                    s,
                    OFFER,
                    m,
                    to,
                    t,
                    grade,
                    d.country,
                    d.price_paid,
                    route.freight_usd_per_kg if route else 0.0,
                    d.price_paid,
                    offer_rate.rate if enters else 0.0,
                    0.0 if shut(s, to) else math.inf,
                    d.china,
                    d.allied,
                    buy=b,
                    route=note_route(route, s, to, m, t),
                    dutiable=enters,
                    support_usd_per_kg=d.support_usd_per_kg,
                    objective_extra=d.objective_extra,
                    tariff_parts=offer_rate.parts if enters else (),
                ),
            )
            offer_ships[b].append(key)
        update: dict[str, Any] = {}
        if m in r.routed:
            if buyer_route is None:
                update["upper_t"] = 0.0
            else:
                update["freight"] = d.freight + buyer_route.freight_usd_per_kg
                key_r = note_route(buyer_route, s, BUYER, m, t)
                if key_r in route_cap:
                    route_buys[key_r].append(b)
        if b in offer_ships:
            # the offer's limit is a row over all its destinations; x keeps only exclusion
            update["upper_t"] = update.get(
                "upper_t", 0.0 if exclude_china and d.china else math.inf
            )
        if update:
            new_buys[b] = replace(d, **update)

    offer_cap = {b: buys[b].limit_t for b in offer_ships if math.isfinite(buys[b].limit_t)}
    compliant_demand, compliant_initial, compliant_stock = _compliance(inputs, periods)
    return (
        ChainData(
            grades=r.grades,
            acts=acts,
            ships=ships,
            lanes=lanes,
            discards=tuple(discards),
            consume={
                n: (tuple(consume_in.get(n, ())), tuple(terms))
                for n, terms in consume_terms.items()
            },
            consume_compliant={
                n: (tuple(consume_c_in.get(n, ())), tuple(terms))
                for n, terms in consume_c_terms.items()
            },
            process_cap=process_cap,
            process_acts=process_acts,
            route_cap=route_cap,
            route_members={
                k: (tuple(route_ships.get(k, ())), tuple(route_buys.get(k, ()))) for k in route_cap
            },
            offer_ships={b: tuple(v) for b, v in offer_ships.items()},
            offer_cap=offer_cap,
            to_buyer={k: tuple(v) for k, v in to_buyer.items()},
            compliant_demand=compliant_demand,
            compliant_initial=compliant_initial,
            compliant_stock=compliant_stock,
            stage_of=stage_of,
            material_stage=r.material_stage,
            excluded=r.excluded,
            importer=r.importer,
        ),
        new_buys,
    )


def _compliance(
    inputs: Inputs, periods: tuple[str, ...]
) -> tuple[dict[MT, float], dict[str, float], tuple[str, ...]]:
    """Compliant demand per (material, period) of every material with a compliant segment."""
    materials = [m.material for m in inputs.materials]
    tracked = {d.material for d in inputs.demand if d.compliant}
    demand: dict[MT, float] = {}
    for m in materials:
        if m in tracked:
            for t in periods:
                demand[(m, t)] = 0.0
    for d in inputs.demand:
        if d.compliant:
            demand[(d.material, d.period)] += d.demand_t
    initial = {
        s.material: (s.initial_t if s.compliant else 0.0)
        for s in inputs.stockpile
        if s.material in tracked
    }
    stock = tuple(s.material for s in inputs.stockpile if s.material in tracked)
    return demand, initial, stock
