"""Shadow prices in the planner's words: what one more tonne of demand, capacity or an offer
limit would cost or save, and the policy rows' duals; sentences on what binds.

Where unmet demand sets a dual (the material is short in that period, or later
for a stocked material), the value reflects the unmet-demand penalty, a
modelling price, not a market value: such rows carry `reflects_penalty` TRUE,
say so in their note, and the sentences say so too.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import ModelData
from optimizer.model.solution import EPS_DUAL, EPS_T, Solution

PENALTY_NOTE = "reflects the unmet-demand penalty (a modelling price), not a market value"


def short_of(data: ModelData, sol: Solution) -> set[tuple[str, str]]:
    """(material, period) pairs whose duals the unmet-demand penalty can set: those with unmet
    demand, and for a stocked material every period up to its last shortfall (stock carries
    a tonne bought earlier into the short period)."""
    short = {mt for mt, q in sol.unmet.items() if q > EPS_T}
    for mat, t in list(short):
        if mat in data.stock:
            last = data.periods.index(t)
            short |= {(mat, p) for p in data.periods[: last + 1]}
    return short


def _shadow_row(
    scenario: str, family: str, meaning: str, dual: float, unit_note: str, **keys: Any
) -> dict[str, Any]:
    penalty = bool(keys.get("penalty", False)) and abs(dual) > EPS_DUAL
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
        "note": f"{unit_note}; {PENALTY_NOTE}" if penalty else unit_note,
        "reflects_penalty": penalty,
    }


def shadow_price_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Marginal values from the duals, signed so that the planner reads them directly.

    - demand: marginal landed cost of one more kg of demand (USD/kg, >= 0);
    - capacity: saving from one more tonne of facility capacity (USD/t, >= 0);
    - policy rows: cost saved per unit of relaxation (tonne of the cap's slack).
    """
    rows: list[dict[str, Any]] = []
    d = sol.duals
    short = short_of(data, sol)
    site_short = {(b[0], b[2]) for b in data.buys if (b[1], b[2]) in short}
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
                penalty=(mat, t) in short,
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
                penalty=(s, t) in site_short,
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
                penalty=(mat, t) in short,
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
                penalty=(mat, t) in short,
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
                penalty=(mat, t) in short,
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
                penalty=(mat, t) in short,
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
                penalty=(mat, t) in short,
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
                penalty=(mat, t) in short,
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
                    penalty=(b[1], b[2]) in short,
                )
            )
    rows += _chain_rows(scenario, data, sol, short)
    cols = list(_shadow_row("", "", "", 0.0, "").keys())
    return pd.DataFrame(rows, columns=cols)


def _chain_rows(
    scenario: str, data: ModelData, sol: Solution, short: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The supply chain's limits (contract v2): process and route capacities, offer limits
    over all destinations, and the premium of compliant demand."""
    chain = data.chain
    if chain is None:
        return []
    d = sol.duals
    rows: list[dict[str, Any]] = []
    for (s, p, t), v in d.get("process_capacity", {}).items():
        a = chain.acts[chain.process_acts[(s, p, t)][0]]
        rows.append(
            _shadow_row(
                scenario,
                "process_capacity",
                f"saving from one more tonne of {a.output} from {p}",
                -v,
                f"capacity {chain.process_cap[(s, p, t)]:,.6g} t",
                supplier=s,
                material=a.output,
                period=t,
                country=a.country,
                penalty=(a.output, t) in short,
            )
        )
    for (frm, to, m, t), v in d.get("route_capacity", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "route_capacity",
                f"saving from one more tonne on the route to {to}",
                -v,
                f"limit {chain.route_cap[(frm, to, m, t)]:,.6g} t",
                supplier=frm,
                material=m,
                period=t,
                penalty=(m, t) in short,
            )
        )
    for (s, m, t), v in d.get("offer_limit_row", {}).items():
        rows.append(
            _shadow_row(
                scenario,
                "offer_limit",
                "saving from one more tonne of this offer",
                -v,
                f"limit {chain.offer_cap[(s, m, t)]:,.6g} t (all destinations)",
                supplier=s,
                material=m,
                period=t,
                penalty=(m, t) in short,
            )
        )
    for (m, t), v in d.get("compliant_balance", {}).items():
        if chain.compliant_demand.get((m, t), 0.0) <= 0 and abs(v) <= EPS_DUAL:
            continue
        rows.append(
            _shadow_row(
                scenario,
                "compliant_premium",
                "extra cost of one more kg of demand served compliant",
                v,
                "USD per t of compliant demand, on top of the demand row",
                material=m,
                period=t,
                penalty=(m, t) in short,
            )
        )
    return rows


def _top(grp: list[dict[str, Any]]) -> dict[str, Any]:
    """The row with the largest dual (the first of equals)."""
    return max(grp, key=lambda r: r["dual_usd_per_t"])


def _limit_sentence(what: str, limit: str, grp: list[dict[str, Any]]) -> str:
    top = _top(grp)
    periods = ", ".join(str(r["period"]) for r in grp)
    text = (
        f"{what}: {limit} binds in {periods}; one more tonne in {top['period']} "
        f"would save ${top['dual_usd_per_t']:,.0f} (${top['usd_per_kg']:,.2f}/kg)"
    )
    if bool(top["reflects_penalty"]):
        text += f" - this {PENALTY_NOTE}"
    return text


def _groups(rows: list[dict[str, Any]], *keys: str) -> dict[Any, list[dict[str, Any]]]:
    """Binding rows grouped by keys, groups and rows in table order (as groupby sort=False)."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]], []).append(r)
    return out


def highlights(data: ModelData, sp: pd.DataFrame, unmet: pd.DataFrame) -> list[str]:
    """Plain sentences on what binds, e.g. `Dy oxide: capacity of Lynas is the limit; ...`,
    from the shadow-price table `sp` and the unmet-demand table."""
    out: list[str] = []
    if sp.empty:
        return out
    binding: dict[str, list[dict[str, Any]]] = {}
    for r in sp[sp["binding"].astype(bool)].to_dict("records"):
        binding.setdefault(str(r["constraint"]), []).append({str(k): v for k, v in r.items()})
    for supplier, grp in _groups(binding.get("capacity", []), "supplier").items():
        mats = sorted({b[1] for b in data.buys if b[0] == supplier})
        out.append(_limit_sentence(", ".join(mats), f"{supplier} capacity", grp))
    for family, limit in (
        ("offer_limit", "{} offer limit"),
        ("process_capacity", "{} process capacity"),
        ("route_capacity", "the route limit from {}"),
    ):
        groups = _groups(binding.get(family, []), "material", "supplier")
        for (material, who), grp in groups.items():
            out.append(_limit_sentence(str(material), limit.format(who), grp))
    for material, grp in _groups(binding.get("compliant_premium", []), "material").items():
        top = _top(grp)
        text = (
            f"{material!s}: serving the compliant segment costs up to "
            f"${top['usd_per_kg']:,.2f}/kg more than other demand ({top['period']})"
        )
        if bool(top["reflects_penalty"]):
            text += f" - this {PENALTY_NOTE}"
        out.append(text)
    for family, rows in binding.items():
        if family.endswith(("_cap", "_minimum")):
            mats = sorted({str(r["material"]) for r in rows})
            out.append(f"{family.replace('_', ' ')} binds for {', '.join(mats)}")
    if not unmet.empty:
        for mat, short in unmet.groupby("material", sort=False):
            out.append(
                f"{mat}: {short['quantity_t'].sum():,.1f} t unmet "
                f"({', '.join(map(str, short['period']))})"
            )
    return out
