r"""US tariff rates per (origin, material, period) from the measures in force, by legal basis.

For a lane (origin country $c$, material $m$) and a period $t$ covering the days
$D_t$, the rate applied to the customs value is the time-weighted mean of the
daily duty:

$$\tau_{c,m,t} = \frac{1}{|D_t|} \sum_{d \in D_t} \text{duty}_{c,m}(d)$$

(purchases are taken to be spread evenly through the period). On a day, each
basis contributes the rate of its most specific row in force for the lane (a
material before an HTS prefix, longer first, before every material; then a
named country before every country), and the bases stack as the law stacks
them:

$$\text{duty} = \big(\text{trade\_agreement if in force, else mfn}\big)
  + \text{section\_301} + \text{ieepa\_fentanyl} + \text{other} + \text{section\_232}
  + \mathbb{1}[\text{section\_232} = 0]\,(\text{ieepa\_reciprocal} + \text{section\_122})$$

A trade-agreement (FTA) rate replaces the MFN rate; goods under a Section 232
duty are exempt from the reciprocal (IEEPA) and Section 122 surcharges; the
others add. Goods of the importer country (Settings `importer_country`) pay no
measure. A TariffOverrides row replaces the whole rate of its lane in every
period. A workbook without Tariffs rows uses v1's flat rates: the override,
else the country's `tariff_rate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from optimizer.contract.calendar import period_windows
from optimizer.contract.records import Inputs, Material, Tariff
from optimizer.contract.tariff_checks import EVERY, active_regime

#: Bases in the order reports list them.
BASES = (
    "mfn",
    "trade_agreement",
    "section_301",
    "section_232",
    "ieepa_reciprocal",
    "ieepa_fentanyl",
    "section_122",
    "other",
)
#: A rate of these bases does not apply to goods under a Section 232 duty.
EXEMPT_UNDER_232 = ("ieepa_reciprocal", "section_122")


@dataclass(frozen=True)
class LaneRate:
    """The rate of one lane in one period and what it is made of (basis -> rate, weighted)."""

    rate: float
    parts: tuple[tuple[str, float], ...] = ()


Lane = tuple[str, str]  # (country, material)


def _specificity(t: Tariff, material: Material) -> tuple[int, int] | None:
    """How specifically a row targets a lane (higher wins), or None when it does not apply.

    The product comes first (a material, then an HTS prefix, longer first, then every
    material), then the origin (a named country, then every country): a product exemption
    such as Annex II of EO 14257 overrides a country's general rate.
    """
    country = 0 if (t.country or "").strip() in EVERY else 1
    if t.material and t.material != material.material:
        return None
    if t.hts and not (material.hts or "").startswith(t.hts.strip()):
        return None
    if t.material:
        what = 1000
    elif t.hts:
        what = 100 + len(t.hts.strip())
    else:
        what = 0
    return what, country


def _in_force(t: Tariff, day: date) -> bool:
    return (t.from_date is None or t.from_date <= day) and (t.to_date is None or day <= t.to_date)


def _segments(window: tuple[date, date], rows: Iterable[Tariff]) -> list[tuple[date, int]]:
    """The window cut where any row starts or ends: (first day, number of days) each."""
    first, last = window
    cuts = {first, last + timedelta(days=1)}
    for t in rows:
        if t.from_date and first < t.from_date <= last:
            cuts.add(t.from_date)
        if t.to_date and first <= t.to_date < last:
            cuts.add(t.to_date + timedelta(days=1))
    points = sorted(cuts)
    return [(a, (b - a).days) for a, b in pairwise(points)]


def _day_duty(rows: list[tuple[tuple[int, int], Tariff]], day: date) -> dict[str, float]:
    """basis -> rate applied on `day` (after the stacking rule), for the lane's rows."""
    best: dict[str, tuple[tuple[int, int], float]] = {}
    for spec, t in rows:
        if _in_force(t, day) and (t.basis not in best or spec > best[t.basis][0]):
            best[t.basis] = (spec, t.rate)
    rate = {basis: r for basis, (_, r) in best.items()}
    if "trade_agreement" in rate:
        rate.pop("mfn", None)
    if rate.get("section_232", 0.0) > 0:
        for basis in EXEMPT_UNDER_232:
            rate.pop(basis, None)
    return rate


def lane_rates(
    inputs: Inputs, lanes: Iterable[Lane], periods: tuple[str, ...]
) -> dict[tuple[str, str, str], LaneRate]:
    """(country, material, period) -> LaneRate for every lane and period asked for."""
    lanes = list(dict.fromkeys(lanes))
    overrides = {(o.country, o.material): o.tariff_rate for o in inputs.tariff_overrides}
    out: dict[tuple[str, str, str], LaneRate] = {}
    if not inputs.tariffs:  # contract v1: one flat rate per country, overrides per material
        flat = {c.country: c.tariff_rate or 0.0 for c in inputs.countries}
        for c, m in lanes:
            if (c, m) in overrides:
                lane = LaneRate(overrides[(c, m)], (("override", overrides[(c, m)]),))
            else:
                lane = LaneRate(flat.get(c, 0.0), (("flat", flat.get(c, 0.0)),))
            for period in periods:
                out[(c, m, period)] = lane
        return out
    regime = active_regime(inputs).lower()
    measures = [t for t in inputs.tariffs if not t.regime or t.regime.lower() == regime]
    materials = {m.material: m for m in inputs.materials}
    windows = period_windows(periods, inputs.period_dates)
    home = inputs.settings.importer_country.strip().lower()
    for c, m in lanes:
        if (c, m) in overrides:
            lane = LaneRate(overrides[(c, m)], (("override", overrides[(c, m)]),))
            out.update({(c, m, period): lane for period in periods})
            continue
        if c.strip().lower() == home:  # the importer's own goods pay no import measure
            out.update({(c, m, period): LaneRate(0.0, ()) for period in periods})
            continue
        material = materials.get(m, Material(m))
        rows = []
        for row in measures:
            if (row.country or "").strip() not in EVERY and row.country != c:
                continue
            spec = _specificity(row, material)
            if spec is not None:
                rows.append((spec, row))
        for period in periods:
            out[(c, m, period)] = _period_rate(rows, windows.get(period))
    return out


def _period_rate(
    rows: list[tuple[tuple[int, int], Tariff]], window: tuple[date, date] | None
) -> LaneRate:
    """Time-weighted duty over a period's days (a period off the calendar: undated rows)."""
    if window is None:  # only possible when no row carries a date (checked)
        rate = _day_duty(rows, date(2000, 1, 1))
        return LaneRate(sum(rate.values()), tuple((b, rate[b]) for b in BASES if b in rate))
    total = (window[1] - window[0]).days + 1
    parts: dict[str, float] = {}
    for first, days in _segments(window, (t for _, t in rows)):
        for basis, r in _day_duty(rows, first).items():
            parts[basis] = parts.get(basis, 0.0) + r * days / total
    ordered = tuple((b, parts[b]) for b in BASES if b in parts and parts[b] != 0)
    return LaneRate(sum(parts.values()), ordered)


def describe_parts(parts: Mapping[str, float] | tuple[tuple[str, float], ...]) -> str:
    """`mfn 3.0% + section_301 25.0%`: a rate's make-up for reports."""
    items = parts.items() if isinstance(parts, Mapping) else parts
    return " + ".join(f"{b} {r:.1%}" for b, r in items) or "none"
