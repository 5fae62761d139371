"""Solve behaviour: in-place updates equal rebuilds, honest statuses, explained infeasibility."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from optimizer.common.problems import InvalidInputError
from optimizer.contract.book import Workbook, open_workbook
from optimizer.model.data import ModelData, check_finite
from optimizer.model.reference import Optimizer
from optimizer.model.solution import Status
from optimizer.runs.pipeline import model_data
from tests.conftest import Tables

Write = Callable[[Tables], Path]


def with_tariff(data: ModelData, country: str, rate: float) -> ModelData:
    buys = {
        k: replace(b, tariff_rate=rate) if b.country == country else b for k, b in data.buys.items()
    }
    return replace(data, buys=buys)


def with_capacity(data: ModelData, supplier: str, cap: float) -> ModelData:
    caps = {k: (cap if k[0] == supplier else v) for k, v in data.capacity.items()}
    return replace(data, capacity=caps)


def test_update_in_place_matches_a_rebuild(default_wb: Workbook) -> None:
    _, data = model_data(default_wb)
    opt = Optimizer(data)
    first = opt.solve()
    assert first.status is Status.OPTIMAL
    changed = with_capacity(with_tariff(data, "China", 0.45), "Lynas Kuantan", 500.0)
    assert opt.update(changed) is True  # same structure: parameters only
    warm = opt.solve()
    cold = Optimizer(changed).solve()
    assert warm.status is cold.status is Status.OPTIMAL
    assert warm.objective_usd == pytest.approx(cold.objective_usd, rel=1e-9)
    assert warm.objective_usd != pytest.approx(first.objective_usd, rel=1e-6)
    # and back again: the original optimum is recovered
    opt.update(data)
    assert opt.solve().objective_usd == pytest.approx(first.objective_usd, rel=1e-9)


def test_structure_change_rebuilds(default_wb: Workbook) -> None:
    _, data = model_data(default_wb)
    opt = Optimizer(data)
    opt.solve()
    strict = replace(data, settings=replace(data.settings, max_country_share=0.6))
    assert opt.update(strict) is False and opt.rebuilds == 1
    assert opt.solve().objective_usd == pytest.approx(Optimizer(strict).solve().objective_usd)


def test_time_limit_does_not_stick_to_later_solves(default_wb: Workbook) -> None:
    _, data = model_data(default_wb)
    opt = Optimizer(data)
    limited = opt.solve(time_limit=0.0)
    assert limited.status is Status.TIME_LIMIT and limited.objective_usd is None
    assert opt.solve().status is Status.OPTIMAL


def test_non_finite_data_never_reaches_the_solver(default_wb: Workbook) -> None:
    _, data = model_data(default_wb)
    assert check_finite(data) == []
    for bad in (math.nan, math.inf):
        broken = with_tariff(data, "China", bad)
        with pytest.raises(InvalidInputError):
            Optimizer(broken)
        opt = Optimizer(data)
        with pytest.raises(InvalidInputError):
            opt.update(broken)


def test_infeasible_names_material_period_and_limit(write: Write, tables: Tables) -> None:
    tables["Suppliers"][1]["capacity_t"] = 6
    tables["Settings"] = [
        {"setting": "exclude_china", "value": True},
        {"setting": "allow_unmet", "value": False},
    ]
    wb = open_workbook(write(tables))
    _, data = model_data(wb)
    sol = Optimizer(data).solve()
    assert sol.status is Status.INFEASIBLE and sol.objective_usd is None
    text = sol.message
    assert "Ga 2026: short by 4 t of 10 t demand" in text
    assert "capacity of JP1 in 2026 (6 t)" in text
    assert "CN1 / Ga 2026 excluded (China origin)" in text


def test_offtake_above_its_offer_is_explained(write: Write, tables: Tables) -> None:
    tables["Offers"][1]["max_t"] = 2
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "min_t": 5}]
    _, data = model_data(open_workbook(write(tables)))
    sol = Optimizer(data).solve()
    assert sol.status is Status.INFEASIBLE
    assert "offtake JP1 / Ga 2026: minimum 5 t above the 2 t allowed (max_t)" in sol.message


def test_demand_without_any_offer_and_no_unmet_allowed(write: Write, tables: Tables) -> None:
    tables["Materials"].append({"material": "Tb"})
    tables["Demand"].append({"material": "Tb", "period": 2026, "demand_t": 3})
    tables["Settings"] = [{"setting": "allow_unmet", "value": False}]
    wb: Workbook = open_workbook(write(tables))
    _, data = model_data(wb)
    sol = Optimizer(data).solve()
    assert sol.status is Status.INFEASIBLE
    assert "Tb 2026: demand 3 t but no offer in that period" in sol.message
