"""From checked inputs to the numbers the LP is built from.

Everything the model needs is resolved here, once: which (supplier, material,
period) purchases exist, the price the buyer pays (contract price, then a
buyer-paid floor), the government's price support (a government-paid floor),
the tariff rate of the measures in force (`optimizer.model.tariffs`), landed
cost, upper bounds.
`ModelData.structure` holds only what shapes the index sets; two ModelData
with the same structure differ only in parameter values, so a built model can
be updated in place instead of rebuilt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from optimizer.common.problems import Problem
from optimizer.contract.records import Inputs, Offer, Settings
from optimizer.contract.tariff_checks import active_regime
from optimizer.model.chain_data import ChainData, prepare_chain
from optimizer.model.chain_edits import carry_structure, moved_records
from optimizer.model.emissions import (
    EmissionsData,
    emissions_data,
    high_standard,
    with_buy_emissions,
)
from optimizer.model.tariffs import lane_rates

Buy = tuple[str, str, str]  # (supplier, material, period)
MT = tuple[str, str]  # (material, period)


@dataclass(frozen=True)
class BuyData:
    """Everything about one possible purchase x[supplier, material, period] (tonnes)."""

    supplier: str
    material: str
    period: str
    country: str
    china: bool
    allied: bool
    high_standard: bool
    offer_price: float  # USD/kg as quoted
    price_paid: float  # USD/kg after contract price and a buyer-paid floor: the customs value
    floor_applied: bool  # a buyer-paid floor raised the price
    tariff_rate: float  # fraction of price_paid
    freight: float  # USD/kg, not dutiable
    upper_t: float  # math.inf when unlimited; 0 when excluded
    #: USD/kg the government pays the supplier on top (a government-paid floor's gap)
    support_usd_per_kg: float = 0.0
    #: USD/kg of that support the objective counts (the national-cost view; else 0)
    objective_extra: float = 0.0
    #: the tariff's make-up: (basis, rate) pairs adding up to tariff_rate
    tariff_parts: tuple[tuple[str, float], ...] = ()
    #: the offer's own limit per period (offer and offtake max_t; math.inf if none). In v1 it
    #: is also x's bound; an offer that ships to facilities (contract v2) has it as a row
    limit_t: float = math.inf
    #: the offer may serve compliant demand (Offers `compliant`)
    compliant: bool = False
    #: cradle-to-gate intensity, t CO2e per t: as stated (None = unknown), and as the carbon
    #: price and caps count it (see optimizer.model.emissions); its carbon cost in USD/kg
    emissions_stated: float | None = None
    emissions_rate: float = 0.0
    carbon_usd_per_kg: float = 0.0

    @property
    def landed(self) -> float:
        """Landed cost to the buyer, USD/kg = price_paid * (1 + tariff) + freight."""
        return self.price_paid * (1.0 + self.tariff_rate) + self.freight

    @property
    def objective_cost(self) -> float:
        """USD/kg the objective charges: landed cost, plus the support in the national view."""
        return self.landed + self.objective_extra

    def objective_cost_at(self, rate: float) -> float:
        """The objective's USD/kg with the tariff at `rate` instead (a break-even's what-if),
        the same arithmetic as `objective_cost` and the model's x_costs."""
        return self.price_paid * (1.0 + rate) + self.freight + self.objective_extra


@dataclass(frozen=True)
class StockData:
    """Stockpile parameters of one material."""

    initial_t: float
    reserve_t: float
    holding_usd_per_kg: float
    max_t: float = math.inf


@dataclass(frozen=True)
class Structure:
    """The index sets: equal structures mean a built model can be updated in place."""

    periods: tuple[str, ...]
    materials: tuple[str, ...]
    buys: tuple[Buy, ...]
    capacity: tuple[tuple[str, str], ...]  # (supplier, period) with a capacity
    hard_minimum: tuple[Buy, ...]
    take_or_pay: tuple[Buy, ...]
    stock: tuple[str, ...]
    allow_unmet: bool
    country_cap: bool
    #: per purchase, the share rows it sits in: (China origin, allied, country). These set
    #: matrix coefficients (a country's allied flag edited is a new LP, not a new bound)
    origins: tuple[tuple[bool, bool, str], ...] = ()
    #: the supply chain's index sets and yields (None for a v1 workbook)
    chain: tuple[object, ...] | None = None
    #: emissions caps: their keys and coefficients (empty without EmissionsCaps rows)
    emissions: tuple[object, ...] = ()


