"""The stress test's results: one outcome per sample, and the tables built from them (samples,
summary statistics, shortfalls, suppliers that matter most, drivers, risks)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from optimizer.analysis.risks import COUNTRY_OUTAGE, SUPPLIER_OUTAGE, Disruption, Risk, risk_events
from optimizer.common.format import money_m, pct
from optimizer.model.data import ModelData
from optimizer.model.solution import EPS_T, Status

#: Buckets of the cost histogram in stress.xlsx.
COST_BUCKETS: Final = 12


@dataclass(frozen=True)
class SampleOutcome:
    """One re-optimised sample: status, buyer spend and fiscal cost (USD), unmet t per material,
    and the objective (which also prices unmet demand at the penalty, a modelling price)."""

    status: str
    total_cost_usd: float | None  # the objective
    penalty_usd: float
    unmet_t: tuple[float, ...]  # per material, in ModelData.materials order
    bought_t: dict[str, float]  # per supplier (only the baseline keeps it)
    seconds: float
    rebuilt: bool = False
    buyer_spend_usd: float | None = None
    fiscal_cost_usd: float | None = None


@dataclass
class StressResult:
    """Tables of a stress test (money USD, quantities t, probabilities fractions).

    samples: one row per sample, in order (status `failed` for a failed chunk).
    summary: metric / value / unit rows (expected, P50, P95, max buyer spend, baseline ...;
    the objective's statistics, penalty included, are labelled `objective_*`).
    unmet: per material, probability and size of a shortfall.
    suppliers: criticality ranking. drivers: cost with vs without each disruption.
    risks: the risks drawn from (Risks sheet or defaults).
    """

    scenario: str
    seed: int
    samples: pd.DataFrame
    summary: pd.DataFrame
    unmet: pd.DataFrame
    suppliers: pd.DataFrame
    drivers: pd.DataFrame
    risks: pd.DataFrame
    seconds: float
    risks_source: str
    executor: str = "serial"
    workers: int = 1
    warnings: list[str] = field(default_factory=list)
    #: how samples are solved: perfect recourse (the default, a lower bound), or a fixed
    #: first stage (`sourcing stress --plan`) with only the second stage re-planned
    plan: str = "perfect recourse (lower bound: every sample re-planned with hindsight)"

    def metric(self, name: str) -> Any:
        """One summary value by metric name."""
        row = self.summary.loc[self.summary["metric"] == name, "value"]
        if row.empty:
            raise KeyError(name)
        return row.iloc[0]

    @property
    def headline(self) -> str:
        """`Expected buyer spend $X M, P95 $Y M; probability of a Tb oxide shortfall Z%, ...`."""
        expected, p95 = self.metric("expected_spend_usd"), self.metric("p95_spend_usd")
        text = f"Expected buyer spend {money_m(expected)}, P95 {money_m(p95)}"
        u = self.unmet.sort_values(
            ["shortfall_probability", "material"], ascending=[False, True], kind="stable"
        )
        shown = [
            f"{m} shortfall {pct(p)}" if i == 0 else f"{m} {pct(p)}"
            for i, (m, p) in enumerate(zip(u["material"], u["shortfall_probability"], strict=True))
        ]
        if shown:
            text += "; probability of a " + ", ".join(shown)
        return text


# --------------------------------------------------------------------------- tables


def _unmet_column(material: str) -> str:
    return f"{material}: unmet_t"


def samples_table(
    data: ModelData,
    draws: Sequence[tuple[Disruption, ...]],
    per_sample: Sequence[SampleOutcome | str],
    baseline: SampleOutcome,
) -> pd.DataFrame:
    base_spend = baseline.buyer_spend_usd
    rows: list[dict[str, Any]] = []
    for i, (drawn, out) in enumerate(zip(draws, per_sample, strict=True), start=1):
        row: dict[str, Any] = {
            "sample": i,
            "disruptions": "; ".join(str(d) for d in drawn) or "none",
            "n_disruptions": len(drawn),
        }
        if isinstance(out, str):
            row.update(status="failed", buyer_spend_usd=math.nan, spend_delta_usd=math.nan)
            row.update(fiscal_cost_usd=math.nan, unmet_t=math.nan)
            row.update({_unmet_column(m): math.nan for m in data.materials})
            row.update(objective_usd=math.nan, seconds=math.nan, error=out)
        else:
            solved = out.total_cost_usd is not None
            spend = out.buyer_spend_usd if solved and out.buyer_spend_usd is not None else math.nan
            row.update(
                status=out.status,
                buyer_spend_usd=spend,
                spend_delta_usd=spend - base_spend if base_spend is not None else math.nan,
                fiscal_cost_usd=out.fiscal_cost_usd if solved else math.nan,
                unmet_t=sum(out.unmet_t) if solved else math.nan,
            )
            row.update(
                {
                    _unmet_column(m): q if solved else math.nan
                    for m, q in zip(data.materials, out.unmet_t, strict=True)
                }
            )
            row.update(
                objective_usd=out.total_cost_usd if solved else math.nan,
                seconds=out.seconds,
                error="",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _stat(values: np.ndarray, q: float | None = None) -> float:
    """Mean (q None) or percentile q of the values; NaN when there are none."""
    if values.size == 0:
        return math.nan
    return float(np.mean(values)) if q is None else float(np.percentile(values, q))


def summary_table(
    table: pd.DataFrame,
    baseline: SampleOutcome,
    run: tuple[int, int, str, bool],
    rebuilds: int,
) -> pd.DataFrame:
    samples, seed, scenario, from_sheet = run
    ok = table[table["status"] == Status.OPTIMAL.value]
    spend = ok["buyer_spend_usd"].to_numpy(dtype=float)
    fiscal = ok["fiscal_cost_usd"].to_numpy(dtype=float)
    objective = ok["objective_usd"].to_numpy(dtype=float)
    base = math.nan if baseline.buyer_spend_usd is None else baseline.buyer_spend_usd
    short = ok["unmet_t"].to_numpy(dtype=float) > EPS_T
    rows: list[tuple[str, Any, str]] = [
        ("scenario", scenario, ""),
        ("samples", samples, "samples"),
        ("seed", seed, ""),
        ("risks", "Risks sheet" if from_sheet else "defaults", ""),
        ("solved_samples", len(ok), "samples"),
        ("failed_samples", int((table["status"] == "failed").sum()), "samples"),
        (
            "unsolved_samples",
            int(len(table) - len(ok) - (table["status"] == "failed").sum()),
            "samples",
        ),
        ("baseline_status", baseline.status, ""),
        ("baseline_spend_usd", base, "USD"),
        ("expected_spend_usd", _stat(spend), "USD"),
        ("p50_spend_usd", _stat(spend, 50), "USD"),
        ("p95_spend_usd", _stat(spend, 95), "USD"),
        ("max_spend_usd", float(spend.max()) if spend.size else math.nan, "USD"),
        ("min_spend_usd", float(spend.min()) if spend.size else math.nan, "USD"),
        ("expected_spend_increase_usd", _stat(spend) - base, "USD"),
        ("expected_fiscal_cost_usd", _stat(fiscal), "USD"),
        ("shortfall_probability", float(short.mean()) if short.size else math.nan, "fraction"),
        ("expected_unmet_t", _stat(ok["unmet_t"].to_numpy(dtype=float)), "t"),
        ("expected_objective_usd", _stat(objective), "USD (modelling: incl. unmet penalty)"),
        ("p95_objective_usd", _stat(objective, 95), "USD (modelling: incl. unmet penalty)"),
        ("model_rebuilds", rebuilds, "solves"),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "unit"], dtype=object)


def shortfall_table(data: ModelData, table: pd.DataFrame, baseline: SampleOutcome) -> pd.DataFrame:
    ok = table[table["status"] == Status.OPTIMAL.value]
    rows = []
    for i, m in enumerate(data.materials):
        q = ok[_unmet_column(m)].to_numpy(dtype=float)
        short = q[q > EPS_T]
        demand = sum(v for (mm, _), v in data.demand.items() if mm == m)
        rows.append(
            {
                "material": m,
                "demand_t": demand,
                "baseline_unmet_t": baseline.unmet_t[i],
                "shortfall_probability": float((q > EPS_T).mean()) if q.size else math.nan,
                "expected_shortfall_t": _stat(q),
                "p95_shortfall_t": _stat(q, 95),
                "max_shortfall_t": float(q.max()) if q.size else math.nan,
                "mean_shortfall_when_short_t": _stat(short),
                "expected_share_of_demand": _stat(q) / demand if demand > 0 else math.nan,
            }
        )
    return pd.DataFrame(rows)


def _hit_suppliers(data: ModelData, drawn: Iterable[Disruption]) -> set[str]:
    """Suppliers an outage (their own or their country's) hit in a sample."""
    country_of = {b.supplier: b.country for b in data.buys.values()}
    hit: set[str] = set()
    for d in drawn:
        if d.risk == SUPPLIER_OUTAGE:
            hit.add(d.target)
        elif d.risk == COUNTRY_OUTAGE:
            hit |= {s for s, c in country_of.items() if c == d.target}
    return hit


def outage_probability(risks: Iterable[Risk], data: ModelData) -> dict[str, float]:
    """Per supplier, the chance per sample that an outage (own or country's) hits it."""
    country_of = {b.supplier: b.country for b in data.buys.values()}
    spared = dict.fromkeys(sorted(country_of), 1.0)
    for risk, candidates in risk_events(risks, data):
        if risk.risk not in (SUPPLIER_OUTAGE, COUNTRY_OUTAGE):
            continue
        for s in spared:
            name = s if risk.risk == SUPPLIER_OUTAGE else country_of[s]
            share = candidates.count(name) / len(candidates)
            spared[s] *= 1.0 - risk.probability * share
    return {s: 1.0 - v for s, v in spared.items()}


def suppliers_table(
    data: ModelData,
    risks: Sequence[Risk],
    draws: Sequence[tuple[Disruption, ...]],
    table: pd.DataFrame,
    baseline: SampleOutcome,
    alone: Mapping[str, SampleOutcome],
) -> pd.DataFrame:
    """Ranking: losing each supplier alone (exact), then the Monte Carlo view.

    Ranked by the objective's increase when the supplier is lost alone (the model's own
    valuation, which prices unmet demand at the penalty); the table shows the buyer-spend
    increase and the extra unmet tonnes apart. A supplier the chosen plan does not use (nor
    pays take-or-pay to) changes nothing when lost alone, so it is not re-solved.
    """
    country_of = {b.supplier: b.country for b in data.buys.values()}
    probability = outage_probability(risks, data)
    ok = (table["status"] == Status.OPTIMAL.value).to_numpy()
    spend = table["buyer_spend_usd"].to_numpy(dtype=float)
    short = table["unmet_t"].to_numpy(dtype=float) > EPS_T
    hits = [_hit_suppliers(data, d) for d in draws]
    base_unmet = sum(baseline.unmet_t)
    rows = []
    for s in sorted(country_of):
        out = np.array([s in h for h in hits], dtype=bool)
        when_out, others = ok & out, ok & ~out
        lost = alone.get(s)
        if baseline.total_cost_usd is None or baseline.buyer_spend_usd is None:
            objective, increase, extra_unmet = math.nan, math.nan, math.nan
        elif lost is None:
            objective, increase, extra_unmet = 0.0, 0.0, 0.0
        elif lost.total_cost_usd is None or lost.buyer_spend_usd is None:
            objective, increase, extra_unmet = math.nan, math.nan, math.nan
        else:
            objective = lost.total_cost_usd - baseline.total_cost_usd
            increase = lost.buyer_spend_usd - baseline.buyer_spend_usd
            extra_unmet = sum(lost.unmet_t) - base_unmet
        mean_out = float(spend[when_out].mean()) if when_out.any() else math.nan
        mean_others = float(spend[others].mean()) if others.any() else math.nan
        rows.append(
            {
                "supplier": s,
                "country": country_of[s],
                "baseline_t": baseline.bought_t.get(s, 0.0),
                "alone_spend_increase_usd": increase,
                "alone_extra_unmet_t": max(0.0, extra_unmet)
                if math.isfinite(extra_unmet)
                else extra_unmet,
                "alone_objective_increase_usd": objective,
                "outage_probability": probability[s],
                "samples_out": int(when_out.sum()),
                "mean_spend_when_out_usd": mean_out,
                "spend_increase_when_out_usd": mean_out - mean_others,
                "shortfall_rate_when_out": float(short[when_out].mean())
                if when_out.any()
                else math.nan,
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.sort_values(
        ["alone_objective_increase_usd", "spend_increase_when_out_usd", "supplier"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df


def drivers_table(draws: Sequence[tuple[Disruption, ...]], table: pd.DataFrame) -> pd.DataFrame:
    """Per disruption (kind and target): how often, mean buyer spend with it vs without it,
    and how often a shortfall comes with it."""
    ok = (table["status"] == Status.OPTIMAL.value).to_numpy()
    cost = table["buyer_spend_usd"].to_numpy(dtype=float)
    short = table["unmet_t"].to_numpy(dtype=float) > EPS_T
    labels = sorted({d.label for drawn in draws for d in drawn})
    sets = [{d.label for d in drawn} for drawn in draws]
    rows = []
    for label in labels:
        has = np.array([label in s for s in sets], dtype=bool)
        with_it, without = ok & has, ok & ~has
        mean_with = float(cost[with_it].mean()) if with_it.any() else math.nan
        mean_without = float(cost[without].mean()) if without.any() else math.nan
        rows.append(
            {
                "disruption": label,
                "samples": int(has.sum()),
                "frequency": float(has.mean()),
                "mean_spend_with_usd": mean_with,
                "mean_spend_without_usd": mean_without,
                "spend_increase_usd": mean_with - mean_without,
                "shortfall_rate_with": float(short[with_it].mean()) if with_it.any() else math.nan,
            }
        )
    cols = [
        "disruption",
        "samples",
        "frequency",
        "mean_spend_with_usd",
        "mean_spend_without_usd",
        "spend_increase_usd",
        "shortfall_rate_with",
    ]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(
        ["shortfall_rate_with", "spend_increase_usd", "disruption"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)


def risks_table(risks: Sequence[Risk], from_sheet: bool) -> pd.DataFrame:
    rows = [
        {
            "risk": r.risk,
            "target": r.target,
            "probability": r.probability,
            "magnitude": r.size,
            "from_period": r.from_period or "",
            "note": r.note,
            "cell": r.refs.get("risk", "") if from_sheet else "default",
        }
        for r in risks
    ]
    cols = ["risk", "target", "probability", "magnitude", "from_period", "note", "cell"]
    return pd.DataFrame(rows, columns=cols)


def cost_buckets(result: StressResult, buckets: int = COST_BUCKETS) -> pd.DataFrame:
    """Histogram of solved samples' buyer spend: equal-width buckets between min and max."""
    cost = result.samples.loc[
        result.samples["status"] == Status.OPTIMAL.value, "buyer_spend_usd"
    ].to_numpy(dtype=float)
    cols = ["bucket", "from_usd", "to_usd", "samples", "share"]
    if cost.size == 0:
        return pd.DataFrame(columns=cols)
    low, high = float(cost.min()), float(cost.max())
    if high - low <= 1e-9 * max(1.0, abs(high)):  # every sample costs the same
        return pd.DataFrame(
            [[f"${low / 1e6:,.1f} M", low, high, int(cost.size), 1.0]], columns=cols
        )
    counts, edges = np.histogram(cost, bins=buckets, range=(low, high))
    width = (high - low) / buckets / 1e6
    decimals = max(0, min(3, 1 - math.floor(math.log10(width))))
    rows = [
        [
            f"${edges[i] / 1e6:,.{decimals}f}-{edges[i + 1] / 1e6:,.{decimals}f} M",
            float(edges[i]),
            float(edges[i + 1]),
            int(c),
            int(c) / cost.size,
        ]
        for i, c in enumerate(counts)
    ]
    return pd.DataFrame(rows, columns=cols)
