"""First-stage decisions of a two-stage plan: what is committed before disruptions are known.

A decision is made once, now, and holds in every disruption sample:

- an **offtake** signed per period on a decided Offtakes row (`decide` TRUE):
  z[b] in [min_t, max_t] t for purchase b = (supplier, material, period). The offer
  is then bought only under the contract: purchase(b) <= keep[b] * z[b], where
  keep[b] is the share of the supplier's output a sample leaves (force majeure).
  With take_or_pay blank the volume is firm, purchase(b) >= keep[b] * z[b]; with a
  fraction f the untaken part is paid, w[b] >= keep[b] * z[b] - purchase(b) at f x
  price; with f = 0 the row is an option (`reserve`): nothing is owed for what is not
  taken. A fee `reserve_usd_per_kg` is paid on z whatever happens.
- a **stock build** on a decided Stockpile row: k[m] in [build_min_t, build_max_t] t,
  bought now at `build_price_usd_per_kg` (blank: the lowest landed cost of the
  material's first-period offers) and in stock from the first period, on top of
  initial_t (it enters the first balance row as initial stock does).

`open_data` turns the workbook's data into the second stage's: decided purchases lose
their fixed minimum (the decision sets it). `plan_data` turns it back into an ordinary
one-stage ModelData for a fixed plan, so any engine evaluates a plan in a sample
exactly as the extensive form (optimizer.model.extensive) prices it. Quantities t,
money USD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from optimizer.common.problems import InvalidInputError, Problem
from optimizer.contract.records import Inputs
from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import Buy, ModelData

OFFTAKE: Final = "offtake"
RESERVE: Final = "reserve"
STOCKPILE: Final = "stockpile"
#: how a signed volume binds: all of it taken, untaken part paid, or nothing owed
FIRM: Final = "firm"
TAKE_OR_PAY: Final = "take_or_pay"
OPTION: Final = "option"
#: committed quantities below this are read as 0 t (solver noise)
EPS_COMMIT: Final = 1e-7


@dataclass(frozen=True)
class Decision:
    """One first-stage column: an offtake signed for one period, or a stock build."""

    kind: str  # OFFTAKE, RESERVE or STOCKPILE
    supplier: str  # "" for a stock build
    material: str
    period: str  # a build's: the first period, when it is in stock
    lower_t: float
    upper_t: float
    #: first-stage USD/kg: the reserve fee of a signed volume, the price of a build
    fee_usd_per_kg: float
    binding: str = FIRM  # FIRM, TAKE_OR_PAY or OPTION (offtakes)
    fraction: float = 0.0  # take-or-pay share of price paid on the untaken volume

    @property
    def buy(self) -> Buy:
        """The purchase an offtake decision is on."""
        return (self.supplier, self.material, self.period)

    @property
    def cost_usd_per_t(self) -> float:
        """First-stage cost per t decided."""
        return KG_PER_T * self.fee_usd_per_kg


@dataclass(frozen=True)
class FirstStage:
    """The decisions and the second stage's data (decided purchases opened)."""

    decisions: tuple[Decision, ...]
    second: ModelData

    def cost(self, values: Sequence[float]) -> float:
        """First-stage cost of the decided values, USD."""
        return sum(d.cost_usd_per_t * v for d, v in zip(self.decisions, values, strict=True))


def _build_price(base: ModelData, material: str) -> float | None:
    """Lowest undisrupted landed cost (USD/kg) of the material's first-period offers."""
    first = base.periods[0] if base.periods else None
    costs = [
        d.landed
        for d in base.buys.values()
        if d.material == material and d.period == first and d.upper_t > 0
    ]
    return min(costs) if costs else None