@dataclass(frozen=True)
class ModelData:
    """All LP coefficients, keyed by index tuples; built by `prepare`."""

    periods: tuple[str, ...]
    materials: tuple[str, ...]
    demand: dict[MT, float]
    buys: dict[Buy, BuyData]
    capacity: dict[tuple[str, str], float]  # (supplier, period) -> t
    hard_minimum: dict[Buy, float]  # t
    take_or_pay: dict[Buy, tuple[float, float]]  # (minimum t, fraction of price paid)
    stock: dict[str, StockData]
    settings: Settings
    countries: dict[str, tuple[bool, bool]]  # country -> (china, allied)
    #: which tariffs apply: the regime's name ("" without Tariffs rows) and the data date
    tariff_regime: str = ""
    data_date: str = ""
    #: the supply chain behind the offers (contract v2); None for a v1 workbook
    chain: ChainData | None = None
    #: activity intensities, carbon price and emissions caps (optimizer.model.emissions)
    emissions: EmissionsData | None = None

    @property
    def structure(self) -> Structure:
        """The shape of the model (see Structure). Computed each time (a table edited in
        place is seen), except on a what-if copy made by `repriced`, which carries it."""
        carried: Structure | None = self.__dict__.get("_carried_structure")
        if carried is not None:
            return carried
        return Structure(
            periods=self.periods,
            materials=self.materials,
            buys=tuple(self.buys),
            capacity=tuple(self.capacity),
            hard_minimum=tuple(self.hard_minimum),
            take_or_pay=tuple(self.take_or_pay),
            stock=tuple(self.stock),
            allow_unmet=self.settings.allow_unmet,
            country_cap=self.settings.max_country_share < 1.0,
            origins=tuple((d.china, d.allied, d.country) for d in self.buys.values()),
            chain=None if self.chain is None else self.chain.structure,
            emissions=()
            if self.emissions is None
            else self.emissions.structure(tuple(d.emissions_rate for d in self.buys.values())),
        )

    def order(self, b: Buy) -> tuple[int, int, str]:
        """Sort key for purchases: material as listed, period in order, then supplier."""
        return (self.materials.index(b[1]), self.periods.index(b[2]), b[0])

    def buys_of(self, material: str, period: str) -> list[Buy]:
        """Purchases that can serve a material in a period."""
        return [b for b in self.buys if b[1] == material and b[2] == period]


def _offer_for_period(offers: list[Offer], period: str) -> Offer | None:
    """The period's own row, else the blank-period row."""
    specific = [o for o in offers if o.period == period]
    if specific:
        return specific[0]
    generic = [o for o in offers if o.period is None]
    return generic[0] if generic else None


