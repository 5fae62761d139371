"""Shared helpers: tiny workbooks written as real .xlsx files with openpyxl."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import DEFAULT_WORKBOOK, Workbook, open_workbook
from optimizer.output.results import Results
from optimizer.runs.pipeline import solve_scenario

# CLI runs in the tests solve their scenarios in one process (in-process runs would spawn
# workers, pytest holding threads, and pay every import again); the parallel path has
# its own tests (test_cli.py), which pass --workers
os.environ.setdefault("SOURCING_WORKERS", "1")

Tables = dict[str, list[dict[str, Any]]]

ROOT = Path(__file__).resolve().parent.parent


def tiny_tables() -> Tables:
    """One material, two periods, a Chinese and a Japanese supplier."""
    return {
        "Materials": [{"material": "Ga"}],
        "Demand": [
            {"material": "Ga", "period": 2026, "demand_t": 10},
            {"material": "Ga", "period": 2027, "demand_t": 10},
        ],
        "Countries": [
            {"country": "China", "tariff_rate": 0.20},
            {"country": "Japan", "tariff_rate": 0.15, "allied": True},
        ],
        "Suppliers": [
            {"supplier": "CN1", "country": "China", "capacity_t": 100},
            {"supplier": "JP1", "country": "Japan", "capacity_t": 100},
        ],
        "Offers": [
            {"supplier": "CN1", "material": "Ga", "price_usd_per_kg": 10},
            {"supplier": "JP1", "material": "Ga", "price_usd_per_kg": 12},
        ],
    }


@pytest.fixture
def tables() -> Tables:
    """A fresh copy of the tiny instance, to modify per test."""
    return copy.deepcopy(tiny_tables())


@pytest.fixture
def write(tmp_path: Path) -> Callable[[Tables], Path]:
    """Write tables to a real .xlsx file and return its path."""
    counter = iter(range(10_000))

    def _write(tables: Tables) -> Path:
        path = tmp_path / f"wb{next(counter)}.xlsx"
        write_input_workbook(path, tables)
        return path

    return _write


@pytest.fixture
def solve(write: Callable[[Tables], Path]) -> Callable[..., Results]:
    """Write tables, solve one scenario, return its Results."""

    def _solve(tables: Tables, scenario: str = "baseline", analyze: bool = False) -> Results:
        wb = open_workbook(write(tables))
        return solve_scenario(wb, scenario, analyze=analyze)[2]

    return _solve


@pytest.fixture(scope="session")
def default_wb() -> Workbook:
    """The embedded default workbook."""
    return open_workbook(DEFAULT_WORKBOOK)
