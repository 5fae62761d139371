"""The block-replicated extensive form equals the Pyomo-built one on small instances.

`solve_extensive` (optimizer.model.extensive: one compiled sample replicated as sparse
blocks, first-stage columns and CVaR rows added with numpy) against
tests/ef_reference.py (one Pyomo block per draw, each the full one-stage model, the
coupling written from optimizer.model.first_stage's docstring, Pyomo's HiGHS
interface). The extensive form gets the merged distinct samples (`sample_set`), the
reference every draw at probability 1/n, duplicates as separate blocks: the same LP
optimum.

Three hand-made v1 workbooks, two periods each, with a decided take-or-pay offtake, an
option with a reserve fee, a firm decided offtake and a stock build; explicit
disruption samples with partial magnitudes (0.5, compounded to 0.25), outages from a
later period and tariff shocks. Their optimal first stage is unique (checked: no
solution within a 1e-10 relative slack of the optimum moves any first-stage value by
1e-4 t), so values are compared as well as objectives, and so are the per-sample total
costs (unique once the first stage is). The default workbook (contract v2, a supply
chain: a decided purchase is x plus its shipments to facilities) has ties among optimal
first stages: objectives only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from optimizer.analysis.plan_eval import sample_set
from optimizer.analysis.resilient import Setup, prepare_run
from optimizer.analysis.risks import (
    COUNTRY_OUTAGE,
    EXPORT_BAN,
    SUPPLIER_OUTAGE,
    TARIFF_SHOCK,
    Disruption,
    draw_samples,
    effects,
)
from optimizer.contract.book import DEFAULT_WORKBOOK
from optimizer.model.extensive import METHODS, ExtensiveSolution, solve_extensive
from optimizer.model.first_stage import OPTION, STOCKPILE, TAKE_OR_PAY
from tests.conftest import Tables
from tests.ef_reference import Reference, first_stage_spread, solve_reference
from tests.test_resilient import DRAWS, K, newsvendor

Write = Callable[[Tables], Path]
Draws = list[tuple[Disruption, ...]]
ALPHA = 0.8
#: the uniqueness probe: solutions within this relative slack of the optimum ...
SLACK = 1e-10
#: ... move no first-stage value by more than this (t); an alternative optimum moves
#: one by its own size (the tie below: 10 t)
UNIQUE_T = 1e-4


def one_material() -> tuple[Tables, Draws]:
    """Ga: China cheapest landed (120 USD/kg) but bannable; Japan take-or-pay (f 0.5),
    Australia firm, Korea an option (4.6 USD/kg reserved), a build at 131.3 USD/kg."""
    tables: Tables = {
        "Materials": [{"material": "Ga"}],
        "Demand": [
            {"material": "Ga", "period": 2027, "demand_t": 10},
            {"material": "Ga", "period": 2028, "demand_t": 12.5},
        ],
        "Countries": [
            {"country": "China", "tariff_rate": 0.2},
            {"country": "Japan", "tariff_rate": 0.0, "allied": True},
            {"country": "Australia", "tariff_rate": 0.0, "allied": True},
            {"country": "Korea", "tariff_rate": 0.05, "allied": True},
        ],
        "Suppliers": [
            {"supplier": "CN1", "country": "China"},
            {"supplier": "JP1", "country": "Japan", "capacity_t": 100},
            {"supplier": "AU1", "country": "Australia", "capacity_t": 100},
            {"supplier": "KR1", "country": "Korea", "capacity_t": 100},
        ],
        "Offers": [
            {"supplier": "CN1", "material": "Ga", "price_usd_per_kg": 100},
            {"supplier": "JP1", "material": "Ga", "price_usd_per_kg": 124.7},
            {"supplier": "AU1", "material": "Ga", "price_usd_per_kg": 127.9},
            {"supplier": "KR1", "material": "Ga", "price_usd_per_kg": 171.1},
        ],
        "Offtakes": [
            {"supplier": "JP1", "material": "Ga", "max_t": 6, "take_or_pay": 0.5, "decide": True},
            {"supplier": "AU1", "material": "Ga", "max_t": 5, "decide": True},
            {
                "supplier": "KR1",
                "material": "Ga",
                "max_t": 15,
                "take_or_pay": 0,
                "decide": True,
                "reserve_usd_per_kg": 4.6,
            },
        ],
        "Stockpile": [
            {
                "material": "Ga",
                "initial_t": 0,
                "holding_usd_per_kg": 2,
                "decide": True,
                "build_max_t": 6,
                "build_price_usd_per_kg": 131.3,
            }
        ],
        "Settings": [{"setting": "unmet_penalty_usd_per_kg", "value": 1000}],
    }
    half_ban = Disruption(EXPORT_BAN, "Ga", 0.5)
    draws: Draws = [
        *[()] * 5,
        (Disruption(EXPORT_BAN, "Ga", 1.0),),
        (half_ban,),
        (half_ban,),
        (Disruption(SUPPLIER_OUTAGE, "JP1", 0.5),),
        (Disruption(TARIFF_SHOCK, "Japan", 0.5),),  # the take-or-pay is left untaken, paid
        (Disruption(TARIFF_SHOCK, "China", 0.25),),
        (Disruption(SUPPLIER_OUTAGE, "AU1", 1.0, "2028"), half_ban),
    ]
    return tables, draws


def two_materials() -> tuple[Tables, Draws]:
    """Ge with a China share cap, initial and reserve stock, a take-or-pay with min_t 1, a
    build priced by the cheapest first-period offer; Dy with no decision beside it."""
    tables: Tables = {
        "Materials": [{"material": "Ge"}, {"material": "Dy"}],
        "Demand": [
            {"material": "Ge", "period": 2027, "demand_t": 8},
            {"material": "Ge", "period": 2028, "demand_t": 9},
            {"material": "Dy", "period": 2027, "demand_t": 3},
            {"material": "Dy", "period": 2028, "demand_t": 3.5},
        ],
        "Countries": [
            {"country": "China", "tariff_rate": 0.25},
            {"country": "Belgium", "tariff_rate": 0.1, "allied": True},
            {"country": "Canada", "tariff_rate": 0.0, "allied": True},
            {"country": "Japan", "tariff_rate": 0.03, "allied": True},
            {"country": "Malaysia", "tariff_rate": 0.05},
        ],
        "Suppliers": [
            {"supplier": "CN2", "country": "China"},
            {"supplier": "CN3", "country": "China"},
            {"supplier": "BE1", "country": "Belgium", "capacity_t": 12},
            {"supplier": "CA1", "country": "Canada", "capacity_t": 10},
            {"supplier": "JP2", "country": "Japan", "capacity_t": 20},
            {"supplier": "MY1", "country": "Malaysia", "capacity_t": 5},
        ],
        "Offers": [
            {"supplier": "CN2", "material": "Ge", "price_usd_per_kg": 1500},
            {
                "supplier": "BE1",
                "material": "Ge",
                "price_usd_per_kg": 1650,
                "freight_usd_per_kg": 7,
            },
            {"supplier": "CA1", "material": "Ge", "price_usd_per_kg": 1720},
            {"supplier": "JP2", "material": "Ge", "price_usd_per_kg": 1790},
            {"supplier": "CN3", "material": "Dy", "price_usd_per_kg": 300},
            {"supplier": "MY1", "material": "Dy", "price_usd_per_kg": 383},
        ],
        "Offtakes": [
            {
                "supplier": "BE1",
                "material": "Ge",
                "min_t": 1,
                "max_t": 7,
                "take_or_pay": 0.3,
                "decide": True,
            },
            {"supplier": "CA1", "material": "Ge", "max_t": 4, "decide": True},
            {
                "supplier": "JP2",
                "material": "Ge",
                "max_t": 6,
                "take_or_pay": 0,
                "decide": True,
                "reserve_usd_per_kg": 41,
            },
        ],
        "Stockpile": [
            {
                "material": "Ge",
                "initial_t": 2,
                "reserve_t": 1,
                "holding_usd_per_kg": 15,
                "decide": True,
                "build_max_t": 8,
            }
        ],
        "Settings": [
            {"setting": "unmet_penalty_usd_per_kg", "value": 5000},
            {"setting": "max_china_share", "value": 0.7},
        ],
    }
    china_half = (Disruption(COUNTRY_OUTAGE, "China", 0.5),)
    draws: Draws = [
        *[()] * 6,
        china_half,
        china_half,
        (Disruption(EXPORT_BAN, "Ge", 1.0, "2028"),),
        (Disruption(EXPORT_BAN, "Ge", 0.5),),
        (Disruption(SUPPLIER_OUTAGE, "BE1", 0.5, "2028"),),
        (Disruption(TARIFF_SHOCK, "Belgium", 0.25),),
        (Disruption(TARIFF_SHOCK, "Canada", 0.4), Disruption(EXPORT_BAN, "Ge", 0.5)),
        (Disruption(SUPPLIER_OUTAGE, "CA1", 1.0), Disruption(COUNTRY_OUTAGE, "Japan", 0.5)),
    ]
    return tables, draws


def carbon_and_contract() -> tuple[Tables, Draws]:
    """Ga with a carbon price and an allied minimum; the take-or-pay (f 1) at a contract
    price with a reserve fee, a firm offtake with min_t 2, a build with build_min_t 1."""
    tables: Tables = {
        "Materials": [{"material": "Ga"}],
        "Demand": [
            {"material": "Ga", "period": 2026, "demand_t": 14},
            {"material": "Ga", "period": 2027, "demand_t": 11},
        ],
        "Countries": [
            {"country": "China", "tariff_rate": 0.3},
            {"country": "Germany", "tariff_rate": 0.02, "allied": True},
            {"country": "Japan", "tariff_rate": 0.0, "allied": True},
            {"country": "Kazakhstan", "tariff_rate": 0.1},
        ],
        "Suppliers": [
            {"supplier": "CN1", "country": "China"},
            {"supplier": "DE1", "country": "Germany", "capacity_t": 9},
            {"supplier": "JP1", "country": "Japan", "capacity_t": 30},
            {"supplier": "KZ1", "country": "Kazakhstan", "capacity_t": 7},
        ],
        "Offers": [
            {
                "supplier": s,
                "material": "Ga",
                "price_usd_per_kg": price,
                "emissions_kg_co2e_per_kg": co2,
            }
            for s, price, co2 in (
                ("CN1", 210, 40),
                ("DE1", 262, 12),
                ("JP1", 301, 9),
                ("KZ1", 239, 25),
            )
        ],
        "Offtakes": [
            {
                "supplier": "DE1",
                "material": "Ga",
                "max_t": 9,
                "take_or_pay": 1.0,
                "contract_price_usd_per_kg": 255,
                "decide": True,
                "reserve_usd_per_kg": 1.5,
            },
            {"supplier": "KZ1", "material": "Ga", "min_t": 2, "max_t": 7, "decide": True},
            {
                "supplier": "JP1",
                "material": "Ga",
                "max_t": 12,
                "take_or_pay": 0,
                "decide": True,
                "reserve_usd_per_kg": 11,
            },
        ],
        "Stockpile": [
            {
                "material": "Ga",
                "initial_t": 1,
                "holding_usd_per_kg": 6,
                "decide": True,
                "build_min_t": 1,
                "build_max_t": 9,
                "build_price_usd_per_kg": 290,
            }
        ],
        "Settings": [
            {"setting": "unmet_penalty_usd_per_kg", "value": 2500},
            {"setting": "min_allied_share", "value": 0.25},
            {"setting": "carbon_price_usd_per_t_co2e", "value": 90},
        ],
    }
    draws: Draws = [
        *[()] * 4,
        (Disruption(EXPORT_BAN, "Ga", 0.5),),
        (Disruption(EXPORT_BAN, "Ga", 1.0, "2027"),),
        # compounded: DE1 keeps 0.5 x 0.5 = 0.25 of its output, and of its offtake
        (Disruption(SUPPLIER_OUTAGE, "DE1", 0.5), Disruption(COUNTRY_OUTAGE, "Germany", 0.5)),
        (Disruption(SUPPLIER_OUTAGE, "KZ1", 1.0),),
        (Disruption(TARIFF_SHOCK, "Germany", 0.25), Disruption(TARIFF_SHOCK, "China", 0.25)),
        (Disruption(COUNTRY_OUTAGE, "Japan", 0.5, "2027"), Disruption(EXPORT_BAN, "Ga", 0.5)),
        (Disruption(TARIFF_SHOCK, "Kazakhstan", 0.6),),
    ]
    return tables, draws


INSTANCES = {
    "one_material": one_material,
    "two_materials": two_materials,
    "carbon_and_contract": carbon_and_contract,
}


def solve_both(
    setup: Setup, draws: Draws, risk_weight: float, method: str = "simplex"
) -> tuple[ExtensiveSolution, Reference, list[tuple[Disruption, ...]]]:
    """Both extensive forms over `draws`; also the distinct draws in the block order."""
    fit = sample_set(setup.stage, draws)
    ext = solve_extensive(
        setup.stage, fit.vectors, fit.keeps, fit.probabilities, risk_weight, ALPHA, method
    )
    ref = solve_reference(setup.first, draws, [1.0 / len(draws)] * len(draws), risk_weight, ALPHA)
    assert ext.status == "optimal"
    assert ref.status == "convergenceCriteriaSatisfied"
    return ext, ref, fit.draws


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("risk_weight", [0.0, 1.0])
@pytest.mark.parametrize("name", list(INSTANCES))
def test_hand_instances_agree(write: Write, name: str, risk_weight: float, method: str) -> None:
    """Objective, first-stage values and each sample's total cost, with HiGHS's simplex
    and its interior point method (crossover gives the vertex) for the block form."""
    tables, draws = INSTANCES[name]()
    setup = prepare_run(write(tables))
    assert len(setup.first.decisions) == 7  # 3 offtakes x 2 periods and the build
    ext, ref, distinct = solve_both(setup, draws, risk_weight, method)

    spread = first_stage_spread(ref, SLACK * abs(ref.objective_usd))
    assert max(spread) < UNIQUE_T, f"alternative optimal first stages: spreads {spread}"

    assert ext.objective_usd == pytest.approx(ref.objective_usd, rel=1e-7)
    assert ext.values == pytest.approx(ref.values, abs=1e-6)
    by_draw: dict[tuple[Disruption, ...], list[float]] = {}
    for drawn, cost in zip(draws, ref.sample_cost_usd, strict=True):
        by_draw.setdefault(drawn, []).append(cost)
    for drawn, cost in zip(distinct, ext.sample_cost_usd, strict=True):
        assert by_draw[drawn] == pytest.approx([cost] * len(by_draw[drawn]), rel=1e-7)


def test_the_instances_exercise_every_coupling(write: Write) -> None:
    """What the comparison above covers, read off the reference's optimum: each kind of
    decision committed, a take-or-pay paid untaken, an option exercised, a commitment cut
    by force majeure, and the CVaR weight changing the plan."""
    seen: set[str] = set()
    for make in INSTANCES.values():
        tables, draws = make()
        setup = prepare_run(write(tables))
        plans = []
        for risk_weight in (0.0, 1.0):
            p = [1.0 / len(draws)] * len(draws)
            ref = solve_reference(setup.first, draws, p, risk_weight, ALPHA)
            plans.append(ref.values)
            m = ref.model
            for i, d in enumerate(setup.first.decisions):
                if ref.values[i] > d.lower_t + 1e-6:
                    seen.add(f"committed {d.kind} {d.binding}")
                if d.kind == STOCKPILE:
                    continue
                for s, drawn in enumerate(draws):
                    blk = m.component(f"s{s}")
                    if d.binding == TAKE_OR_PAY and blk.w[d.buy].value > 1e-6:
                        seen.add("take-or-pay paid untaken")
                    if d.binding == OPTION and blk.x[d.buy].value > 1e-6:
                        seen.add("option exercised")
                    kept = effects(setup.first.second, drawn)[0].get(d.buy, 1.0)
                    if ref.values[i] > 1e-6 and kept < 1 and d.binding != OPTION:
                        seen.add(f"force majeure {d.binding}")
        assert max(abs(a - b) for a, b in zip(*plans, strict=True)) > 0.1  # CVaR matters
    assert seen >= {
        "committed offtake firm",
        "committed offtake take_or_pay",
        "committed reserve option",
        "committed stockpile firm",
        "take-or-pay paid untaken",
        "option exercised",
        "force majeure firm",
        "force majeure take_or_pay",
    }


def test_reference_solves_the_newsvendor_by_hand(write: Write) -> None:
    """The reference alone on tests/test_resilient.py's newsvendor: k* = 6 t, E = 1170 K;
    with lambda = 1 (CVaR_0.8) the whole 10 t build, objective 2400 K."""
    setup = prepare_run(write(newsvendor()))
    p = [1.0 / len(DRAWS)] * len(DRAWS)
    ref = solve_reference(setup.first, DRAWS, p)
    assert ref.values == pytest.approx((6.0,), abs=1e-7)
    assert ref.objective_usd == pytest.approx(1170 * K, rel=1e-9)
    assert sorted(ref.sample_cost_usd) == pytest.approx([1120 * K] * 3 + [1320 * K], rel=1e-9)
    ref = solve_reference(setup.first, DRAWS, p, risk_weight=1.0, alpha=0.8)
    assert ref.values == pytest.approx((10.0,), abs=1e-7)
    assert ref.objective_usd == pytest.approx(2400 * K, rel=1e-9)


def test_the_uniqueness_probe_sees_a_tie(write: Write) -> None:
    """A build at China's price, no holding cost and no disruption: every build from 0 to
    10 t is optimal, and the probe says so."""
    tables = copy.deepcopy(newsvendor())
    tables["Stockpile"][0]["build_price_usd_per_kg"] = 100
    setup = prepare_run(write(tables))
    ref = solve_reference(setup.first, [()], [1.0])
    assert ref.objective_usd == pytest.approx(1000 * K, rel=1e-9)
    assert first_stage_spread(ref, SLACK * ref.objective_usd) == pytest.approx([10.0], abs=1e-6)


@pytest.fixture(scope="module")
def default_setup() -> Setup:
    return prepare_run(DEFAULT_WORKBOOK)


@pytest.mark.parametrize("risk_weight", [0.0, 0.5])
@pytest.mark.parametrize("seed", [1, 3])
def test_default_workbook_objectives_agree(
    default_setup: Setup, seed: int, risk_weight: float
) -> None:
    """Contract v2 with its supply chain, 5 drawn samples: the same optimum. Its first stage
    has ties (the two solves may pick different optimal plans), so only the objective is
    compared."""
    draws = draw_samples(default_setup.risks, default_setup.first.second, 5, seed)
    assert len(set(draws)) == 5  # five blocks on both sides
    ext, ref, _ = solve_both(default_setup, draws, risk_weight)
    assert ext.objective_usd == pytest.approx(ref.objective_usd, rel=1e-7)
