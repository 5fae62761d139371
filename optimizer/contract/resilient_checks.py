"""Checks of the first-stage decisions of `sourcing resilient`: decided Offtakes and Stockpile
rows need bounds, and the CVaR level is a proper fraction.

Negative numbers are refused by the cell parser (Kind.NUMBER); here: what a decision needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from optimizer.common.problems import Problem
from optimizer.contract.records import Inputs


def _cell(refs: Mapping[str, str], *columns: str) -> str:
    """The first of the columns' references that names a cell (a column absent from the
    sheet has only its row), else the first one."""
    found = [refs[c] for c in columns if c in refs]
    named = [r for r in found if any(ch.isalpha() for ch in r.rpartition("!")[2])]
    return (named or found or [""])[0]


def check_decisions(inputs: Inputs) -> list[Problem]:
    """A decided row has bounds (min <= max); cvar_level lies strictly between 0 and 1."""
    problems: list[Problem] = []
    for k in inputs.offtakes:
        if k.decide and k.max_t is None:
            problems.append(
                Problem.at(
                    _cell(k.refs, "max_t", "decide") or "Offtakes!",
                    f"the offtake of {k.supplier} {k.material} is a decision (decide TRUE): "
                    "give max_t, the most that may be signed per period",
                )
            )
        if k.reserve_usd_per_kg and not k.decide:
            problems.append(
                Problem.at(
                    k.refs.get("reserve_usd_per_kg", "Offtakes!"),
                    "reserve_usd_per_kg applies only to a decided row (decide TRUE): ignored",
                    "warning",
                )
            )
    for s in inputs.stockpile:
        if not s.decide:
            continue
        if s.build_max_t is None:
            problems.append(
                Problem.at(
                    _cell(s.refs, "build_max_t", "decide") or "Stockpile!",
                    f"the stock build of {s.material} is a decision (decide TRUE): give "
                    "build_max_t, the most that may be built",
                )
            )
        elif s.build_min_t > s.build_max_t:
            problems.append(
                Problem.at(
                    s.refs.get("build_min_t", "Stockpile!"),
                    f"build_min_t {s.build_min_t:g} exceeds build_max_t {s.build_max_t:g}",
                )
            )
    level = inputs.settings.cvar_level
    if not 0.0 < level < 1.0:
        problems.append(
            Problem.at(
                inputs.settings.refs.get("cvar_level", "Settings!"),
                f"cvar_level must be strictly between 0 and 1 (found {level:g})",
            )
        )
    return problems
