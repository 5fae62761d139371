"""Scenario comparison: totals, per-material shares, who gains or loses volume vs the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from optimizer.common.format import money_m
from optimizer.contract.scenarios import BASELINE
from optimizer.model.solution import EPS_T
from optimizer.output.results import Results

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
        if r.allocation.empty:  # an infeasible or empty plan: no volume, same index levels
            return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=keys))
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
        if r.total_cost_usd is None:
            out.append(f"{r.scenario}: {r.status.value} ({r.message})")
            continue
        if base.total_cost_usd is None:
            out.append(
                f"{r.scenario}: {r.status.value}, {money_m(r.total_cost_usd)} "
                f"(no delta: the {base.scenario} is {base.status.value})"
            )
            continue
        d = r.total_cost_usd - base.total_cost_usd
        text = f"{r.scenario}: {money_m(d, signed=True)}"
        if base.total_cost_usd:
            text += f" ({d / base.total_cost_usd:+.1%})"
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
