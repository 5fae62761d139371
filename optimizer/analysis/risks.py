"""Disruption risks: read and check the Risks sheet (or the documented defaults), draw samples
up front from a seed, and apply a sample's disruptions to ModelData.

A sample is one draw of the whole planning horizon: every risk (a Risks sheet
row, or the defaults below) happens or not with its probability. Applying a
sample scales the affected purchases' bounds and the suppliers' capacities
down and raises tariffs; the model's structure never changes, so a warm
engine re-solves it in place. docs/stress.md lists the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np

from optimizer.analysis.chain_risks import apply_chain_disruptions
from optimizer.common.problems import Problem
from optimizer.contract.book import Workbook as SourcingWorkbook
from optimizer.contract.book import find_scenario, scenario_inputs
from optimizer.contract.checks import check_duplicates, check_reference
from optimizer.contract.parse import parse_table
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE, apply_scenario
from optimizer.contract.workbook import RawWorkbook
from optimizer.model.data import Buy, ModelData
from optimizer.model.extensive import OneStage, SampleVectors
from optimizer.model.first_stage import keep_factors

SUPPLIER_OUTAGE: Final = "supplier_outage"
COUNTRY_OUTAGE: Final = "country_outage"
EXPORT_BAN: Final = "export_ban"
TARIFF_SHOCK: Final = "tariff_shock"
#: The Risks sheet's `risk` choices (contract/schema.py lists the same; a test keeps them equal).
RISK_KINDS: Final = (SUPPLIER_OUTAGE, COUNTRY_OUTAGE, EXPORT_BAN, TARIFF_SHOCK)
#: Target meaning "each supplier / country / material, independently".
EACH: Final = "*"
#: Target meaning "one supplier / country / material drawn at random".
ANY: Final = "any"

# --------------------------------------------------------------------------- defaults
# The one place the defaults live (docs/stress.md lists them). They apply when the
# workbook has no Risks sheet, or one without data rows.

#: Each supplier (with an offer or a process) is out for the whole horizon in 5% of samples.
DEFAULT_SUPPLIER_OUTAGE: Final = 0.05
#: Each origin country (with an offer or a process) is out, all its suppliers with it,
#: in 2% of samples.
DEFAULT_COUNTRY_OUTAGE: Final = 0.02
#: China stops exporting a material (all its China-origin offers) in 10% of samples ...
DEFAULT_EXPORT_BAN: Final = 0.10
#: ... more for the materials under China's export controls (domain brief, late 2025):
#: the gallium/germanium ban on exports to the US is only suspended until 27 Nov 2026;
#: Dy and Tb need export licences since Apr 2025 (not suspended).
EXPORT_BAN_BY_MATERIAL: Final[Mapping[str, float]] = {
    "gallium": 0.20,
    "germanium": 0.20,
    "dy oxide": 0.15,
    "dysprosium oxide": 0.15,
    "tb oxide": 0.15,
    "terbium oxide": 0.15,
}
#: One origin country, drawn at random, gets +25 points of tariff in 10% of samples.
DEFAULT_TARIFF_SHOCK: Final = 0.10
DEFAULT_TARIFF_SHOCK_SIZE: Final = 0.25


# --------------------------------------------------------------------------- risks


@dataclass(frozen=True)
class Risk:
    """One Risks row: `risk` hits `target` with `probability` per sample.

    magnitude: share of supply lost (outages, export bans; None = 1, a full
    outage) or tariff points added (tariff_shock; None = 0.25). from_period:
    first period hit (None = every period).
    """

    risk: str = ""
    target: str = ""
    probability: float = 0.0
    magnitude: float | None = None
    from_period: str | None = None
    note: str = ""
    refs: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> float:
        """The magnitude with its default filled in."""
        if self.magnitude is not None:
            return self.magnitude
        return DEFAULT_TARIFF_SHOCK_SIZE if self.risk == TARIFF_SHOCK else 1.0


@dataclass(frozen=True)
class Disruption:
    """A risk that happened in a sample, on one concrete target."""

    risk: str
    target: str
    magnitude: float
    from_period: str | None = None

    @property
    def label(self) -> str:
        """`supplier_outage Lynas Kuantan`: what the drivers table groups by."""
        return f"{self.risk} {self.target}"

    def __str__(self) -> str:
        if self.risk == TARIFF_SHOCK:
            text = f"{self.label} +{self.magnitude * 100:g} pts"
        elif self.magnitude < 1:
            text = f"{self.label} ({self.magnitude:.0%})"
        else:
            text = self.label
        return text + (f" from {self.from_period}" if self.from_period else "")


def default_risks(data: ModelData) -> list[Risk]:
    """The documented defaults, for a workbook without a Risks sheet (see the constants)."""
    risks = [
        Risk(SUPPLIER_OUTAGE, EACH, DEFAULT_SUPPLIER_OUTAGE, note="default: each supplier"),
        Risk(COUNTRY_OUTAGE, EACH, DEFAULT_COUNTRY_OUTAGE, note="default: each origin country"),
    ]
    china_materials = {b.material for b in data.buys.values() if b.china}
    for m in data.materials:
        if m in china_materials:
            p = EXPORT_BAN_BY_MATERIAL.get(m.strip().lower(), DEFAULT_EXPORT_BAN)
            risks.append(Risk(EXPORT_BAN, m, p, note="default: China export ban"))
    risks.append(
        Risk(
            TARIFF_SHOCK,
            ANY,
            DEFAULT_TARIFF_SHOCK,
            DEFAULT_TARIFF_SHOCK_SIZE,
            note="default: one random origin country",
        )
    )
    return risks


def scenario_raw(wb: SourcingWorkbook, scenario: str = BASELINE) -> RawWorkbook:
    """The raw workbook of a scenario (its overrides may change Risks cells too)."""
    if scenario == BASELINE:
        return wb.raw
    raw, _ = apply_scenario(wb.raw, find_scenario(wb, scenario))
    return raw


def read_risks(raw: RawWorkbook, inputs: Inputs | None) -> tuple[list[Risk] | None, list[Problem]]:
    """The Risks rows (None when the sheet is absent or has no data rows) and their problems.

    Cell types come from the schema; references are checked against `inputs`
    (skipped when the inputs themselves are invalid).
    """
    table = raw.table("Risks")
    if table is None or not table.rows:
        return None, []
    risks, problems = parse_table(table, Risk)
    if inputs is not None:
        problems += check_risks(risks, inputs)
    return risks, problems


def risk_problems(wb: SourcingWorkbook, scenario: str = BASELINE) -> list[Problem]:
    """Problems of the Risks rows of a scenario (for `sourcing validate`; parse_inputs does
    not read the Risks sheet). Empty when the sheet is absent."""
    inputs, _ = scenario_inputs(wb, scenario)
    return read_risks(scenario_raw(wb, scenario), inputs)[1]


def check_risks(risks: Sequence[Risk], inputs: Inputs) -> list[Problem]:
    """Duplicates, unknown targets (`Risks!B3: supplier "X" is not in Suppliers`), bad periods."""
    problems = check_duplicates("Risks", risks, ("risk", "target"))
    named = [r for r in risks if r.target and r.target != EACH and r.target.lower() != ANY]
    suppliers = [s.supplier for s in inputs.suppliers]
    countries = [c.country for c in inputs.countries]
    materials = [m.material for m in inputs.materials]
    for kinds, known, what, where in (
        ((SUPPLIER_OUTAGE,), suppliers, "supplier", "Suppliers"),
        ((COUNTRY_OUTAGE, TARIFF_SHOCK), countries, "country", "Countries"),
        ((EXPORT_BAN,), materials, "material", "Materials"),
    ):
        problems += check_reference(
            [r for r in named if r.risk in kinds], "target", known, what, where
        )
    periods = inputs.periods
    problems += [
        Problem.at(
            r.refs["from_period"],
            f'period "{r.from_period}" is not a Demand period ({", ".join(periods)})',
        )
        for r in risks
        if r.from_period is not None and r.from_period not in periods
    ]
    china = {c.country for c in inputs.countries if c.china}
    china_suppliers = {s.supplier for s in inputs.suppliers if s.country in china}
    china_materials = {o.material for o in inputs.offers if o.supplier in china_suppliers}
    problems += [
        Problem.at(
            r.refs["target"],
            f'"{r.target}" has no China-origin offer: this export ban changes nothing',
            "warning",
        )
        for r in named
        if r.risk == EXPORT_BAN and r.target in materials and r.target not in china_materials
    ]
    return sorted(problems, key=_row_order)


def _row_order(p: Problem) -> tuple[int, str]:
    digits = "".join(ch for ch in p.cell if ch.isdigit())
    return (int(digits) if digits else 0, p.cell)


def _universe(data: ModelData) -> dict[str, tuple[str, ...]]:
    """What `*` and `any` range over: suppliers and origin countries with an offer or (in a
    supply chain) a process, and materials."""
    sites = {(b.supplier, b.country) for b in data.buys.values()}
    if data.chain is not None:
        sites |= {(a.supplier, a.country) for a in data.chain.acts.values()}
    suppliers = tuple(sorted({s for s, _ in sites}))
    countries = tuple(sorted({c for _, c in sites}))
    return {
        SUPPLIER_OUTAGE: suppliers,
        COUNTRY_OUTAGE: countries,
        TARIFF_SHOCK: countries,
        EXPORT_BAN: data.materials,
    }


def risk_events(risks: Iterable[Risk], data: ModelData) -> list[tuple[Risk, tuple[str, ...]]]:
    """Independent events, each with its candidate targets (one, except for `any`)."""
    universe = _universe(data)
    events: list[tuple[Risk, tuple[str, ...]]] = []
    for r in risks:
        target = r.target.strip()
        if target == EACH:
            events += [(r, (c,)) for c in universe[r.risk]]
        elif target.lower() == ANY:
            if universe[r.risk]:
                events.append((r, universe[r.risk]))
        else:
            events.append((r, (target,)))
    return events


def draw_samples(
    risks: Sequence[Risk], data: ModelData, samples: int, seed: int
) -> list[tuple[Disruption, ...]]:
    """Every sample's disruptions, drawn up front from `default_rng(seed)`.

    Each event draws one uniform per sample (and, for `any`, one target index
    per sample), in the order of the risks, so the draws depend only on the
    risks, the data's names, `samples` and `seed`.
    """
    if samples < 0:
        raise ValueError(f"samples must be >= 0 (got {samples})")
    rng = np.random.default_rng(seed)
    drawn: list[list[Disruption]] = [[] for _ in range(samples)]
    for risk, candidates in risk_events(risks, data):
        happens = rng.random(samples) < risk.probability
        pick = rng.integers(len(candidates), size=samples) if len(candidates) > 1 else None
        for i in np.flatnonzero(happens):
            target = candidates[int(pick[i])] if pick is not None else candidates[0]
            drawn[int(i)].append(Disruption(risk.risk, target, risk.size, risk.from_period))
    return [tuple(d) for d in drawn]


# --------------------------------------------------------------------------- applying


def effects(
    data: ModelData, disruptions: Iterable[Disruption]
) -> tuple[dict[Buy, float], dict[tuple[str, str], float], dict[Buy, float]]:
    """Share of supply kept per purchase and per capacity, and tariff points added per purchase."""
    keep: dict[Buy, float] = {}
    cap_keep: dict[tuple[str, str], float] = {}
    added: dict[Buy, float] = {}
    country_of = {b.supplier: b.country for b in data.buys.values()}
    for d in disruptions:
        start = data.periods.index(d.from_period) if d.from_period in data.periods else 0
        active = set(data.periods[start:])
        for key, b in data.buys.items():
            if b.period not in active:
                continue
            if d.risk == TARIFF_SHOCK:
                if b.country == d.target:
                    added[key] = added.get(key, 0.0) + d.magnitude
                continue
            hit = (
                (d.risk == SUPPLIER_OUTAGE and b.supplier == d.target)
                or (d.risk == COUNTRY_OUTAGE and b.country == d.target)
                or (d.risk == EXPORT_BAN and b.material == d.target and b.china)
            )
            if hit:
                keep[key] = keep.get(key, 1.0) * (1.0 - d.magnitude)
        if d.risk in (SUPPLIER_OUTAGE, COUNTRY_OUTAGE):
            for s, t in data.capacity:
                name = s if d.risk == SUPPLIER_OUTAGE else country_of.get(s)
                if t in active and name == d.target:
                    cap_keep[(s, t)] = cap_keep.get((s, t), 1.0) * (1.0 - d.magnitude)
    return keep, cap_keep, added


def _scaled(upper: float, share: float) -> float:
    """An upper bound times the share kept; an unlimited one stays unlimited unless all is lost."""
    return 0.0 if share <= 0.0 else upper * share


def apply_disruptions(data: ModelData, disruptions: Iterable[Disruption]) -> ModelData:
    """A copy of `data` with the disruptions applied; the structure never changes.

    Outages and bans scale the affected purchases' upper bounds (an unlimited
    offer's bound is its supplier's capacity, if any; one without either stays
    unlimited unless fully lost) and, for outages, the suppliers' capacities by
    the share kept; offtake minimums on
    those purchases shrink with them (force majeure), so a lost supplier never
    makes the plan infeasible. A tariff shock adds points to the purchases'
    rates, capped at 1.
    """
    disruptions = list(disruptions)
    keep, cap_keep, added = effects(data, disruptions)
    chain = data.chain
    if chain is not None:
        chain = apply_chain_disruptions(chain, data.periods, disruptions)
    if not (keep or cap_keep or added) and chain is data.chain:
        return data
    buys = dict(data.buys)
    for key in buys:
        if key in keep or key in added:
            b = buys[key]
            upper = b.upper_t
            if math.isinf(upper):  # an unlimited offer: a partial cut applies to the capacity
                upper = data.capacity.get((b.supplier, b.period), math.inf)
            buys[key] = replace(
                b,
                upper_t=_scaled(upper, keep.get(key, 1.0)) if key in keep else b.upper_t,
                tariff_rate=min(1.0, b.tariff_rate + added.get(key, 0.0)),
            )
    return replace(
        data,
        buys=buys,
        chain=chain,
        capacity={k: v * cap_keep.get(k, 1.0) for k, v in data.capacity.items()},
        hard_minimum={k: v * keep.get(k, 1.0) for k, v in data.hard_minimum.items()},
        take_or_pay={k: (q * keep.get(k, 1.0), f) for k, (q, f) in data.take_or_pay.items()},
    )


def sample_block(stage: OneStage, drawn: Sequence[Disruption]) -> tuple[SampleVectors, list[float]]:
    """A sample as a block of the two-stage extensive form: the second stage's vectors under
    its disruptions, and the share kept of each first-stage decision (force majeure)."""
    second = stage.first.second
    vectors = stage.vectors(apply_disruptions(second, drawn))
    return vectors, keep_factors(stage.first, effects(second, drawn)[0])
