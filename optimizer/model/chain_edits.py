"""What-if copies of a ChainData: one rate or fee changed, the same structure carried over.

Break-evens re-solve the same chain thousands of times with one shipment rate or one
process fee moved; these helpers copy only what changes and hand the copy the
original's computed structure (and lane index), so a warm engine updates in place and
compares structures in pointer time.
"""

from __future__ import annotations

import itertools
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from optimizer.model.chain_data import ChainData, ShipData

T = TypeVar("T")


def dutiable_ships(chain: ChainData, country: str, material: str | None) -> list[Any]:
    """Keys of the shipments that pay `country`'s duty (of `material`, or of all), indexed once
    per ChainData: break-evens ask for the same lane many times."""
    index: dict[tuple[str, str | None], list[Any]] | None = chain.__dict__.get("_dutiable")
    if index is None:
        index = defaultdict(list)
        for k, f in chain.ships.items():
            if f.dutiable:
                index[(f.country, f.material)].append(k)
                index[(f.country, None)].append(k)
        chain.__dict__["_dutiable"] = index
    return index.get((country, material), [])


def with_ship_rate(chain: ChainData, keys: list[Any], rate: float) -> ChainData:
    """The chain with shipments `keys` at tariff `rate` (same structure, carried over)."""
    ships = dict(chain.ships)
    for k in keys:
        # a frozen record copied field by field without re-running __init__: this runs
        # thousands of times in a break-even bisection (ShipData has no cached fields)
        new = object.__new__(ShipData)
        new.__dict__.update(ships[k].__dict__, tariff_rate=rate)
        ships[k] = new
    return carry_structure(chain, replace(chain, ships=ships))


def carry_structure(before: ChainData, after: ChainData) -> ChainData:
    """Give `after` (a copy of `before` with other costs, rates or bounds: same keys, yields and
    origin flags) `before`'s computed structure, so comparing them takes pointer time."""
    for cached in ("structure", "_dutiable"):  # neither depends on costs, rates or bounds
        if cached in before.__dict__:
            after.__dict__[cached] = before.__dict__[cached]
    return after


def moved_positions(now: Sequence[T], before: Sequence[T]) -> npt.NDArray[np.intp]:
    """Positions where `now` holds another object than `before` (same length; records are
    frozen, so an unchanged one is the same object): what a warm update must push."""
    return np.flatnonzero(np.fromiter(map(operator.is_not, now, before), bool, len(now)))


def moved_records(now: Mapping[Any, T], before: Mapping[Any, T]) -> list[T]:
    """Records of `now` that are new objects against `before` (same keys in the same order;
    records are frozen, so an unchanged one is the same object)."""
    return list(
        itertools.compress(now.values(), map(operator.is_not, now.values(), before.values()))
    )


def with_process_fee(chain: ChainData, supplier: str, process: str, fee: float) -> ChainData:
    """The chain with one process's fee changed in every period (as a Processes row sets it):
    its activities' fee, and where the customs value is the default (fee + inputs), the value
    its output ships at. Same structure, so a warm engine updates in place."""
    acts = dict(chain.acts)
    moved: dict[tuple[str, str, str], float] = {}  # (period, grade...) -> customs value change
    for k, a in chain.acts.items():
        if (a.supplier, a.process) == (supplier, process):
            delta = fee - a.fee_usd_per_kg if a.customs_default else 0.0
            acts[k] = replace(
                a, fee_usd_per_kg=fee, customs_value_usd_per_kg=a.customs_value_usd_per_kg + delta
            )
            moved[(a.period, a.grade, a.output)] = delta
    ships = dict(chain.ships)
    if any(moved.values()):
        for _, act, out in (
            v for lane, v in chain.lanes.items() if lane[0] == supplier and lane[1] == process
        ):
            a = acts[act]
            delta = moved.get((a.period, a.grade, a.output), 0.0)
            for e in out:
                f = ships[e]
                if delta and f.material == a.output and not f.coproduct:
                    ships[e] = replace(
                        f, customs_value_usd_per_kg=f.customs_value_usd_per_kg + delta
                    )
    return carry_structure(chain, replace(chain, acts=acts, ships=ships))


def ship_cost_at(f: ShipData, rate: float) -> float:
    """A shipment's objective USD/kg with its tariff (on the customs value) at `rate`: the
    arithmetic of ShipData.objective_cost, for a break-even's what-if."""
    spend = f.price_usd_per_kg + f.freight_usd_per_kg + rate * f.customs_value_usd_per_kg
    return spend + f.objective_extra
