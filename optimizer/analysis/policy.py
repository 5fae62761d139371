"""Policy costs: what each active lever (exclusion, caps, floors, offtakes, reserves) adds.

Each lever is switched off in turn and the plan re-solved on the same warm engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from optimizer.analysis.replan import plan_totals, resolve, unmet_by_material
from optimizer.common.format import money_m, period_span
from optimizer.contract.records import Inputs, Offtake, PriceFloor, Stockpile
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import EPS_T, Engine, Solution, Status

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


def _relax_compliance(i: Inputs) -> Inputs:
    """The same demand, every segment served by any supply."""
    return replace(i, demand=tuple(replace(d, compliant=False) for d in i.demand))


def _rows_of(*prefix: str) -> Callable[[tuple[str, ...]], bool]:
    def match(index: tuple[str, ...]) -> bool:
        return index[: len(prefix)] == prefix

    return match


def active_levers(inputs: Inputs) -> list[Lever]:
    """Every restricting policy in force: exclusion or cap, country cap, allied minimum,
    each price floor, each offtake minimum, each stockpile reserve, compliant segments."""
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
        name = (
            f"${f.floor_usd_per_kg:,.0f}/kg {f.material} floor ({f.applies_to}, "
            f"paid by {f.paid_by})"
        )
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
    segments = [d for d in inputs.demand if d.compliant and d.demand_t > 0]
    if segments:
        tonnes = sum(d.demand_t for d in segments)
        stages = inputs.settings.excluded_stage_countries
        name = (
            f"compliant segment ({tonnes:,.6g} t with no stage in {stages}: "
            f"{', '.join(dict.fromkeys(d.material for d in segments))})"
        )
        levers.append(Lever(name, "compliance", _relax_compliance, "compliant_balance"))
    return levers


def policy_costs(inputs: Inputs, opt: Engine | None = None, restore: bool = True) -> pd.DataFrame:
    """What each active lever changes, by re-solving without it: buyer spend, fiscal cost and
    unmet tonnes apart (and its rows' duals where it has some).

    `cost_usd` is the change in buyer spend the lever causes (spend with it minus spend
    without it); `fiscal_usd` the change in fiscal cost; `unmet_t` the unmet tonnes it adds
    (by material in `unmet_detail`). `objective_usd` is the change of the objective, which
    also prices unmet demand at the penalty (a modelling price) and is >= 0 for every
    restricting lever; spend alone can fall when a lever leaves demand unmet.
    `opt`, when given, holds the model data of these very inputs (its `data` is the base
    plan); `restore=False` leaves it at the last lever's LP (for a caller done with it).
    """
    cols = [
        "lever",
        "kind",
        "cost_usd",
        "cost_pct",
        "fiscal_usd",
        "unmet_t",
        "unmet_detail",
        "objective_usd",
        "status_without",
        "dual_usd_per_t",
        "sentence",
    ]
    levers = active_levers(inputs)
    if not levers:
        return pd.DataFrame(columns=cols)
    # the engine's own data when given (the caller's plan of these inputs): no second prepare
    data = opt.data if opt is not None else prepare(inputs)
    opt = opt or FastOptimizer(data)
    base = resolve(opt, data)
    with_it = plan_totals(data, base) if base.status is Status.OPTIMAL else None
    base_unmet = unmet_by_material(data, base)
    rows = []
    for lever in levers:
        dual = None
        if lever.family and base.status is Status.OPTIMAL:
            dual = sum(
                abs(v) for idx, v in base.duals.get(lever.family, {}).items() if lever.match(idx)
            )
        if lever.family == "offtake_min" and isinstance(opt, FastOptimizer):
            # the same LP with the offtake's minimum rows opened: no new data, no rebuild
            relaxed = data
            opt.update(data)
            opened = [k for k in data.hard_minimum if lever.match(k)]
            without = opt.solve_without_rows("offtake_min", opened)
        else:
            relaxed = prepare(lever.relax(inputs))
            without = resolve(opt, relaxed)
        row: dict[str, object] = dict.fromkeys(cols)
        row.update(lever=lever.name, kind=lever.kind, dual_usd_per_t=dual)
        row["status_without"] = without.status.value
        if with_it is not None and without.status is Status.OPTIMAL:
            assert base.objective_usd is not None and without.objective_usd is not None
            other = plan_totals(relaxed, without)
            spend = with_it["buyer_spend_usd"] - other["buyer_spend_usd"]
            added = {m: q - unmet_by_material(relaxed, without)[m] for m, q in base_unmet.items()}
            detail = ", ".join(f"{m} {q:+,.1f} t" for m, q in added.items() if abs(q) > EPS_T)
            row.update(
                cost_usd=spend,
                cost_pct=spend / other["buyer_spend_usd"] if other["buyer_spend_usd"] else None,
                fiscal_usd=with_it["fiscal_cost_usd"] - other["fiscal_cost_usd"],
                unmet_t=with_it["unmet_t"] - other["unmet_t"],
                unmet_detail=detail,
                objective_usd=base.objective_usd - without.objective_usd,
            )
        row["sentence"] = _sentence(lever.name, row, period_span(data.periods), base, without)
        rows.append(row)
    if restore:  # leave the model as we found it (a rebuild if a lever changed its shape)
        opt.update(data)
    return pd.DataFrame(rows, columns=cols)


def _sentence(
    name: str, row: dict[str, object], span: str, base: Solution, without: Solution
) -> str:
    """`The ... floor changes buyer spend by +$0.0 M over 2026-2028 and fiscal cost by ...`."""
    if row["cost_usd"] is None:
        return (
            f"The {name}: effect unknown (plan {base.status.value}, "
            f"without it {without.status.value})"
        )
    spend = float(str(row["cost_usd"]))
    pct = row["cost_pct"]
    unchanged = abs(spend) < 0.5  # solver noise around zero: no "-$0.0 M"
    if unchanged:
        text = f"The {name} does not change buyer spend over {span}"
    else:
        text = f"The {name} changes buyer spend by {money_m(spend, signed=True)} over {span}"
        if pct is not None:
            text += f" ({float(str(pct)):+.1%})"
    fiscal = float(str(row["fiscal_usd"]))
    if abs(fiscal) >= 0.5:
        text += (
            f"; it changes fiscal cost by {money_m(fiscal, signed=True)}"
            if unchanged
            else f" and fiscal cost by {money_m(fiscal, signed=True)}"
        )
    if row["unmet_detail"]:
        text += f"; unmet demand changes by {row['unmet_detail']}"
    return text
