"""Tariff break-evens a planner can set: per (country, material) lane, per country, per period.

A workbook sets a tariff per country and material for all periods (a Countries
rate, a TariffOverrides row), so the headline break-even is per lane: the
rate at which the lane starts to lose volume (or to gain some), found from
HiGHS cost ranging and checked by re-solving with the rate 0.2 points on
either side (bisection when the check fails). The per-purchase values of
`offer_breakevens` are a detail (a workbook cannot set a rate per period).
A rate outside 0-100% is never shown as a number: the note says "not within
0-100%". Country break-evens (every material of a country at one rate) come
with their bracket.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from optimizer.analysis.replan import resolve
from optimizer.common.format import pct
from optimizer.contract.schema import KG_PER_T
from optimizer.model.chain_edits import dutiable_ships, ship_cost_at, with_ship_rate
from optimizer.model.data import Buy, BuyData, ModelData, repriced
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import EPS_T, Engine, Solution, Status

#: A lane break-even is checked by re-solving this far (fraction) on either side: 0.2 points.
LANE_CHECK = 0.002
#: Steps (fraction) of the scan a lane falls back to when its ranging guess fails the check.
LANE_GRID = 0.05
#: Tonnes within which two lane volumes count as equal.
VOLUME_TOL = 1e-6
OUT_OF_RANGE = "not within 0-100%"

Ranging = Mapping[Buy, tuple[float, float]]


def _rate_for_cost(cost_usd_per_t: float, d: BuyData) -> float:
    """The tariff at which purchase d's objective coefficient (1000 x its objective cost per
    kg) equals the given value; NaN when it pays no price."""
    if d.price_paid <= 0:
        return math.nan
    return (cost_usd_per_t / KG_PER_T - d.freight - d.objective_extra) / d.price_paid - 1.0


def _candidate_rates(data: ModelData, ranging: Ranging, b: Buy) -> tuple[float, float]:
    """(up, down): the tariffs at which purchase b's cost leaves its ranging interval.

    +inf / -inf where no cost change alters the basis in that direction.
    """
    d = data.buys[b]
    cost = KG_PER_T * d.landed
    down, up = ranging.get(b, (-math.inf, math.inf))
    rate_up = _rate_for_cost(up, d) if math.isfinite(up) else math.inf
    rate_down = _rate_for_cost(down, d) if math.isfinite(down) else -math.inf
    if not math.isfinite(cost):  # pragma: no cover - check_finite rejects such data
        return math.inf, -math.inf
    return (
        math.inf if math.isnan(rate_up) else rate_up,
        -math.inf if math.isnan(rate_down) else rate_down,
    )


def offer_breakevens(opt: Engine, sol: Solution, ranging: Ranging | None = None) -> pd.DataFrame:
    """Per purchase and period (a detail: a workbook cannot set a rate per period): the tariff
    at which it enters the plan (not bought) or starts to lose volume (bought), from HiGHS
    cost ranging, and for one not bought the landed cost below which it enters (landed
    minus its reduced cost per kg: `enters_below = landed - d_b / 1000`); a rate outside
    0-100% is left blank with the note "not within 0-100%".

    Call right after `opt.solve()` returned `sol` (ranging reads the current basis), or pass
    the `ranging` taken then. Each rate inside 0-100% is checked by one re-solve LANE_CHECK
    beyond it; where the volume does not move there (a tie: the basis changes, the plan's
    tonnes do not) the rate is left blank with a note.
    """
    cols = [
        "supplier",
        "country",
        "material",
        "period",
        "bought_t",
        "price_paid_usd_per_kg",
        "tariff_rate",
        "landed_usd_per_kg",
        "enters_below_usd_per_kg",
        "breakeven_tariff_rate",
        "headroom",
        "change",
        "note",
    ]
    if sol.status is not Status.OPTIMAL:
        return pd.DataFrame(columns=cols)
    data = opt.data
    ranging = opt.cost_ranging() if ranging is None else ranging
    rows = []
    for b, d in data.buys.items():
        if d.upper_t <= 0:
            continue  # excluded or closed: no tariff brings it in
        q = sol.x.get(b, 0.0)
        bought = q > EPS_T
        up, down = _candidate_rates(data, ranging, b)
        if b not in ranging and not bought and sol.reduced_costs.get(b, 0.0) > 0:
            down = _rate_for_cost(KG_PER_T * d.objective_cost - sol.reduced_costs[b], d)
        rate = up if bought else down
        # not bought: the landed cost at which it would enter, its reduced cost below today's
        rc = sol.reduced_costs.get(b, math.nan)
        enters = d.landed - rc / KG_PER_T if not bought and math.isfinite(rc) and rc > 0 else None
        inside = math.isfinite(rate) and 0.0 <= rate <= 1.0
        note = ""
        beyond = rate + LANE_CHECK if bought else rate - LANE_CHECK
        if inside and beyond >= 0.0 and not plan_changes_at(opt, b, beyond, q):
            # ranging gives where the optimal basis changes; at a tie between equally cheap
            # plans the volume does not move there (checked by one re-solve just beyond)
            note = (
                f"the optimal basis changes at {pct(rate, decimals=2)} but its volume does "
                "not (a tie); the lane's break-even (Tariff break-evens) is checked"
            )
            inside = False
        elif not inside:
            note = (
                f"keeps its volume up to 100% ({OUT_OF_RANGE})"
                if bought
                else f"does not enter even duty-free ({OUT_OF_RANGE})"
            )
        rows.append(
            {
                "supplier": d.supplier,
                "country": d.country,
                "material": d.material,
                "period": d.period,
                "bought_t": q,
                "price_paid_usd_per_kg": d.price_paid,
                "tariff_rate": d.tariff_rate,
                "landed_usd_per_kg": d.landed,
                "enters_below_usd_per_kg": enters,
                "breakeven_tariff_rate": rate if inside else None,
                "headroom": rate - d.tariff_rate if inside else None,
                "change": "starts to lose volume" if bought else "enters the plan",
                "note": note,
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    order = {m: i for i, m in enumerate(data.materials)}
    return out.sort_values(
        ["material", "period", "bought_t"],
        key=lambda s: s.map(order) if s.name == "material" else (-s if s.name == "bought_t" else s),
    ).reset_index(drop=True)


# --------------------------------------------------------------------------- lanes


def chain_at_rate(data: ModelData, country: str, material: str | None, rate: float) -> Any:
    """The chain with the dutiable shipments from `country` (of `material`, or all) at `rate`."""
    chain = data.chain
    if chain is None:
        return None
    return with_ship_rate(chain, dutiable_ships(chain, country, material), rate)


def lane_members(
    data: ModelData, country: str, material: str | None
) -> tuple[list[Buy], list[Any]]:
    """What pays a lane's duty: the purchases from `country` (of `material`, or all) and,
    with a chain, the country's shipments into the importer country."""
    buys = [b for b, d in data.buys.items() if d.country == country and material in (None, b[1])]
    ships = dutiable_ships(data.chain, country, material) if data.chain is not None else []
    return buys, ships


