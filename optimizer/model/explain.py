"""Explain an infeasible plan in the planner's words.

Three sources, cheapest first: direct data conflicts (an offtake minimum above
what its offer may supply), HiGHS's irreducible infeasible subsystem (IIS)
mapped back to named rows and bounds, and an elastic re-solve that allows
unmet demand at the penalty to measure each material's shortfall in tonnes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import highspy

from optimizer.model.data import ModelData
from optimizer.model.solution import Engine, Status

#: HiGHS IIS strategy "from LP, row priority": finds a small conflicting set on LPs.
IIS_STRATEGY = 2
#: HiGHS IisBoundStatus values naming an upper bound (kIisBoundStatusUpper, ...Boxed).
UPPER_BOUNDS = (3, 4)


def explain_infeasible(opt: Engine) -> list[str]:
    """Sentences naming materials, periods and constraints in conflict."""
    data = opt.data
    found = offtake_conflicts(data) + shortfalls(data, opt.sibling)
    limits = list(dict.fromkeys(iis_conflicts(opt)))
    if limits:
        found.append("these limits conflict: " + "; ".join(limits))
    return list(dict.fromkeys(found)) or ["HiGHS proved the plan infeasible"]


def offtake_conflicts(data: ModelData) -> list[str]:
    """Hard offtake minimums above an offer's bound or, together, above a facility capacity."""
    out = []
    per_site: dict[tuple[str, str], float] = defaultdict(float)
    for b, q in data.hard_minimum.items():
        d = data.buys[b]
        per_site[(b[0], b[2])] += q
        if q > d.upper_t:
            why = "exclude_china" if data.settings.exclude_china and d.china else "max_t"
            out.append(
                f"offtake {b[0]} / {b[1]} {b[2]}: minimum {q:,.6g} t above the "
                f"{d.upper_t:,.6g} t allowed ({why})"
            )
    for (s, t), q in per_site.items():
        cap = data.capacity.get((s, t))
        if cap is not None and q > cap:
            out.append(
                f"offtakes at {s} {t}: minimums add up to {q:,.6g} t, capacity is {cap:,.6g} t"
            )
    return out


def describe(name: str, index: tuple[str, ...], data: ModelData) -> str:
    """A constraint row in words, e.g. `capacity of Lynas Kuantan in 2026 (1,500 t)`."""
    if name == "balance":
        mat, t = index
        return f"demand for {mat} in {t} ({data.demand[(mat, t)]:,.6g} t, unmet not allowed)"
    if name == "facility_cap":
        s, t = index
        return f"capacity of {s} in {t} ({data.capacity[(s, t)]:,.6g} t)"
    if name == "offtake_min":
        q = data.hard_minimum[(index[0], index[1], index[2])]
        return f"offtake minimum {index[0]} / {index[1]} {index[2]} ({q:,.6g} t)"
    if name == "reserve_min":
        mat, t = index
        return f"stock reserve of {mat} at the end of {t} ({data.stock[mat].reserve_t:,.6g} t)"
    if name == "china_cap":
        return f"China share cap for {index[0]} in {index[1]} ({data.settings.max_china_share:.0%})"
    if name == "country_cap":
        return (
            f"country share cap for {index[2]} on {index[0]} in {index[1]} "
            f"({data.settings.max_country_share:.0%})"
        )
    if name == "allied_min":
        return (
            f"allied share minimum for {index[0]} in {index[1]} "
            f"({data.settings.min_allied_share:.0%})"
        )
    return _describe_chain(name, index, data) or f"{name}[{', '.join(index)}]"


def _describe_chain(name: str, index: tuple[str, ...], data: ModelData) -> str | None:
    """The supply chain's rows in words (contract v2)."""
    c = data.chain
    if c is None:
        return None
    if name == "process_capacity":
        s, p, t = index
        return f"capacity of {p} at {s} in {t} ({c.process_cap[(s, p, t)]:,.6g} t of output)"
    if name == "route_capacity":
        frm, to, m, t = index
        return f"route {frm} -> {to} for {m} in {t} ({c.route_cap[(frm, to, m, t)]:,.6g} t)"
    if name == "offer_limit_row":
        s, m, t = index
        return f"offer {s} / {m} {t} limited to {c.offer_cap[(s, m, t)]:,.6g} t (max_t)"
    if name == "compliant_balance":
        m, t = index
        return (
            f"compliant demand for {m} in {t} ({c.compliant_demand[(m, t)]:,.6g} t, "
            "unmet not allowed)"
        )
    if name == "consume":
        s, m, t = index
        return f"what {s} consumes of {m} in {t} must arrive there"
    if name == "consume_compliant":
        s, m, t = index
        return f"compliant {m} for {s}'s compliant output in {t}"
    if name == "lane":
        s, p, m, t, _ = index
        return f"what {p} at {s} makes of {m} in {t} must go somewhere"
    return None


def _describe_bound(index: tuple[str, ...], data: ModelData) -> str:
    d = data.buys[(index[0], index[1], index[2])]
    if data.settings.exclude_china and d.china:
        return f"{d.supplier} / {d.material} {d.period} excluded (China origin)"
    return f"{d.supplier} / {d.material} {d.period} limited to {d.upper_t:,.6g} t (max_t)"


def iis_conflicts(opt: Engine) -> list[str]:
    """The IIS rows and bounds in words; empty if HiGHS cannot compute one."""
    try:
        highs = opt.highs
        highs.setOptionValue("iis_strategy", IIS_STRATEGY)
        highs.setOptionValue("output_flag", False)
        try:
            status, iis = highs.getIis()
        finally:
            highs.setOptionValue("output_flag", True)
        if status != highspy.HighsStatus.kOk or not iis.valid_:
            return []
        rows = [opt.row_key(r) for r in iis.row_index_]
        cols = [
            opt.col_key(c)
            for c, bound in zip(iis.col_index_, iis.col_bound_, strict=False)
            if bound in UPPER_BOUNDS  # lower bounds are x >= 0: not worth naming
        ]
    except Exception:  # an explanation must never turn an answer into a crash
        return []
    out = [describe(name, index, opt.data) for name, index in filter(None, rows)]
    for name, index in filter(None, cols):
        if name == "x" and math.isfinite(opt.data.buys[(index[0], index[1], index[2])].upper_t):
            out.append(_describe_bound(index, opt.data))
    return out


def shortfalls(data: ModelData, engine: Callable[[ModelData], Engine]) -> list[str]:
    """Re-solve allowing unmet demand: which materials and periods fall short, by how much.

    `engine` builds the optimizer for the re-solve (the caller's own kind: `Engine.sibling`).
    """
    if data.settings.allow_unmet or (data.hard_minimum and offtake_conflicts(data)):
        return []
    elastic = replace(data, settings=replace(data.settings, allow_unmet=True))
    solution = engine(elastic).solve()
    if solution.status is not Status.OPTIMAL:
        return []
    return [
        f"{mat} {t}: short by {q:,.6g} t of {data.demand[(mat, t)]:,.6g} t demand"
        for (mat, t), q in solution.unmet.items()
        if q > 1e-6 and math.isfinite(q)
    ]
