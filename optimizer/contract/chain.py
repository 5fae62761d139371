"""Reading the supply-chain sheets the way the contract settles them, for checks and the model.

Period rows override the blank-period row of the same key in their period (as
Offers do); country names in Settings match Countries rows case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from optimizer.contract.chain_schema import BUYER
from optimizer.contract.records import Inputs

R = TypeVar("R")


def in_period(
    rows: Iterable[R],
    key: Callable[[R], tuple[str, ...]],
    period: str,
    period_of: Callable[[R], str | None],
) -> dict[tuple[str, ...], R]:
    """key -> the row that applies in `period`: the period's own row, else the blank-period row."""
    out: dict[tuple[str, ...], R] = {}
    specific: set[tuple[str, ...]] = set()
    for row in rows:
        k, p = key(row), period_of(row)
        if p == period:
            out[k] = row
            specific.add(k)
        elif p is None and k not in specific:
            out[k] = row
    return out


def is_buyer(name: str) -> bool:
    """`to` = buyer, case-insensitively."""
    return name.strip().lower() == BUYER


def country_names(inputs: Inputs) -> dict[str, str]:
    """lower-case name -> the Countries row's name."""
    return {c.country.strip().lower(): c.country for c in inputs.countries}


def excluded_countries(inputs: Inputs) -> frozenset[str]:
    """The Countries names of Settings `excluded_stage_countries` (`none`: no country).

    Names not in Countries are left out here (the checks report them when the
    setting was written; the default, China, may simply be absent).
    """
    text = inputs.settings.excluded_stage_countries.strip()
    if text.lower() in ("none", ""):
        return frozenset()
    known = country_names(inputs)
    names = (part.strip().lower() for part in text.split(","))
    return frozenset(known[n] for n in names if n in known)


def excluded_suppliers(inputs: Inputs) -> frozenset[str]:
    """Suppliers whose facility is in an excluded stage country."""
    excluded = excluded_countries(inputs)
    return frozenset(s.supplier for s in inputs.suppliers if s.country in excluded)
