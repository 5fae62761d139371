"""Hand-solvable instances with exact optima. Objective in USD = 1000 x USD/kg x t."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from optimizer.model.solution import Status
from optimizer.output.results import Results
from tests.conftest import Tables

Solve = Callable[..., Results]


def bought(res: Results, supplier: str, period: str | None = None) -> float:
    a = res.allocation
    sel = a["supplier"] == supplier
    if period is not None:
        sel &= a["period"] == period
    return float(a.loc[sel, "quantity_t"].sum())


def test_single_supplier(solve: Solve) -> None:
    tables: Tables = {
        "Materials": [{"material": "Ge"}],
        "Demand": [{"material": "Ge", "period": 2026, "demand_t": 5}],
        "Countries": [{"country": "Belgium", "tariff_rate": 0.15, "allied": True}],
        "Suppliers": [{"supplier": "Umicore", "country": "Belgium", "capacity_t": 30}],
        "Offers": [
            {
                "supplier": "Umicore",
                "material": "Ge",
                "price_usd_per_kg": 3000,
                "freight_usd_per_kg": 5,
            }
        ],
    }
    res = solve(tables)
    assert res.status is Status.OPTIMAL
    # 5 t x 1000 kg x (3000 x 1.15 + 5) USD/kg; customs value excludes freight
    assert res.total_cost_usd == pytest.approx(5 * 1000 * (3000 * 1.15 + 5))
    assert res.cost_breakdown_usd["tariff"] == pytest.approx(5 * 1000 * 3000 * 0.15)
    assert res.cost_breakdown_usd["freight"] == pytest.approx(5 * 1000 * 5)
    # marginal landed cost of demand = the only supplier's landed cost
    demand = res.shadow_prices[res.shadow_prices["constraint"] == "demand"]
    assert demand["usd_per_kg"].iloc[0] == pytest.approx(3455.0)


def test_tariff_flips_the_choice(solve: Solve, tables: Tables) -> None:
    # China landed 10 x 1.20 = 12.0 < Japan 12 x 1.15 = 13.8: China wins
    res = solve(tables)
    assert bought(res, "CN1") == pytest.approx(20)
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 12.0)
    # China at 40%: 14.0 > 13.8, Japan wins
    tables["Countries"][0]["tariff_rate"] = 0.40
    res = solve(tables)
    assert bought(res, "JP1") == pytest.approx(20)
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 13.8)


def test_per_material_tariff_override(solve: Solve, tables: Tables) -> None:
    tables["TariffOverrides"] = [{"country": "Japan", "material": "Ga", "tariff_rate": 0.0}]
    res = solve(tables)  # Japan 12.0 ties China 12.0; cost is the same either way
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 12.0)
    tables["Countries"][1]["tariff_rate"] = 0.5  # the override still wins over the country rate
    assert solve(tables).total_cost_usd == pytest.approx(20 * 1000 * 12.0)


def test_price_floor_high_standard_only(solve: Solve, tables: Tables) -> None:
    tables["Suppliers"][1]["high_standard"] = True
    tables["Offers"][1]["price_usd_per_kg"] = 9  # JP1 landed 9 x 1.15 = 10.35 beats 12.0
    tables["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 11}]
    # floor lifts JP1 to 11 -> 12.65 > 12.0, China wins
    res = solve(tables)
    assert bought(res, "CN1") == pytest.approx(20)
    tables["PriceFloors"][0]["floor_usd_per_kg"] = 10  # 10 x 1.15 = 11.5 < 12.0
    res = solve(tables)
    assert bought(res, "JP1") == pytest.approx(20)
    row = res.allocation.iloc[0]
    assert row["price_paid_usd_per_kg"] == 10 and bool(row["floor_applied"])
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 11.5)


def test_price_floor_all(solve: Solve, tables: Tables) -> None:
    tables["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 12, "applies_to": "all"}]
    # both at 12: China 14.4, Japan 13.8
    res = solve(tables)
    assert bought(res, "JP1") == pytest.approx(20)
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 13.8)


def test_take_or_pay(solve: Solve, tables: Tables) -> None:
    # Japan minimum 8 t/period, 50% paid on the untaken part; China is cheaper (12.0 vs 13.8).
    # Taking 1 t costs 13.8 - 12.0 = 1.8 extra; not taking costs 0.5 x 12 = 6 -> take all 8.
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "min_t": 8, "take_or_pay": 0.5}]
    res = solve(tables)
    assert bought(res, "JP1", "2026") == pytest.approx(8)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (8 * 13.8 + 2 * 12.0))
    # At 10% paid (1.2/kg), paying beats taking: nothing taken, 8 t x 1.2 paid per period.
    tables["Offtakes"][0]["take_or_pay"] = 0.1
    res = solve(tables)
    assert bought(res, "JP1") == pytest.approx(0)
    assert res.cost_breakdown_usd["take_or_pay"] == pytest.approx(2 * 8 * 1000 * 1.2)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (10 * 12.0 + 8 * 1.2))


def test_hard_offtake_minimum_and_contract_price(solve: Solve, tables: Tables) -> None:
    tables["Offtakes"] = [
        {"supplier": "JP1", "material": "Ga", "min_t": 3, "contract_price_usd_per_kg": 11}
    ]
    res = solve(tables)  # contract 11 x 1.15 = 12.65 > 12.0, but 3 t are a hard minimum
    assert bought(res, "JP1", "2026") == pytest.approx(3)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (3 * 12.65 + 7 * 12.0))


def test_china_share_cap(solve: Solve, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "max_china_share", "value": 0.3}]
    res = solve(tables)
    assert bought(res, "CN1", "2026") == pytest.approx(3)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (3 * 12.0 + 7 * 13.8))
    cap = res.shadow_prices[res.shadow_prices["constraint"] == "china_share_cap"]
    # relaxing the cap by one tonne of China volume saves 13.8 - 12.0 = 1.8 USD/kg
    assert cap["usd_per_kg"].iloc[0] == pytest.approx(1.8)


def test_exclude_china(solve: Solve, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "exclude_china", "value": "yes"}]
    res = solve(tables)
    assert bought(res, "CN1") == 0 and res.china_value_share == 0
    assert res.total_cost_usd == pytest.approx(20 * 1000 * 13.8)


def test_allied_minimum(solve: Solve, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "min_allied_share", "value": "60%"}]
    res = solve(tables)
    assert bought(res, "JP1", "2026") == pytest.approx(6)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (6 * 13.8 + 4 * 12.0))


def test_country_cap(solve: Solve, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "max_country_share", "value": 0.75}]
    res = solve(tables)
    assert bought(res, "CN1", "2027") == pytest.approx(7.5)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (7.5 * 12.0 + 2.5 * 13.8))


def test_capacity_and_unmet_penalty(solve: Solve, tables: Tables) -> None:
    tables["Suppliers"][0]["capacity_t"] = 4
    tables["Suppliers"][1]["capacity_t"] = 5
    tables["Settings"] = [{"setting": "unmet_penalty_usd_per_kg", "value": 50}]
    res = solve(tables)
    assert res.unmet_t == pytest.approx(2)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (4 * 12.0 + 5 * 13.8 + 1 * 50))
    caps = res.shadow_prices[res.shadow_prices["constraint"] == "capacity"]
    # one more tonne at CN1 replaces unmet at 50 with 12.0: saves 38 USD/kg
    cn = caps[caps["supplier"] == "CN1"]["usd_per_kg"]
    assert cn.iloc[0] == pytest.approx(38.0)


def test_stockpile_carries_supply_to_a_later_period(solve: Solve, tables: Tables) -> None:
    # Japan only offers in 2026; China is excluded; stock carries 2026 buys into 2027.
    tables["Offers"][1]["period"] = 2026
    tables["Settings"] = [{"setting": "exclude_china", "value": True}]
    tables["Stockpile"] = [{"material": "Ga", "initial_t": 2, "holding_usd_per_kg": 0.5}]
    res = solve(tables)
    assert res.unmet_t == pytest.approx(0)
    assert bought(res, "JP1", "2026") == pytest.approx(18)  # 10 + 10 - 2 initial
    # 18 t x 13.8; stock held through 2026: 10 t at 0.5
    assert res.total_cost_usd == pytest.approx(1000 * (18 * 13.8 + 10 * 0.5))


def test_stock_reserve(solve: Solve, tables: Tables) -> None:
    tables["Stockpile"] = [{"material": "Ga", "reserve_t": 5}]
    res = solve(tables)  # build 5 t in 2026 and keep it: 25 t from China at 12.0
    assert bought(res, "CN1") == pytest.approx(25)
    assert res.total_cost_usd == pytest.approx(25 * 1000 * 12.0)


def test_transportation_problem(solve: Solve) -> None:
    """The classic (Dantzig) transportation problem: optimum 153.675 thousand dollars.

    Plants become suppliers with capacity; markets become materials with demand;
    the cost per case, 90 $/case per thousand miles x distance / 1000, is the price.
    """
    distance = {
        ("seattle", "new-york"): 2.5,
        ("seattle", "chicago"): 1.7,
        ("seattle", "topeka"): 1.8,
        ("san-diego", "new-york"): 2.5,
        ("san-diego", "chicago"): 1.8,
        ("san-diego", "topeka"): 1.4,
    }
    tables: Tables = {
        "Materials": [{"material": m} for m in ("new-york", "chicago", "topeka")],
        "Demand": [
            {"material": "new-york", "period": 1, "demand_t": 325},
            {"material": "chicago", "period": 1, "demand_t": 300},
            {"material": "topeka", "period": 1, "demand_t": 275},
        ],
        "Countries": [{"country": "usa", "tariff_rate": 0}],
        "Suppliers": [
            {"supplier": "seattle", "country": "usa", "capacity_t": 350},
            {"supplier": "san-diego", "country": "usa", "capacity_t": 600},
        ],
        "Offers": [
            {"supplier": p, "material": m, "price_usd_per_kg": 90 * d / 1000}
            for (p, m), d in distance.items()
        ],
        "Settings": [{"setting": "allow_unmet", "value": False}],
    }
    res = solve(tables)
    assert res.status is Status.OPTIMAL
    assert res.total_cost_usd == pytest.approx(153_675.0)
    assert res.unmet_t == 0


def test_offer_limit_value_from_reduced_cost(solve: Solve, tables: Tables) -> None:
    tables["Offers"][0]["max_t"] = 4  # China capped at 4 t: the rest from Japan at 13.8
    res = solve(tables)
    assert res.total_cost_usd == pytest.approx(2 * 1000 * (4 * 12.0 + 6 * 13.8))
    limit = res.shadow_prices[res.shadow_prices["constraint"] == "offer_limit"]
    assert list(limit["supplier"]) == ["CN1", "CN1"]
    assert list(limit["usd_per_kg"]) == pytest.approx([1.8, 1.8])
    assert any("CN1 offer limit binds in 2026, 2027" in h for h in res.highlights)
