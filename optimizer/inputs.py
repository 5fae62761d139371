"""Parse raw tables into typed, checked inputs.

`parse_inputs` turns every cell into a typed value (or a Problem citing it),
then runs the `check_*` functions, each of which looks at one kind of mistake
and returns every instance it finds. Nothing stops at the first problem: the
planner fixes everything in one pass through Excel.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from optimizer.limits import MAX_COEFFICIENT_RATIO, MAX_NUMBER, MAX_TEXT_CHARS, TINY_T
from optimizer.problems import InvalidInputError, Problem, errors
from optimizer.schema import SETTINGS, SETTINGS_BY_NAME, ColumnSpec, Kind, SettingSpec
from optimizer.workbook import CellFault, ExcelError, RawCell, RawTable, RawWorkbook, printable

TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


def _refs() -> Mapping[str, str]:
    return field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Material:
    """A material being sourced (quantities in tonnes)."""

    material: str
    unit: str = "t"
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Demand:
    """Demand for a material in a period, t."""

    material: str
    period: str
    demand_t: float
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Country:
    """An origin country, its US tariff rate (fraction) and policy flags."""

    country: str
    tariff_rate: float
    allied: bool = False
    china: bool | None = None  # None until resolved: TRUE only for the row named China
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Supplier:
    """A facility; capacity_t per period is shared by all its offers (None = no limit)."""

    supplier: str
    country: str
    capacity_t: float | None = None
    high_standard: bool = False
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Offer:
    """A supplier's offer of a material; period None = every period without its own row."""

    supplier: str
    material: str
    price_usd_per_kg: float
    max_t: float | None = None
    freight_usd_per_kg: float = 0.0
    period: str | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class TariffOverride:
    """A per-material tariff rate replacing the country rate."""

    country: str
    material: str
    tariff_rate: float
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class PriceFloor:
    """Minimum price paid, USD/kg, for `high_standard` suppliers or `all`."""

    material: str
    floor_usd_per_kg: float
    applies_to: str = "high_standard"
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Offtake:
    """An offtake on a supplier's offer: per-period min/max t, take-or-pay, contract price."""

    supplier: str
    material: str
    min_t: float = 0.0
    max_t: float | None = None
    take_or_pay: float | None = None
    contract_price_usd_per_kg: float | None = None
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Stockpile:
    """A stocked material: initial t, reserve t at every period end, holding USD/kg per period."""

    material: str
    initial_t: float = 0.0
    reserve_t: float = 0.0
    holding_usd_per_kg: float = 0.0
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Settings:
    """Policy switches (defaults in schema.SETTINGS)."""

    exclude_china: bool = False
    max_china_share: float = 1.0
    max_country_share: float = 1.0
    min_allied_share: float = 0.0
    unmet_penalty_usd_per_kg: float = 100_000.0
    allow_unmet: bool = True
    refs: Mapping[str, str] = _refs()


@dataclass(frozen=True)
class Inputs:
    """Every input of one run, typed and checked; scenarios make modified copies."""

    materials: tuple[Material, ...]
    demand: tuple[Demand, ...]
    countries: tuple[Country, ...]
    suppliers: tuple[Supplier, ...]
    offers: tuple[Offer, ...]
    tariff_overrides: tuple[TariffOverride, ...] = ()
    price_floors: tuple[PriceFloor, ...] = ()
    offtakes: tuple[Offtake, ...] = ()
    stockpile: tuple[Stockpile, ...] = ()
    settings: Settings = field(default_factory=Settings)
    source: str = ""

    @property
    def periods(self) -> tuple[str, ...]:
        """Period labels in order of first appearance in Demand."""
        return tuple(dict.fromkeys(d.period for d in self.demand))


# --------------------------------------------------------------------------- cell parsing


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _show(value: Any) -> str:
    """A cell value as quoted in a message: text quoted and made printable, dates named."""
    when = _date_like(value)
    if when:
        return when
    return f'"{printable(value)}"' if isinstance(value, str) else str(value)


def _date_like(value: Any) -> str | None:
    """`the date 2026-01-01` for a date, time or duration cell (Excel stores them as numbers)."""
    if isinstance(value, datetime):
        clock = "" if value.time() == time() else f" {value:%H:%M:%S}"
        return f"the date {value:%Y-%m-%d}{clock}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, time):
        return f"the time {value.isoformat()}"
    if isinstance(value, timedelta):
        return f"the duration {value}"
    return None


