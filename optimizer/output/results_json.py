"""The results.json document: plain JSON types only, NaN and infinities as null.

Keys the issues spell out are public interface (flows, activity, discarded,
origin_by_stage, compliance, ...); `total_cost_usd` stays the objective.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from optimizer.output.emissions import emissions_summary, unknown_records
from optimizer.output.results import Results


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts; NaN and infinities become None so the JSON stays strict.

    Cleaned per column with numpy (a per-cell loop cost most of writing results.json);
    object columns keep a per-cell pass for numpy scalars hidden in them.
    """
    if not len(df):
        return []
    columns: dict[str, Any] = {}
    for name in df.columns:
        col = df[name]
        kind = col.dtype.kind
        if kind == "f":
            values = col.to_numpy(dtype=float)
            finite = np.isfinite(values)
            columns[str(name)] = (
                values.tolist()
                if finite.all()
                else [
                    v if ok else None
                    for v, ok in zip(values.tolist(), finite.tolist(), strict=True)
                ]
            )
        elif kind in "iub":
            columns[str(name)] = col.to_numpy().tolist()
        else:
            columns[str(name)] = [_plain(v) for v in col.tolist()]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _rows(
    df: pd.DataFrame, keys: tuple[str, ...], extra: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The contract's keys of each row, in order, then a few more."""
    if not len(df):
        return []
    return _records(df[[*keys, *extra]])


def results_json(res: Results) -> dict[str, Any]:
    """The results.json document (plain JSON types only)."""
    alloc = res.allocation
    return {
        "scenario": res.scenario,
        "description": res.description,
        "status": res.status.value,
        "message": res.message,
        "total_cost_usd": res.total_cost_usd,
        "objective_note": "buyer spend + unmet-demand penalty (a modelling price)"
        + (" + fiscal cost (national-cost view)" if res.national_cost else ""),
        "best_bound_usd": res.best_bound_usd,
        "cost_breakdown_usd": res.cost_breakdown_usd,
        "buyer_spend_usd": res.buyer_spend_usd,
        "fiscal_cost_usd": res.fiscal_cost_usd,
        "penalty_usd": res.penalty_usd,
        "national_cost": res.national_cost,
        "unmet_t": res.unmet_t,
        "unmet_by_material_t": res.unmet_by_material,
        "china_share": [
            {
                "material": r.material,
                "period": r.period,
                "tonnes_share": r.tonnes_share,
                "value_share": r.value_share,
            }
            for r in res.china_exposure.itertuples()
        ],
        "china_value_share": res.china_value_share,
        "tariff_regime": {"name": res.tariff_regime, "as_of": res.data_date},
        "tariff_rates": _records(res.tariff_rates.drop(columns=["scenario"], errors="ignore")),
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
                "support_usd_per_kg": r.support_usd_per_kg,
                "fiscal_usd": r.fiscal_usd,
            }
            for r in alloc.itertuples()
        ],
        "unmet": [
            {"material": r.material, "period": r.period, "quantity_t": r.quantity_t}
            for r in res.unmet.itertuples()
        ],
        "shadow_prices": [
            {
                k: (bool(v) if k in ("binding", "reflects_penalty") else v)
                for k, v in row.items()
                if k != "scenario"
            }
            for row in res.shadow_prices.to_dict("records")
        ],
        "highlights": res.highlights,
        "policy_costs": _records(res.policy_costs),
        "tariff_breakevens": _records(res.tariff_breakevens),
        "tariff_breakevens_by_period": _records(res.breakevens_by_period),
        "country_breakevens": _records(res.country_breakevens),
        "flows": _rows(
            res.flows, ("from", "to", "material", "period", "quantity_t"), ("source", "compliant")
        ),
        "activity": _rows(
            res.activity,
            ("supplier", "process", "period", "output_t"),
            ("output", "stage", "compliant_t"),
        ),
        "discarded": _rows(
            res.discarded, ("supplier", "material", "period", "quantity_t"), ("process",)
        ),
        "origin_by_stage": _rows(
            res.origin_by_stage,
            ("material", "period", "stage", "country", "quantity_t"),
            ("share",),
        ),
        "compliance": _rows(
            res.compliance, ("material", "period", "demand_t", "met_t", "shortfall_t"), ("status",)
        ),
        "process_breakevens": _records(res.process_breakevens),
        "emissions_t_co2e": {
            **emissions_summary(res.emissions),
            "delivered": _records(
                res.delivered_emissions.drop(columns=["scenario"], errors="ignore")
            ),
        },
        "emissions_unknown": _clean(unknown_records(res.emissions)),
        "emissions_by_source": _records(res.emissions.drop(columns=["scenario"], errors="ignore")),
        "carbon_price_usd_per_t_co2e": res.carbon_price_usd_per_t_co2e,
        "seconds": res.seconds,
    }


def _clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return _records(pd.DataFrame(rows)) if rows else []
