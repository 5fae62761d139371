"""Validation: every problem at once, each cited as Sheet!Cell with a plain message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from optimizer.common.problems import InputFileError, InvalidInputError
from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import open_workbook, validate
from tests.conftest import Tables

Write = Callable[[Tables], Path]


def messages(path: Path) -> list[str]:
    return [str(p) for p in validate(open_workbook(path)) if p.severity == "error"]


def test_clean_tiny_workbook_has_no_problems(write: Write, tables: Tables) -> None:
    assert messages(write(tables)) == []


def test_text_in_a_number_cell_is_cited(write: Write, tables: Tables) -> None:
    tables["Offers"][1]["price_usd_per_kg"] = "TBD"
    assert messages(write(tables)) == ['Offers!C3: price_usd_per_kg must be a number (found "TBD")']


def test_every_problem_is_reported_at_once(write: Write, tables: Tables) -> None:
    tables["Offers"][0]["price_usd_per_kg"] = -3
    tables["Countries"][1]["tariff_rate"] = 19
    tables["Demand"][1]["demand_t"] = None
    tables["Suppliers"][1]["country"] = "Japn"
    tables["Offers"].append({"supplier": "CN1", "material": "Ga", "price_usd_per_kg": 9})
    found = messages(write(tables))
    assert "Offers!C2: price_usd_per_kg must not be negative (found -3)" in found
    assert (
        "Countries!B3: tariff_rate is a fraction between 0 and 1 (found 19); "
        "write 0.19 or 19% for 19%" in found
    )
    assert "Demand!C3: demand_t is required" in found
    assert 'Suppliers!B3: country "Japn" is not in Countries (did you mean "Japan"?)' in found
    assert "Offers!A4: duplicate row for (CN1, Ga, blank); first at Offers!A2" in found
    assert len(found) == 5


def test_missing_sheet_and_column(write: Write, tables: Tables) -> None:
    del tables["Countries"]
    for row in tables["Offers"]:
        del row["price_usd_per_kg"]
    found = messages(write(tables))
    assert "Countries: required sheet is missing" in found
    assert any(
        m.startswith("Offers!1: required column 'price_usd_per_kg' is missing") for m in found
    )


def test_offtake_without_offer_and_unknown_period(write: Write, tables: Tables) -> None:
    tables["Materials"].append({"material": "Ge"})
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Ge", "min_t": 1}]
    tables["Offers"][0]["period"] = 2030
    found = messages(write(tables))
    assert 'Offtakes!A2: supplier "JP1" has no offer for "Ge"' in found
    assert 'Offers!D2: period "2030" is not a Demand period (2026, 2027)' in found


def test_bad_booleans_choices_and_settings(write: Write, tables: Tables) -> None:
    tables["Countries"][1]["allied"] = "maybe"
    tables["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 5, "applies_to": "some"}]
    tables["Settings"] = [
        {"setting": "exclude_chna", "value": True},
        {"setting": "max_china_share", "value": 1.5},
    ]
    found = messages(write(tables))
    assert 'Countries!C3: allied must be TRUE or FALSE (found "maybe")' in found
    assert 'PriceFloors!C2: applies_to must be one of high_standard, all (found "some")' in found
    assert any(
        m.startswith('Settings!A2: unknown setting "exclude_chna" (did you mean') for m in found
    )
    assert any(m.startswith("Settings!B3: max_china_share is a fraction") for m in found)


def test_excel_error_cell_is_cited(tmp_path: Path, tables: Tables) -> None:
    path = tmp_path / "err.xlsx"
    write_input_workbook(path, tables)
    wb = openpyxl.load_workbook(path)
    wb["Offers"]["C2"] = "#DIV/0!"  # openpyxl stores this as an error cell
    wb.save(path)
    found = messages(path)
    assert found == [
        "Offers!C2: price_usd_per_kg holds the Excel error #DIV/0!; fix the formula or type a value"
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e20])
def test_non_finite_and_absurd_numbers_are_rejected(
    write: Write, tables: Tables, value: float
) -> None:
    tables["Offers"][0]["price_usd_per_kg"] = value
    found = messages(write(tables))
    assert len(found) == 1 and found[0].startswith("Offers!C2: price_usd_per_kg")


def test_names_are_case_insensitive_and_extra_columns_ignored(
    tmp_path: Path, tables: Tables
) -> None:
    renamed = {
        name.upper(): [{k.title(): v for k, v in r.items()} for r in rows]
        for name, rows in tables.items()
    }
    renamed["OFFERS"][0]["Source"] = "a quote"
    path = tmp_path / "upper.xlsx"
    write_input_workbook(path, renamed)
    assert messages(path) == []


def test_percent_cells_and_blank_rows(tmp_path: Path, tables: Tables) -> None:
    path = tmp_path / "pct.xlsx"
    write_input_workbook(path, tables)
    wb = openpyxl.load_workbook(path)
    ws = wb["Countries"]
    ws["B3"].number_format = "0%"  # a percent-formatted 0.15 is still 0.15
    ws.insert_rows(3)  # a blank row in the middle is ignored
    wb.save(path)
    assert messages(path) == []


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        open_workbook(tmp_path / "nope.xlsx")
    csv = tmp_path / "data.xlsx"
    csv.write_text("material,demand_t\nGa,1\n")
    with pytest.raises(InputFileError, match=r"not an \.xlsx workbook"):
        open_workbook(csv)


def test_invalid_input_error_carries_only_errors(write: Write, tables: Tables) -> None:
    from optimizer.contract.book import check_all

    tables["Offers"][0]["price_usd_per_kg"] = "x"
    with pytest.raises(InvalidInputError) as info:
        check_all(open_workbook(write(tables)), ["baseline"])
    assert [p.where for p in info.value.problems] == ["Offers!C2"]
