"""The cost of independence from China: cost and unmet demand as the allowed China share falls."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pandas as pd

from optimizer.analysis.replan import (
    material_spend,
    plan_totals,
    resolve,
    unmet_by_material,
    with_settings,
)
from optimizer.common.format import money_m, period_span
from optimizer.contract.records import Inputs
from optimizer.model.data import ModelData, prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import EPS_T, Engine, EngineFactory, Solution, Status


@dataclass
class Frontier:
    """Cost and unmet demand as the allowed China share falls from 100% to 0%.

    `table` has one row per point, `workbook_setting` TRUE on the point that is
    the workbook's own setting; `note` says how the sweep treats the workbook's
    China settings (exclusion is switched off, the cap replaced).
    """

    table: pd.DataFrame
    last_step_usd: float | None  # buyer spend(0%) - spend(10%)
    sentence: str
    seconds: float = 0.0
    note: str = ""
    workbook_share: float = 1.0
    #: the tariffs the sweep applied: `regime in_force (as of 2026-12-01)`
    tariffs: str = ""


def cost_of_independence(
    inputs: Inputs, points: int = 11, engine: EngineFactory = FastOptimizer
) -> Frontier:
    """Sweep max_china_share over `points` values from 1 to 0 on one warm model.

    The sweep replaces the workbook's China settings: exclude_china is switched
    off (the 0% point is the same plan as excluding China) and max_china_share
    takes each point's value. The workbook's own setting (0% when it excludes
    China) is marked, and added when it is not on the grid, so the marked point
    is the plan of the workbook as given.
    """
    if points < 2:
        raise ValueError("a frontier needs at least 2 points")
    started = time.perf_counter()
    settings = inputs.settings
    mine = 0.0 if settings.exclude_china else round(settings.max_china_share, 10)
    base = prepare(replace(inputs, settings=replace(settings, exclude_china=False)))
    opt = engine(base)
    grid = [round(1 - i / (points - 1), 10) for i in range(points)]
    grid = sorted({*grid, mine}, reverse=True)
    rows = [_frontier_point(opt, base, share) for share in grid]
    table = pd.DataFrame(rows)
    table["workbook_setting"] = table["max_china_share"] == mine
    table["spend_delta_usd"] = table["buyer_spend_usd"] - table["buyer_spend_usd"].iloc[0]
    by_share: dict[float, dict[str, object]] = {float(str(r["max_china_share"])): r for r in rows}
    at_10 = by_share.get(0.1) or _frontier_point(opt, base, 0.1)
    spend_0, spend_10 = _number(by_share[0.0]["buyer_spend_usd"]), _number(at_10["buyer_spend_usd"])
    last = spend_0 - spend_10 if spend_0 is not None and spend_10 is not None else None
    return Frontier(
        table,
        last,
        frontier_sentence(table, at_10, base),
        time.perf_counter() - started,
        note=frontier_note(settings.exclude_china, settings.max_china_share),
        workbook_share=mine,
        tariffs=f"regime {base.tariff_regime or 'flat rates (Countries, TariffOverrides)'}"
        + (f" (as of {base.data_date})" if base.data_date else ""),
    )


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


def frontier_note(exclude_china: bool, max_china_share: float) -> str:
    """How the sweep treats the workbook's own China settings."""
    if exclude_china:
        return (
            "The sweep switches exclude_china off and caps China's share of each material's "
            "purchases per period instead; the workbook's own setting (exclude_china TRUE) "
            "is the 0% point."
        )
    return (
        "The sweep replaces the workbook's max_china_share (a cap on China's share of each "
        f"material's purchases per period); the workbook's own setting, {max_china_share:.0%}, "
        "is marked."
    )


def _china_shares(data: ModelData, sol: Solution) -> tuple[float, float]:
    """(largest China share by tonnes of any material and period, China share of the
    value received): the first is what the cap limits. With a supply chain, shipments to the
    buyer count by their shipping facility, at their customs value."""
    bought: dict[tuple[str, str], float] = {}
    china: dict[tuple[str, str], float] = {}
    value = china_value = 0.0
    received = [
        (b[1], b[2], q, data.buys[b].price_paid, data.buys[b].china) for b, q in sol.x.items()
    ]
    if data.chain is not None:
        ships = data.chain.ships
        received += [
            (e[2], e[4], q, ships[e].customs_value_usd_per_kg, ships[e].china)
            for e, q in sol.chain.get("f", {}).items()
            if e[3] == "buyer"
        ]
    for m, t, q, price, is_china in received:
        bought[(m, t)] = bought.get((m, t), 0.0) + q
        value += q * price
        if is_china:
            china[(m, t)] = china.get((m, t), 0.0) + q
            china_value += q * price
    largest = max((china.get(k, 0.0) / v for k, v in bought.items() if v > EPS_T), default=0.0)
    return largest, (china_value / value if value > 0 else 0.0)


def _frontier_point(opt: Engine, base: ModelData, share: float) -> dict[str, object]:
    """One point: buyer spend, fiscal cost and unmet tonnes apart (the penalty, a modelling
    price, only in `objective_usd`)."""
    sol = resolve(opt, with_settings(base, max_china_share=share))
    ok = sol.status is Status.OPTIMAL
    totals = plan_totals(base, sol) if ok else {}
    largest, value_share = _china_shares(base, sol) if ok else (None, None)
    row: dict[str, object] = {
        "max_china_share": share,
        "status": sol.status.value,
        "buyer_spend_usd": totals.get("buyer_spend_usd"),
        "fiscal_cost_usd": totals.get("fiscal_cost_usd"),
        "unmet_t": totals.get("unmet_t"),
        "china_tonnes_share_max": largest,
        "china_value_share": value_share,
        "objective_usd": sol.objective_usd if ok else None,
    }
    spend = material_spend(base, sol) if ok else {}
    unmet = unmet_by_material(base, sol) if ok else {}
    for m in base.materials:
        row[f"{m}: spend_usd"] = spend.get(m)
        row[f"{m}: unmet_t"] = unmet.get(m)
    return row


def _unmet_words(row: pd.Series | dict[str, object], materials: tuple[str, ...]) -> str:
    """`Tb oxide 18.0 t, Dy oxide 0.3 t`: the materials a point leaves short."""
    parts = []
    for m in materials:
        v = _number(row.get(f"{m}: unmet_t"))
        if v is not None and v > EPS_T:
            parts.append(f"{m} {v:,.1f} t")
    return ", ".join(parts)


def frontier_sentence(table: pd.DataFrame, at_10: dict[str, object] | None, data: ModelData) -> str:
    """`Over 2026-2028, going from no cap to no China raises buyer spend by $X M ...`."""
    if table.empty or at_10 is None or table["buyer_spend_usd"].isna().any():
        return "the frontier could not be computed for every point"
    full, first = table.iloc[-1], table.iloc[0]
    change = float(full["buyer_spend_usd"] - first["buyer_spend_usd"])
    unmet = _unmet_words(full, data.materials)
    last = float(full["buyer_spend_usd"]) - (_number(at_10["buyer_spend_usd"]) or 0.0)
    return (
        f"Over {period_span(data.periods)}, going from no cap to no China changes buyer spend "
        f"by {money_m(change, signed=True)}"
        + (f" and leaves {unmet} unmet" if unmet else "")
        + f"; the last 10% of independence (10% -> 0% China share) changes it by "
        f"{money_m(last, signed=True)}"
        + (f" (unmet at 10%: {_unmet_words(at_10, data.materials) or 'none'})" if unmet else "")
        + "."
    )
