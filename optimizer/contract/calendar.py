"""Periods on the calendar: which dates a period label covers, for dated tariff measures.

A Periods row gives a period's first and last day; without one, a label that
is a year (2026) covers 1 January to 31 December of that year. Other labels
(2026H1, Q3) need a Periods row as soon as a Tariffs row carries a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from optimizer.contract.records import Period

YEAR = re.compile(r"\d{4}")


def period_windows(
    labels: Iterable[str], rows: Iterable[Period]
) -> dict[str, tuple[date, date] | None]:
    """label -> (first day, last day), or None when the label cannot be placed."""
    given = {r.period: (r.start, r.end) for r in rows}
    out: dict[str, tuple[date, date] | None] = {}
    for label in labels:
        if label in given:
            out[label] = given[label]
        elif YEAR.fullmatch(label) and 1900 <= int(label) <= 2200:
            year = int(label)
            out[label] = (date(year, 1, 1), date(year, 12, 31))
        else:
            out[label] = None
    return out


def overlap_days(window: tuple[date, date], start: date | None, end: date | None) -> int:
    """Days of `window` (inclusive) on which a measure from `start` to `end` (inclusive,
    None = open) is in force."""
    first = max(window[0], start) if start else window[0]
    last = min(window[1], end) if end else window[1]
    return max(0, (last - first).days + 1)
