"""An independent check of a solved supply chain: flow balance and compliance from the outputs.

It reads only the workbook's rows (Inputs records: Processes, Inputs, Coproducts, Offers,
Demand, Stockpile, Suppliers) and the published result tables (flows, activity, discarded,
unmet, stock, compliance), never the model's own index sets, and re-derives every balance
the contract states. It returns the violations found (empty when the plan is consistent).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from optimizer.contract.records import Inputs
from optimizer.output.results import Results

TOL = 1e-5


def _rows_in(rows: Any, key: Any, period: str) -> dict[Any, Any]:
    """The row of each key that applies in a period (its own row, else the blank one)."""
    out: dict[Any, Any] = {}
    for r in rows:
        if r.period == period or (r.period is None and key(r) not in out):
            out[key(r)] = r
    for r in rows:
        if r.period == period:
            out[key(r)] = r
    return out


def audit(inputs: Inputs, res: Results) -> list[str]:
    """Every violation of the contract's balances and of compliance in one solved plan."""
    bad: list[str] = []
    periods = list(dict.fromkeys(d.period for d in inputs.demand))
    country = {s.supplier: s.country for s in inputs.suppliers}
    excluded = {
        c.strip().lower()
        for c in inputs.settings.excluded_stage_countries.split(",")
        if c.strip().lower() != "none"
    }
    flows = res.flows
    act = res.activity
    received: dict[tuple[str, str, str], float] = defaultdict(float)
    received_c: dict[tuple[str, str, str], float] = defaultdict(float)
    shipped: dict[tuple[str, str, str], float] = defaultdict(float)  # from processes
    home = inputs.settings.importer_country
    for f in flows.to_dict("records"):
        frm, to, m, t = str(f["from"]), str(f["to"]), str(f["material"]), str(f["period"])
        if to != "buyer":
            received[(to, m, t)] += f["quantity_t"]
            if f["compliant"]:
                received_c[(to, m, t)] += f["quantity_t"]
        if f["source"] != "offer":
            shipped[(frm, m, t)] += f["quantity_t"]
        if f["compliant"] and str(f["from_country"]).lower() in excluded:
            bad.append(f"compliant flow from {frm} in an excluded country ({f['from_country']})")
        foreign = to != "buyer" and f["from_country"] != home and f["to_country"] != home
        if foreign and f["tariff_usd"] > TOL:
            bad.append(f"US duty on a flow between foreign facilities: {frm} -> {to}")
    for t in periods:
        needs = _rows_in(inputs.process_inputs, lambda i: (i.supplier, i.process, i.material), t)
        makes = _rows_in(inputs.coproducts, lambda c: (c.supplier, c.process, c.material), t)
        rows = _rows_in(inputs.processes, lambda p: (p.supplier, p.process), t)
        consumed: dict[tuple[str, str, str], float] = defaultdict(float)
        consumed_c: dict[tuple[str, str, str], float] = defaultdict(float)
        produced: dict[tuple[str, str, str], float] = defaultdict(float)
        ran = act[act["period"].astype(str) == t]
        for r in ran.itertuples():
            s, p = str(r.supplier), str(r.process)
            row = rows.get((s, p))
            if row is None:
                bad.append(f"{s}/{p} ran in {t} without a Processes row")
                continue
            if row.capacity_t is not None and r.output_t > row.capacity_t + TOL:
                bad.append(f"{s}/{p} made {r.output_t:g} t in {t}, capacity {row.capacity_t:g}")
            if r.compliant_t > TOL and country[s].lower() in excluded:
                bad.append(f"{s}/{p} made compliant output in an excluded country")
            produced[(s, row.output, t)] += r.output_t
            for (s2, p2, m), i in needs.items():
                if (s2, p2) == (s, p):
                    consumed[(s, m, t)] += i.t_per_t * r.output_t
                    consumed_c[(s, m, t)] += i.t_per_t * r.compliant_t
            for (s2, p2, m), c in makes.items():
                if (s2, p2) == (s, p):
                    produced[(s, m, t)] += c.t_per_t * r.output_t
        for key in set(consumed) | {k for k in received if k[2] == t}:
            if abs(consumed.get(key, 0.0) - received.get(key, 0.0)) > TOL * max(1, consumed[key]):
                bad.append(
                    f"{key}: received {received.get(key, 0.0):g} t, consumed "
                    f"{consumed.get(key, 0.0):g} t"
                )
            if consumed_c.get(key, 0.0) > received_c.get(key, 0.0) + TOL * max(1, consumed_c[key]):
                bad.append(f"{key}: compliant output from {received_c[key]:g} t compliant input")
        disc = res.discarded
        dropped: dict[tuple[str, str, str], float] = defaultdict(float)
        for r in disc[disc["period"].astype(str) == t].itertuples():
            dropped[(str(r.supplier), str(r.material), t)] += r.quantity_t
        for key in set(produced) | {k for k in shipped if k[2] == t}:
            out = shipped.get(key, 0.0) + dropped.get(key, 0.0)
            if abs(produced.get(key, 0.0) - out) > TOL * max(1, produced.get(key, 0.0)):
                bad.append(
                    f"{key}: made {produced.get(key, 0.0):g} t, shipped or discarded {out:g}"
                )
    bad += _buyer(inputs, res, periods)
    return bad


def _buyer(inputs: Inputs, res: Results, periods: list[str]) -> list[str]:
    """At the buyer: stock before + arrivals + unmet = demand + stock after, per material."""
    bad = []
    demand: dict[tuple[str, str], float] = defaultdict(float)
    for d in inputs.demand:
        demand[(d.material, d.period)] += d.demand_t
    arrivals: dict[tuple[str, str], float] = defaultdict(float)
    for r in res.flows[res.flows["to"] == "buyer"].itertuples():
        arrivals[(str(r.material), str(r.period))] += r.quantity_t
    unmet = {(str(r.material), str(r.period)): r.quantity_t for r in res.unmet.itertuples()}
    stock = {(str(r.material), str(r.period)): r.stock_t for r in res.stock.itertuples()}
    initial = {s.material: s.initial_t for s in inputs.stockpile}
    for m in {k[0] for k in demand} | {k[0] for k in arrivals}:
        for i, t in enumerate(periods):
            before = stock.get((m, periods[i - 1]), 0.0) if i else initial.get(m, 0.0)
            after = stock.get((m, t), 0.0)
            lhs = before + arrivals.get((m, t), 0.0) + unmet.get((m, t), 0.0)
            rhs = demand.get((m, t), 0.0) + after
            if abs(lhs - rhs) > TOL * max(1.0, rhs):
                bad.append(f"buyer {m} {t}: supply {lhs:g} t, demand + stock {rhs:g} t")
    for r in res.compliance.itertuples():
        if (
            r.met_t
            > r.compliant_arrivals_t
            + sum(q for (m, _), q in stock.items() if m == r.material)
            + initial.get(str(r.material), 0.0)
            + TOL
        ):
            bad.append(f"compliant {r.material} {r.period}: met {r.met_t:g} t from less supply")
    return bad
