"""Scenarios: single-cell overrides on a copy of the workbook, cited where they were written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from optimizer.contract.book import find_scenario, open_workbook, scenario_inputs, validate
from optimizer.output.results import Results
from tests.conftest import Tables

Write = Callable[[Tables], Path]
Solve = Callable[..., Results]


def row(scenario: str, sheet: str, key: str, column: str, value: object) -> dict[str, object]:
    return {"scenario": scenario, "sheet": sheet, "key": key, "column": column, "value": value}


def test_override_changes_the_plan_and_not_the_base(solve: Solve, tables: Tables) -> None:
    tables["Scenarios"] = [row("cn_40", "Countries", "china", "tariff_rate", 0.4)]
    base = solve(tables)
    scen = solve(tables, "cn_40")
    assert base.total_cost_usd == pytest.approx(20 * 1000 * 12.0)
    assert scen.total_cost_usd == pytest.approx(20 * 1000 * 13.8)  # Japan wins at 40%
    assert solve(tables).total_cost_usd == base.total_cost_usd  # base untouched


def test_wildcard_and_partial_keys(solve: Solve, tables: Tables) -> None:
    tables["Scenarios"] = [
        row("free", "Countries", "*", "tariff_rate", 0),
        row("cap", "Offers", "CN1", "max_t", 4),  # missing trailing parts match every row
    ]
    assert solve(tables, "free").total_cost_usd == pytest.approx(20 * 1000 * 10.0)
    capped = solve(tables, "cap")
    assert capped.total_cost_usd == pytest.approx(2 * 1000 * (4 * 12.0 + 6 * 13.8))


def test_full_key_adds_a_row_and_later_rows_fill_it(solve: Solve, tables: Tables) -> None:
    tables["Scenarios"] = [
        row("jp_free", "TariffOverrides", "Japan|Ga", "tariff_rate", 0),
        row("stock", "Stockpile", "Ga", "reserve_t", 5),
        row("stock", "Stockpile", "Ga", "holding_usd_per_kg", 1),
        row("strict", "Settings", "allow_unmet", "value", "no"),
    ]
    assert solve(tables, "jp_free").total_cost_usd == pytest.approx(20 * 1000 * 12.0)
    # 25 t from China; 5 t held through both periods at 1 USD/kg
    assert solve(tables, "stock").total_cost_usd == pytest.approx(1000 * (25 * 12.0 + 2 * 5 * 1.0))
    wb_inputs, _ = scenario_inputs(open_workbook(Path(tables_path(tables))), "strict")
    assert wb_inputs is not None and wb_inputs.settings.allow_unmet is False


def tables_path(tables: Tables) -> str:
    import tempfile

    from optimizer.common.xlsx import write_input_workbook

    path = tempfile.mkstemp(suffix=".xlsx")[1]
    write_input_workbook(path, tables)
    return path


def test_bad_scenario_values_are_cited_at_the_scenarios_cell(write: Write, tables: Tables) -> None:
    tables["Scenarios"] = [
        row("bad", "Countries", "Vietnam", "tariff_rate", 0.46),
        row("bad", "Countries", "Japan", "tariff_rate", "lots"),
        row("bad", "Offerz", "x", "max_t", 1),
        row("bad", "Offers", "CN1", "colour", 1),
        row("bad", "Offers", "CN1|Ga|2026", "max_t", 3),
        row("baseline", "Settings", "exclude_china", "value", True),
        row("bad", "Offers", "CN9", "max_t", 3),
    ]
    found = [str(p) for p in validate(open_workbook(write(tables)))]
    assert 'Scenarios!C2: adds a new Countries row "Vietnam" (no row matched)' in found
    assert 'Scenarios!E3: tariff_rate must be a number (found "lots")' in found
    assert 'Scenarios!C8: no Offers row matches "CN9" (key: supplier | material | period)' in found
    assert 'Scenarios!B4: unknown sheet "Offerz"' in found
    assert any(m.startswith('Scenarios!D5: Offers has no column "colour"') for m in found)
    # a new Offers row needs a price: cited at the key that added it
    assert "Scenarios!C6: price_usd_per_kg is required" in found
    assert any(m.startswith('Scenarios!A7: "baseline" is the workbook as it is') for m in found)


def test_unknown_scenario_name(write: Write, tables: Tables) -> None:
    wb = open_workbook(write(tables))
    with pytest.raises(KeyError, match='unknown scenario "nope"'):
        find_scenario(wb, "nope")


def test_excel_errors_in_scenario_cells_are_cited(write: Write, tables: Tables) -> None:
    """#REF! in a key or #N/A in a value: cited at its cell, never read as text."""
    import openpyxl

    tables["Scenarios"] = [
        row("s1", "Countries", "Vietnam", "tariff_rate", 0.46),
        row("s2", "Countries", "Japan", "tariff_rate", 0.3),
    ]
    path = write(tables)
    wb = openpyxl.load_workbook(path)
    wb["Scenarios"]["C2"] = "#REF!"  # openpyxl stores these as error cells
    wb["Scenarios"]["E3"] = "#N/A"
    wb.save(path)
    found = [str(p) for p in validate(open_workbook(path))]
    assert "Scenarios!C2: key holds the Excel error #REF!; fix the formula or type the key" in found
    assert any(m.startswith("Scenarios!E3: tariff_rate holds the Excel error #N/A") for m in found)
    assert not any("#REF!" in m and "Countries row" in m for m in found)  # not used as a key
