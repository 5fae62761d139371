"""Tidy result tables from a solution: allocation, unmet, costs, shares, shadow prices.

Every table has a `scenario` column so comparisons are a concat. Money is USD,
prices USD/kg, quantities t, rates and shares fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import ModelData
from optimizer.model.solution import EPS_DUAL, EPS_T, Solution, Status

COST_KEYS = ("purchase", "tariff", "freight", "take_or_pay", "unmet_penalty", "holding")


@dataclass
class Results:
    """Everything a report needs about one solved scenario."""

    scenario: str
    status: Status
    message: str
    total_cost_usd: float | None
    cost_breakdown_usd: dict[str, float]
    allocation: pd.DataFrame
    unmet: pd.DataFrame
    shares: pd.DataFrame
    shadow_prices: pd.DataFrame
    stock: pd.DataFrame
    seconds: float = 0.0
    highlights: list[str] = field(default_factory=list)
    #: best bound on the optimum (USD): equals the cost when optimal, below it after a time limit
    best_bound_usd: float | None = None
    #: what-if analyses (optimizer.analysis), empty unless the scenario was analysed
    policy_costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per (country, material) lane, the rates a workbook can set (analysis.breakevens)
    tariff_breakevens: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: per purchase and period: a detail, since a workbook cannot set a rate per period
    breakevens_by_period: pd.DataFrame = field(default_factory=pd.DataFrame)
    country_breakevens: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def unmet_t(self) -> float:
        """Total unmet demand, t."""
        return float(self.unmet["quantity_t"].sum()) if len(self.unmet) else 0.0

    @property
    def bought_t(self) -> float:
        """Total bought, t."""
        return float(self.allocation["quantity_t"].sum()) if len(self.allocation) else 0.0

    @property
    def china_share(self) -> float:
        """Share of all tonnes bought that is of China origin."""
        if not len(self.allocation) or self.bought_t <= 0:
            return 0.0
        china = self.allocation.loc[self.allocation["china"], "quantity_t"].sum()
        return float(china / self.bought_t)


ALLOCATION_COLUMNS = [
    "scenario",
    "supplier",
    "country",
    "material",
    "period",
    "quantity_t",
    "offer_price_usd_per_kg",
    "price_paid_usd_per_kg",
    "tariff_rate",
    "freight_usd_per_kg",
    "landed_usd_per_kg",
    "purchase_usd",
    "tariff_usd",
    "freight_usd",
    "cost_usd",
    "floor_applied",
    "china",
    "allied",
]


def allocation_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """One row per purchase actually made."""
    rows = []
    for b, q in sorted(sol.x.items(), key=lambda kv: data.order(kv[0])):
        if q <= EPS_T:
            continue
        d = data.buys[b]
        kg = q * KG_PER_T
        rows.append(
            {
                "scenario": scenario,
                "supplier": d.supplier,
                "country": d.country,
                "material": d.material,
                "period": d.period,
                "quantity_t": q,
                "offer_price_usd_per_kg": d.offer_price,
                "price_paid_usd_per_kg": d.price_paid,
                "tariff_rate": d.tariff_rate,
                "freight_usd_per_kg": d.freight,
                "landed_usd_per_kg": d.landed,
                "purchase_usd": kg * d.price_paid,
                "tariff_usd": kg * d.price_paid * d.tariff_rate,
                "freight_usd": kg * d.freight,
                "cost_usd": kg * d.landed,
                "floor_applied": d.floor_applied,
                "china": d.china,
                "allied": d.allied,
            }
        )
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)


def unmet_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Unmet demand per material and period (only where positive)."""
    rows = [
        {
            "scenario": scenario,
            "material": mat,
            "period": t,
            "demand_t": data.demand[(mat, t)],
            "quantity_t": q,
            "share_of_demand": q / data.demand[(mat, t)] if data.demand[(mat, t)] else 0.0,
        }
        for (mat, t), q in sol.unmet.items()
        if q > EPS_T
    ]
    return pd.DataFrame(
        rows,
        columns=["scenario", "material", "period", "demand_t", "quantity_t", "share_of_demand"],
    )


def stock_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """End-of-period stock per stocked material."""
    rows = [
        {
            "scenario": scenario,
            "material": mat,
            "period": t,
            "stock_t": q,
            "reserve_t": data.stock[mat].reserve_t,
            "holding_usd": q * KG_PER_T * data.stock[mat].holding_usd_per_kg,
        }
        for (mat, t), q in sol.stock.items()
    ]
    return pd.DataFrame(
        rows, columns=["scenario", "material", "period", "stock_t", "reserve_t", "holding_usd"]
    )


