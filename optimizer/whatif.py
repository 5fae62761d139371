"""What-if analysis: scenario comparison, cost of independence, policy costs, tariff break-evens.

Every analysis re-solves one built model: it changes parameters through
the optimizer's `update` (which rebuilds only when the index sets change) and lets
HiGHS warm-start from the previous basis. Money is USD, quantities t, rates
fractions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from optimizer.fast import FastOptimizer
from optimizer.inputs import Inputs, Offtake, PriceFloor, Stockpile
from optimizer.model_data import Buy, ModelData, prepare
from optimizer.results import EPS_T, Results
from optimizer.scenarios import BASELINE
from optimizer.schema import KG_PER_T
from optimizer.solve import Engine, Solution, Status

#: Tariff steps (fraction) of the coarse scan before bisection in country break-evens.
COUNTRY_GRID = 0.1
#: Precision (fraction) of a country break-even tariff.
COUNTRY_TOL = 0.0025


# --------------------------------------------------------------------------- helpers


def material_costs(data: ModelData, sol: Solution) -> dict[str, float]:
    """USD per material: landed purchases, take-or-pay, unmet penalty and holding."""
    cost = dict.fromkeys(data.materials, 0.0)
    for b, q in sol.x.items():
        cost[b[1]] += q * KG_PER_T * data.buys[b].landed
    for b, q in sol.untaken.items():
        cost[b[1]] += q * KG_PER_T * data.take_or_pay[b][1] * data.buys[b].price_paid
    for (m, _), q in sol.unmet.items():
        cost[m] += q * KG_PER_T * data.settings.unmet_penalty_usd_per_kg
    for (m, _), q in sol.stock.items():
        cost[m] += q * KG_PER_T * data.stock[m].holding_usd_per_kg
    return cost


def _resolve(opt: Engine, data: ModelData) -> Solution:
    opt.update(data)
    return opt.solve()


def _with_settings(data: ModelData, **changes: Any) -> ModelData:
    return replace(data, settings=replace(data.settings, **changes))


def _period_span(data: ModelData) -> str:
    p = data.periods
    return p[0] if len(p) == 1 else f"{p[0]}-{p[-1]}"


def _musd(usd: float) -> str:
    return f"${usd / 1e6:,.1f} M"


# --------------------------------------------------------------------------- 1. comparison


@dataclass
class Comparison:
    """Side-by-side scenario tables plus the sentences a VP reads."""

    summary: pd.DataFrame
    by_material: pd.DataFrame
    allocation_changes: pd.DataFrame
    sentences: list[str] = field(default_factory=list)


def _material_shares(res: Results) -> pd.DataFrame:
    a = res.allocation
    cols = ["material", "bought_t", "china_share", "allied_share", "cost_usd"]
    if a.empty:
        return pd.DataFrame(columns=cols)
    g = a.assign(
        china_t=a["quantity_t"].where(a["china"], 0.0),
        allied_t=a["quantity_t"].where(a["allied"], 0.0),
    ).groupby("material", sort=False)
    out = g.agg(
        bought_t=("quantity_t", "sum"),
        china_t=("china_t", "sum"),
        allied_t=("allied_t", "sum"),
        cost_usd=("cost_usd", "sum"),
    ).reset_index()
    out["china_share"] = out["china_t"] / out["bought_t"]
    out["allied_share"] = out["allied_t"] / out["bought_t"]
    return out[cols]


def compare(results: Sequence[Results], baseline: str = BASELINE) -> Comparison:
    """Compare scenarios against the baseline: totals, per material, who gains and loses volume."""
    base = next((r for r in results if r.scenario == baseline), results[0])
    base_cost = base.total_cost_usd
    rows = []
    for r in results:
        delta = None
        if r.total_cost_usd is not None and base_cost is not None:
            delta = r.total_cost_usd - base_cost
        rows.append(
            {
                "scenario": r.scenario,
                "status": r.status.value,
                "total_cost_usd": r.total_cost_usd,
                "delta_usd": delta,
                "delta_pct": delta / base_cost if delta is not None and base_cost else None,
                **{f"{k}_usd": v for k, v in r.cost_breakdown_usd.items()},
                "unmet_t": r.unmet_t,
                "china_share": r.china_share,
            }
        )
    summary = pd.DataFrame(rows)

    parts = []
    for r in results:
        shares = _material_shares(r)
        unmet = r.unmet.groupby("material")["quantity_t"].sum() if len(r.unmet) else pd.Series()
        shares["unmet_t"] = shares["material"].map(unmet).fillna(0.0)
        missing = set(unmet.index) - set(shares["material"])
        if missing:
            extra = pd.DataFrame({"material": sorted(missing)})
            extra["unmet_t"] = extra["material"].map(unmet)
            shares = pd.concat([shares, extra], ignore_index=True)
        shares.insert(0, "scenario", r.scenario)
        parts.append(shares)
    by_material = pd.concat(parts, ignore_index=True)
    base_mat = by_material[by_material["scenario"] == base.scenario].set_index("material")
    by_material["delta_cost_usd"] = by_material["cost_usd"] - by_material["material"].map(
        base_mat["cost_usd"]
    )

    changes = allocation_changes(base, results)
    return Comparison(summary, by_material, changes, comparison_sentences(base, results, changes))


def allocation_changes(base: Results, results: Sequence[Results]) -> pd.DataFrame:
    """Volume per supplier and material over all periods, scenario minus baseline."""
    keys = ["material", "supplier", "country"]
    cols = [*keys, "scenario", "baseline_t", "scenario_t", "change_t"]

    def totals(r: Results) -> pd.Series:
        if r.allocation.empty:
            return pd.Series(dtype=float)
        return r.allocation.groupby(keys, sort=False)["quantity_t"].sum()

    b = totals(base)
    parts = []
    for r in results:
        if r is base:
            continue
        s = totals(r)
        both = pd.concat([b.rename("baseline_t"), s.rename("scenario_t")], axis=1).fillna(0.0)
        both["change_t"] = both["scenario_t"] - both["baseline_t"]
        both = both[both["change_t"].abs() > 1e-6].reset_index()
        both["scenario"] = r.scenario
        parts.append(both)
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    order = {r.scenario: i for i, r in enumerate(results)}
    out = out.sort_values(
        ["scenario", "change_t"],
        key=lambda s: s.map(order) if s.name == "scenario" else -s.abs(),
    )
    return out[cols].reset_index(drop=True)


def comparison_sentences(
    base: Results, results: Sequence[Results], changes: pd.DataFrame
) -> list[str]:
    """One line per scenario: cost change, unmet tonnes, the biggest volume moves."""
    out = []
    for r in results:
        if r is base:
            continue
        if r.total_cost_usd is None or base.total_cost_usd is None:
            out.append(f"{r.scenario}: {r.status.value} ({r.message})")
            continue
        d = r.total_cost_usd - base.total_cost_usd
        sign = "+" if d >= 0 else "-"
        text = f"{r.scenario}: {sign}{_musd(abs(d))} ({d / base.total_cost_usd:+.1%})"
        if r.unmet_t > EPS_T:
            per = r.unmet.groupby("material", sort=False)["quantity_t"].sum()
            text += "; unmet " + ", ".join(f"{m} {q:,.1f} t" for m, q in per.items())
        moves = changes[changes["scenario"] == r.scenario].head(2)
        if len(moves):
            text += "; " + ", ".join(
                f"{m.supplier} {m.change_t:+,.1f} t {m.material}" for m in moves.itertuples()
            )
        out.append(text)
    return out


# --------------------------------------------------------------------------- 2. frontier


@dataclass
class Frontier:
    """Cost and unmet demand as the allowed China share falls from 100% to 0%."""

    table: pd.DataFrame
    last_step_usd: float | None  # cost(0%) - cost(10%)
    sentence: str
    seconds: float = 0.0


def cost_of_independence(inputs: Inputs, points: int = 11) -> Frontier:
    """Sweep max_china_share over `points` values from 1 to 0 on one warm model.

    Exclusion is switched off for the sweep: the 0% point is the same plan.
    """
    if points < 2:
        raise ValueError("a frontier needs at least 2 points")
    started = time.perf_counter()
    base = prepare(replace(inputs, settings=replace(inputs.settings, exclude_china=False)))
    opt = FastOptimizer(base)
    grid = [round(1 - i / (points - 1), 10) for i in range(points)]
    rows = [_frontier_point(opt, base, share) for share in grid]
    table = pd.DataFrame(rows)
    table["delta_usd"] = table["total_cost_usd"] - table["total_cost_usd"].iloc[0]
    cost = dict(zip(table["max_china_share"], table["total_cost_usd"], strict=True))
    if 0.1 not in cost:
        cost[0.1] = _frontier_point(opt, base, 0.1)["total_cost_usd"]
    last = None
    if cost.get(0.0) is not None and cost.get(0.1) is not None:
        last = float(cost[0.0] - cost[0.1])
    return Frontier(
        table, last, frontier_sentence(table, last, base), time.perf_counter() - started
    )


def _frontier_point(opt: Engine, base: ModelData, share: float) -> dict[str, object]:
    sol = _resolve(opt, _with_settings(base, max_china_share=share))
    ok = sol.status is Status.OPTIMAL
    bought = sum(sol.x.values())
    china = sum(q for b, q in sol.x.items() if base.buys[b].china)
    row: dict[str, object] = {
        "max_china_share": share,
        "status": sol.status.value,
        "total_cost_usd": sol.objective_usd if ok else None,
        "unmet_t": sum(sol.unmet.values()) if ok else None,
        "china_share": china / bought if ok and bought > 0 else 0.0,
    }
    costs = material_costs(base, sol) if ok else {}
    for m in base.materials:
        row[f"{m}: cost_usd"] = costs.get(m)
        row[f"{m}: unmet_t"] = sum(q for (mm, _), q in sol.unmet.items() if mm == m) if ok else None
    return row


def frontier_sentence(table: pd.DataFrame, last: float | None, data: ModelData) -> str:
    """`The last 10% of independence from China costs $X M ...`."""
    if table.empty or last is None:
        return "the frontier could not be computed for every point"
    full = table.iloc[-1]
    first = table.iloc[0]
    unmet = full["unmet_t"] or 0.0
    return (
        f"Over {_period_span(data)}, going from no cap to no China costs "
        f"{_musd(full['total_cost_usd'] - first['total_cost_usd'])}; the last 10% of "
        f"independence (10% -> 0% China share) costs {_musd(last)}"
        + (f" and leaves {unmet:,.1f} t unmet" if unmet > EPS_T else "")
        + "."
    )


# --------------------------------------------------------------------------- 3. policy costs


Relax = Callable[[Inputs], Inputs]


def _index_all(_: tuple[str, ...]) -> bool:
    return True


@dataclass(frozen=True)
class Lever:
    """An active policy and how to switch it off."""

    name: str
    kind: str
    relax: Relax
    family: str | None = None  # constraint family whose duals price it
    match: Callable[[tuple[str, ...]], bool] = _index_all


def _relax_settings(**changes: Any) -> Relax:
    def relax(i: Inputs) -> Inputs:
        return replace(i, settings=replace(i.settings, **changes))

    return relax


def _relax_floor(floor: PriceFloor) -> Relax:
    def relax(i: Inputs) -> Inputs:
        return replace(i, price_floors=tuple(f for f in i.price_floors if f != floor))

    return relax


def _relax_offtake(offtake: Offtake) -> Relax:
    def relax(i: Inputs) -> Inputs:
        return replace(
            i, offtakes=tuple(replace(k, min_t=0.0) if k == offtake else k for k in i.offtakes)
        )

    return relax


def _relax_reserve(stock: Stockpile) -> Relax:
    def relax(i: Inputs) -> Inputs:
        return replace(
            i, stockpile=tuple(replace(s, reserve_t=0.0) if s == stock else s for s in i.stockpile)
        )

    return relax


def _rows_of(*prefix: str) -> Callable[[tuple[str, ...]], bool]:
    def match(index: tuple[str, ...]) -> bool:
        return index[: len(prefix)] == prefix

    return match


def active_levers(inputs: Inputs) -> list[Lever]:
    """Every restricting policy in force: exclusion or cap, country cap, allied minimum,
    each price floor, each offtake minimum, each stockpile reserve."""
    s = inputs.settings
    levers: list[Lever] = []
    if s.exclude_china:
        levers.append(Lever("China exclusion", "china", _relax_settings(exclude_china=False)))
    elif s.max_china_share < 1:
        name = f"China share cap {s.max_china_share:.0%}"
        levers.append(Lever(name, "china", _relax_settings(max_china_share=1.0), "china_cap"))
    if s.max_country_share < 1:
        name = f"country share cap {s.max_country_share:.0%}"
        relax = _relax_settings(max_country_share=1.0)
        levers.append(Lever(name, "country", relax, "country_cap"))
    if s.min_allied_share > 0:
        name = f"allied share minimum {s.min_allied_share:.0%}"
        levers.append(Lever(name, "allied", _relax_settings(min_allied_share=0.0), "allied_min"))
    for f in inputs.price_floors:
        name = f"${f.floor_usd_per_kg:,.0f}/kg {f.material} floor ({f.applies_to})"
        levers.append(Lever(name, "price_floor", _relax_floor(f)))
    for k in inputs.offtakes:
        if k.min_t <= 0:
            continue
        name = f"{k.supplier} {k.material} offtake minimum {k.min_t:,.6g} t"
        if k.take_or_pay is None:
            family = "offtake_min"
        else:
            family = "take_or_pay"
            name += f" (take-or-pay {k.take_or_pay:.0%})"
        levers.append(
            Lever(name, "offtake", _relax_offtake(k), family, _rows_of(k.supplier, k.material))
        )
    for st in inputs.stockpile:
        if st.reserve_t > 0:
            name = f"{st.material} stock reserve {st.reserve_t:,.6g} t"
            relax = _relax_reserve(st)
            levers.append(Lever(name, "stockpile", relax, "reserve_min", _rows_of(st.material)))
    return levers


def policy_costs(inputs: Inputs, opt: Engine | None = None) -> pd.DataFrame:
    """Cost each active lever adds, by re-solving without it (and its duals where it has a row).

    cost_usd >= 0 for every restricting policy: removing a restriction cannot raise the optimum.
    """
    cols = ["lever", "kind", "cost_usd", "cost_pct", "status_without", "dual_usd_per_t", "sentence"]
    levers = active_levers(inputs)
    if not levers:
        return pd.DataFrame(columns=cols)
    data = prepare(inputs)
    opt = opt or FastOptimizer(data)
    base = _resolve(opt, data)
    rows = []
    for lever in levers:
        dual = None
        if lever.family and base.status is Status.OPTIMAL:
            dual = sum(
                abs(v) for idx, v in base.duals.get(lever.family, {}).items() if lever.match(idx)
            )
        without = _resolve(opt, prepare(lever.relax(inputs)))
        cost = pct = None
        if base.status is Status.OPTIMAL and without.status is Status.OPTIMAL:
            assert base.objective_usd is not None and without.objective_usd is not None
            cost = base.objective_usd - without.objective_usd
            pct = cost / without.objective_usd if without.objective_usd else None
        sentence = (
            f"The {lever.name} costs {_musd(cost)} over {_period_span(data)}"
            + (f" ({pct:+.1%})" if pct is not None else "")
            if cost is not None
            else f"The {lever.name}: cost unknown (plan {base.status.value}, "
            f"without it {without.status.value})"
        )
        rows.append(
            {
                "lever": lever.name,
                "kind": lever.kind,
                "cost_usd": cost,
                "cost_pct": pct,
                "status_without": without.status.value,
                "dual_usd_per_t": dual,
                "sentence": sentence,
            }
        )
    opt.update(data)  # leave the model as we found it
    return pd.DataFrame(rows, columns=cols)


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
    sol = _resolve(opt, with_buy_tariff(data, b, rate))
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
    sol = _resolve(opt, data)
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
