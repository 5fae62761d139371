"""Country break-evens: every material of a country at one uniform tariff, the bracket in
which its volume starts to fall (or rise), found by a scan and bisection.

A uniform rate moves all of a country's costs at once, so no single cost-ranging bound
says where the plan changes (see docs/model.md, "Country break-evens"); each point is
one warm re-solve (a probe on the fast engine).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from optimizer.analysis.breakevens import chain_at_rate, lane_volume, probe_volume
from optimizer.analysis.replan import resolve
from optimizer.common.format import pct
from optimizer.model.data import ModelData, repriced
from optimizer.model.solution import EPS_T, Engine, Solution, Status

#: Tariff steps (fraction) of the coarse scan before bisection in country break-evens.
COUNTRY_GRID = 0.1
#: Width (fraction) of a country break-even's bracket: 0.1 points.
COUNTRY_TOL = 0.001


def with_country_tariff(data: ModelData, country: str, rate: float) -> ModelData:
    """Data with every purchase from `country` at one uniform tariff (overrides included)."""
    buys = {
        k: replace(b, tariff_rate=rate) if b.country == country else b for k, b in data.buys.items()
    }
    return repriced(data, buys=buys, chain=chain_at_rate(data, country, None, rate))


def country_breakevens(opt: Engine, sol: Solution) -> pd.DataFrame:
    """Per country: the uniform tariff (every material) above which its volume falls and below
    which it rises, each as a bracket 0.1 points wide.

    A coarse scan (steps of COUNTRY_GRID) then bisection to COUNTRY_TOL, each point one warm
    re-solve. `rate_volume_falls` is the lowest rate seen with less volume and
    `rate_volume_falls_low` the highest seen with today's (mirrored for rises); blank where
    nothing changes between 0% and 100%.
    """
    cols = [
        "country",
        "current_rate",
        "volume_t",
        "rate_volume_falls_low",
        "rate_volume_falls",
        "rate_volume_rises",
        "rate_volume_rises_high",
        "sentence",
    ]
    if sol.status is not Status.OPTIMAL:
        return pd.DataFrame(columns=cols)
    data = opt.data
    rows = []
    for country in sorted({b.country for b in data.buys.values() if b.upper_t > 0}):
        rates = [b.tariff_rate for b in data.buys.values() if b.country == country]
        current = max(set(rates), key=rates.count)
        base_data = with_country_tariff(data, country, current)
        volume_at = probe_volume(opt, base_data, country, None) or _resolved_volume(
            opt, base_data, country
        )
        base_vol = volume_at(current)  # one probe, not a full re-solve with its extraction
        # no guess from cost ranging here: ranging moves one cost at a time, a uniform rate
        # moves every cost of the country at once, and the basis can change before any
        # single bound is reached (measured on the default workbook: a guess at 4.5% passed
        # its check where the volume had already moved at 2.7%). Scan, then bisect.
        # volume cannot fall below zero, nor rise by lowering a zero tariff
        falls = _first_change(volume_at, base_vol, current, 1.0) if base_vol > EPS_T else None
        rises = _first_change(volume_at, base_vol, current, 0.0) if current > 0 else None
        rows.append(
            {
                "country": country,
                "current_rate": current,
                "volume_t": base_vol,
                "rate_volume_falls_low": falls[0] if falls else None,
                "rate_volume_falls": falls[1] if falls else None,
                "rate_volume_rises": rises[1] if rises else None,
                "rate_volume_rises_high": rises[0] if rises else None,
                "sentence": _country_sentence(country, current, falls, rises),
            }
        )
    opt.update(data)
    return pd.DataFrame(rows, columns=cols)


def _country_sentence(
    country: str,
    current: float,
    falls: tuple[float, float] | None,
    rises: tuple[float, float] | None,
) -> str:
    """`China's volume falls between 23.35% and 23.44% (today 20.0%); ...`."""
    parts = []
    if falls:
        parts.append(f"falls between {pct(falls[0], decimals=2)} and {pct(falls[1], decimals=2)}")
    if rises:
        parts.append(f"rises between {pct(rises[1], decimals=2)} and {pct(rises[0], decimals=2)}")
    if not parts:
        return f"{country}'s volume does not change between 0% and 100% (today {pct(current)})"
    return f"{country}'s volume " + "; ".join(parts) + f" (today {pct(current)})"


def _country_volume(opt: Engine, data: ModelData, country: str) -> float:
    sol = resolve(opt, data)
    if sol.status is not Status.OPTIMAL:
        return math.nan
    return lane_volume(data, sol, country, None)


def _resolved_volume(opt: Engine, data: ModelData, country: str) -> Callable[[float], float]:
    """A country's volume with every purchase at a rate, by a full re-solve (any engine)."""
    return lambda rate: _country_volume(opt, with_country_tariff(data, country, rate), country)


def _first_change(
    volume_at: Callable[[float], float], vol: float, start: float, end: float
) -> tuple[float, float] | None:
    """(last rate with the same volume, first rate with another), from start towards end;
    the two are at most COUNTRY_TOL apart. None when nothing changes up to `end`."""

    def changed(rate: float) -> bool:
        return not math.isclose(volume_at(rate), vol, abs_tol=1e-6)

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
    return lo, hi