def cost_breakdown(data: ModelData, sol: Solution, alloc: pd.DataFrame) -> dict[str, float]:
    """USD by component; the components add up to the objective."""
    top = sum(
        q * KG_PER_T * data.take_or_pay[b][1] * data.buys[b].price_paid
        for b, q in sol.untaken.items()
    )
    unmet = sum(sol.unmet.values()) * KG_PER_T * data.settings.unmet_penalty_usd_per_kg
    holding = sum(
        q * KG_PER_T * data.stock[mat].holding_usd_per_kg for (mat, _), q in sol.stock.items()
    )
    return {
        "purchase": float(alloc["purchase_usd"].sum()),
        "tariff": float(alloc["tariff_usd"].sum()),
        "freight": float(alloc["freight_usd"].sum()),
        "take_or_pay": float(top),
        "unmet_penalty": float(unmet),
        "holding": float(holding),
    }


def shares_table(scenario: str, data: ModelData, alloc: pd.DataFrame) -> pd.DataFrame:
    """Tonnes and share by origin country for each material and period."""
    cols = ["scenario", "material", "period", "country", "quantity_t", "share", "china", "allied"]
    if alloc.empty:
        return pd.DataFrame(columns=cols)
    g = alloc.groupby(["material", "period", "country"], sort=False, as_index=False).agg(
        quantity_t=("quantity_t", "sum"), china=("china", "first"), allied=("allied", "first")
    )
    total = g.groupby(["material", "period"], sort=False)["quantity_t"].transform("sum")
    g["share"] = g["quantity_t"] / total
    g.insert(0, "scenario", scenario)
    return g[cols]


def _shadow_row(
    scenario: str, family: str, meaning: str, dual: float, unit_note: str, **keys: Any
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "constraint": family,
        "material": keys.get("material", ""),
        "period": keys.get("period", ""),
        "supplier": keys.get("supplier", ""),
        "country": keys.get("country", ""),
        "dual_usd_per_t": dual,
        "usd_per_kg": dual / KG_PER_T,
        "binding": abs(dual) > EPS_DUAL,
        "meaning": meaning,
        "note": unit_note,
    }


