r"""A plan's greenhouse-gas emissions: by source, and embodied in what the buyer receives.

Direct (each source once, the LP's own accounting):

- a purchase of offer b (what it sells: to the buyer and to facilities), q_b t
  at its stated cradle-to-gate intensity e_b, at the offered material's stage
  and the seller's country;
- an activity a (y_a t of main output) at its process's gate-to-gate e_a, at
  the process's stage and the facility's country.

emissions = sum q e over sources with a stated intensity. A source without
one is listed as unknown (tonnes, and what the levers assumed for it) and is
never in a total. By material here means the material that source makes.

Embodied (through the tiers): each shipment carries an intensity per t,
attributed proportionally through the solved flows, period by period: an
offer's shipments its e_b; what a facility receives of a material is the
tonne-weighted mix of its arrivals; an activity's output and co-products
share its emissions by mass:

    i_a = (e_a + sum_inputs t_per_t * i_in) / (1 + sum_coproducts t_per_t)

So the buyer's tonnes of material m in t embody sum arrivals q * i; `complete`
says whether every contributing source stated its intensity.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from optimizer.model.chain_data import BUYER, OFFER, Act, Ship
from optimizer.model.data import ModelData
from optimizer.model.emissions import plan_sources
from optimizer.model.solution import EPS_T, Solution
from optimizer.output.origin import MAX_PASSES, activity_links

EMISSIONS_COLUMNS = [
    "scenario",
    "source",
    "supplier",
    "country",
    "process",
    "stage",
    "material",
    "period",
    "quantity_t",
    "intensity_kg_co2e_per_kg",
    "emissions_t_co2e",
    "stated",
    "assumed_t_co2e",
]
DELIVERED_COLUMNS = [
    "scenario",
    "material",
    "period",
    "quantity_t",
    "emissions_t_co2e",
    "kg_co2e_per_kg",
    "complete",
]


def emissions_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """One row per source with tonnes: its intensity and emissions (blank when not stated)."""
    chain = data.chain
    rows: list[dict[str, Any]] = []
    for kind, key, material, period, q, stated, rate in plan_sources(data, sol):
        if q <= EPS_T:
            continue
        if kind == "offer":
            stage = (chain.material_stage.get(material) if chain else "") or "offer"
            where = (key[0], data.buys[key].country, "", stage)
        else:
            assert chain is not None  # activities exist only with a chain
            a = chain.acts[key]
            where = (a.supplier, a.country, a.process, a.stage)
        rows.append(_row(scenario, kind, *where, material, period, q, stated, rate))
    return pd.DataFrame(rows, columns=EMISSIONS_COLUMNS)


def _row(
    scenario: str,
    source: str,
    supplier: str,
    country: str,
    process: str,
    stage: str,
    material: str,
    period: str,
    q: float,
    stated: float | None,
    rate: float,
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "source": source,
        "supplier": supplier,
        "country": country,
        "process": process,
        "stage": stage,
        "material": material,
        "period": period,
        "quantity_t": q,
        "intensity_kg_co2e_per_kg": stated,
        "emissions_t_co2e": q * stated if stated is not None else None,
        "stated": stated is not None,
        "assumed_t_co2e": None if stated is not None else q * rate,
    }


def emissions_summary(table: pd.DataFrame) -> dict[str, Any]:
    """results.json `emissions_t_co2e`: the total of stated intensities and its breakdowns."""
    known = table[table["stated"].astype(bool)] if len(table) else table

    def by(column: str) -> list[dict[str, Any]]:
        if not len(known):
            return []
        g = known.groupby(column, sort=False)["emissions_t_co2e"].sum()
        return [{column: str(k), "t_co2e": float(v)} for k, v in g.items()]

    unknown = table[~table["stated"].astype(bool)] if len(table) else table
    return {
        "total": float(known["emissions_t_co2e"].sum()) if len(known) else 0.0,
        "complete": not len(unknown),
        "unknown_t": float(unknown["quantity_t"].sum()) if len(unknown) else 0.0,
        "by_material": by("material"),
        "by_stage": by("stage"),
        "by_country": by("country"),
        "by_period": by("period"),
    }


def unknown_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """results.json `emissions_unknown`: the sources with tonnes and no stated intensity."""
    if not len(table):
        return []
    unknown = table[~table["stated"].astype(bool)]
    keys = ["source", "supplier", "process", "material", "period", "quantity_t", "assumed_t_co2e"]
    return [{k: r[k] for k in keys} for r in unknown.to_dict("records")]


def delivered_emissions_table(scenario: str, data: ModelData, sol: Solution) -> pd.DataFrame:
    """Per material and period the buyer receives: the emissions its tonnes embody."""
    intensity = _ship_intensities(data, sol)
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 1.0])
    for b, q in sol.x.items():
        if q > EPS_T:
            d = data.buys[b]
            cell = acc[(b[1], b[2])]
            cell[0] += q
            cell[1] += q * (d.emissions_stated or 0.0)
            cell[2] = min(cell[2], 1.0 if d.emissions_stated is not None else 0.0)
    for e, q in (sol.chain.get("f", {}) if data.chain is not None else {}).items():
        if q > EPS_T and e[3] == BUYER:
            i, complete = intensity.get(e, (0.0, False))
            cell = acc[(e[2], e[4])]
            cell[0] += q
            cell[1] += q * i
            cell[2] = min(cell[2], 1.0 if complete else 0.0)
    order = {m: k for k, m in enumerate(data.materials)}
    periods = {t: k for k, t in enumerate(data.periods)}
    rows = [
        {
            "scenario": scenario,
            "material": m,
            "period": t,
            "quantity_t": q,
            "emissions_t_co2e": em,
            "kg_co2e_per_kg": em / q if q else 0.0,
            "complete": bool(complete),
        }
        for (m, t), (q, em, complete) in sorted(
            acc.items(), key=lambda kv: (order[kv[0][0]], periods[kv[0][1]])
        )
    ]
    return pd.DataFrame(rows, columns=DELIVERED_COLUMNS)


def _ship_intensities(data: ModelData, sol: Solution) -> dict[Ship, tuple[float, bool]]:
    """t CO2e per t of every shipment with tonnes, and whether all its sources stated theirs."""
    chain, em = data.chain, data.emissions
    if chain is None or em is None:
        return {}
    f = {e: q for e, q in sol.chain.get("f", {}).items() if q > EPS_T}
    y = {a: q for a, q in sol.chain.get("y", {}).items() if q > EPS_T}
    out: dict[Ship, tuple[float, bool]] = {}
    for e in f:
        if e[1] == OFFER:
            b = chain.ships[e].buy
            stated = data.buys[b].emissions_stated if b is not None else None
            out[e] = (stated or 0.0, stated is not None)
    lanes_of, nodes_of = activity_links(chain)
    yields: dict[Act, float] = defaultdict(float)  # co-products share emissions by mass
    for lane, (coef, act, _) in chain.lanes.items():
        if lane[2] != chain.acts[act].output:
            yields[act] += coef
    for _ in range(MAX_PASSES):
        changed = False
        for act in y:
            stated = em.act_stated.get(act)
            total, complete = stated or 0.0, stated is not None
            for _, arriving, t_per_t in nodes_of[act]:
                q = sum(f.get(e, 0.0) for e in arriving)
                if q > EPS_T:
                    i = sum(f.get(e, 0.0) * out.get(e, (0.0, False))[0] for e in arriving) / q
                    total += t_per_t * i
                    complete = complete and all(
                        out.get(e, (0, False))[1] for e in arriving if e in f
                    )
            value = (total / (1.0 + yields[act]), complete)
            for e in lanes_of[act]:
                if e in f and out.get(e) != value:
                    out[e] = value
                    changed = True
        if not changed:
            break
    return out
