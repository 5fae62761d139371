"""Monte Carlo stress test: random disruptions, each sample re-optimised.

A sample is one draw of the whole planning horizon: every risk (a Risks sheet
row, or the defaults below) happens or not with its probability. A sample's
disruptions are applied to the base ModelData (bounds and capacities scaled
down, tariffs raised) and the plan is re-optimised, so a sample's cost is what
the buyer pays after re-planning around the disruption (perfect recourse: a
lower bound on the real cost of the disruption).

Reproducibility: every sample's disruptions are drawn in the parent, up front,
from `numpy.random.default_rng(seed)`; samples are then cut into chunks of a
fixed size (never dependent on the worker count), each chunk re-solves its
samples in order on one warm optimizer, and results are gathered in sample
order. The same seed therefore gives the same numbers serially, on a process
pool or on Dask. A chunk that fails (twice) is reported: its samples have
status `failed` and are counted, never dropped.

Money is USD (total cost = the model's objective, unmet penalty included),
quantities t, probabilities and rates fractions.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.executor import Executor, TaskOutcome, run_tasks
from optimizer.fast import FastOptimizer
from optimizer.inputs import Inputs, _parse_table, check_duplicates, check_reference, require_valid
from optimizer.model_data import Buy, ModelData, prepare
from optimizer.pipeline import Workbook as SourcingWorkbook
from optimizer.pipeline import find_scenario, open_workbook, scenario_inputs
from optimizer.problems import InvalidInputError, Problem, errors
from optimizer.report import HEADER_FILL, HEADER_FONT, markdown_table, md_text
from optimizer.results import EPS_T
from optimizer.scenarios import BASELINE, apply_scenario
from optimizer.schema import KG_PER_T
from optimizer.solve import Engine, Status
from optimizer.workbook import RawWorkbook
from optimizer.xlsx import atomic_path, save_workbook, set_cell, write_rows

SUPPLIER_OUTAGE: Final = "supplier_outage"
COUNTRY_OUTAGE: Final = "country_outage"
EXPORT_BAN: Final = "export_ban"
TARIFF_SHOCK: Final = "tariff_shock"
#: The Risks sheet's `risk` choices (schema.py lists the same; a test keeps them equal).
RISK_KINDS: Final = (SUPPLIER_OUTAGE, COUNTRY_OUTAGE, EXPORT_BAN, TARIFF_SHOCK)
#: Target meaning "each supplier / country / material, independently".
EACH: Final = "*"
#: Target meaning "one supplier / country / material drawn at random".
ANY: Final = "any"

# --------------------------------------------------------------------------- defaults
# The one place the defaults live (docs/stress.md lists them). They apply when the
# workbook has no Risks sheet, or one without data rows.

#: Each supplier (with an offer) is out for the whole horizon in 5% of samples.
DEFAULT_SUPPLIER_OUTAGE: Final = 0.05
#: Each origin country (with an offer) is out, all its suppliers with it, in 2% of samples.
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

#: Samples per task: fixed (not derived from the worker count) so results never depend on it.
DEFAULT_CHUNK: Final = 25
DEFAULT_SAMPLES: Final = 500
#: Buckets of the cost histogram in stress.xlsx.
COST_BUCKETS: Final = 12
#: Suppliers and drivers listed in stress.md.
TOP: Final = 10


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
    risks, problems = _parse_table(table, Risk)
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
    """What `*` and `any` range over: suppliers and origin countries with an offer, materials."""
    suppliers = tuple(sorted({b.supplier for b in data.buys.values()}))
    countries = tuple(sorted({b.country for b in data.buys.values()}))
    return {
        SUPPLIER_OUTAGE: suppliers,
        COUNTRY_OUTAGE: countries,
        TARIFF_SHOCK: countries,
        EXPORT_BAN: data.materials,
    }


def _events(risks: Iterable[Risk], data: ModelData) -> list[tuple[Risk, tuple[str, ...]]]:
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
    for risk, candidates in _events(risks, data):
        happens = rng.random(samples) < risk.probability
        pick = rng.integers(len(candidates), size=samples) if len(candidates) > 1 else None
        for i in np.flatnonzero(happens):
            target = candidates[int(pick[i])] if pick is not None else candidates[0]
            drawn[int(i)].append(Disruption(risk.risk, target, risk.size, risk.from_period))
    return [tuple(d) for d in drawn]


# --------------------------------------------------------------------------- applying


def _effects(
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
    keep, cap_keep, added = _effects(data, disruptions)
    if not (keep or cap_keep or added):
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
        capacity={k: v * cap_keep.get(k, 1.0) for k, v in data.capacity.items()},
        hard_minimum={k: v * keep.get(k, 1.0) for k, v in data.hard_minimum.items()},
        take_or_pay={k: (q * keep.get(k, 1.0), f) for k, (q, f) in data.take_or_pay.items()},
    )


def stress_base(inputs: Inputs) -> ModelData:
    """The model data samples start from: unmet demand always allowed, at the workbook's
    penalty, so a disruption shows as a measured shortfall rather than an infeasible plan."""
    data = prepare(inputs)
    if data.settings.allow_unmet:
        return data
    return replace(data, settings=replace(data.settings, allow_unmet=True))


# --------------------------------------------------------------------------- solving


@dataclass(frozen=True)
class SampleOutcome:
    """One re-optimised sample: status, cost (USD, unmet penalty included), unmet t per material."""

    status: str
    total_cost_usd: float | None
    penalty_usd: float
    unmet_t: tuple[float, ...]  # per material, in ModelData.materials order
    bought_t: dict[str, float]  # per supplier (only the baseline keeps it)
    seconds: float
    rebuilt: bool = False


@dataclass(frozen=True)
class StressChunk:
    """Consecutive samples solved by one task; the workbook travels as bytes."""

    workbook: bytes
    name: str
    scenario: str
    first: int  # index of the chunk's first sample
    samples: tuple[tuple[Disruption, ...], ...]
    time_limit: float | None = None
    threads: int = 1


def solve_sample(
    opt: Engine,
    base: ModelData,
    disruptions: Sequence[Disruption],
    time_limit: float | None = None,
    keep_plan: bool = False,
) -> SampleOutcome:
    """Apply the disruptions to `base`, update the warm model in place and re-solve."""
    start = time.perf_counter()
    data = apply_disruptions(base, disruptions)
    in_place = opt.update(data)
    sol = opt.solve(time_limit)
    optimal = sol.status is Status.OPTIMAL
    unmet = dict.fromkeys(data.materials, 0.0)
    for (m, _), q in sol.unmet.items():
        unmet[m] += q
    bought: dict[str, float] = {}
    if keep_plan:
        for b, q in sol.x.items():
            bought[b[0]] = bought.get(b[0], 0.0) + q
        for b, q in sol.untaken.items():  # a take-or-pay charge counts as depending on it
            bought[b[0]] = bought.get(b[0], 0.0) + q
    return SampleOutcome(
        status=sol.status.value,
        total_cost_usd=sol.objective_usd if optimal else None,
        penalty_usd=sum(unmet.values()) * KG_PER_T * data.settings.unmet_penalty_usd_per_kg,
        unmet_t=tuple(unmet.values()),
        bought_t=bought,
        seconds=time.perf_counter() - start,
        rebuilt=not in_place,
    )


def stress_chunk(chunk: StressChunk) -> list[SampleOutcome]:
    """Re-solve a chunk's samples on one warm optimizer (runs in a worker, HiGHS on one thread)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / chunk.name
        path.write_bytes(chunk.workbook)
        wb = open_workbook(path)
        inputs, problems = scenario_inputs(wb, chunk.scenario)
    base = stress_base(require_valid(inputs, problems))
    opt = FastOptimizer(base, threads=chunk.threads)
    return [solve_sample(opt, base, s, chunk.time_limit) for s in chunk.samples]