def prepare(inputs: Inputs) -> ModelData:
    """Resolve prices, tariffs, bounds and index sets from checked inputs."""
    periods = inputs.periods
    materials = tuple(m.material for m in inputs.materials)
    settings = inputs.settings
    countries = {c.country: c for c in inputs.countries}
    suppliers = {s.supplier: s for s in inputs.suppliers}
    floors = {f.material: f for f in inputs.price_floors}
    offtakes = {(k.supplier, k.material): k for k in inputs.offtakes}
    standard = high_standard(inputs)

    lanes: dict[tuple[str, str], list[Offer]] = {}
    for offer in inputs.offers:
        lanes.setdefault((offer.supplier, offer.material), []).append(offer)
    tariffs = lane_rates(inputs, ((suppliers[s].country, m) for s, m in sorted(lanes)), periods)

    buys: dict[Buy, BuyData] = {}
    hard_minimum: dict[Buy, float] = {}
    take_or_pay: dict[Buy, tuple[float, float]] = {}
    # sorted, so the LP's column order (and so its choice among equal-cost plans) does not
    # depend on the order of rows in the workbook
    for (supplier_name, material), offers in sorted(lanes.items()):
        supplier = suppliers[supplier_name]
        country = countries[supplier.country]
        offtake = offtakes.get((supplier_name, material))
        floor = floors.get(material)
        for period in periods:
            chosen = _offer_for_period(offers, period)
            if chosen is None:
                continue
            offer = chosen
            price = offer.price_usd_per_kg
            if offtake and offtake.contract_price_usd_per_kg is not None:
                price = offtake.contract_price_usd_per_kg
            floor_applies = floor is not None and (
                floor.applies_to == "all" or standard[supplier_name]
            )
            gap = max(0.0, floor.floor_usd_per_kg - price) if floor and floor_applies else 0.0
            floor_applied = bool(gap > 0 and floor and floor.paid_by == "buyer")
            support = gap if floor and floor.paid_by == "government" else 0.0
            if floor_applied and floor:
                price = floor.floor_usd_per_kg
            lane = tariffs[(country.country, material, period)]
            limit = math.inf if offer.max_t is None else offer.max_t
            if offtake and offtake.max_t is not None:
                limit = min(limit, offtake.max_t)
            upper = 0.0 if settings.exclude_china and country.china else limit
            key = (supplier_name, material, period)
            buys[key] = BuyData(
                supplier=supplier_name,
                material=material,
                period=period,
                country=country.country,
                china=bool(country.china),
                allied=country.allied,
                high_standard=standard[supplier_name],
                offer_price=offer.price_usd_per_kg,
                price_paid=price,
                floor_applied=floor_applied,
                tariff_rate=lane.rate,
                freight=offer.freight_usd_per_kg,
                upper_t=upper,
                support_usd_per_kg=support,
                objective_extra=support if settings.national_cost else 0.0,
                tariff_parts=lane.parts,
                limit_t=limit,
                compliant=offer.compliant,
                emissions_stated=offer.emissions_kg_co2e_per_kg,
            )
            if offtake and offtake.min_t > 0:
                if offtake.take_or_pay is None:
                    hard_minimum[key] = offtake.min_t
                else:
                    take_or_pay[key] = (offtake.min_t, offtake.take_or_pay)

    buys = with_buy_emissions(inputs, buys)  # before the chain: offer shipments copy costs
    chain = None
    if inputs.has_chain or inputs.tracks_compliance:
        chain, buys = prepare_chain(
            inputs, buys, {c.country: (bool(c.china), c.allied) for c in inputs.countries}, periods
        )
    used = {(b.supplier, b.period) for b in buys.values()}
    if chain is not None:
        used |= {(a.supplier, a.period) for a in chain.acts.values()}
    capacity = {
        (s.supplier, t): s.capacity_t
        for s in sorted(inputs.suppliers, key=lambda s: s.supplier)
        for t in periods
        if s.capacity_t is not None and (s.supplier, t) in used
    }
    demand = {(m, t): 0.0 for m in materials for t in periods}
    for d in inputs.demand:  # a compliant and a commercial segment add up
        demand[(d.material, d.period)] += d.demand_t
    stock = {
        s.material: StockData(
            s.initial_t,
            s.reserve_t,
            s.holding_usd_per_kg,
            math.inf if s.max_t is None else s.max_t,
        )
        for s in inputs.stockpile
    }
    return ModelData(
        periods=periods,
        materials=materials,
        demand=demand,
        buys=buys,
        capacity=capacity,
        hard_minimum=hard_minimum,
        take_or_pay=take_or_pay,
        stock=stock,
        settings=settings,
        countries={c.country: (bool(c.china), c.allied) for c in inputs.countries},
        tariff_regime=active_regime(inputs),
        data_date=settings.data_date.isoformat() if settings.data_date else "",
        chain=chain,
        emissions=emissions_data(inputs, chain),
    )


def check_chain_finite(chain: ChainData) -> list[Problem]:
    """The chain's costs, yields and limits are finite (upper bounds may be infinite)."""
    bad: list[Problem] = []

    def need(value: float, what: str) -> None:
        if not math.isfinite(value):
            bad.append(Problem("", "", f"{what} is not a finite number ({value})"))

    for act, a in chain.acts.items():
        need(a.fee_usd_per_kg + a.customs_value_usd_per_kg, f"fee or customs value of {act}")
        if math.isnan(a.upper_t):
            bad.append(Problem("", "", f"upper bound of {act} is NaN"))
    for ship, f in chain.ships.items():
        need(f.objective_cost, f"cost of shipment {ship}")
        if math.isnan(f.upper_t):
            bad.append(Problem("", "", f"upper bound of {ship} is NaN"))
    for lane, (coef, _, _) in chain.lanes.items():
        need(coef, f"co-product yield of {lane}")
    for node, (_, terms) in chain.consume.items():
        for _, t_per_t in terms:
            need(t_per_t, f"input t_per_t at {node}")
    tables: tuple[tuple[Mapping[Any, float], str], ...] = (
        (chain.process_cap, "process capacity"),
        (chain.route_cap, "route limit"),
        (chain.offer_cap, "offer limit"),
        (chain.compliant_demand, "compliant demand"),
        (chain.compliant_initial, "compliant initial stock"),
    )
    for table, what in tables:
        for key, q in table.items():
            need(q, f"{what} of {key}")
    return bad


def repriced(before: ModelData, **changes: Any) -> ModelData:
    """`before` with `changes` (costs, rates or bounds of the same purchases and chain records:
    never a key or an origin flag), keeping its computed structure so that a warm update
    compares structures in pointer time. The caller vouches for the sameness."""
    after = replace(before, **changes)
    chain = after.chain
    if chain is not None and before.chain is not None and chain is not before.chain:
        carry_structure(before.chain, chain)
    after.__dict__["_carried_structure"] = before.structure
    return after


