"""A what-if session: the logic behind the Streamlit app, with no Streamlit in it.

A session holds one scenario's base tables and one optimizer (the fast path). Each what-if
(toggles, tariffs, floors, edited tables) becomes a new set of tables, goes
through the validator, and re-targets the built model in place; the outcome
is keyed by a fingerprint of the tables that produced it, so the numbers on
screen always belong to the inputs next to them.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import tempfile
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.analysis.breakevens import offer_breakevens
from optimizer.analysis.frontier import Frontier, cost_of_independence
from optimizer.common.problems import Problem, SourcingError, errors
from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import Workbook, open_workbook, scenario_inputs, validate
from optimizer.contract.records import Inputs
from optimizer.contract.scenarios import BASELINE
from optimizer.contract.tables import Tables, blank, inputs_to_tables, parse_tables, row_id
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Engine, EngineFactory, Status
from optimizer.output.report import report_xlsx
from optimizer.output.results import Results, make_results
from optimizer.runs.inputs_book import whatif_workbook

#: Largest upload accepted by the app, bytes.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Outcomes kept per session (a small LRU: going back to a previous what-if is instant).
CACHE_SIZE = 32
#: Tables the app lets planners edit cell by cell.
EDITABLE = ("Offers", "Suppliers", "Offtakes")


@dataclass(frozen=True)
class WhatIf:
    """The planner's changes on top of a scenario; None/empty means 'as in the workbook'."""

    exclude_china: bool | None = None
    max_china_share: float | None = None
    tariffs: Mapping[str, float] = field(default_factory=dict)  # country -> fraction
    floors: Mapping[str, float] = field(default_factory=dict)  # material -> USD/kg (0 = none)
    edited: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)  # sheet -> rows
    carbon_price: float | None = None  # USD per t CO2e (Settings carbon_price_usd_per_t_co2e)


@dataclass
class Outcome:
    """Everything shown for one what-if, tied to the fingerprint of its tables."""

    fingerprint: str
    tables: Tables
    problems: list[Problem]
    inputs: Inputs | None = None
    results: Results | None = None
    frontier: Frontier | None = None
    solve_ms: float = 0.0  # validate + update + solve + results, milliseconds
    rebuilt: bool = False


def apply_whatif(base: Tables, w: WhatIf) -> Tables:
    """New tables with the what-if applied (the base is not modified)."""
    t = copy.deepcopy(base)
    for sheet, rows in w.edited.items():
        t[sheet] = [dict(r) for r in rows]
    settings = {r["setting"]: r for r in t.setdefault("Settings", [])}
    for name, value in (
        ("exclude_china", w.exclude_china),
        ("max_china_share", w.max_china_share),
        ("carbon_price_usd_per_t_co2e", w.carbon_price),
    ):
        if value is not None:
            if name in settings:
                settings[name]["value"] = value
            else:
                t["Settings"].append({"setting": name, "value": value})
    if w.tariffs and t.get("Tariffs"):
        # measures by legal basis: the control sets the whole rate of each of the country's
        # lanes, as a TariffOverrides row does, in every period
        materials = [r["material"] for r in t.get("Materials", [])]
        kept = [r for r in t.get("TariffOverrides", []) if r["country"] not in w.tariffs]
        added = [
            {"country": c, "material": m, "tariff_rate": rate}
            for c, rate in w.tariffs.items()
            for m in materials
        ]
        t["TariffOverrides"] = kept + added
    else:
        for row in t.get("Countries", []):
            if row["country"] in w.tariffs:
                row["tariff_rate"] = w.tariffs[row["country"]]
    if w.floors:
        floors = {r["material"]: r for r in t.get("PriceFloors", [])}
        for material, value in w.floors.items():
            if material in floors:
                floors[material]["floor_usd_per_kg"] = value
            elif value:
                floors[material] = {"material": material, "floor_usd_per_kg": value}
        t["PriceFloors"] = [r for r in floors.values() if r.get("floor_usd_per_kg")]
    return t


def country_rates(inputs: Inputs) -> dict[str, float]:
    """Per origin country, the tariff its purchases most often pay (what the app's control
    shows): the flat Countries rate in a v1 workbook, else the measures' resolved rate."""
    data = prepare(inputs)
    rates: dict[str, list[float]] = {}
    for b in data.buys.values():
        rates.setdefault(b.country, []).append(b.tariff_rate)
    out = {c: max(set(r), key=r.count) for c, r in rates.items()}
    for c in inputs.countries:
        out.setdefault(c.country, c.tariff_rate or 0.0)
    return out