def first_stage(inputs: Inputs, base: ModelData) -> FirstStage:
    """The decisions the workbook marks (`decide` TRUE) and the opened second-stage data.

    Raises InvalidInputError when a build has no price and no first-period offer to take
    it from (the cell is cited).
    """
    decisions: list[Decision] = []
    hard = dict(base.hard_minimum)
    top = dict(base.take_or_pay)
    for k in inputs.offtakes:
        if not k.decide or k.max_t is None:
            continue
        binding = FIRM if k.take_or_pay is None else OPTION if k.take_or_pay == 0 else TAKE_OR_PAY
        for b, d in base.buys.items():
            if (d.supplier, d.material) != (k.supplier, k.material):
                continue
            hard.pop(b, None)
            top.pop(b, None)
            if binding == FIRM:
                hard[b] = 0.0  # the row stays; the decision sets its minimum
            elif binding == TAKE_OR_PAY:
                top[b] = (0.0, float(k.take_or_pay or 0.0))
            kind = RESERVE if binding == OPTION else OFFTAKE
            decisions.append(
                Decision(
                    kind,
                    k.supplier,
                    k.material,
                    d.period,
                    k.min_t,
                    k.max_t,
                    k.reserve_usd_per_kg,
                    binding,
                    float(k.take_or_pay or 0.0),
                )
            )
    problems: list[Problem] = []
    for s in inputs.stockpile:
        if not s.decide or s.build_max_t is None or not base.periods:
            continue
        price = s.build_price_usd_per_kg
        if price is None:
            price = _build_price(base, s.material)
        if price is None:
            problems.append(
                Problem.at(
                    s.refs.get("build_price_usd_per_kg", "Stockpile!"),
                    f"{s.material} has no offer in {base.periods[0]} to price a build: give "
                    "build_price_usd_per_kg",
                )
            )
            continue
        decisions.append(
            Decision(
                STOCKPILE, "", s.material, base.periods[0], s.build_min_t, s.build_max_t, price
            )
        )
    if problems:
        raise InvalidInputError(problems)
    decisions.sort(key=lambda d: (d.kind == STOCKPILE, base.order(d.buy) if d.supplier else (0,)))
    return FirstStage(tuple(decisions), replace(base, hard_minimum=hard, take_or_pay=top))


def plan_data(first: FirstStage, values: Sequence[float]) -> ModelData:
    """The one-stage ModelData of a fixed plan: each purchase capped at what is signed
    (and held to it, firm or take-or-pay), each build added to initial stock.

    The first-stage cost (`FirstStage.cost`) is a constant the caller adds.
    """
    data = first.second
    buys = dict(data.buys)
    hard = dict(data.hard_minimum)
    top = dict(data.take_or_pay)
    stock = dict(data.stock)
    chain = data.chain
    offer_cap = dict(chain.offer_cap) if chain is not None else {}
    for d, value in zip(first.decisions, values, strict=True):
        q = value if value > EPS_COMMIT else 0.0
        if d.kind == STOCKPILE:
            s = stock[d.material]
            stock[d.material] = replace(s, initial_t=s.initial_t + q)
            continue
        b = d.buy
        buys[b] = replace(buys[b], upper_t=min(buys[b].upper_t, q))
        if b in offer_cap:
            offer_cap[b] = min(offer_cap[b], q)
        if d.binding == FIRM:
            hard[b] = q
        elif d.binding == TAKE_OR_PAY:
            top[b] = (q, d.fraction)
    if chain is not None and offer_cap:
        chain = replace(chain, offer_cap=offer_cap)
    return replace(data, buys=buys, hard_minimum=hard, take_or_pay=top, stock=stock, chain=chain)


def commitments(first: FirstStage, values: Sequence[float]) -> list[dict[str, object]]:
    """The plan as records: kind, supplier, material, period, quantity_t (and the bounds)."""
    return [
        {
            "kind": d.kind,
            "supplier": d.supplier,
            "material": d.material,
            "period": d.period,
            "quantity_t": v if v > EPS_COMMIT else 0.0,
            "min_t": d.lower_t,
            "max_t": d.upper_t,
            "fee_usd": d.cost_usd_per_t * (v if v > EPS_COMMIT else 0.0),
            "at_max": v >= d.upper_t - EPS_COMMIT,
        }
        for d, v in zip(first.decisions, values, strict=True)
    ]


def keep_factors(first: FirstStage, keep: Mapping[Buy, float]) -> list[float]:
    """Per decision, the share of a signed volume a sample leaves (1 for a build)."""
    return [1.0 if d.kind == STOCKPILE else keep.get(d.buy, 1.0) for d in first.decisions]
