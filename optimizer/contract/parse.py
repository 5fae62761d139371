"""Parse raw tables into typed, checked inputs: the validator's entry point.

`parse_inputs` turns every cell into a typed value (or a Problem citing it),
then runs `optimizer.contract.checks.check_inputs`, whose `check_*` functions
each look at one kind of mistake and return every instance found. Nothing
stops at the first problem: the planner fixes everything in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

from optimizer.common.problems import InvalidInputError, Problem, errors
from optimizer.contract.cells import did_you_mean, is_blank, parse_cell, parse_value
from optimizer.contract.checks import check_inputs
from optimizer.contract.records import (
    Coproduct,
    Country,
    Demand,
    EmissionsCap,
    Indicator,
    Inputs,
    Material,
    Offer,
    Offtake,
    Period,
    PriceFloor,
    Process,
    ProcessInput,
    Route,
    Settings,
    Stockpile,
    Supplier,
    Tariff,
    TariffOverride,
)
from optimizer.contract.resilient_checks import check_decisions
from optimizer.contract.responsible_checks import check_responsible
from optimizer.contract.settings import SETTINGS, SETTINGS_BY_NAME
from optimizer.contract.spec import Kind, SettingSpec
from optimizer.contract.workbook import RawTable, RawWorkbook

R = TypeVar("R")


#: Stand-ins for cells that failed to parse, so cross-sheet checks still see the row.
#: They never reach a model: any error makes parse_inputs return no Inputs.
PLACEHOLDER = {Kind.NUMBER: 0.0, Kind.RATE: 0.0, Kind.BOOL: False, Kind.CHOICE: None}


def parse_table(table: RawTable | None, record: Callable[..., R]) -> tuple[list[R], list[Problem]]:
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
            value, problem = parse_cell(col, cell)
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
            hint = did_you_mean(name, SETTINGS_BY_NAME)
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
        if is_blank(value_cell.value):
            continue  # blank = default
        try:
            values[name] = parse_value(spec.kind, value_cell.value, name)
            refs[name] = value_cell.ref
        except ValueError as exc:
            problems.append(Problem.at(value_cell.ref, str(exc)))
    return Settings(**values, refs=refs), problems


# --------------------------------------------------------------------------- entry points


def parse_inputs(raw: RawWorkbook) -> tuple[Inputs | None, list[Problem]]:
    """Typed inputs and every problem found; inputs is None when any problem is an error."""
    problems = list(raw.problems)
    t = raw.table
    materials, p1 = parse_table(t("Materials"), Material)
    demand, p2 = parse_table(t("Demand"), Demand)
    countries, p3 = parse_table(t("Countries"), Country)
    suppliers, p4 = parse_table(t("Suppliers"), Supplier)
    offers, p5 = parse_table(t("Offers"), Offer)
    overrides, p6 = parse_table(t("TariffOverrides"), TariffOverride)
    floors, p7 = parse_table(t("PriceFloors"), PriceFloor)
    offtakes, p8 = parse_table(t("Offtakes"), Offtake)
    stockpile, p9 = parse_table(t("Stockpile"), Stockpile)
    settings, p10 = _parse_settings(t("Settings"))
    tariffs, p11 = parse_table(t("Tariffs"), Tariff)
    period_dates, p12 = parse_table(t("Periods"), Period)
    processes, p13 = parse_table(t("Processes"), Process)
    process_inputs, p14 = parse_table(t("Inputs"), ProcessInput)
    coproducts, p15 = parse_table(t("Coproducts"), Coproduct)
    routes, p16 = parse_table(t("Routes"), Route)
    caps, p17 = parse_table(t("EmissionsCaps"), EmissionsCap)
    indicators, p18 = parse_table(t("Indicators"), Indicator)
    for part in (p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15, p16, p17, p18):
        problems.extend(part)

    countries = [_default_china_flag(c) for c in countries]
    inputs = Inputs(
        materials=tuple(materials),
        demand=tuple(demand),
        countries=tuple(countries),
        suppliers=tuple(suppliers),
        offers=tuple(offers),
        tariff_overrides=tuple(overrides),
        tariffs=tuple(tariffs),
        period_dates=tuple(period_dates),
        price_floors=tuple(floors),
        offtakes=tuple(offtakes),
        stockpile=tuple(stockpile),
        settings=settings,
        source=raw.path,
        processes=tuple(processes),
        process_inputs=tuple(process_inputs),
        coproducts=tuple(coproducts),
        routes=tuple(routes),
        emission_caps=tuple(caps),
        indicators=tuple(indicators),
    )
    # a cell that could not be read is reported once: not again by a check of its stand-in
    unreadable = {(p.sheet, p.cell) for p in errors(problems) if p.cell}
    checked = [*check_inputs(inputs), *check_responsible(inputs), *check_decisions(inputs)]
    problems.extend(p for p in checked if (p.sheet, p.cell) not in unreadable)
    return (None if errors(problems) else inputs), problems


def _default_china_flag(country: Country) -> Country:
    """`china` blank means TRUE only for the row named China."""
    if country.china is None:
        return replace(country, china=country.country.strip().lower() == "china")
    return country


def require_valid(inputs: Inputs | None, problems: list[Problem]) -> Inputs:
    """The inputs, or InvalidInputError carrying every error."""
    if inputs is None or errors(problems):
        raise InvalidInputError(problems)
    return inputs