def _check_text(text: str, name: str) -> str:
    """Text as read, refusing control characters (they garble reports and terminals)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{name} is longer than Excel's {MAX_TEXT_CHARS:,} characters")
    bad = next((c for c in text if _is_control(c)), None)
    if bad is not None:
        raise ValueError(
            f"{name} contains the control character U+{ord(bad):04X} "
            f"({_show(text)}); retype the cell"
        )
    return text


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 32 and char not in "\t\n\r") or 0x7F <= code <= 0x9F


def _to_number(value: Any) -> float:
    """A finite float from a number or numeric text; ValueError otherwise."""
    if isinstance(value, (bool, datetime, date, time, timedelta)):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.replace(",", "").replace("_", "").strip())
    raise ValueError


def parse_value(kind: Kind, value: Any, name: str, choices: tuple[str, ...] = ()) -> Any:
    """Parse one non-blank cell value; raises ValueError with a planner-readable message."""
    if isinstance(value, ExcelError):
        raise ValueError(
            f"{name} holds the Excel error {value.code}; fix the formula or type a value"
        )
    if isinstance(value, CellFault):
        raise ValueError(f"{name} {value.reason}")
    when = _date_like(value)
    if kind is Kind.PERIOD and when:
        year = f"{value.year}" if isinstance(value, date) else "2026"
        raise ValueError(
            f"{name} must be a label such as 2026 (found {when}); type {year} as text or as a "
            "number formatted as General"
        )
    if kind in (Kind.NUMBER, Kind.RATE) and when:
        raise ValueError(
            f"{name} must be a number (found {when}: the cell is formatted as a date or time); "
            "format it as Number and retype the value"
        )
    if kind in (Kind.TEXT, Kind.PERIOD):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return _check_text(str(value).strip(), name)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        word = str(int(value) if isinstance(value, float) and value.is_integer() else value)
        word = word.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be TRUE or FALSE (found {_show(value)})")
    if kind is Kind.CHOICE:
        text = _check_text(str(value).strip(), name).lower()
        if text not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)} (found {_show(value)})")
        return text
    if kind is Kind.ANY:
        return value
    percent = kind is Kind.RATE and isinstance(value, str) and value.strip().endswith("%")
    try:
        number = _to_number(value.strip().rstrip("%") if percent else value)
    except ValueError:
        raise ValueError(f"{name} must be a number (found {_show(value)})") from None
    if percent:
        number /= 100.0
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number (found {_show(value)})")
    if number < 0:
        raise ValueError(f"{name} must not be negative (found {number:g})")
    if abs(number) > MAX_NUMBER:
        raise ValueError(f"{name} is implausibly large ({number:g}; at most {MAX_NUMBER:g})")
    if kind is Kind.RATE and number > 1:
        raise ValueError(
            f"{name} is a fraction between 0 and 1 (found {number:g}); "
            f"write {number / 100:g} or {number:g}% for {number:g}%"
        )
    return number


def _parse_cell(col: ColumnSpec, cell: RawCell | None) -> tuple[Any, Problem | None]:
    """Typed value of one cell, its default when blank, or a Problem citing it."""
    value = None if cell is None else cell.value
    if _is_blank(value):
        if col.required and cell is not None:
            return None, Problem.at(cell.ref, f"{col.name} is required")
        return col.default, None
    assert cell is not None
    try:
        return parse_value(col.kind, value, col.name, col.choices), None
    except ValueError as exc:
        return None, Problem.at(cell.ref, str(exc))


R = TypeVar("R")


#: Stand-ins for cells that failed to parse, so cross-sheet checks still see the row.
#: They never reach a model: any error makes parse_inputs return no Inputs.
PLACEHOLDER = {Kind.NUMBER: 0.0, Kind.RATE: 0.0, Kind.BOOL: False, Kind.CHOICE: None}


def _parse_table(table: RawTable | None, record: Callable[..., R]) -> tuple[list[R], list[Problem]]:
    """Typed records of one table; bad cells are reported and stood in for by placeholders."""
    if table is None:
        return [], []
    problems: list[Problem] = []
    records: list[R] = []
    names = {f.name for f in fields(record)}  # type: ignore[arg-type]
    for row in table.rows:
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        for col in table.spec.columns:
            cell = row.get(col.name)
            value, problem = _parse_cell(col, cell)
            refs[col.name] = cell.ref if cell else f"{table.sheet}!{table.ref(col.name, row.row)}"
            if problem:
                problems.append(problem)
                value = "" if col.kind in (Kind.TEXT, Kind.PERIOD) else PLACEHOLDER.get(col.kind)
            if col.name in names:
                values[col.name] = value
        values = {k: v for k, v in values.items() if v is not None}
        records.append(record(**values, refs=refs))
    return records, problems


def _parse_settings(table: RawTable | None) -> tuple[Settings, list[Problem]]:
    """The Settings sheet: one row per setting; unknown names are errors with the valid list."""
    if table is None:
        return Settings(), []
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    refs: dict[str, str] = {}
    seen: dict[str, str] = {}
    for row in table.rows:
        name_cell, value_cell = row.get("setting"), row.get("value")
        assert name_cell is not None and value_cell is not None
        name = str(name_cell.value or "").strip().lower()
        spec: SettingSpec | None = SETTINGS_BY_NAME.get(name)
        if spec is None:
            hint = _did_you_mean(name, SETTINGS_BY_NAME)
            valid = ", ".join(s.name for s in SETTINGS)
            problems.append(
                Problem.at(name_cell.ref, f'unknown setting "{name_cell.value}"{hint} ({valid})')
            )
            continue
        if name in seen:
            problems.append(
                Problem.at(name_cell.ref, f"setting {name} is also given at {seen[name]}")
            )
            continue
        seen[name] = name_cell.ref
        if _is_blank(value_cell.value):
            continue  # blank = default
        try:
            values[name] = parse_value(spec.kind, value_cell.value, name)
            refs[name] = value_cell.ref
        except ValueError as exc:
            problems.append(Problem.at(value_cell.ref, str(exc)))
    return Settings(**values, refs=refs), problems


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if not close:
        lower = {k.lower(): k for k in known}
        if name.lower() in lower:
            close = [lower[name.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""


# --------------------------------------------------------------------------- checks


def check_duplicates(sheet: str, records: Iterable[Any], key: tuple[str, ...]) -> list[Problem]:
    """Two rows with the same key (e.g. two Offers rows for one supplier, material, period)."""
    seen: dict[tuple[Any, ...], str] = {}
    problems = []
    for r in records:
        k = tuple(getattr(r, c) for c in key)
        ref = r.refs.get(key[0], sheet)
        if "" in k:  # a blank key cell is reported as required already
            continue
        if k in seen:
            shown = ", ".join("blank" if v is None else str(v) for v in k)
            problems.append(Problem.at(ref, f"duplicate row for ({shown}); first at {seen[k]}"))
        else:
            seen[k] = ref
    return problems


def check_reference(
    records: Iterable[Any], column: str, known: Iterable[str], what: str, where: str
) -> list[Problem]:
    """Every value in `column` names a row of another sheet."""
    known = list(known)
    names = set(known)
    problems = []
    for r in records:
        value = getattr(r, column)
        if value and value not in names:  # a blank was already reported as required
            hint = _did_you_mean(value, known)
            problems.append(Problem.at(r.refs[column], f'{what} "{value}" is not in {where}{hint}'))
    return problems


def check_offtakes_have_offers(
    offtakes: Iterable[Offtake], offers: Iterable[Offer]
) -> list[Problem]:
    """An offtake must sit on an offer of the same supplier and material; min <= max."""
    lanes = {(o.supplier, o.material) for o in offers}
    problems = []
    for k in offtakes:
        if k.supplier and k.material and (k.supplier, k.material) not in lanes:
            problems.append(
                Problem.at(
                    k.refs["supplier"],
                    f'supplier "{k.supplier}" has no offer for "{k.material}"',
                )
            )
        if k.max_t is not None and k.min_t > k.max_t:
            problems.append(
                Problem.at(k.refs["min_t"], f"min_t {k.min_t:g} exceeds max_t {k.max_t:g}")
            )
    return problems


def check_offer_periods(offers: Iterable[Offer], periods: tuple[str, ...]) -> list[Problem]:
    """An offer's period must be one of the Demand periods."""
    return [
        Problem.at(
            o.refs["period"],
            f'period "{o.period}" is not a Demand period ({", ".join(periods)})',
        )
        for o in offers
        if o.period is not None and o.period not in periods
    ]


