r"""Emissions in the LP: intensities per purchase and activity, a carbon price, emissions caps.

Intensities are t CO2e per t (the same number as kg CO2e per kg):

- a purchase of offer b (x[b] plus its shipments to facilities): the offer's
  cradle-to-gate intensity e_b (Offers `emissions_kg_co2e_per_kg`);
- an activity y[a] (t of its main output): the process's gate-to-gate
  intensity e_a (Processes `emissions_kg_co2e_per_kg`).

The levers use r = e where it is stated; where it is not, Settings
`unknown_emissions` says: `highest` (default) takes the highest e stated for the
same material's offers (or the same output's processes; with none stated, the
highest stated anywhere in the workbook), so a cap or a carbon price never
favours a source for being undocumented; `zero` takes 0. Reported
totals count stated intensities only; the tonnes without one are listed apart.

Carbon price P (USD per t CO2e, Settings `carbon_price_usd_per_t_co2e`): the
objective adds P r_b per t of purchase b and P r_a per t of activity a; per kg,
P r / 1000 USD. It is a modelling price: reported apart from buyer spend.

Emissions caps (EmissionsCaps row k = (material or all, period or all)):

    sum_{b: mat(b) ~ k, per(b) ~ k} r_b (x[b] + sum_{e ships b} f[e])
        + sum_{a: out(a) ~ k, per(a) ~ k} r_a y[a]  <=  cap_k          (t CO2e)

High-standard status (for high-standard price floors) follows Suppliers
`high_standard`, or with Settings `high_standard_rule` = `indicators` the
Indicators: a site's forced-labour prevalence (its own row, else its
country's) at most `high_standard_max_forced_labour_per_1000`, not listed for
child or forced labour, and (if `high_standard_requires_audit`) an IRMA audit;
a missing indicator fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from optimizer.contract.chain import in_period
from optimizer.contract.records import Inputs, Supplier
from optimizer.contract.schema import KG_PER_T
from optimizer.model.chain_data import Act, Buy, ChainData

#: The material or period of a cap that covers all of them.
ALL = "*"
CapKey = tuple[str, str]  # (material or ALL, period or ALL)


@dataclass(frozen=True)
class EmissionsData:
    """The chain's intensities, the carbon price and the caps (purchases carry theirs)."""

    carbon_price: float  # USD per t CO2e
    caps: Mapping[CapKey, float]  # t CO2e
    #: per activity: the stated intensity (None = unknown) and the one the levers use
    act_stated: Mapping[Act, float | None]
    act_rate: Mapping[Act, float]

    def act_carbon(self, act: Act) -> float:
        """USD per kg of output the carbon price adds to activity `act`."""
        return self.carbon_price * self.act_rate.get(act, 0.0) / KG_PER_T

    def structure(self, buy_rates: tuple[float, ...]) -> tuple[object, ...]:
        """What shapes the cap rows: their keys and coefficients (none without caps)."""
        if not self.caps:
            return ()
        return (tuple(self.caps), buy_rates, tuple(self.act_rate.values()))


def _word(value: str) -> str:
    return str(value).strip().lower()


def high_standard(inputs: Inputs) -> dict[str, bool]:
    """Whether each supplier is high-standard, by its flag or by the Indicators rule."""
    s = inputs.settings
    if _word(s.high_standard_rule) != "indicators":
        return {p.supplier: p.high_standard for p in inputs.suppliers}
    by_country: dict[tuple[str, str], float] = {}
    by_site: dict[tuple[str, str], float] = {}
    for row in inputs.indicators:
        if row.supplier:
            by_site[(row.supplier, row.indicator)] = row.value
        elif row.country:
            by_country[(row.country, row.indicator)] = row.value

    def value(p: Supplier, name: str) -> float | None:
        own = by_site.get((p.supplier, name))
        return own if own is not None else by_country.get((p.country, name))

    out = {}
    for p in inputs.suppliers:
        labour = value(p, "forced_labour_per_1000")
        listed = value(p, "child_or_forced_labour_listed")
        audit = value(p, "irma_audit")
        out[p.supplier] = (
            labour is not None
            and labour <= s.high_standard_max_forced_labour_per_1000
            and listed == 0.0
            and (not s.high_standard_requires_audit or audit == 1.0)
        )
    return out


def _fallback(stated: list[float | None], rule: str, anywhere: float) -> float:
    """The intensity the levers use for an unknown source among these stated ones (`highest`:
    their highest; with none stated, the highest stated anywhere in the workbook)."""
    if _word(rule) != "highest":
        return 0.0
    known = [e for e in stated if e is not None]
    return max(known) if known else anywhere


def _highest_stated(inputs: Inputs) -> float:
    values = [o.emissions_kg_co2e_per_kg for o in inputs.offers]
    values += [p.emissions_kg_co2e_per_kg for p in inputs.processes]
    return max((v for v in values if v is not None), default=0.0)


def with_buy_emissions(inputs: Inputs, buys: dict[Buy, Any]) -> dict[Buy, Any]:
    """Purchases with their stated intensity, the one the levers use and its carbon cost
    (USD/kg, added to objective_extra: the objective counts it, buyer spend does not)."""
    s = inputs.settings
    by_material: dict[str, list[float | None]] = {}
    for d in buys.values():
        by_material.setdefault(d.material, []).append(d.emissions_stated)
    anywhere = _highest_stated(inputs)
    fallback = {m: _fallback(v, s.unknown_emissions, anywhere) for m, v in by_material.items()}
    price = s.carbon_price_usd_per_t_co2e
    out = {}
    for b, d in buys.items():
        rate = d.emissions_stated if d.emissions_stated is not None else fallback[d.material]
        carbon = price * rate / KG_PER_T
        out[b] = replace(
            d,
            emissions_rate=rate,
            carbon_usd_per_kg=carbon,
            objective_extra=d.objective_extra + carbon,
        )
    return out