def lane_volume(data: ModelData, sol: Solution, country: str, material: str | None) -> float:
    """Tonnes that pay the lane's duty (`lane_members`) in a solved plan."""
    buys, ships = lane_members(data, country, material)
    flows = sol.chain.get("f", {})
    return sum(sol.x.get(b, 0.0) for b in buys) + sum(flows.get(e, 0.0) for e in ships)


def with_lane_tariff(data: ModelData, country: str, material: str, rate: float) -> ModelData:
    """Data with every purchase of `material` from `country` at one rate, in every period
    (what a TariffOverrides row for the lane would set), its chain's shipments too."""
    buys = {
        k: replace(b, tariff_rate=rate) if b.country == country and b.material == material else b
        for k, b in data.buys.items()
    }
    return repriced(data, buys=buys, chain=chain_at_rate(data, country, material, rate))


def lane_breakevens(
    opt: Engine,
    sol: Solution,
    ranging: Ranging | None = None,
    ship_ranging: Ranging | None = None,
) -> pd.DataFrame:
    """Per (country, material) lane: the rate above which it loses volume and below which it
    gains some, each within 0-100% and checked by re-solving 0.2 points on either side.

    Guess: the first purchase of the lane to leave its cost-ranging interval as the lane's
    rate moves (exact when the lane's periods do not interact). Check: at guess - 0.2
    points the volume is today's, at guess + 0.2 points it has moved (mirrored for gains).
    A failed check falls back to a scan and bisection. Where no rate within 0-100% moves
    the volume, the value is blank and the note says so. `opt` is left as it was found.
    With a chain the lane's dutiable shipments give guesses too (`ship_ranging`: ranging of
    the shipment columns at `sol`'s basis, taken with `ranging`).
    """
    cols = [
        "country",
        "material",
        "tariff_rate",
        "volume_t",
        "loses_volume_above",
        "loses_note",
        "gains_volume_below",
        "gains_note",
        "verified",
        "sentence",
    ]
    if sol.status is not Status.OPTIMAL:
        return pd.DataFrame(columns=cols)
    data = opt.data
    ranging = opt.cost_ranging() if ranging is None else ranging
    if ship_ranging is None and data.chain is not None:
        ship_ranging = opt.cost_ranging("f")
    lanes: dict[tuple[str, str], list[Buy]] = {}
    for b, d in data.buys.items():
        if d.upper_t > 0:
            lanes.setdefault((d.country, d.material), []).append(b)
    order = {m: i for i, m in enumerate(data.materials)}
    rows = []
    for (country, material), keys in sorted(lanes.items(), key=lambda kv: (order[kv[0][1]], kv[0])):
        rates = [data.buys[b].tariff_rate for b in keys]
        current = max(set(rates), key=rates.count)
        base, lane_ranging, volume = data, ranging, lane_volume(data, sol, country, material)
        lane_ships, lane_sol = ship_ranging or {}, sol
        if len(set(rates)) > 1:  # periods at different rates: start from the lane at one rate
            base = with_lane_tariff(data, country, material, current)
            moved = resolve(opt, base)
            ok = moved.status is Status.OPTIMAL
            lane_ranging = opt.cost_ranging() if ok else {}
            lane_ships = opt.cost_ranging("f") if ok and data.chain is not None else {}
            volume, lane_sol = lane_volume(base, moved, country, material), moved

        volume_at = _lane_volume(opt, base, country, material, keys)
        guesses = [_candidate_rates(base, lane_ranging, b) for b in keys]
        bought = [g for b, g in zip(keys, guesses, strict=True) if sol.x.get(b, 0.0) > EPS_T]
        up = min((g[0] for g in bought), default=math.inf) if volume > EPS_T else math.nan
        down = max((g[1] for g in guesses), default=-math.inf)
        ups, downs = [up], [down]
        if base.chain is not None and lane_ships:  # the shipments' guesses first, then these
            ship_up, ship_down = _ship_guesses(base, lane_sol, lane_ships, country, material)
            ups = [min(up, ship_up) if volume > EPS_T else up, up]
            downs = [max(down, ship_down), down]
        loses, loses_note, ok_l = _lane_side(volume_at, volume, current, ups, +1)
        gains, gains_note, ok_g = _lane_side(volume_at, volume, current, downs, -1)
        rows.append(
            {
                "country": country,
                "material": material,
                "tariff_rate": current,
                "volume_t": volume,
                "loses_volume_above": loses,
                "loses_note": loses_note,
                "gains_volume_below": gains,
                "gains_note": gains_note,
                "verified": ok_l and ok_g,
                "sentence": _lane_sentence(
                    country, material, current, volume, loses, gains, loses_note, gains_note
                ),
            }
        )
    opt.update(data)  # leave the engine as we found it
    return pd.DataFrame(rows, columns=cols)


