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
    """Per material over all periods: tonnes bought, China and allied shares by tonnes and by
    value (price paid x tonnes), and buyer spend (landed purchases; take-or-pay and holding
    are per scenario, in the summary)."""
    a = res.allocation
    cols = [
        "material",
        "bought_t",
        "china_tonnes_share",
        "china_value_share",
        "allied_tonnes_share",
        "spend_usd",
    ]
    if a.empty:
        return pd.DataFrame(columns=cols)
    g = a.assign(
        china_t=a["quantity_t"].where(a["china"], 0.0),
        china_value=a["purchase_usd"].where(a["china"], 0.0),
        allied_t=a["quantity_t"].where(a["allied"], 0.0),
    ).groupby("material", sort=False)
    sums = ["quantity_t", "china_t", "china_value", "purchase_usd", "allied_t", "cost_usd"]
    out = g[sums].sum().reset_index()  # a plain sum: named aggregation costs 10x more here
    out = out.rename(columns={"quantity_t": "bought_t", "purchase_usd": "value"})
    out = out.rename(columns={"cost_usd": "spend_usd"})
    out["china_tonnes_share"] = out["china_t"] / out["bought_t"]
    out["china_value_share"] = (out["china_value"] / out["value"]).where(out["value"] > 0, 0.0)
    out["allied_tonnes_share"] = out["allied_t"] / out["bought_t"]
    return out[cols]


def _delta(value: float | None, base: float | None) -> float | None:
    return value - base if value is not None and base is not None else None


def compare(results: Sequence[Results], baseline: str = BASELINE) -> Comparison:
    """Compare scenarios against the baseline: buyer spend, fiscal cost and unmet tonnes apart,
    per material, who gains and loses volume. The objective (which also prices unmet demand
    at the penalty, a modelling price) is a labelled column of its own."""
    base = next((r for r in results if r.scenario == baseline), results[0])
    rows = []
    materials = list(dict.fromkeys(m for r in results for m in r.unmet_by_material))
    for r in results:
        delta = _delta(r.buyer_spend_usd, base.buyer_spend_usd)
        spend_base = base.buyer_spend_usd
        rows.append(
            {
                "scenario": r.scenario,
                "status": r.status.value,
                "buyer_spend_usd": r.buyer_spend_usd,
                "spend_delta_usd": delta,
                "spend_delta_pct": delta / spend_base if delta is not None and spend_base else None,
                "fiscal_cost_usd": r.fiscal_cost_usd,
                "fiscal_delta_usd": _delta(r.fiscal_cost_usd, base.fiscal_cost_usd),
                "unmet_t": r.unmet_t if r.solved else None,
                **{
                    f"unmet: {m} t": r.unmet_by_material.get(m, 0.0) if r.solved else None
                    for m in materials
                },
                "compliant_demand_t": float(r.compliance["demand_t"].sum())
                if len(r.compliance)
                else 0.0,
                "compliant_shortfall_t": r.compliant_shortfall_t if r.solved else None,
                "china_value_share": r.china_value_share if r.solved else None,
                "emissions_t_co2e": r.emissions_t_co2e if r.solved else None,
                "emissions_delta_t_co2e": _delta(
                    r.emissions_t_co2e if r.solved else None,
                    base.emissions_t_co2e if base.solved else None,
                ),
                "emissions_unknown_t": r.emissions_unknown_t if r.solved else None,
                **{f"{k}_usd": v for k, v in r.cost_breakdown_usd.items()},
                "objective_usd": r.total_cost_usd,
                "tariff_regime": r.tariff_regime or "flat rates",
                "data_date": r.data_date,
                "description": r.description,
            }
        )
    summary = pd.DataFrame(rows)

    parts = []
    for r in results:
        shares = _material_shares(r)
        unmet = pd.Series(r.unmet_by_material, dtype=float)
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
    by_material["spend_delta_usd"] = by_material["spend_usd"] - by_material["material"].map(
        base_mat["spend_usd"]
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
    """One line per scenario: buyer-spend and fiscal change, unmet tonnes by material, the
    biggest volume moves (and, for a scenario that moves nothing, its description)."""
    out = []
    for r in results:
        if r is base:
            continue
        if not r.solved:
            out.append(f"{r.scenario}: {r.status.value} ({r.message})")
            continue
        spend = r.buyer_spend_usd or 0.0
        if not base.solved or base.buyer_spend_usd is None:
            out.append(
                f"{r.scenario}: {r.status.value}, buyer spend {money_m(spend)} "
                f"(no delta: the {base.scenario} is {base.status.value})"
            )
            continue
        d = spend - base.buyer_spend_usd
        text = f"{r.scenario}: buyer spend {money_m(d, signed=True)}"
        if base.buyer_spend_usd:
            text += f" ({d / base.buyer_spend_usd:+.1%})"
        fiscal = (r.fiscal_cost_usd or 0.0) - (base.fiscal_cost_usd or 0.0)
        if abs(fiscal) >= 0.5:
            text += f", fiscal cost {money_m(fiscal, signed=True)}"
        emitted = r.emissions_t_co2e - base.emissions_t_co2e
        if abs(emitted) >= 0.5:
            text += f", emissions {emitted:+,.0f} t CO2e"
        if r.unmet_t > EPS_T:
            text += "; unmet " + ", ".join(
                f"{m} {q:,.1f} t" for m, q in r.unmet_by_material.items()
            )
        moves = changes[changes["scenario"] == r.scenario].head(2)
        if len(moves):
            text += "; " + ", ".join(
                f"{m.supplier} {m.change_t:+,.1f} t {m.material}" for m in moves.itertuples()
            )
        elif abs(d) < 0.5 and abs(r.unmet_t - base.unmet_t) <= EPS_T:
            text += "; the plan does not change" + (f" ({r.description})" if r.description else "")
        out.append(text)
    return out