def emissions_data(inputs: Inputs, chain: ChainData | None) -> EmissionsData:
    """Activity intensities, the carbon price and the caps of these inputs."""
    s = inputs.settings
    rows = {  # per period: the Processes row that applies (its own, else the blank-period one)
        t: in_period(inputs.processes, lambda p: (p.supplier, p.process), t, lambda p: p.period)
        for t in inputs.periods
    }
    acts = chain.acts if chain is not None else {}
    stated: dict[Act, float | None] = {}
    by_output: dict[str, list[float | None]] = {}
    for act, a in acts.items():
        row = rows[a.period].get((a.supplier, a.process))
        stated[act] = row.emissions_kg_co2e_per_kg if row else None
        by_output.setdefault(a.output, []).append(stated[act])
    anywhere = _highest_stated(inputs)
    fallback = {m: _fallback(v, s.unknown_emissions, anywhere) for m, v in by_output.items()}
    rate = {act: e if e is not None else fallback[acts[act].output] for act, e in stated.items()}
    caps = {(c.material or ALL, c.period or ALL): c.max_t_co2e for c in inputs.emission_caps}
    return EmissionsData(s.carbon_price_usd_per_t_co2e, caps, stated, rate)


def act_cost(data: Any, act: Act) -> float:
    """USD per kg of output the objective charges activity `act`: its fee plus carbon."""
    a = data.chain.acts[act]
    extra = data.emissions.act_carbon(act) if data.emissions is not None else 0.0
    return float(a.fee_usd_per_kg + extra)


def covers(key: CapKey, material: str, period: str) -> bool:
    """Whether cap row `key` counts a source making `material` in `period`."""
    return key[0] in (ALL, material) and key[1] in (ALL, period)


#: An LP column: ("x", purchase), ("f", shipment) or ("y", activity).
Column = tuple[str, Any]


def cap_terms(data: Any, key: CapKey = (ALL, ALL)) -> list[tuple[Column, float]]:
    """The columns cap row `key` counts, with their t CO2e per t (zeros left out): each
    purchase x[b] and its shipments to facilities at r_b, each activity y[a] at r_a."""
    chain, em = data.chain, data.emissions
    terms: list[tuple[Column, float]] = []
    for b, d in data.buys.items():
        if d.emissions_rate > 0 and covers(key, b[1], b[2]):
            terms.append((("x", b), d.emissions_rate))
            if chain is not None:
                terms += [(("f", e), d.emissions_rate) for e in chain.offer_ships.get(b, ())]
    if chain is not None and em is not None:
        for act, r in em.act_rate.items():
            a = chain.acts[act]
            if r > 0 and covers(key, a.output, a.period):
                terms.append((("y", act), r))
    return terms


def add_emissions_cap(m: pyo.ConcreteModel, data: Any) -> None:
    """sum r_b (x[b] + its shipments) + sum r_a y[a] <= cap[k] for each EmissionsCaps row k."""
    em = data.emissions
    if em is None or not em.caps:
        return
    var = {"x": m._xs, "f": getattr(m, "_fs", {}), "y": getattr(m, "_ys", {})}
    terms = {
        k: [MonomialTermExpression((c, var[f][i])) for (f, i), c in cap_terms(data, k)]
        for k in em.caps
    }
    rows = [k for k in em.caps if terms[k]]  # a cap nothing counts towards always holds
    m.EC = pyo.Set(initialize=rows, dimen=2, ordered=True)
    m.emissions_max = pyo.Param(m.EC, initialize={k: em.caps[k] for k in rows}, mutable=True)
    m.emissions_cap = pyo.Constraint(
        m.EC, rule=lambda m, *k: LinearExpression(terms[k]) <= m.emissions_max[k]
    )


#: A source in a plan: (kind "offer" or "process", its key, the material it makes, period,
#: tonnes, stated intensity or None, the intensity the levers use)
Source = tuple[str, Any, str, str, float, float | None, float]


def plan_sources(data: Any, sol: Any) -> list[Source]:
    """Every offer bought from (x[b] plus its shipments to facilities) and every activity of a
    plan, with its tonnes and intensities (zero tonnes included)."""
    chain, em = data.chain, data.emissions
    f = sol.chain.get("f", {})
    out: list[Source] = []
    for b, d in data.buys.items():
        q = sol.x.get(b, 0.0)
        if chain is not None:
            q += sum(f.get(e, 0.0) for e in chain.offer_ships.get(b, ()))
        out.append(("offer", b, b[1], b[2], q, d.emissions_stated, d.emissions_rate))
    if chain is not None and em is not None:
        for act, y in sol.chain.get("y", {}).items():
            a = chain.acts[act]
            rate = em.act_rate.get(act, 0.0)
            out.append(("process", act, a.output, a.period, y, em.act_stated.get(act), rate))
    return out


def plan_emissions(data: Any, sol: Any, key: CapKey = (ALL, ALL)) -> tuple[float, float, float]:
    """A plan's emissions under cap row `key`: (t CO2e of stated intensities, t CO2e as the
    cap counts them, tonnes from sources with no stated intensity)."""
    stated = counted = unknown = 0.0
    for _, _, material, period, q, e, rate in plan_sources(data, sol):
        if covers(key, material, period):
            counted += q * rate
            if e is None:
                unknown += q
            else:
                stated += q * e
    return stated, counted, unknown