def shadow_price_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Marginal values from the duals, signed so that the planner reads them directly.

    - demand: marginal landed cost of one more kg of demand (USD/kg, >= 0);
    - capacity: saving from one more tonne of facility capacity (USD/t, >= 0);
    - policy rows: cost saved per unit of relaxation (tonne of the cap's slack).
    """
    rows: list[dict[str, Any]] = []
    d = sol.duals
    for (mat, t), v in d.get("balance", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "demand",
                "marginal landed cost of one more kg",
                v,
                "USD per t of demand",
                material=mat,
                period=t,
            )
        )
    for (s, t), v in d.get("facility_cap", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "capacity",
                "saving from one more tonne of capacity",
                -v,
                f"capacity {data.capacity[(s, t)]:,.6g} t",
                supplier=s,
                period=t,
            )
        )
    for (s, mat, t), v in d.get("offtake_min", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "offtake_minimum",
                "cost of the last tonne of the minimum",
                v,
                "USD per t",
                supplier=s,
                material=mat,
                period=t,
            )
        )
    for (s, mat, t), v in d.get("take_or_pay", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "take_or_pay",
                "value of one more tonne of take-or-pay minimum",
                v,
                "USD per t",
                supplier=s,
                material=mat,
                period=t,
            )
        )
    for (mat, t), v in d.get("reserve_min", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "stock_reserve",
                "cost of one more tonne of reserve",
                v,
                "USD per t",
                material=mat,
                period=t,
            )
        )
    for (mat, t), v in d.get("china_cap", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "china_share_cap",
                "saving per tonne of China share relaxed",
                -v,
                f"cap {data.settings.max_china_share:.0%}",
                material=mat,
                period=t,
            )
        )
    for (mat, t, c), v in d.get("country_cap", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "country_share_cap",
                "saving per tonne of country share relaxed",
                -v,
                f"cap {data.settings.max_country_share:.0%}",
                material=mat,
                period=t,
                country=c,
            )
        )
    for (mat, t), v in d.get("allied_min", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "allied_share_minimum",
                "saving per tonne of allied minimum relaxed",
                v,
                f"minimum {data.settings.min_allied_share:.0%}",
                material=mat,
                period=t,
            )
        )
    for b, rc in sorted(sol.reduced_costs.items(), key=lambda kv: data.order(kv[0])):
        upper = data.buys[b].upper_t
        if rc < -EPS_DUAL and 0 < upper < math.inf and sol.x.get(b, 0.0) >= upper - EPS_T:
            rows.append(
                _shadow_row(
                    scenario,
                    "offer_limit",
                    "saving from one more tonne of this offer",
                    -rc,
                    f"limit {upper:,.6g} t",
                    supplier=b[0],
                    material=b[1],
                    period=b[2],
                )
            )
    cols = list(_shadow_row("", "", "", 0.0, "").keys())
    return pd.DataFrame(rows, columns=cols)


def _limit_sentence(what: str, limit: str, grp: pd.DataFrame) -> str:
    top = grp.sort_values("dual_usd_per_t", ascending=False).iloc[0]
    periods = ", ".join(map(str, grp["period"]))
    return (
        f"{what}: {limit} binds in {periods}; one more tonne in {top['period']} "
        f"would save ${top['dual_usd_per_t']:,.0f} (${top['usd_per_kg']:,.2f}/kg)"
    )


def highlights(data: ModelData, res: Results) -> list[str]:
    """Plain sentences on what binds, e.g. `Dy oxide: capacity of Lynas is the limit; ...`."""
    out: list[str] = []
    sp = res.shadow_prices
    if sp.empty:
        return out
    cap = sp[(sp["constraint"] == "capacity") & sp["binding"]]
    for supplier, grp in cap.groupby("supplier", sort=False):
        mats = sorted({b[1] for b in data.buys if b[0] == supplier})
        out.append(_limit_sentence(", ".join(mats), f"{supplier} capacity", grp))
    offers = sp[(sp["constraint"] == "offer_limit") & sp["binding"]]
    for key, grp in offers.groupby(["material", "supplier"], sort=False):
        material, offered_by = key
        out.append(_limit_sentence(str(material), f"{offered_by} offer limit", grp))
    policy = sp[sp["constraint"].str.endswith(("_cap", "_minimum")) & sp["binding"]]
    for family, grp in policy.groupby("constraint", sort=False):
        mats = sorted(set(map(str, grp["material"])))
        out.append(f"{str(family).replace('_', ' ')} binds for {', '.join(mats)}")
    if not res.unmet.empty:
        for mat, grp in res.unmet.groupby("material", sort=False):
            out.append(
                f"{mat}: {grp['quantity_t'].sum():,.1f} t unmet "
                f"({', '.join(map(str, grp['period']))})"
            )
    return out


def make_results(scenario: str, data: ModelData, sol: Solution) -> Results:
    """All result tables for one solution (empty tables when there is no plan)."""
    have_plan = sol.status is Status.OPTIMAL
    empty = Solution(sol.status)
    use = sol if have_plan else empty
    alloc = allocation_table(scenario, data, use)
    res = Results(
        scenario=scenario,
        status=sol.status,
        message=sol.message,
        total_cost_usd=sol.objective_usd if have_plan else None,
        cost_breakdown_usd=cost_breakdown(data, use, alloc),
        allocation=alloc,
        unmet=unmet_table(scenario, data, use),
        shares=shares_table(scenario, data, alloc),
        shadow_prices=shadow_price_table(scenario, data, use),
        stock=stock_table(scenario, data, use),
        seconds=sol.seconds,
        best_bound_usd=sol.best_bound_usd,
    )
    res.highlights = highlights(data, res) if have_plan else list(sol.conflicts)
    return res


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts; NaN and infinities become None so the JSON stays strict."""
    out = []
    for row in df.to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if hasattr(v, "item"):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def results_json(res: Results) -> dict[str, Any]:
    """The results.json document (plain JSON types only)."""
    alloc = res.allocation
    return {
        "scenario": res.scenario,
        "status": res.status.value,
        "message": res.message,
        "total_cost_usd": res.total_cost_usd,
        "best_bound_usd": res.best_bound_usd,
        "cost_breakdown_usd": res.cost_breakdown_usd,
        "unmet_t": res.unmet_t,
        "china_share": res.china_share,
        "allocation": [
            {
                "supplier": r.supplier,
                "country": r.country,
                "material": r.material,
                "period": r.period,
                "quantity_t": r.quantity_t,
                "price_paid_usd_per_kg": r.price_paid_usd_per_kg,
                "tariff_rate": r.tariff_rate,
                "landed_usd_per_kg": r.landed_usd_per_kg,
                "cost_usd": r.cost_usd,
            }
            for r in alloc.itertuples()
        ],
        "unmet": [
            {"material": r.material, "period": r.period, "quantity_t": r.quantity_t}
            for r in res.unmet.itertuples()
        ],
        "shadow_prices": [
            {k: (bool(v) if k == "binding" else v) for k, v in row.items() if k != "scenario"}
            for row in res.shadow_prices.to_dict("records")
        ],
        "highlights": res.highlights,
        "policy_costs": _records(res.policy_costs),
        "tariff_breakevens": _records(res.tariff_breakevens),
        "tariff_breakevens_by_period": _records(res.breakevens_by_period),
        "country_breakevens": _records(res.country_breakevens),
        "seconds": res.seconds,
    }