def check_not_empty(inputs: Inputs) -> list[Problem]:
    """A model needs demand rows, countries, suppliers and offers."""
    problems = []
    for sheet, rows in (
        ("Materials", inputs.materials),
        ("Demand", inputs.demand),
        ("Countries", inputs.countries),
        ("Suppliers", inputs.suppliers),
        ("Offers", inputs.offers),
    ):
        if not rows:
            problems.append(Problem(sheet, "A2", "no data rows (the model would be empty)"))
    return problems


def check_zero_demand(inputs: Inputs) -> list[Problem]:
    """Warn when every demand is 0 and no reserve is to be built: the plan would buy nothing."""
    if not inputs.demand or any(d.demand_t > 0 for d in inputs.demand):
        return []
    if any(s.reserve_t > s.initial_t for s in inputs.stockpile):
        return []
    return [
        Problem.at(
            inputs.demand[0].refs["demand_t"],
            "every demand_t is 0 (and no stock reserve to build): the plan will buy nothing",
            "warning",
        )
    ]


#: Columns whose values are quantities (t) and costs (USD/kg), for the numerics check.
QUANTITY_COLUMNS = {
    "demand": ("demand_t",),
    "suppliers": ("capacity_t",),
    "offers": ("max_t",),
    "offtakes": ("min_t", "max_t"),
    "stockpile": ("initial_t", "reserve_t"),
}
COST_COLUMNS = {
    "offers": ("price_usd_per_kg", "freight_usd_per_kg"),
    "price_floors": ("floor_usd_per_kg",),
    "offtakes": ("contract_price_usd_per_kg",),
    "stockpile": ("holding_usd_per_kg",),
}