def fingerprint(tables: Tables) -> str:
    """A short hash of the tables' content."""
    text = json.dumps(tables, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Session:
    """One workbook scenario explored in the app; owns its model (never shared between users)."""

    def __init__(
        self, wb: Workbook, scenario: str = BASELINE, engine: EngineFactory = FastOptimizer
    ) -> None:
        self.workbook = wb
        self.engine = engine
        self.scenario = scenario
        inputs, problems = scenario_inputs(wb, scenario)
        if inputs is None:
            raise ValueError("; ".join(str(p) for p in errors(problems)))
        self.base_inputs = inputs
        self.base_tables = inputs_to_tables(inputs)
        self.country_rates = country_rates(inputs)
        self._opt: Engine | None = None
        self._cache: OrderedDict[str, Outcome] = OrderedDict()
        self.baseline = self._baseline_results()

    def _baseline_results(self) -> Results:
        inputs, _ = scenario_inputs(self.workbook, BASELINE)
        assert inputs is not None  # a workbook is only opened in the app once valid
        #: the workbook's own tables (no scenario): what a downloaded workbook changes
        self.loaded_tables = inputs_to_tables(inputs)
        data = prepare(inputs)
        return make_results(BASELINE, data, self.engine(data).solve())

    def problems_of(self, w: WhatIf) -> list[Problem]:
        """The validator's findings on a what-if's tables, without solving (the app's form
        checks an entry with this before taking it)."""
        _, problems = parse_tables(apply_whatif(self.base_tables, w), source=self.workbook.path)
        return problems

    def run(self, w: WhatIf, with_frontier: bool = True) -> Outcome:
        """Validate, update the built model, solve, tabulate; cached by the tables' fingerprint."""
        tables = apply_whatif(self.base_tables, w)
        key = fingerprint(tables)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        started = time.perf_counter()
        inputs, problems = parse_tables(tables, source=self.workbook.path)
        outcome = Outcome(key, tables, problems, inputs)
        if inputs is not None:
            data = prepare(inputs)
            try:
                if self._opt is None:
                    self._opt = self.engine(data)
                    outcome.rebuilt = True
                else:
                    outcome.rebuilt = not self._opt.update(data)
            except SourcingError as exc:
                outcome.problems.append(Problem("", "", str(exc)))
            else:
                solution = self._opt.solve()
                results = make_results(self.scenario, data, solution)
                if solution.status is Status.OPTIMAL:
                    results.breakevens_by_period = offer_breakevens(self._opt, solution)
                outcome.results = results
                outcome.solve_ms = (time.perf_counter() - started) * 1000
                if with_frontier:
                    outcome.frontier = cost_of_independence(inputs, engine=self.engine)
        self._cache[key] = outcome
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return outcome


def open_upload(name: str, data: bytes) -> tuple[Workbook | None, list[Problem], str]:
    """Open an uploaded workbook; (None, problems, message) when it cannot be used."""
    if len(data) > MAX_UPLOAD_BYTES:
        return (
            None,
            [],
            f"{name} is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB",
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        try:
            wb = open_workbook(path)
        except SourcingError as exc:
            return None, [], str(exc).replace(str(path), name)
        problems = validate(wb)
    if errors(problems):
        n = len(errors(problems))
        return None, problems, f"{name} has {n} problem(s); the previous workbook stays active"
    return wb, problems, ""


def report_bytes(results: Results, inputs: Inputs, changes: Sequence[str] = ()) -> bytes:
    """The report workbook of a what-if, as bytes for a download button."""
    return report_xlsx(results, inputs, changes)


def _shown(value: Any) -> str:
    """A cell value in a change's words (blank for None)."""
    if value is None:
        return "blank"
    return f"{value:g}" if isinstance(value, float) else str(value)


def tariff_words(country: str, rate: float) -> str:
    """A tariff control's change in words, its decimals kept ("US tariff on Vietnam 20.5%")."""
    return f"US tariff on {country} {rate * 100:.4g}%"


def describe_whatif(w: WhatIf, base: Tables) -> list[str]:
    """Every change of a what-if against the scenario as loaded, in words: each control,
    then each edited cell ("Offers row 2, price_usd_per_kg: 141 -> 50", rows numbered as
    in the sheet, the header being row 1), added and removed rows."""
    out: list[str] = []
    if w.exclude_china is not None:
        out.append(f"China {'excluded' if w.exclude_china else 'allowed'}")
    if w.max_china_share is not None:
        out.append(f"China share at most {w.max_china_share:.0%}")
    out += [tariff_words(c, r) for c, r in sorted(w.tariffs.items())]
    out += [
        f"{m} price floor {'none' if not v else f'${v:,.0f}/kg'}"
        for m, v in sorted(w.floors.items())
    ]
    if w.carbon_price is not None:
        out.append(f"carbon price ${w.carbon_price:,.0f}/t CO2e")
    for sheet, rows in w.edited.items():
        out += row_changes(sheet, base.get(sheet, []), rows)
    return out


def _filled(row: Mapping[str, Any]) -> str:
    """A row's filled cells in words ("Teck Trail, Germanium, 4000")."""
    return ", ".join(_shown(v) for v in row.values() if v is not None)


def row_changes(
    sheet: str, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The rows of a sheet aligned as a diff would (difflib), so deleting one row is one
    change, not a shift of every row below it: changed cells of paired rows, added rows
    (numbered as in the new sheet) and removed ones (as in the old), header = row 1."""
    out: list[str] = []
    matcher = difflib.SequenceMatcher(
        a=[row_id(r) for r in old], b=[row_id(r) for r in new], autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            before, after = old[i1 + k], new[j1 + k]
            out += [
                f"{sheet} row {j1 + k + 2}, {col}: {_shown(before.get(col))} -> {_shown(v)}"
                for col, v in after.items()
                if v != before.get(col)
            ]
        out += [f"{sheet} row {j + 2} added ({_filled(new[j])})" for j in range(j1 + paired, j2)]
        out += [f"{sheet} row {i + 2} removed ({_filled(old[i])})" for i in range(i1 + paired, i2)]
    return out


def whatif_slug(changes: Sequence[str], limit: int = 60) -> str:
    """The changes as a file-name part: lower-case words joined by hyphens, cut at `limit`
    characters with the count of changes ("china-excluded-us-tariff-on-vietnam-46pct")."""
    if not changes:
        return "as-loaded"
    text = "-".join(changes).replace("%", "pct").lower()
    slug = "-".join(w for w in "".join(c if c.isalnum() else " " for c in text).split())
    if len(slug) > limit:
        slug = slug[:limit].rstrip("-") + f"-{len(changes)}-changes"
    return slug


def inputs_bytes(
    tables: Tables, original: bytes | None = None, loaded: Tables | None = None
) -> bytes:
    """The what-if's inputs as a workbook that `sourcing solve` reads back to the same plan:
    the `original` workbook file with the sheets that differ from its `loaded` tables
    rewritten (every other sheet and column kept), else one sheet per table."""
    if original is not None and loaded is not None:
        return whatif_workbook(original, loaded, tables)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "whatif.xlsx"
        write_input_workbook(path, {sheet: rows for sheet, rows in tables.items() if rows})
        return path.read_bytes()


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows as a DataFrame with the given column order, for st.data_editor: a blank cell of
    a text column as "" (numbers stay numbers; their blanks show blank, not None)."""
    df = pd.DataFrame(rows, columns=columns)
    for c in df.columns:
        values = [v for v in df[c] if not blank(v)]
        if df[c].dtype == object and all(isinstance(v, str) for v in values):
            df[c] = df[c].map(lambda v: "" if blank(v) else v)
    return df


def material_deltas(res: Results, base: Results) -> pd.DataFrame:
    """Per material, the what-if's change in buyer spend (purchase, tariff and freight of
    what is bought) and in tonnes bought and unmet, against the scenario as loaded."""

    def by_material(r: Results) -> pd.DataFrame:
        a = r.allocation.groupby("material")[["cost_usd", "quantity_t"]].sum()
        u = r.unmet.groupby("material")["quantity_t"].sum().rename("unmet_t")
        return a.join(u, how="outer").fillna(0.0)

    new, old = by_material(res), by_material(base)
    diff = new.sub(old, fill_value=0.0).reindex(new.index.union(old.index), fill_value=0.0)
    return pd.DataFrame(
        {
            "material": diff.index,
            "spend_change_usd": diff["cost_usd"].to_numpy(),
            "bought_change_t": diff["quantity_t"].to_numpy(),
            "unmet_change_t": diff["unmet_t"].to_numpy(),
        }
    )