def _lane_volume(
    opt: Engine, base: ModelData, country: str, material: str, keys: list[Buy]
) -> Callable[[float], float]:
    """The lane's volume (t, all periods) re-solved with the lane at a given rate; NaN when
    that plan is not optimal."""
    probe = probe_volume(opt, base, country, material)
    if probe is not None:
        return probe

    def volume_at(rate: float) -> float:
        moved = resolve(opt, with_lane_tariff(base, country, material, rate))
        if moved.status is not Status.OPTIMAL:
            return math.nan
        return lane_volume(base, moved, country, material)

    return volume_at


def _lane_side(
    volume_at: Callable[[float], float],
    volume: float,
    current: float,
    guess: float | Sequence[float],
    way: int,
) -> tuple[float | None, str, bool]:
    """One side of a lane break-even: (rate or None, note, checked).

    way +1: the rate above which the volume falls (the end of the range is 100%);
    way -1: the rate below which it rises (the end is 0%). Several guesses are tried in
    turn (each costs at most two re-solves) before the scan.
    """
    end = 1.0 if way > 0 else 0.0
    if way > 0 and volume <= EPS_T:
        return None, "buys nothing from this lane", True
    if way < 0 and current <= 0:
        return None, "already duty-free", True

    def same(rate: float) -> bool:
        return abs(volume_at(rate) - volume) <= VOLUME_TOL

    def moved(rate: float) -> bool:
        v = volume_at(rate)
        return v < volume - VOLUME_TOL if way > 0 else v > volume + VOLUME_TOL

    never = (
        f"keeps its volume up to 100% ({OUT_OF_RANGE})"
        if way > 0
        else f"gains no volume even duty-free ({OUT_OF_RANGE})"
    )
    for g in dict.fromkeys([guess] if isinstance(guess, float) else guess):
        beyond = math.isnan(g) or (g >= end if way > 0 else g <= end)
        if beyond and same(end):
            return None, never, True
        if not beyond and (g - current) * way > LANE_CHECK:
            inner, outer = g - way * LANE_CHECK, g + way * LANE_CHECK
            outer = min(outer, 1.0) if way > 0 else max(outer, 0.0)
            if same(inner) and moved(outer):
                return g, "", True
    # the guess failed its check: scan from today's rate towards the end, then bisect
    lo, hi = current, None
    r = current
    while (end - r) * way > 1e-12:
        r = min(r + LANE_GRID, end) if way > 0 else max(r - LANE_GRID, end)
        if not same(r):
            hi = r
            break
        lo = r
    if hi is None:
        return None, never, True
    while abs(hi - lo) > LANE_CHECK:
        mid = (lo + hi) / 2
        if same(mid):
            lo = mid
        else:
            hi = mid
    rate = (lo + hi) / 2
    inner = rate - way * LANE_CHECK
    outer = min(rate + way * LANE_CHECK, 1.0) if way > 0 else max(rate + way * LANE_CHECK, 0.0)
    return rate, "", same(inner) and moved(outer)


