"""Result tables of the supply chain (contract v2): flows, activity, discards, compliance.

Also what the buyer receives (`receipts_table`), which shares and China
exposure are measured on: purchases delivered (x) and, with a chain, shipments
to the buyer, each by its shipping facility's country (the country of last
transformation; origin at every stage is in `optimizer.output.origin`).
Money: purchase = price paid x tonnes bought (to the buyer or to facilities);
tariff = rate x customs value on what enters the importer country; freight =
offer freight on deliveries plus route freight; processing = fee x output.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from optimizer.contract.schema import KG_PER_T
from optimizer.model.chain_data import BUYER, COMPLIANT, OFFER
from optimizer.model.data import ModelData
from optimizer.model.solution import EPS_T, Solution

FLOW_COLUMNS = [
    "scenario",
    "from",
    "to",
    "material",
    "period",
    "quantity_t",
    "source",
    "compliant",
    "from_country",
    "to_country",
    "price_paid_usd_per_kg",
    "freight_usd_per_kg",
    "customs_value_usd_per_kg",
    "tariff_rate",
    "purchase_usd",
    "freight_usd",
    "tariff_usd",
    "value_usd",
]


def flows_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Every flow with tonnes: offers delivered to the buyer (x) and the chain's shipments.

    `source` is `offer` for offered material, else the process that made it;
    `value_usd` is the customs value of the tonnes (what shares by value weigh).
    """
    rows: list[dict[str, Any]] = []
    for b, q in sorted(sol.x.items(), key=lambda kv: data.order(kv[0])):
        if q <= EPS_T:
            continue
        d = data.buys[b]
        kg = q * KG_PER_T
        rows.append(
            {
                "scenario": scenario,
                "from": d.supplier,
                "to": BUYER,
                "material": d.material,
                "period": d.period,
                "quantity_t": q,
                "source": "offer",
                "compliant": bool(d.compliant and data.chain is not None and data.chain.grades),
                "from_country": d.country,
                "to_country": "",
                "price_paid_usd_per_kg": d.price_paid,
                "freight_usd_per_kg": d.freight,
                "customs_value_usd_per_kg": d.price_paid,
                "tariff_rate": d.tariff_rate,
                "purchase_usd": kg * d.price_paid,
                "freight_usd": kg * d.freight,
                "tariff_usd": kg * d.price_paid * d.tariff_rate,
                "value_usd": kg * d.price_paid,
            }
        )
    chain = data.chain
    if chain is not None:
        country_of = {a.supplier: a.country for a in chain.acts.values()}
        country_of.update({f.from_supplier: f.country for f in chain.ships.values()})
        for e, q in sol.chain.get("f", {}).items():
            if q <= EPS_T:
                continue
            f = chain.ships[e]
            kg = q * KG_PER_T
            rows.append(
                {
                    "scenario": scenario,
                    "from": f.from_supplier,
                    "to": f.to,
                    "material": f.material,
                    "period": f.period,
                    "quantity_t": q,
                    "source": "offer" if f.source == OFFER else f.source,
                    "compliant": f.grade == COMPLIANT,
                    "from_country": f.country,
                    "to_country": "" if f.to == BUYER else country_of.get(f.to, ""),
                    "price_paid_usd_per_kg": f.price_usd_per_kg,
                    "freight_usd_per_kg": f.freight_usd_per_kg,
                    "customs_value_usd_per_kg": f.customs_value_usd_per_kg,
                    "tariff_rate": f.tariff_rate,
                    "purchase_usd": kg * f.price_usd_per_kg,
                    "freight_usd": kg * f.freight_usd_per_kg,
                    "tariff_usd": kg * f.tariff_rate * f.customs_value_usd_per_kg,
                    "value_usd": kg * f.customs_value_usd_per_kg,
                }
            )
    return pd.DataFrame(rows, columns=FLOW_COLUMNS)


ACTIVITY_COLUMNS = [
    "scenario",
    "supplier",
    "process",
    "period",
    "output",
    "output_t",
    "compliant_t",
    "stage",
    "country",
    "fee_usd_per_kg",
    "processing_usd",
]


def activity_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Output of every process that ran, t (all grades; compliant_t the compliant part)."""
    chain = data.chain
    if chain is None:
        return pd.DataFrame(columns=ACTIVITY_COLUMNS)
    acc: dict[tuple[str, str, str], dict[str, Any]] = {}
    for act, q in sol.chain.get("y", {}).items():
        if q <= EPS_T:
            continue
        a = chain.acts[act]
        row = acc.setdefault(
            (a.supplier, a.process, a.period),
            {
                "scenario": scenario,
                "supplier": a.supplier,
                "process": a.process,
                "period": a.period,
                "output": a.output,
                "output_t": 0.0,
                "compliant_t": 0.0,
                "stage": a.stage,
                "country": a.country,
                "fee_usd_per_kg": a.fee_usd_per_kg,
                "processing_usd": 0.0,
            },
        )
        row["output_t"] += q
        row["compliant_t"] += q if a.grade == COMPLIANT else 0.0
        row["processing_usd"] += q * KG_PER_T * a.fee_usd_per_kg
    return pd.DataFrame(list(acc.values()), columns=ACTIVITY_COLUMNS)


DISCARD_COLUMNS = ["scenario", "supplier", "process", "material", "period", "quantity_t"]


def discarded_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Co-products discarded where they were made, t."""
    acc: dict[tuple[str, str, str, str], float] = defaultdict(float)
    for lane, q in sol.chain.get("d", {}).items():
        if q > EPS_T:
            acc[(lane[0], lane[1], lane[2], lane[3])] += q
    rows = [
        {
            "scenario": scenario,
            "supplier": s,
            "process": p,
            "material": m,
            "period": t,
            "quantity_t": q,
        }
        for (s, p, m, t), q in acc.items()
    ]
    return pd.DataFrame(rows, columns=DISCARD_COLUMNS)


