"""Honest numbers: tariffs by legal basis and date, who pays a price floor, spend apart from
the penalty. Hand-solvable instances with exact optima, and contract v1 unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optimizer.contract.book import open_workbook, validate
from optimizer.runs import cli
from optimizer.runs.pipeline import solve_scenario
from tests.conftest import ROOT, Tables

Write = Callable[[Tables], Path]
V1_WORKBOOK = ROOT / "tests" / "data" / "default_v1.xlsx"


def measures(tables: Tables, *rows: dict[str, Any]) -> Tables:
    """The tiny workbook with its tariffs as Tariffs rows (Countries rates left blank)."""
    for c in tables["Countries"]:
        c["tariff_rate"] = None
    tables["Tariffs"] = list(rows)
    return tables


def landed(res: Any) -> dict[tuple[str, str], float]:
    return {(r.supplier, r.period): r.landed_usd_per_kg for r in res.allocation.itertuples()}


def bought(res: Any, supplier: str) -> float:
    a = res.allocation
    return float(a.loc[a["supplier"] == supplier, "quantity_t"].sum())


# --------------------------------------------------------------------------- floors


def test_a_government_paid_floor_changes_who_is_bought_and_costs_taxpayers_the_gap(
    write: Write, tables: Tables
) -> None:
    """JP1 (high standard) quotes 9 < CN1's 10: with a $12 floor paid by the buyer JP1 lands at
    12 x 1.15 = 13.8 and CN1 (10 x 1.2 = 12) wins; paid by the government the buyer pays 9 x
    1.15 = 10.35 and the government 3 per kg on JP1's 20 t."""
    tables["Suppliers"][1]["high_standard"] = True
    tables["Offers"][1]["price_usd_per_kg"] = 9
    tables["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 12, "paid_by": "buyer"}]
    buyer = solve_scenario(open_workbook(write(tables)))[2]
    assert bought(buyer, "CN1") == 20 and bought(buyer, "JP1") == 0
    assert buyer.buyer_spend_usd == pytest.approx(20 * 1000 * 12.0)
    assert buyer.fiscal_cost_usd == 0
    tables["PriceFloors"][0]["paid_by"] = "government"
    gov = solve_scenario(open_workbook(write(tables)))[2]
    assert bought(gov, "JP1") == 20 and bought(gov, "CN1") == 0
    assert gov.buyer_spend_usd == pytest.approx(20 * 1000 * 9 * 1.15)
    assert gov.fiscal_cost_usd == pytest.approx(20 * 1000 * 3.0)
    assert gov.total_cost_usd == pytest.approx(gov.buyer_spend_usd)  # the buyer's view
    alloc = gov.allocation.iloc[0]
    assert alloc["price_paid_usd_per_kg"] == 9 and alloc["support_usd_per_kg"] == 3


def test_the_national_cost_view_counts_the_support_in_the_objective(
    write: Write, tables: Tables
) -> None:
    """JP1 at 11 (high standard, $14 floor paid by the government): the buyer sees 11 x 1.15 =
    12.65 > CN1's 12 and buys China; the nation sees 12.65 + 3 support, even more; with JP1 at
    9 the buyer sees 10.35, the nation 10.35 + 5 = 15.35 > 12: the views part."""
    tables["Suppliers"][1]["high_standard"] = True
    tables["Offers"][1]["price_usd_per_kg"] = 9
    tables["PriceFloors"] = [{"material": "Ga", "floor_usd_per_kg": 14, "paid_by": "government"}]
    buyer_view = solve_scenario(open_workbook(write(tables)))[2]
    assert bought(buyer_view, "JP1") == 20
    tables["Settings"] = [{"setting": "national_cost", "value": True}]
    national = solve_scenario(open_workbook(write(tables)))[2]
    assert bought(national, "CN1") == 20 and national.fiscal_cost_usd == 0
    assert national.total_cost_usd == pytest.approx(20 * 1000 * 12.0)
    assert national.total_cost_usd < buyer_view.buyer_spend_usd + buyer_view.fiscal_cost_usd


# --------------------------------------------------------------------------- dated tariffs


def test_a_tariff_window_switching_on_in_period_two_only(write: Write, tables: Tables) -> None:
    """A 30% Section 301 row on China from 1 Jan 2027: 2026 pays MFN 20% only; in 2027 CN1
    lands at 10 x 1.5 = 15 > JP1's 13.8 and JP1 takes the volume."""
    measures(
        tables,
        {"basis": "mfn", "rate": 0.20, "country": "China"},
        {"basis": "mfn", "rate": 0.15, "country": "Japan"},
        {"basis": "section_301", "rate": 0.30, "country": "China", "from_date": "2027-01-01"},
    )
    res = solve_scenario(open_workbook(write(tables)))[2]
    assert landed(res) == pytest.approx({("CN1", "2026"): 12.0, ("JP1", "2027"): 13.8})
    assert res.total_cost_usd == pytest.approx(10 * 1000 * 12.0 + 10 * 1000 * 13.8)
    rates = res.tariff_rates.set_index(["country", "period"])["tariff_rate"]
    assert rates[("China", "2026")] == pytest.approx(0.20)
    assert rates[("China", "2027")] == pytest.approx(0.50)


def test_a_window_inside_a_period_is_weighted_by_its_days(write: Write, tables: Tables) -> None:
    """A 36.5% surcharge on China for the 73 days from 1 Jan 2026 adds 36.5% x 73/365 = 7.3%."""
    measures(
        tables,
        {"basis": "mfn", "rate": 0.20, "country": "China"},
        {"basis": "mfn", "rate": 0.15, "country": "Japan"},
        {
            "basis": "other",
            "rate": 0.365,
            "country": "China",
            "from_date": "2026-01-01",
            "to_date": "2026-03-14",
        },
    )
    res = solve_scenario(open_workbook(write(tables)))[2]
    rates = res.tariff_rates.set_index(["country", "period"])["tariff_rate"]
    assert rates[("China", "2026")] == pytest.approx(0.20 + 0.365 * 73 / 365)
    assert rates[("China", "2027")] == pytest.approx(0.20)
    assert landed(res)[("CN1", "2026")] == pytest.approx(10 * 1.273)


def test_stacked_measures_add_and_an_fta_replaces_mfn(write: Write, tables: Tables) -> None:
    """China: MFN 5% + Section 301 10% + fentanyl 10% = 25% (10 x 1.25 = 12.5); Japan: MFN 5%
    replaced by a 0% FTA rate, so JP1 at 12.6 lands at 12.6 and loses to CN1 at 12.5 by $0.1."""
    tables["Offers"][1]["price_usd_per_kg"] = 12.6
    measures(
        tables,
        {"basis": "mfn", "rate": 0.05},
        {"basis": "section_301", "rate": 0.10, "country": "China"},
        {"basis": "ieepa_fentanyl", "rate": 0.10, "country": "China"},
        {"basis": "trade_agreement", "rate": 0.0, "country": "Japan"},
    )
    res = solve_scenario(open_workbook(write(tables)))[2]
    assert all(v == pytest.approx(12.5) for v in landed(res).values())
    parts = res.tariff_rates.set_index("country").loc["China", "make_up"].iloc[0]
    assert parts == "mfn 5.0% + section_301 10.0% + ieepa_fentanyl 10.0%"
    japan = res.tariff_rates.set_index("country").loc["Japan", "tariff_rate"].iloc[0]
    assert japan == 0.0


def test_a_section_232_duty_displaces_the_reciprocal_tariff(write: Write, tables: Tables) -> None:
    measures(
        tables,
        {"basis": "ieepa_reciprocal", "rate": 0.34, "country": "China"},
        {"basis": "section_232", "rate": 0.25, "material": "Ga"},
        {"basis": "mfn", "rate": 0.15, "country": "Japan"},
    )
    res = solve_scenario(open_workbook(write(tables)))[2]
    rates = res.tariff_rates.set_index("country")["tariff_rate"]
    assert rates["China"].iloc[0] == pytest.approx(0.25)  # not 0.59
    assert rates["Japan"].iloc[0] == pytest.approx(0.15 + 0.25)


def test_regimes_are_chosen_in_settings_and_reported(write: Write, tables: Tables) -> None:
    measures(
        tables,
        {"regime": "today", "basis": "mfn", "rate": 0.0},
        {"regime": "deals", "basis": "ieepa_reciprocal", "rate": 0.5, "country": "China"},
        {"basis": "mfn", "rate": 0.15, "country": "Japan"},
    )
    today = solve_scenario(open_workbook(write(tables)))[2]
    assert today.tariff_regime == "today" and bought(today, "CN1") == 20
    tables["Settings"] = [{"setting": "tariff_regime", "value": "deals"}]
    deals = solve_scenario(open_workbook(write(tables)))[2]
    assert deals.tariff_regime == "deals" and bought(deals, "JP1") == 20


# --------------------------------------------------------------------------- contract v1


def test_a_v1_workbook_gives_exactly_the_objective_and_duals_it_gave_before() -> None:
    """The default workbook of 29 Nov 2026 (contract v1: one tariff_rate per country plus
    overrides, a buyer-paid floor): objectives and demand duals as the previous release
    computed them, to the last digit (values recorded from that release's code)."""
    wb = open_workbook(V1_WORKBOOK)
    recorded = {
        "baseline": (1541833820.0, [94100.0, 94100.0, 94100.0]),
        "exclude_china": (4006273870.0, [100162.5, 100162.5, 96712.5]),
        "critical_minerals_exemption": (1418409520.0, [84250.0, 84250.0, 84250.0]),
        "ndpr_floor_all": (1718282820.0, [110200.0, 110200.0, 121500.0]),
        "stockpile_build": (1605587620.0, [94100.0, 94100.0, 94100.0]),
        "allied_minimum_80": (2829624605.0, [96190.0, 96190.0, 96190.0]),
    }
    for name, (objective, duals) in recorded.items():
        res = solve_scenario(wb, name)[2]
        assert res.total_cost_usd == objective, name
        sp = res.shadow_prices
        got = sp[sp["constraint"] == "demand"]["dual_usd_per_t"].tolist()[:3]
        assert got == pytest.approx(duals, rel=1e-12), name
        assert res.tariff_regime == "" and res.fiscal_cost_usd == 0, name


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "cited"),
    [
        (
            lambda t: t["Tariffs"].append({"basis": "reciprocal", "rate": 0.1}),
            "Tariffs!A4: basis must be one of mfn, trade_agreement, section_301",
        ),
        (
            lambda t: t.update(
                PriceFloors=[{"material": "Ga", "floor_usd_per_kg": 11, "paid_by": "DoD"}]
            ),
            "PriceFloors!C2: paid_by must be one of buyer, government",
        ),
        (
            lambda t: t["Tariffs"].append(
                {"basis": "mfn", "rate": 0.3, "country": "China", "from_date": "2026-06-01"}
            ),
            "overlaps the one at Tariffs!A2",
        ),
        (
            lambda t: t["Tariffs"].append(
                {
                    "basis": "other",
                    "rate": 0.3,
                    "country": "China",
                    "from_date": "2027-01-01",
                    "to_date": "2026-01-01",
                }
            ),
            "to_date 2026-01-01 is before from_date 2027-01-01",
        ),
        (
            lambda t: (
                t["Tariffs"].append(
                    {"basis": "other", "rate": 0.3, "country": "China", "from_date": "2027-01-01"}
                )
                or t["Demand"][0].update(period="FY26")
            ),
            'Demand!B2: period "FY26" cannot be placed on the calendar',
        ),
        (
            lambda t: t["Countries"][0].update(tariff_rate=0.2),
            "Countries!B2: tariff_rate is set, but the Tariffs sheet sets the tariffs",
        ),
    ],
)
def test_bad_policy_input_is_cited_exits_65_and_writes_nothing(
    change: Callable[[Tables], object],
    cited: str,
    write: Write,
    tables: Tables,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    measures(
        tables,
        {"basis": "mfn", "rate": 0.2, "country": "China"},
        {"basis": "mfn", "rate": 0.15, "country": "Japan"},
    )
    change(tables)
    path = write(tables)
    assert any(cited in str(p) for p in validate(open_workbook(path))), [
        str(p) for p in validate(open_workbook(path))
    ]
    out = tmp_path / "out"
    assert cli.main(["solve", str(path), "--out", str(out)]) == 65
    assert cited in capsys.readouterr().err
    assert not out.exists()


def test_results_json_carries_spend_fiscal_penalty_regime_and_china_shares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["solve", "--scenario", "exclude_china", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    for name in ("baseline", "exclude_china"):
        doc = json.loads((tmp_path / name / "results.json").read_text())
        assert doc["total_cost_usd"] == pytest.approx(doc["buyer_spend_usd"] + doc["penalty_usd"])
        assert doc["tariff_regime"] == {"name": "in_force", "as_of": "2026-12-01"}
        # the DoD pays MP the gap to $110 ($16/kg at $94) on the NdPr oxide bought from it
        mp = sum(
            a["quantity_t"]
            for a in doc["allocation"]
            if a["supplier"] == "MP Materials Mountain Pass" and a["material"] == "NdPr oxide"
        )
        assert doc["fiscal_cost_usd"] == pytest.approx(mp * 1000 * 16)
        # without China, Lynas runs its Kuantan separation flat out for the Dy and Tb it
        # co-produces, and its NdPr (which must go somewhere) displaces MP's entirely
        assert (mp > 1000) == (name == "baseline")
        shares = {(s["material"], s["period"]): s for s in doc["china_share"]}
        assert set(next(iter(shares.values()))) == {
            "material",
            "period",
            "tonnes_share",
            "value_share",
        }
        if name == "exclude_china":
            assert all(s["tonnes_share"] == 0 for s in shares.values())
            assert {u["material"] for u in doc["unmet"]} >= {"Tb oxide"}