def _lane_sentence(
    country: str,
    material: str,
    current: float,
    volume: float,
    loses: float | None,
    gains: float | None,
    loses_note: str,
    gains_note: str,
) -> str:
    """`China Gallium (today 20.0%, 30.0 t): loses volume above 38.0%; ...`."""
    head = f"{country} {material} (today {pct(current)}, {volume:,.1f} t)"
    parts = [
        f"loses volume above {pct(loses)}" if loses is not None else loses_note,
        f"gains volume below {pct(gains)}" if gains is not None else gains_note,
    ]
    return f"{head}: " + "; ".join(p for p in parts if p)


def with_buy_tariff(data: ModelData, b: Buy, rate: float) -> ModelData:
    """Data with one purchase's tariff changed (a hypothetical per-offer rate)."""
    return repriced(data, buys={**data.buys, b: replace(data.buys[b], tariff_rate=rate)})


def probe_volume(
    opt: Engine, base: ModelData, country: str, material: str | None
) -> Callable[[float], float] | None:
    """On the fast engine: the volume of a country's purchases and dutiable shipments (of
    `material`, or all) with their tariff at a rate, by `FastOptimizer.probe` (the costs
    the rate sets are changed in HiGHS and put back; no model data is copied). None on an
    engine without probes. The engine is pointed at `base` once, here."""
    if not isinstance(opt, FastOptimizer):
        return None
    keys, ship_keys = lane_members(base, country, material)
    buys = [(b, base.buys[b]) for b in keys]
    ships = [(e, base.chain.ships[e]) for e in ship_keys] if base.chain is not None else []
    read: list[tuple[str, Any]] = [("x", b) for b in keys] + [("f", e) for e in ship_keys]
    opt.update(base)
    probe = opt.prober(read, read)  # the lane's columns: their costs move, their sum is read

    def volume_at(rate: float) -> float:
        costs = [KG_PER_T * d.objective_cost_at(rate) for _, d in buys]
        costs += [KG_PER_T * ship_cost_at(f, rate) for _, f in ships]
        values = probe(costs)
        return math.nan if values is None else float(sum(values))

    return volume_at


def plan_changes_at(opt: Engine, b: Buy, rate: float, base_q: float) -> bool:
    """Re-solve with purchase b at `rate`: does its volume move away from base_q?"""
    data = opt.data
    if isinstance(opt, FastOptimizer):
        values = opt.probe({("x", b): KG_PER_T * data.buys[b].objective_cost_at(rate)}, [("x", b)])
        return values is not None and abs(values[0] - base_q) > 1e-6
    sol = resolve(opt, with_buy_tariff(data, b, rate))
    opt.update(data)
    return sol.status is Status.OPTIMAL and abs(sol.x.get(b, 0.0) - base_q) > 1e-6


def _ship_guesses(
    data: ModelData, sol: Solution, ranging: Ranging, country: str, material: str | None = None
) -> tuple[float, float]:
    """(up, down) as `_candidate_rates` for a country's dutiable shipments (of `material`, or
    all): the rates at which the first of them (used, for up) leaves its cost-ranging
    interval. A shipment's cost is 1000 (price + freight + rate x customs value + extra) per t."""
    assert data.chain is not None
    flows = sol.chain.get("f", {})
    up, down = math.inf, -math.inf
    for e in dutiable_ships(data.chain, country, material):
        f = data.chain.ships[e]
        value = f.customs_value_usd_per_kg
        if e not in ranging or value <= 0:
            continue
        fixed = f.objective_cost - f.tariff_rate * value
        lo, hi = ranging[e]
        if math.isfinite(hi) and flows.get(e, 0.0) > EPS_T:
            up = min(up, (hi / KG_PER_T - fixed) / value)
        if math.isfinite(lo):
            down = max(down, (lo / KG_PER_T - fixed) / value)
    return up, down