def _values(inputs: Inputs, columns: Mapping[str, tuple[str, ...]]) -> list[tuple[float, str, str]]:
    """(value, column, cell) for every nonzero value of the given columns."""
    out = []
    for attr, names in columns.items():
        for record in getattr(inputs, attr):
            for name in names:
                value = getattr(record, name)
                if value:
                    out.append((float(value), name, record.refs.get(name, "")))
    return out


def check_numerics(inputs: Inputs) -> list[Problem]:
    """Warn about values that hurt HiGHS's numerics: specks below TINY_T, huge value ranges.

    HiGHS works to tolerances around 1e-7 and loses precision when the model's
    nonzero coefficients span more than about nine orders of magnitude; either
    usually means a unit mistake (kg typed as t, USD/t typed as USD/kg).
    """
    problems = [
        Problem.at(
            ref,
            f"{name} {value:g} t is below {TINY_T:g} t (a gram): the solver treats it as 0; "
            "enter 0 or check the unit",
            "warning",
        )
        for value, name, ref in _values(inputs, QUANTITY_COLUMNS)
        if 0 < value < TINY_T
    ]
    settings = inputs.settings
    costs = _values(inputs, COST_COLUMNS)
    if settings.allow_unmet and settings.unmet_penalty_usd_per_kg:
        ref = settings.refs.get("unmet_penalty_usd_per_kg", "")
        costs.append((settings.unmet_penalty_usd_per_kg, "unmet_penalty_usd_per_kg", ref))
    for kind, found, unit in (
        ("quantities", _values(inputs, QUANTITY_COLUMNS), "t"),
        ("costs", costs, "USD/kg"),
    ):
        if len(found) < 2:
            continue
        low, high = min(found), max(found)
        if high[0] <= MAX_COEFFICIENT_RATIO * low[0]:
            continue
        message = (
            f"{kind} span {high[0] / low[0]:.1e} times: {low[1]} {low[0]:g} {unit} at "
            f"{low[2] or 'its default'}, {high[1]} {high[0]:g} {unit} at "
            f"{high[2] or 'its default'}; beyond {MAX_COEFFICIENT_RATIO:.0e} the solver may "
            "lose precision: check the units"
        )
        ref = low[2] or high[2]
        problems.append(
            Problem.at(ref, message, "warning")
            if ref
            else Problem("Settings", "", message, "warning")
        )
    return problems


def check_policy_consistency(settings: Settings) -> list[Problem]:
    """Warn when shares cannot all hold, e.g. allied minimum above what country caps permit."""
    problems = []
    if settings.exclude_china and settings.max_china_share < 1:
        problems.append(
            Problem.at(
                settings.refs.get("max_china_share", "Settings!B1"),
                "max_china_share has no effect while exclude_china is TRUE",
                "warning",
            )
        )
    return problems


def check_demand_has_offers(inputs: Inputs) -> list[Problem]:
    """Warn about materials with demand but no offer at all (all of it will be unmet)."""
    offered = {o.material for o in inputs.offers}
    flagged: dict[str, str] = {}
    for d in inputs.demand:
        if d.demand_t > 0 and d.material not in offered and d.material not in flagged:
            flagged[d.material] = d.refs["material"]
    return [
        Problem.at(ref, f'"{m}" has demand but no offer: all of it will be unmet', "warning")
        for m, ref in flagged.items()
    ]


