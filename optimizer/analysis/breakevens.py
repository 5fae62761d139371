"""Tariff break-evens: per purchase from HiGHS cost ranging, per country by warm re-solves."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from optimizer.analysis.replan import resolve
from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import Buy, ModelData
from optimizer.model.solution import EPS_T, Engine, Solution, Status

#: Tariff steps (fraction) of the coarse scan before bisection in country break-evens.
COUNTRY_GRID = 0.1
#: Precision (fraction) of a country break-even tariff.
COUNTRY_TOL = 0.0025


# --------------------------------------------------------------------------- 4. break-evens


def _rate_for_cost(cost_usd_per_t: float, price: float, freight: float) -> float:
    """The tariff at which landed cost x 1000 equals the given objective coefficient."""
    if price <= 0:
        return math.nan
    return (cost_usd_per_t / KG_PER_T - freight) / price - 1.0


def offer_breakevens(opt: Engine, sol: Solution) -> pd.DataFrame:
    """Per purchase: the tariff at which it enters the plan (not bought) or starts to lose
    volume (bought), from HiGHS cost ranging (reduced costs as a fallback).

    Call right after `opt.solve()` returned `sol` (ranging reads the current basis).
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
        "breakeven_tariff_rate",
        "headroom",
        "change",
        "note",
    ]
    if sol.status is not Status.OPTIMAL:
        return pd.DataFrame(columns=cols)
    data = opt.data
    ranging = opt.cost_ranging()
    rows = []
    for b, d in data.buys.items():
        if d.upper_t <= 0:
            continue  # excluded or closed: no tariff brings it in
        q = sol.x.get(b, 0.0)
        cost = KG_PER_T * d.landed
        bought = q > EPS_T
        down, up = ranging.get(b, (cost - sol.reduced_costs.get(b, 0.0), math.inf))
        if not bought and sol.reduced_costs.get(b, 0.0) > 0:
            down = min(down, cost - sol.reduced_costs[b])
        target = up if bought else down
        rate = (
            _rate_for_cost(target, d.price_paid, d.freight)
            if math.isfinite(target)
            else (math.inf if bought else -math.inf)
        )
        note = ""
        if bought and math.isinf(rate):
            note = "keeps its volume at any tariff"
        elif not bought and (math.isinf(rate) or rate < 0):
            note = "does not enter even duty-free"
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
                "breakeven_tariff_rate": rate if math.isfinite(rate) and rate >= 0 else None,
                "headroom": rate - d.tariff_rate if math.isfinite(rate) and rate >= 0 else None,
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


def with_buy_tariff(data: ModelData, b: Buy, rate: float) -> ModelData:
    """Data with one purchase's tariff changed (a hypothetical per-offer rate)."""
    return replace(data, buys={**data.buys, b: replace(data.buys[b], tariff_rate=rate)})


def plan_changes_at(opt: Engine, b: Buy, rate: float, base_q: float) -> bool:
    """Re-solve with purchase b at `rate`: does its volume move away from base_q?"""
    data = opt.data
    sol = resolve(opt, with_buy_tariff(data, b, rate))
    opt.update(data)
    return sol.status is Status.OPTIMAL and abs(sol.x.get(b, 0.0) - base_q) > 1e-6


def with_country_tariff(data: ModelData, country: str, rate: float) -> ModelData:
    """Data with every purchase from `country` at one uniform tariff (overrides included)."""
    buys = {
        k: replace(b, tariff_rate=rate) if b.country == country else b for k, b in data.buys.items()
    }
    return replace(data, buys=buys)


def country_breakevens(opt: Engine, sol: Solution) -> pd.DataFrame:
    """Per country: the uniform tariff above which its volume falls and below which it rises.

    A coarse scan (steps of COUNTRY_GRID) then bisection to COUNTRY_TOL, each point one
    warm re-solve; None where nothing changes between 0% and 100%.
    """
    cols = ["country", "current_rate", "volume_t", "rate_volume_falls", "rate_volume_rises"]
    if sol.status is not Status.OPTIMAL:
        return pd.DataFrame(columns=cols)
    data = opt.data
    rows = []
    for country in sorted({b.country for b in data.buys.values() if b.upper_t > 0}):
        rates = [b.tariff_rate for b in data.buys.values() if b.country == country]
        current = max(set(rates), key=rates.count)
        base_data = with_country_tariff(data, country, current)
        base_vol = _country_volume(opt, base_data, country)
        # volume cannot fall below zero, nor rise by lowering a zero tariff
        falls = (
            _first_change(opt, base_data, country, base_vol, current, 1.0)
            if base_vol > EPS_T
            else None
        )
        rises = (
            _first_change(opt, base_data, country, base_vol, current, 0.0) if current > 0 else None
        )
        rows.append(
            {
                "country": country,
                "current_rate": current,
                "volume_t": base_vol,
                "rate_volume_falls": falls,
                "rate_volume_rises": rises,
            }
        )
    opt.update(data)
    return pd.DataFrame(rows, columns=cols)


def _country_volume(opt: Engine, data: ModelData, country: str) -> float:
    sol = resolve(opt, data)
    if sol.status is not Status.OPTIMAL:
        return math.nan
    return sum(q for b, q in sol.x.items() if data.buys[b].country == country)


def _first_change(
    opt: Engine, data: ModelData, country: str, vol: float, start: float, end: float
) -> float | None:
    """Nearest rate from start towards end at which the country's volume differs from vol."""

    def changed(rate: float) -> bool:
        v = _country_volume(opt, with_country_tariff(data, country, rate), country)
        return not math.isclose(v, vol, abs_tol=1e-6)

    step = COUNTRY_GRID if end > start else -COUNTRY_GRID
    lo = start
    hi = None
    r = start
    while (end - r) * step > 1e-12:
        r = min(r + step, end) if step > 0 else max(r + step, end)
        if changed(r):
            hi = r
            break
        lo = r
    if hi is None:
        return None
    while abs(hi - lo) > COUNTRY_TOL:
        mid = (lo + hi) / 2
        if changed(mid):
            hi = mid
        else:
            lo = mid
    return hi