def chain_is_finite(chain: ChainData, before: ChainData | None) -> bool:
    """Whether check_chain_finite would pass, looking only at what changed since `before` (a
    chain of the same structure that passed): activities and shipments that are new objects
    (they are frozen), and the small tables in full."""
    if chain is before:
        return True
    if (
        before is None
        or len(chain.acts) != len(before.acts)
        or len(chain.ships) != len(before.ships)
    ):
        return not check_chain_finite(chain)
    acts = moved_records(chain.acts, before.acts)
    ships = moved_records(chain.ships, before.ships)
    values = [a.fee_usd_per_kg + a.customs_value_usd_per_kg for a in acts]
    values += [f.objective_cost for f in ships]
    for table in (chain.process_cap, chain.route_cap, chain.offer_cap, chain.compliant_demand):
        values.extend(table.values())
    if not all(math.isfinite(v) for v in values):
        return False
    return not any(math.isnan(a.upper_t) for a in acts) and not any(
        math.isnan(f.upper_t) for f in ships
    )


def update_is_finite(data: ModelData, new_buys: list[BuyData], before: ChainData | None) -> bool:
    """Whether everything check_finite looks at is finite, in time proportional to a change.

    For an update in place: purchases are looked at only when they are new objects
    (`new_buys`: BuyData is frozen, and the others passed when they came in); every
    other table is small and is checked in full, with numpy.
    """

    def finite(values: Any, n: int) -> bool:
        return bool(np.isfinite(np.fromiter(values, float, n)).all())

    s = data.settings
    shares = (s.max_china_share, s.max_country_share, s.min_allied_share)
    return (
        finite((d.objective_cost for d in new_buys), len(new_buys))
        and not any(math.isnan(d.upper_t) for d in new_buys)
        and finite(data.demand.values(), len(data.demand))
        and finite(data.capacity.values(), len(data.capacity))
        and finite(data.hard_minimum.values(), len(data.hard_minimum))
        and finite((q * f for q, f in data.take_or_pay.values()), len(data.take_or_pay))
        and finite(
            (v.initial_t + v.reserve_t + v.holding_usd_per_kg for v in data.stock.values()),
            len(data.stock),
        )
        and finite((*shares, s.unmet_penalty_usd_per_kg), len(shares) + 1)
        and not any(math.isnan(v.max_t) for v in data.stock.values())
        and (data.chain is None or chain_is_finite(data.chain, before))
        and (data.emissions is None or _emissions_finite(data.emissions))
    )


def _emissions_finite(em: EmissionsData) -> bool:
    """The carbon price, caps and activity intensities check_finite looks at (small tables)."""
    values = (em.carbon_price, *em.caps.values(), *em.act_rate.values())
    return bool(np.isfinite(np.fromiter(values, float, len(values))).all())


def check_finite(data: ModelData) -> list[Problem]:
    """Last guard before building: no NaN or infinite coefficient may reach HiGHS.

    Pyomo's HiGHS interface drops a constraint with an infinite coefficient and
    accepts a NaN cost, returning a false "optimal"; parsing rejects such cells,
    and this check makes sure nothing derived from them slipped through.
    """
    bad: list[Problem] = []

    def need(value: float, what: str) -> None:
        if not math.isfinite(value):
            bad.append(Problem("", "", f"{what} is not a finite number ({value})"))

    for key, b in data.buys.items():
        need(b.objective_cost, f"landed cost of {key}")
        need(b.emissions_rate, f"emissions intensity of {key}")
        if math.isnan(b.upper_t):
            bad.append(Problem("", "", f"upper bound of {key} is NaN"))
    for mt, q in data.demand.items():
        need(q, f"demand of {mt}")
    for st, q in data.capacity.items():
        need(q, f"capacity of {st}")
    for key, q in data.hard_minimum.items():
        need(q, f"offtake minimum of {key}")
    for key, (q, f) in data.take_or_pay.items():
        need(q * f, f"take-or-pay of {key}")
    for m, stock in data.stock.items():
        need(stock.initial_t + stock.reserve_t + stock.holding_usd_per_kg, f"stockpile of {m}")
        if math.isnan(stock.max_t):
            bad.append(Problem("", "", f"stock limit of {m} is NaN"))
    if data.chain is not None:
        bad.extend(check_chain_finite(data.chain))
    if data.emissions is not None:
        em = data.emissions
        need(em.carbon_price, "carbon_price_usd_per_t_co2e")
        for act, r in em.act_rate.items():
            need(r, f"emissions intensity of {act}")
        for cap, q in em.caps.items():
            need(q, f"emissions cap {cap}")
    settings = data.settings
    for v in (settings.max_china_share, settings.max_country_share, settings.min_allied_share):
        need(v, "a share setting")
    need(settings.unmet_penalty_usd_per_kg, "unmet_penalty_usd_per_kg")
    return bad
