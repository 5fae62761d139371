"""The cost of independence from China: cost and unmet demand as the allowed China share falls."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pandas as pd

from optimizer.analysis.replan import material_costs, resolve, with_settings
from optimizer.common.format import money_m, period_span
from optimizer.contract.records import Inputs
from optimizer.model.data import ModelData, prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import EPS_T, Engine, EngineFactory, Status


@dataclass
class Frontier:
    """Cost and unmet demand as the allowed China share falls from 100% to 0%.

    `table` has one row per point, `workbook_setting` TRUE on the point that is
    the workbook's own setting; `note` says how the sweep treats the workbook's
    China settings (exclusion is switched off, the cap replaced).
    """

    table: pd.DataFrame
    last_step_usd: float | None  # cost(0%) - cost(10%)
    sentence: str
    seconds: float = 0.0
    note: str = ""
    workbook_share: float = 1.0


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
    table["delta_usd"] = table["total_cost_usd"] - table["total_cost_usd"].iloc[0]
    cost = dict(zip(table["max_china_share"], table["total_cost_usd"], strict=True))
    if 0.1 not in cost:
        cost[0.1] = _frontier_point(opt, base, 0.1)["total_cost_usd"]
    last = None
    if cost.get(0.0) is not None and cost.get(0.1) is not None:
        last = float(cost[0.0] - cost[0.1])
    return Frontier(
        table,
        last,
        frontier_sentence(table, last, base),
        time.perf_counter() - started,
        note=frontier_note(settings.exclude_china, settings.max_china_share),
        workbook_share=mine,
    )


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


def _frontier_point(opt: Engine, base: ModelData, share: float) -> dict[str, object]:
    sol = resolve(opt, with_settings(base, max_china_share=share))
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
        f"Over {period_span(data.periods)}, going from no cap to no China costs "
        f"{money_m(full['total_cost_usd'] - first['total_cost_usd'])}; the last 10% of "
        f"independence (10% -> 0% China share) costs {money_m(last)}"
        + (f" and leaves {unmet:,.1f} t unmet" if unmet > EPS_T else "")
        + "."
    )