COMPLIANCE_COLUMNS = [
    "scenario",
    "material",
    "period",
    "demand_t",
    "met_t",
    "shortfall_t",
    "compliant_arrivals_t",
    "status",
]


def compliance_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Per compliant segment (Demand `compliant` TRUE): demand, met and shortfall, t."""
    chain = data.chain
    if chain is None or not chain.grades:
        return pd.DataFrame(columns=COMPLIANCE_COLUMNS)
    arrivals: dict[tuple[str, str], float] = defaultdict(float)
    for b, q in sol.x.items():
        if data.buys[b].compliant:
            arrivals[(b[1], b[2])] += q
    for e, q in sol.chain.get("f", {}).items():
        if e[3] == BUYER and e[5] == COMPLIANT:
            arrivals[(e[2], e[4])] += q
    unmet = sol.chain.get("uc", {})
    rows = []
    for (m, t), demand in chain.compliant_demand.items():
        if demand <= 0:
            continue
        short = min(demand, max(0.0, unmet.get((m, t), 0.0)))
        short = short if short > EPS_T else 0.0
        rows.append(
            {
                "scenario": scenario,
                "material": m,
                "period": t,
                "demand_t": demand,
                "met_t": demand - short,
                "shortfall_t": short,
                "compliant_arrivals_t": arrivals.get((m, t), 0.0),
                "status": "met" if short == 0 else "short of compliant supply",
            }
        )
    return pd.DataFrame(rows, columns=COMPLIANCE_COLUMNS)


RECEIPT_COLUMNS = [
    "material",
    "period",
    "supplier",
    "country",
    "quantity_t",
    "value_usd",
    "china",
    "allied",
]


def receipts_table(data: ModelData, sol: Solution, alloc: pd.DataFrame) -> pd.DataFrame:
    """What the buyer receives, per shipping supplier: tonnes, customs value, origin flags.

    v1: the allocation's rows as they are (so shares and China exposure are unchanged).
    """
    base = alloc.assign(value_usd=alloc["purchase_usd"])
    if data.chain is not None and "to_buyer_t" in alloc:
        base = base.assign(
            quantity_t=alloc["to_buyer_t"],
            value_usd=alloc["to_buyer_t"] * KG_PER_T * alloc["price_paid_usd_per_kg"],
        )
        base = base[base["quantity_t"] > EPS_T]
    cols = [
        "material",
        "period",
        "supplier",
        "country",
        "quantity_t",
        "value_usd",
        "china",
        "allied",
    ]
    out = base[cols] if len(base) else pd.DataFrame(columns=RECEIPT_COLUMNS)
    chain = data.chain
    if chain is None:
        return out
    rows = []
    for e, q in sol.chain.get("f", {}).items():
        if q <= EPS_T or e[3] != BUYER:
            continue
        f = chain.ships[e]
        rows.append(
            {
                "material": f.material,
                "period": f.period,
                "supplier": f.from_supplier,
                "country": f.country,
                "quantity_t": q,
                "value_usd": q * KG_PER_T * f.customs_value_usd_per_kg,
                "china": f.china,
                "allied": f.allied,
            }
        )
    if not rows:
        return out
    frames = [df for df in (out, pd.DataFrame(rows, columns=RECEIPT_COLUMNS)) if len(df)]
    both = pd.concat(frames, ignore_index=True).astype(
        {"quantity_t": float, "value_usd": float, "china": bool, "allied": bool}
    )
    order_m = {m: i for i, m in enumerate(data.materials)}
    order_t = {t: i for i, t in enumerate(data.periods)}
    key = both["material"].map(order_m) * 10_000 + both["period"].map(order_t)
    return both.assign(_k=key).sort_values("_k", kind="stable").drop(columns="_k")


def offer_shipments(
    data: ModelData, sol: Solution
) -> dict[tuple[str, str, str], list[tuple[float, Any]]]:
    """Per purchase: its shipments to facilities as (tonnes, ShipData)."""
    out: dict[tuple[str, str, str], list[tuple[float, Any]]] = defaultdict(list)
    chain = data.chain
    if chain is None:
        return out
    f = sol.chain.get("f", {})
    for b, keys in chain.offer_ships.items():
        for e in keys:
            q = f.get(e, 0.0)
            if q > EPS_T:
                out[b].append((q, chain.ships[e]))
    return out


def chain_costs(data: ModelData, sol: Solution) -> dict[str, float]:
    """USD the chain adds beyond the purchases delivered: processing, and the tariffs, freight
    and (for processes' shipments) nothing else; offer shipments are in the allocation."""
    chain = data.chain
    out = {"processing": 0.0, "tariff": 0.0, "freight": 0.0}
    if chain is None:
        return out
    for act, q in sol.chain.get("y", {}).items():
        out["processing"] += q * KG_PER_T * chain.acts[act].fee_usd_per_kg
    for e, q in sol.chain.get("f", {}).items():
        if e[1] == OFFER or q <= 0:
            continue  # offer shipments are costed with their purchase (allocation)
        f = chain.ships[e]
        out["tariff"] += q * KG_PER_T * f.tariff_rate * f.customs_value_usd_per_kg
        out["freight"] += q * KG_PER_T * f.freight_usd_per_kg
    return out