# --------------------------------------------------------------------------- entry points


def parse_inputs(raw: RawWorkbook) -> tuple[Inputs | None, list[Problem]]:
    """Typed inputs and every problem found; inputs is None when any problem is an error."""
    problems = list(raw.problems)
    t = raw.table
    materials, p1 = _parse_table(t("Materials"), Material)
    demand, p2 = _parse_table(t("Demand"), Demand)
    countries, p3 = _parse_table(t("Countries"), Country)
    suppliers, p4 = _parse_table(t("Suppliers"), Supplier)
    offers, p5 = _parse_table(t("Offers"), Offer)
    overrides, p6 = _parse_table(t("TariffOverrides"), TariffOverride)
    floors, p7 = _parse_table(t("PriceFloors"), PriceFloor)
    offtakes, p8 = _parse_table(t("Offtakes"), Offtake)
    stockpile, p9 = _parse_table(t("Stockpile"), Stockpile)
    settings, p10 = _parse_settings(t("Settings"))
    for part in (p1, p2, p3, p4, p5, p6, p7, p8, p9, p10):
        problems.extend(part)

    countries = [_default_china_flag(c) for c in countries]
    inputs = Inputs(
        materials=tuple(materials),
        demand=tuple(demand),
        countries=tuple(countries),
        suppliers=tuple(suppliers),
        offers=tuple(offers),
        tariff_overrides=tuple(overrides),
        price_floors=tuple(floors),
        offtakes=tuple(offtakes),
        stockpile=tuple(stockpile),
        settings=settings,
        source=raw.path,
    )
    problems.extend(check_inputs(inputs))
    return (None if errors(problems) else inputs), problems


def _default_china_flag(country: Country) -> Country:
    """`china` blank means TRUE only for the row named China."""
    if country.china is None:
        return replace(country, china=country.country.strip().lower() == "china")
    return country


def check_inputs(inputs: Inputs) -> list[Problem]:
    """Every cross-sheet check, in the order a planner would fix them."""
    material_names = [m.material for m in inputs.materials]
    country_names = [c.country for c in inputs.countries]
    supplier_names = [s.supplier for s in inputs.suppliers]
    periods = inputs.periods
    return [
        *check_not_empty(inputs),
        *check_duplicates("Materials", inputs.materials, ("material",)),
        *check_duplicates("Demand", inputs.demand, ("material", "period")),
        *check_duplicates("Countries", inputs.countries, ("country",)),
        *check_duplicates("Suppliers", inputs.suppliers, ("supplier",)),
        *check_duplicates("Offers", inputs.offers, ("supplier", "material", "period")),
        *check_duplicates("TariffOverrides", inputs.tariff_overrides, ("country", "material")),
        *check_duplicates("PriceFloors", inputs.price_floors, ("material",)),
        *check_duplicates("Offtakes", inputs.offtakes, ("supplier", "material")),
        *check_duplicates("Stockpile", inputs.stockpile, ("material",)),
        *check_reference(inputs.demand, "material", material_names, "material", "Materials"),
        *check_reference(inputs.suppliers, "country", country_names, "country", "Countries"),
        *check_reference(inputs.offers, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.offers, "material", material_names, "material", "Materials"),
        *check_offer_periods(inputs.offers, periods),
        *check_reference(inputs.tariff_overrides, "country", country_names, "country", "Countries"),
        *check_reference(
            inputs.tariff_overrides, "material", material_names, "material", "Materials"
        ),
        *check_reference(inputs.price_floors, "material", material_names, "material", "Materials"),
        *check_reference(inputs.offtakes, "supplier", supplier_names, "supplier", "Suppliers"),
        *check_reference(inputs.offtakes, "material", material_names, "material", "Materials"),
        *check_offtakes_have_offers(inputs.offtakes, inputs.offers),
        *check_reference(inputs.stockpile, "material", material_names, "material", "Materials"),
        *check_policy_consistency(inputs.settings),
        *check_demand_has_offers(inputs),
        *check_zero_demand(inputs),
        *check_numerics(inputs),
    ]


def require_valid(inputs: Inputs | None, problems: list[Problem]) -> Inputs:
    """The inputs, or InvalidInputError carrying every error."""
    if inputs is None or errors(problems):
        raise InvalidInputError(problems)
    return inputs