# --------------------------------------------------------------------------- the run


@dataclass
class StressResult:
    """Tables of a stress test (money USD, quantities t, probabilities fractions).

    samples: one row per sample, in order (status `failed` for a failed chunk).
    summary: metric / value / unit rows (expected, P50, P95, max cost, baseline ...).
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

    def metric(self, name: str) -> Any:
        """One summary value by metric name."""
        row = self.summary.loc[self.summary["metric"] == name, "value"]
        if row.empty:
            raise KeyError(name)
        return row.iloc[0]

    @property
    def headline(self) -> str:
        """`Expected cost $X M, P95 $Y M; probability of a Gallium shortfall Z%, ...`."""
        expected, p95 = self.metric("expected_cost_usd"), self.metric("p95_cost_usd")
        text = f"Expected cost {_musd(expected)}, P95 {_musd(p95)}"
        u = self.unmet.sort_values(
            ["shortfall_probability", "material"], ascending=[False, True], kind="stable"
        )
        shown = [
            f"{m} shortfall {_pct(p)}" if i == 0 else f"{m} {_pct(p)}"
            for i, (m, p) in enumerate(zip(u["material"], u["shortfall_probability"], strict=True))
        ]
        if shown:
            text += "; probability of a " + ", ".join(shown)
        return text


def _musd(usd: Any) -> str:
    if usd is None or not math.isfinite(float(usd)):
        return "n/a"
    return f"${float(usd) / 1e6:,.1f} M"


def _pct(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):.1%}"


def run_stress(
    workbook: str | Path,
    scenario: str = BASELINE,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    executor: Executor = "serial",
    workers: int = 1,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    time_limit: float | None = None,
    retries: int = 1,
) -> StressResult:
    """Draw `samples` disruption sets from `seed`, re-optimise each, and tabulate.

    Raises InputFileError (unreadable workbook), KeyError (unknown scenario),
    InvalidInputError (invalid data or Risks rows, every problem cited) and
    ValueError (samples < 1, chunk_size < 1, seed < 0).
    """
    start = time.perf_counter()
    if samples < 1 or chunk_size < 1 or seed < 0:
        raise ValueError(
            f"need samples >= 1, chunk_size >= 1 and seed >= 0 "
            f"(got {samples}, {chunk_size}, {seed})"
        )
    path = Path(workbook)
    wb = open_workbook(path)
    blob = path.read_bytes()
    inputs, problems = scenario_inputs(wb, scenario)
    sheet_risks, risk_problems = read_risks(scenario_raw(wb, scenario), inputs)
    problems += risk_problems
    if inputs is None or errors(problems):
        raise InvalidInputError(problems)
    base = stress_base(inputs)
    risks = sheet_risks if sheet_risks is not None else default_risks(base)
    draws = draw_samples(risks, base, samples, seed)

    # the chosen plan, and each supplier it relies on lost alone, in the parent
    opt = FastOptimizer(base, threads=1)
    baseline = solve_sample(opt, base, (), time_limit, keep_plan=True)
    alone = {
        s: solve_sample(opt, base, (Disruption(SUPPLIER_OUTAGE, s, 1.0),), time_limit)
        for s in sorted(baseline.bought_t)
        if baseline.bought_t[s] > EPS_T
    }

    tasks = [
        (
            f"stress-{first + 1:06d}-{min(first + chunk_size, samples):06d}",
            StressChunk(
                blob,
                path.name,
                scenario,
                first,
                tuple(draws[first : first + chunk_size]),
                time_limit,
            ),
        )
        for first in range(0, samples, chunk_size)
    ]
    outcomes: list[TaskOutcome[list[SampleOutcome]]] = run_tasks(
        stress_chunk, tasks, executor, workers, scheduler, retries
    )
    per_sample: list[SampleOutcome | str] = []
    for (_, chunk), out in zip(tasks, outcomes, strict=True):
        if out.ok and out.value is not None and len(out.value) == len(chunk.samples):
            per_sample += out.value
        else:
            per_sample += [f"chunk {out.key} failed: {out.error or 'no result'}"] * len(
                chunk.samples
            )

    table = _samples_table(base, draws, per_sample, baseline)
    warnings = [str(p) for p in problems if p.severity == "warning"]
    return StressResult(
        scenario=scenario,
        seed=seed,
        samples=table,
        summary=_summary_table(
            table,
            baseline,
            (samples, seed, scenario, sheet_risks is not None),
            rebuilds=sum(isinstance(o, SampleOutcome) and o.rebuilt for o in per_sample),
        ),
        unmet=_unmet_table(base, table, baseline),
        suppliers=_suppliers_table(base, risks, draws, table, baseline, alone),
        drivers=_drivers_table(draws, table),
        risks=_risks_table(risks, sheet_risks is not None),
        seconds=time.perf_counter() - start,
        risks_source="Risks sheet" if sheet_risks is not None else "defaults",
        executor=executor,
        workers=workers,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- tables


def _unmet_column(material: str) -> str:
    return f"{material}: unmet_t"


def _samples_table(
    data: ModelData,
    draws: Sequence[tuple[Disruption, ...]],
    per_sample: Sequence[SampleOutcome | str],
    baseline: SampleOutcome,
) -> pd.DataFrame:
    base_cost = baseline.total_cost_usd
    rows: list[dict[str, Any]] = []
    for i, (drawn, out) in enumerate(zip(draws, per_sample, strict=True), start=1):
        row: dict[str, Any] = {
            "sample": i,
            "disruptions": "; ".join(str(d) for d in drawn) or "none",
            "n_disruptions": len(drawn),
        }
        if isinstance(out, str):
            row.update(status="failed", total_cost_usd=math.nan, purchase_cost_usd=math.nan)
            row.update(delta_usd=math.nan, unmet_t=math.nan)
            row.update({_unmet_column(m): math.nan for m in data.materials})
            row.update(seconds=math.nan, error=out)
        else:
            cost = math.nan if out.total_cost_usd is None else out.total_cost_usd
            solved = out.total_cost_usd is not None
            row.update(
                status=out.status,
                total_cost_usd=cost,
                purchase_cost_usd=cost - out.penalty_usd if solved else math.nan,
                delta_usd=cost - base_cost if base_cost is not None else math.nan,
                unmet_t=sum(out.unmet_t) if solved else math.nan,
            )
            row.update(
                {
                    _unmet_column(m): q if solved else math.nan
                    for m, q in zip(data.materials, out.unmet_t, strict=True)
                }
            )
            row.update(seconds=out.seconds, error="")
        rows.append(row)
    return pd.DataFrame(rows)


def _stat(values: np.ndarray, q: float | None = None) -> float:
    """Mean (q None) or percentile q of the values; NaN when there are none."""
    if values.size == 0:
        return math.nan
    return float(np.mean(values)) if q is None else float(np.percentile(values, q))


def _summary_table(
    table: pd.DataFrame,
    baseline: SampleOutcome,
    run: tuple[int, int, str, bool],
    rebuilds: int,
) -> pd.DataFrame:
    samples, seed, scenario, from_sheet = run
    ok = table[table["status"] == Status.OPTIMAL.value]
    cost = ok["total_cost_usd"].to_numpy(dtype=float)
    purchase = ok["purchase_cost_usd"].to_numpy(dtype=float)
    base = math.nan if baseline.total_cost_usd is None else baseline.total_cost_usd
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
        ("baseline_cost_usd", base, "USD"),
        ("expected_cost_usd", _stat(cost), "USD"),
        ("p50_cost_usd", _stat(cost, 50), "USD"),
        ("p95_cost_usd", _stat(cost, 95), "USD"),
        ("max_cost_usd", float(cost.max()) if cost.size else math.nan, "USD"),
        ("min_cost_usd", float(cost.min()) if cost.size else math.nan, "USD"),
        ("expected_increase_usd", _stat(cost) - base, "USD"),
        ("expected_purchase_cost_usd", _stat(purchase), "USD"),
        ("p95_purchase_cost_usd", _stat(purchase, 95), "USD"),
        ("shortfall_probability", float(short.mean()) if short.size else math.nan, "fraction"),
        ("expected_unmet_t", _stat(ok["unmet_t"].to_numpy(dtype=float)), "t"),
        ("model_rebuilds", rebuilds, "solves"),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "unit"], dtype=object)


def _unmet_table(data: ModelData, table: pd.DataFrame, baseline: SampleOutcome) -> pd.DataFrame:
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
    for risk, candidates in _events(risks, data):
        if risk.risk not in (SUPPLIER_OUTAGE, COUNTRY_OUTAGE):
            continue
        for s in spared:
            name = s if risk.risk == SUPPLIER_OUTAGE else country_of[s]
            share = candidates.count(name) / len(candidates)
            spared[s] *= 1.0 - risk.probability * share
    return {s: 1.0 - v for s, v in spared.items()}


def _suppliers_table(
    data: ModelData,
    risks: Sequence[Risk],
    draws: Sequence[tuple[Disruption, ...]],
    table: pd.DataFrame,
    baseline: SampleOutcome,
    alone: Mapping[str, SampleOutcome],
) -> pd.DataFrame:
    """Ranking: cost of losing each supplier alone (exact), then the Monte Carlo view.

    A supplier the chosen plan does not use (nor pays take-or-pay to) costs
    nothing when lost alone: the plan stays feasible and optimal, so it is not
    re-solved.
    """
    country_of = {b.supplier: b.country for b in data.buys.values()}
    probability = outage_probability(risks, data)
    ok = (table["status"] == Status.OPTIMAL.value).to_numpy()
    cost = table["total_cost_usd"].to_numpy(dtype=float)
    short = table["unmet_t"].to_numpy(dtype=float) > EPS_T
    hits = [_hit_suppliers(data, d) for d in draws]
    base_cost = math.nan if baseline.total_cost_usd is None else baseline.total_cost_usd
    base_unmet = sum(baseline.unmet_t)
    rows = []
    for s in sorted(country_of):
        out = np.array([s in h for h in hits], dtype=bool)
        when_out, others = ok & out, ok & ~out
        lost = alone.get(s)
        if baseline.total_cost_usd is None:
            increase, extra_unmet = math.nan, math.nan
        elif lost is None:
            increase, extra_unmet = 0.0, 0.0
        elif lost.total_cost_usd is None:
            increase, extra_unmet = math.nan, math.nan
        else:
            increase = lost.total_cost_usd - base_cost
            extra_unmet = sum(lost.unmet_t) - base_unmet
        mean_out = float(cost[when_out].mean()) if when_out.any() else math.nan
        mean_others = float(cost[others].mean()) if others.any() else math.nan
        rows.append(
            {
                "supplier": s,
                "country": country_of[s],
                "baseline_t": baseline.bought_t.get(s, 0.0),
                "alone_cost_increase_usd": increase,
                "alone_extra_unmet_t": max(0.0, extra_unmet)
                if math.isfinite(extra_unmet)
                else extra_unmet,
                "outage_probability": probability[s],
                "expected_loss_usd": probability[s] * increase,
                "samples_out": int(when_out.sum()),
                "mean_cost_when_out_usd": mean_out,
                "increase_when_out_usd": mean_out - mean_others,
                "shortfall_rate_when_out": float(short[when_out].mean())
                if when_out.any()
                else math.nan,
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df = df.sort_values(
        ["alone_cost_increase_usd", "increase_when_out_usd", "supplier"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    ).reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df


def _drivers_table(draws: Sequence[tuple[Disruption, ...]], table: pd.DataFrame) -> pd.DataFrame:
    """Per disruption (kind and target): how often, and mean cost with it vs without it."""
    ok = (table["status"] == Status.OPTIMAL.value).to_numpy()
    cost = table["total_cost_usd"].to_numpy(dtype=float)
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
                "mean_cost_with_usd": mean_with,
                "mean_cost_without_usd": mean_without,
                "increase_usd": mean_with - mean_without,
                "shortfall_rate_with": float(short[with_it].mean()) if with_it.any() else math.nan,
            }
        )
    cols = [
        "disruption",
        "samples",
        "frequency",
        "mean_cost_with_usd",
        "mean_cost_without_usd",
        "increase_usd",
        "shortfall_rate_with",
    ]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(
        ["increase_usd", "disruption"], ascending=[False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


def _risks_table(risks: Sequence[Risk], from_sheet: bool) -> pd.DataFrame:
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
    """Histogram of solved samples' total cost: equal-width buckets between min and max."""
    cost = result.samples.loc[
        result.samples["status"] == Status.OPTIMAL.value, "total_cost_usd"
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


# --------------------------------------------------------------------------- output


def stress_lines(result: StressResult) -> list[str]:
    """The console summary (what `sourcing stress` prints)."""
    s = result.metric
    lines = [
        f"stress test of {result.scenario}: {s('samples')} samples, seed {result.seed}, "
        f"risks from {result.risks_source}; {result.executor}"
        + (f" x{result.workers}" if result.executor != "serial" else "")
        + f", {result.seconds:,.1f} s",
        f"baseline plan {_musd(s('baseline_cost_usd'))}; expected {_musd(s('expected_cost_usd'))}, "
        f"P50 {_musd(s('p50_cost_usd'))}, P95 {_musd(s('p95_cost_usd'))}, "
        f"max {_musd(s('max_cost_usd'))}",
        "shortfall probability: "
        + ", ".join(
            f"{r.material} {_pct(r.shortfall_probability)} "
            f"(expected {r.expected_shortfall_t:,.1f} t, P95 {r.p95_shortfall_t:,.1f} t)"
            for r in result.unmet.itertuples()
        ),
    ]
    top = result.suppliers.head(3)
    if len(top):
        lines.append(
            "suppliers that matter most: "
            + "; ".join(
                f"{r.rank}. {r.supplier} ({_signed_musd(r.alone_cost_increase_usd)} if lost)"
                for r in top.itertuples()
            )
        )
    failed = int(s("failed_samples"))
    unsolved = int(s("unsolved_samples"))
    if failed or unsolved:
        lines.append(
            f"WARNING: {failed} samples failed and {unsolved} were not solved to optimality; "
            "the statistics cover the solved samples only"
        )
    return lines


def _tonnes(value: Any) -> str:
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    return f"{float(value):,.2f}"


def _signed_m(usd: Any) -> str:
    """`+2,271.1` (USD M): a plain number, so markdown cells need no formula guard."""
    if usd is None or not math.isfinite(float(usd)):
        return "n/a"
    return f"{float(usd) / 1e6:+,.1f}"


def _signed_musd(usd: Any) -> str:
    if usd is None or not math.isfinite(float(usd)):
        return "n/a"
    return f"{'+' if float(usd) >= 0 else '-'}${abs(float(usd)) / 1e6:,.1f} M"


#: Number formats of stress.xlsx by column name (suffix rules in _format).
_FORMATS: Final[Mapping[str, str]] = {
    "probability": "0.0%",
    "magnitude": "0.0%",
    "share": "0.0%",
    "frequency": "0.0%",
    "expected_share_of_demand": "0.0%",
    "outage_probability": "0.0%",
    "shortfall_probability": "0.0%",
    "shortfall_rate_when_out": "0.0%",
    "shortfall_rate_with": "0.0%",
    "seconds": "0.000",
}


def _format(column: str) -> str | None:
    if column in _FORMATS:
        return _FORMATS[column]
    if column.endswith("_usd"):
        return '"$"#,##0'
    if column.endswith("_t"):
        return "#,##0.00"
    return None


def _cell(value: Any) -> Any:
    """numpy scalars to Python; NaN and infinities become blank cells (None in JSON)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sheet(wb: Workbook, title: str, df: pd.DataFrame, start_row: int = 1) -> Worksheet:
    ws = wb.create_sheet(title)
    header = [str(c) for c in df.columns]
    formats = {c: f for c in header if (f := _format(c))}
    rows = ([_cell(v) for v in row] for row in df.itertuples(index=False, name=None))
    write_rows(ws, header, rows, formats, start_row=start_row)
    for j in range(1, len(header) + 1):
        c = ws.cell(row=start_row, column=j)
        c.font, c.fill = HEADER_FONT, HEADER_FILL
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1)
    return ws


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _cell(v) for k, v in r.items()} for r in df.to_dict("records")]


def stress_json(result: StressResult) -> dict[str, Any]:
    """stress.json: every table, NaN as null."""
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "headline": result.headline,
        "risks_source": result.risks_source,
        "executor": result.executor,
        "workers": result.workers,
        "seconds": round(result.seconds, 3),
        "summary": {r["metric"]: _cell(r["value"]) for r in result.summary.to_dict("records")},
        "unmet": _records(result.unmet),
        "suppliers": _records(result.suppliers),
        "drivers": _records(result.drivers),
        "risks": _records(result.risks),
        "cost_buckets": _records(cost_buckets(result)),
        "samples": _records(result.samples),
        "warnings": result.warnings,
    }


def _summary_rows(result: StressResult) -> list[list[str]]:
    rows = []
    for r in result.summary.itertuples():
        value = r.value
        if r.unit == "USD":
            shown = _musd(value)
        elif r.unit == "fraction":
            shown = _pct(value)
        elif r.unit == "t":
            shown = _tonnes(value) + " t"
        else:
            shown = str(value)
        rows.append([str(r.metric).replace("_", " "), shown])
    return rows


def stress_markdown(result: StressResult) -> str:
    """stress.md: headline, summary, shortfalls, suppliers that matter most, drivers, risks."""
    u, sup, drv = result.unmet, result.suppliers.head(TOP), result.drivers.head(TOP)
    lines = [
        f"# Stress test: {md_text(result.scenario)}",
        "",
        f"**{md_text(result.headline)}.**",
        "",
        f"{result.metric('samples')} samples, seed {result.seed}, risks from "
        f"{result.risks_source}; each sample re-optimised (costs include the unmet-demand "
        "penalty; purchase cost excludes it).",
        "",
        markdown_table(["metric", "value"], _summary_rows(result)),
        "",
        "## Shortfalls per material",
        "",
        markdown_table(
            ["material", "P(shortfall)", "expected t", "P95 t", "max t", "mean when short t"],
            [
                [
                    r.material,
                    _pct(r.shortfall_probability),
                    _tonnes(r.expected_shortfall_t),
                    _tonnes(r.p95_shortfall_t),
                    _tonnes(r.max_shortfall_t),
                    _tonnes(r.mean_shortfall_when_short_t),
                ]
                for r in u.itertuples()
            ],
        ),
        "",
        "## Suppliers that matter most",
        "",
        "Ranked by the cost of losing the supplier alone (re-optimised); the Monte Carlo "
        "columns compare samples where an outage hit it with the others.",
        "",
        markdown_table(
            [
                "rank",
                "supplier",
                "country",
                "if lost alone USD M",
                "extra unmet t",
                "P(out)",
                "samples out",
                "cost when out vs not USD M",
            ],
            [
                [
                    r.rank,
                    r.supplier,
                    r.country,
                    _signed_m(r.alone_cost_increase_usd),
                    _tonnes(r.alone_extra_unmet_t),
                    _pct(r.outage_probability),
                    r.samples_out,
                    _signed_m(r.increase_when_out_usd),
                ]
                for r in sup.itertuples()
            ],
        ),
        "",
        "## Disruptions that cost most",
        "",
        markdown_table(
            ["disruption", "samples", "mean cost with vs without USD M", "shortfall rate with"],
            [
                [
                    r.disruption,
                    r.samples,
                    _signed_m(r.increase_usd),
                    _pct(r.shortfall_rate_with),
                ]
                for r in drv.itertuples()
            ],
        ),
        "",
        "## Risks drawn",
        "",
        markdown_table(
            ["risk", "target", "probability", "magnitude", "from", "note"],
            [
                [
                    r.risk,
                    r.target,
                    _pct(r.probability),
                    f"{r.magnitude:g}",
                    r.from_period or "all",
                    r.note,
                ]
                for r in result.risks.itertuples()
            ],
        ),
        "",
    ]
    if result.warnings:
        lines += ["## Warnings", "", *[f"- {md_text(w)}" for w in result.warnings], ""]
    return "\n".join(lines)


def stress_workbook(result: StressResult) -> Workbook:
    """stress.xlsx: Summary, Cost distribution (native bar chart), Shortfalls, Suppliers,
    Drivers, Risks, Samples."""
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    ws = _sheet(wb, "Summary", result.summary, start_row=3)
    set_cell(ws, 1, 1, result.headline)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 20
    for r in range(4, 4 + len(result.summary)):
        unit = ws.cell(row=r, column=3).value
        value = ws.cell(row=r, column=2)
        if unit == "USD":
            value.number_format = '"$"#,##0'
        elif unit == "fraction":
            value.number_format = "0.0%"
    buckets = cost_buckets(result)
    dist = _sheet(wb, "Cost distribution", buckets)
    n = len(buckets)
    if n:
        chart = BarChart()
        chart.title = "Total cost per sample (re-optimised)"
        chart.x_axis.title = "total cost, USD M"
        chart.y_axis.title = "samples"
        chart.legend = None
        chart.add_data(Reference(dist, min_col=4, min_row=1, max_row=n + 1), titles_from_data=True)
        chart.set_categories(Reference(dist, min_col=1, min_row=2, max_row=n + 1))
        chart.height, chart.width = 9, 20
        dist.add_chart(chart, f"A{n + 3}")
    dist.column_dimensions["A"].width = 26
    _sheet(wb, "Shortfalls", result.unmet)
    _sheet(wb, "Suppliers", result.suppliers)
    _sheet(wb, "Drivers", result.drivers)
    _sheet(wb, "Risks", result.risks)
    samples = _sheet(wb, "Samples", result.samples)
    samples.column_dimensions["B"].width = 60
    return wb


def write_stress_report(result: StressResult, out_dir: str | Path) -> list[Path]:
    """stress.xlsx, stress.md and stress.json in `out_dir`, each replaced only once all were
    written (an earlier report survives a failure)."""
    out = Path(out_dir)
    wb = stress_workbook(result)
    md = stress_markdown(result)
    doc = json.dumps(stress_json(result), indent=2, allow_nan=False) + "\n"
    paths = [out / "stress.xlsx", out / "stress.md", out / "stress.json"]
    with ExitStack() as stack:
        xlsx, mdp, js = (stack.enter_context(atomic_path(p)) for p in paths)
        save_workbook(wb, xlsx)
        mdp.write_text(md, encoding="utf-8")
        js.write_text(doc, encoding="utf-8")
    return paths
