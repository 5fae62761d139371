"""Checks of the tariff contract: flat rates or measures, windows that make sense, periods
that can be placed on the calendar, a regime that exists."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from optimizer.common.problems import Problem
from optimizer.contract.calendar import period_windows
from optimizer.contract.cells import did_you_mean
from optimizer.contract.records import Inputs, Tariff

EVERY = ("", "*")


def regimes(tariffs: tuple[Tariff, ...]) -> list[str]:
    """Regime names in order of first appearance (blank-regime rows belong to all of them)."""
    return list(dict.fromkeys(t.regime for t in tariffs if t.regime))


def active_regime(inputs: Inputs) -> str:
    """The regime applied: Settings `tariff_regime`, else the first one the sheet names."""
    chosen = inputs.settings.tariff_regime.strip()
    names = regimes(inputs.tariffs)
    if chosen:
        match = [n for n in names if n.lower() == chosen.lower()]
        return match[0] if match else chosen
    return names[0] if names else ""


def _key(value: str | None) -> str:
    return "" if value is None or value.strip() in EVERY else value.strip().lower()


def check_tariffs(inputs: Inputs) -> list[Problem]:
    """Every problem of the tariff inputs (see the module docstring)."""
    return [
        *_check_flat_rates(inputs),
        *_check_references(inputs),
        *_check_windows(inputs.tariffs),
        *_check_overlaps(inputs.tariffs),
        *_check_regime(inputs),
        *_check_periods(inputs),
        *_check_importer(inputs),
    ]


def _check_importer(inputs: Inputs) -> list[Problem]:
    """An importer_country other than the default names a Countries row (case-insensitive).

    The default, United States, may be absent from Countries: then no origin is domestic.
    """
    ref = inputs.settings.refs.get("importer_country")
    name = inputs.settings.importer_country.strip()
    known = [c.country for c in inputs.countries]
    if ref is None or name.lower() == "united states":
        return []
    if name.lower() in {k.lower() for k in known}:
        return []
    hint = did_you_mean(name, known)
    return [Problem.at(ref, f'importer_country "{name}" is not in Countries{hint}')]


def _check_flat_rates(inputs: Inputs) -> list[Problem]:
    """Countries.tariff_rate is required without Tariffs rows and must be blank with them."""
    out = []
    for c in inputs.countries:
        ref = c.refs.get("tariff_rate", "Countries")
        if not inputs.tariffs and c.tariff_rate is None and c.country:
            out.append(
                Problem.at(ref, "tariff_rate is required (the workbook has no Tariffs rows)")
            )
        if inputs.tariffs and c.tariff_rate is not None:
            out.append(
                Problem.at(
                    ref,
                    "tariff_rate is set, but the Tariffs sheet sets the tariffs by legal basis: "
                    "leave it blank, or add the rate as a Tariffs row (basis other)",
                )
            )
    return out


def _check_references(inputs: Inputs) -> list[Problem]:
    countries = [c.country for c in inputs.countries]
    materials = [m.material for m in inputs.materials]
    codes = [m.hts for m in inputs.materials if m.hts]
    out = []
    for t in inputs.tariffs:
        if t.country and t.country.strip() not in EVERY and t.country not in countries:
            hint = did_you_mean(t.country, countries)
            out.append(
                Problem.at(t.refs["country"], f'country "{t.country}" is not in Countries{hint}')
            )
        if t.material and t.material not in materials:
            hint = did_you_mean(t.material, materials)
            out.append(
                Problem.at(t.refs["material"], f'material "{t.material}" is not in Materials{hint}')
            )
        if t.hts and not any(code.startswith(t.hts.strip()) for code in codes):
            out.append(
                Problem.at(
                    t.refs["hts"],
                    f'hts "{t.hts}" matches no Materials hts: this row applies to nothing',
                    "warning",
                )
            )
    return out


def _check_windows(tariffs: tuple[Tariff, ...]) -> list[Problem]:
    return [
        Problem.at(
            t.refs["to_date"],
            f"to_date {t.to_date} is before from_date {t.from_date}: the window ends before it "
            "starts",
        )
        for t in tariffs
        if t.from_date and t.to_date and t.to_date < t.from_date
    ]


def _overlap(a: Tariff, b: Tariff) -> bool:
    start_a, end_a = a.from_date or date.min, a.to_date or date.max
    start_b, end_b = b.from_date or date.min, b.to_date or date.max
    return start_a <= end_b and start_b <= end_a


def _check_overlaps(tariffs: tuple[Tariff, ...]) -> list[Problem]:
    """Two windows of one basis for the same origin and material (and regime) may not overlap."""
    groups: dict[tuple[str, ...], list[Tariff]] = defaultdict(list)
    for t in tariffs:
        if not t.basis:
            continue
        groups[(t.basis, _key(t.country), _key(t.material), _key(t.hts))].append(t)
    out = []
    seen: set[tuple[str, str]] = set()
    for rows in groups.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                same_regime = not a.regime or not b.regime or a.regime.lower() == b.regime.lower()
                pair = (a.refs["basis"], b.refs["basis"])
                if same_regime and _overlap(a, b) and pair not in seen:
                    seen.add(pair)
                    where = b.refs.get("from_date") or b.refs["basis"]
                    out.append(
                        Problem.at(
                            where,
                            f"{b.basis} {b.country or 'every origin'} "
                            f"{b.material or b.hts or 'every material'}: this window "
                            f"({b.from_date or 'open'} to {b.to_date or 'open'}) overlaps the "
                            f"one at {a.refs['basis']} ({a.from_date or 'open'} to "
                            f"{a.to_date or 'open'}); two windows of one basis cannot overlap "
                            "for one origin and material",
                        )
                    )
    return out


def _check_regime(inputs: Inputs) -> list[Problem]:
    chosen = inputs.settings.tariff_regime.strip()
    if not chosen:
        return []
    names = regimes(inputs.tariffs)
    if any(n.lower() == chosen.lower() for n in names):
        return []
    known = ", ".join(names) or "none: the Tariffs sheet names no regime"
    ref = inputs.settings.refs.get("tariff_regime", "Settings")
    return [
        Problem.at(ref, f'tariff_regime "{chosen}" is not a regime of the Tariffs sheet ({known})')
    ]


def _check_periods(inputs: Inputs) -> list[Problem]:
    """Periods rows name Demand periods; with dated measures every period must be placeable."""
    labels = inputs.periods
    out = []
    for p in inputs.period_dates:
        if p.period and p.period not in labels:
            out.append(
                Problem.at(
                    p.refs["period"],
                    f'period "{p.period}" is not a Demand period ({", ".join(labels)})',
                )
            )
        if p.start and p.end and p.end < p.start:
            out.append(Problem.at(p.refs["end"], f"end {p.end} is before start {p.start}"))
    dated = [t for t in inputs.tariffs if t.from_date or t.to_date]
    if not dated:
        return out
    windows = period_windows(labels, inputs.period_dates)
    first_cell: dict[str, str] = {}
    for d in inputs.demand:
        first_cell.setdefault(d.period, d.refs.get("period", "Demand"))
    for label, window in windows.items():
        if window is None:
            out.append(
                Problem.at(
                    first_cell.get(label, "Demand"),
                    f'period "{label}" cannot be placed on the calendar, and Tariffs rows carry '
                    f"dates (e.g. {dated[0].refs['basis']}): add a Periods row with its start "
                    "and end, or label periods as years (2026)",
                )
            )
    return out
