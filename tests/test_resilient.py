"""The two-stage plan: a newsvendor solved by hand, the deterministic limit, properties, the CLI.

The newsvendor: 10 t of Ga in one period. China sells at $100/kg, unlimited; an ally at
$150/kg, at most 4 t; unmet demand costs $1,000/kg. A stock build bought now costs
$120/kg (up to 10 t, no holding cost). Two samples: nothing happens (p = 0.75) or China
bans exports (p = 0.25). With k t built (USD/kg x t, times 1,000 for USD):
  no ban: 120k + 100(10 - k);  ban: 120k + 150 min(10 - k, 4) + 1000 max(0, 6 - k).
E = 2400 - 205k for k <= 6 and 1125 + 7.5k above: k* = 6, E = 1170.
Deterministic plan k = 0: EEV = 2400, so VSS = 1230. Wait-and-see: 1000 (no ban, k = 0)
and 1200 (ban, k = 10): WS = 1050, EVPI = 120. At k = 6 the costs are 1120 and 1320, so
CVaR_0.8 = 1320 (the 0.2 tail lies inside the ban's 0.25). The ban sample stays the worst
for every k, so with lambda the objective on [6, 10] is 1125 + 7.5k + lambda (1500 - 30k):
for lambda = 1, k* = 10, E = 1200 and CVaR = 1200.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.analysis.plan_eval import Distribution, evaluate_in_sample, sample_set, wait_and_see
from optimizer.analysis.resilient import (
    deterministic,
    prepare_run,
    run_resilient,
    solve_plan,
)
from optimizer.analysis.risks import EXPORT_BAN, Disruption, draw_samples
from optimizer.common.problems import InvalidInputError
from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook, scenario_inputs
from optimizer.contract.parse import require_valid
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.runs.cli import main
from tests.conftest import Tables

Write = Callable[[Tables], Path]
BAN = (Disruption(EXPORT_BAN, "Ga", 1.0),)
#: three quiet samples and one ban: p = 0.75 / 0.25 once merged
DRAWS: list[tuple[Disruption, ...]] = [(), (), (), BAN]
K = 1000.0  # kg per t: the hand figures are USD/kg x t


def newsvendor() -> Tables:
    return {
        "Materials": [{"material": "Ga"}],
        "Demand": [{"material": "Ga", "period": 2027, "demand_t": 10}],
        "Countries": [
            {"country": "China", "tariff_rate": 0.0},
            {"country": "Japan", "tariff_rate": 0.0, "allied": True},
        ],
        "Suppliers": [
            {"supplier": "CN1", "country": "China"},
            {"supplier": "JP1", "country": "Japan"},
        ],
        "Offers": [
            {"supplier": "CN1", "material": "Ga", "price_usd_per_kg": 100},
            {"supplier": "JP1", "material": "Ga", "price_usd_per_kg": 150, "max_t": 4},
        ],
        "Stockpile": [
            {
                "material": "Ga",
                "initial_t": 0,
                "holding_usd_per_kg": 0,
                "decide": True,
                "build_max_t": 10,
                "build_price_usd_per_kg": 120,
            }
        ],
        "Settings": [
            {"setting": "unmet_penalty_usd_per_kg", "value": 1000},
            {"setting": "cvar_level", "value": 0.8},
        ],
        "Risks": [{"risk": "export_ban", "target": "Ga", "probability": 0.25}],
    }


def test_newsvendor_optimum_by_hand(write: Write) -> None:
    setup = prepare_run(write(newsvendor()))
    fit = sample_set(setup.stage, DRAWS)
    assert fit.probabilities == [0.75, 0.25]
    rec = solve_plan(setup, fit, 0.0, 0.8)
    assert rec.values == pytest.approx((6.0,), abs=1e-7)
    assert rec.objective_usd == pytest.approx(1170 * K, rel=1e-9)
    assert sorted(rec.sample_cost_usd) == pytest.approx([1120 * K, 1320 * K], rel=1e-9)
    dist = Distribution.of(rec.sample_cost_usd, fit.probabilities, 0.8)
    assert dist.cvar_usd == pytest.approx(1320 * K, rel=1e-9)

    det = deterministic(setup)
    assert det.values == pytest.approx((0.0,), abs=1e-7)
    eev, _ = evaluate_in_sample(setup.first, det.values, fit)
    assert float(sum(p * c for p, c in zip(fit.probabilities, eev, strict=True))) == (
        pytest.approx(2400 * K, rel=1e-9)
    )  # VSS = 2400 - 1170 = 1230
    ws = wait_and_see(setup.stage, fit)
    assert ws == pytest.approx([1000 * K, 1200 * K], rel=1e-9)  # WS 1050, EVPI 120


def test_newsvendor_risk_weight_buys_the_whole_build(write: Write) -> None:
    setup = prepare_run(write(newsvendor()))
    fit = sample_set(setup.stage, DRAWS)
    rec = solve_plan(setup, fit, 1.0, 0.8)
    assert rec.values == pytest.approx((10.0,), abs=1e-7)
    dist = Distribution.of(rec.sample_cost_usd, fit.probabilities, 0.8)
    assert dist.expected_cost_usd == pytest.approx(1200 * K, rel=1e-9)
    assert dist.cvar_usd == pytest.approx(1200 * K, rel=1e-9)
    assert rec.objective_usd == pytest.approx(2400 * K, rel=1e-9)
    assert rec.var_usd == pytest.approx(1200 * K, rel=1e-9)


def test_newsvendor_run_reports_vss_and_evpi(write: Write) -> None:
    """The whole run, on draws from the Risks sheet: with s the share of ban samples drawn
    (0.022 < s < 0.4 keeps k* = 6), E = 1120 + 200 s, EEV = 1000 + 5600 s and
    WS = 1000 + 200 s, so VSS = 5400 s - 120 and EVPI = 120."""
    path = write(newsvendor())
    setup = prepare_run(path)
    draws = draw_samples(setup.risks, setup.first.second, 400, 1)
    s = sum(1 for d in draws if d) / len(draws)
    assert 0.2 < s < 0.3
    r = run_resilient(path, samples=400, seed=1, eval_samples=200)
    assert r.distinct_samples == 2
    assert r.recommended[0]["quantity_t"] == pytest.approx(6.0, abs=1e-6)
    assert r.deterministic_plan[0]["quantity_t"] == pytest.approx(0.0, abs=1e-6)
    assert r.in_sample["rp_usd"] == pytest.approx((1120 + 200 * s) * K, rel=1e-9)
    assert r.vss_usd == pytest.approx((5400 * s - 120) * K, rel=1e-9)
    assert r.evpi_usd == pytest.approx(120 * K, rel=1e-7)
    # out of sample, every sample costs 1120 or 1320 under the plan, 1000 or 6600 without
    assert set(r.recommended_eval.costs) <= {1120 * K, 1320 * K}
    assert set(r.deterministic_eval.costs) <= {1000 * K, 6600 * K}
    assert r.recommended_eval.distribution.cvar_usd == pytest.approx(1320 * K, rel=1e-9)


def test_one_quiet_sample_is_the_deterministic_solve() -> None:
    """lambda = 0 and one sample with no disruption: the extensive form is `solve`."""
    setup = prepare_run(DEFAULT_WORKBOOK)
    inputs, problems = scenario_inputs(open_workbook(DEFAULT_WORKBOOK), "baseline")
    sol = FastOptimizer(prepare(require_valid(inputs, problems))).solve()
    det = deterministic(setup)
    assert det.objective_usd == pytest.approx(sol.objective_usd, rel=1e-9)
    one = solve_plan(setup, sample_set(setup.stage, [()]), 0.0, 0.95)
    assert one.objective_usd == pytest.approx(sol.objective_usd, rel=1e-9)


def test_extensive_form_agrees_with_re_planning_each_sample() -> None:
    """The extensive form's per-sample costs equal a warm one-stage re-solve of each sample
    under the plan it chose (two codes: block assembly and plan_data)."""
    setup = prepare_run(DEFAULT_WORKBOOK)
    fit = sample_set(setup.stage, draw_samples(setup.risks, setup.first.second, 30, 4))
    rec = solve_plan(setup, fit, 0.5, 0.9)
    costs, _ = evaluate_in_sample(setup.first, rec.values, fit)
    assert costs == pytest.approx(list(rec.sample_cost_usd), rel=1e-7)


# --------------------------------------------------------------------------- properties


@st.composite
def small_workbooks(draw: st.DrawFn) -> Tables:
    """Random two-supplier, two-period instances with a decided offtake and a stock build."""
    t = newsvendor()
    t["Demand"] = [
        {"material": "Ga", "period": 2027, "demand_t": draw(st.integers(1, 20))},
        {"material": "Ga", "period": 2028, "demand_t": draw(st.integers(1, 20))},
    ]
    t["Offers"][0]["price_usd_per_kg"] = draw(st.integers(50, 150))
    t["Offers"][1]["price_usd_per_kg"] = draw(st.integers(100, 250))
    t["Offers"][1]["max_t"] = draw(st.integers(0, 15))
    t["Stockpile"][0]["holding_usd_per_kg"] = draw(st.integers(0, 10))
    t["Stockpile"][0]["build_price_usd_per_kg"] = draw(st.integers(60, 200))
    t["Offtakes"] = [
        {
            "supplier": "JP1",
            "material": "Ga",
            "min_t": 0,
            "max_t": 15,
            "take_or_pay": draw(st.sampled_from([None, 0.0, 0.5])),
            "decide": True,
            "reserve_usd_per_kg": draw(st.sampled_from([0, 5])),
        }
    ]
    t["Risks"] = [
        {"risk": "export_ban", "target": "Ga", "probability": draw(st.floats(0.05, 0.6))},
        {"risk": "supplier_outage", "target": "JP1", "probability": 0.1, "magnitude": 0.5},
    ]
    return t


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tables=small_workbooks(), seed=st.integers(0, 50))
def test_properties_on_random_workbooks(write: Write, tables: Tables, seed: int) -> None:
    setup = prepare_run(write(tables))
    fit = sample_set(setup.stage, draw_samples(setup.risks, setup.first.second, 40, seed))
    p = fit.probabilities
    det = deterministic(setup)
    eev, _ = evaluate_in_sample(setup.first, det.values, fit)
    ws = wait_and_see(setup.stage, fit)
    previous: Distribution | None = None
    for lam in (0.0, 0.5, 2.0):
        rec = solve_plan(setup, fit, lam, 0.8)
        dist = Distribution.of(rec.sample_cost_usd, p, 0.8)
        rp = dist.objective(lam)
        tol = 1e-7 * max(1.0, abs(rp))
        assert Distribution.of(eev, p, 0.8).objective(lam) >= rp - tol  # VSS >= 0
        assert rp >= Distribution.of(ws, p, 0.8).objective(lam) - tol  # EVPI >= 0
        if previous is not None:  # more weight on CVaR: CVaR never up, E never down
            assert dist.cvar_usd <= previous.cvar_usd + tol
            assert dist.expected_cost_usd >= previous.expected_cost_usd - tol
        previous = dist


def test_same_seed_same_plan_on_one_and_two_workers(write: Write) -> None:
    path = write(newsvendor())
    one = run_resilient(path, samples=60, seed=3, eval_samples=120, frontier_weights=(0.0,))
    two = run_resilient(
        path,
        samples=60,
        seed=3,
        eval_samples=120,
        frontier_weights=(0.0,),
        executor="process",
        workers=2,
    )
    assert one.recommended == two.recommended
    assert one.recommended_eval.costs == two.recommended_eval.costs
    assert one.deterministic_eval.record() == two.deterministic_eval.record()


# --------------------------------------------------------------------------- bad input


def test_a_workbook_without_decisions_is_refused(write: Write) -> None:
    t = newsvendor()
    t["Stockpile"][0]["decide"] = False
    with pytest.raises(InvalidInputError) as info:
        prepare_run(write(t))
    (problem,) = info.value.problems
    assert problem.sheet == "Offtakes" and "no first-stage decision" in problem.message


def test_a_decided_row_without_bounds_is_cited(write: Write, capsys: Any) -> None:
    t = newsvendor()
    del t["Stockpile"][0]["build_max_t"]
    t["Offtakes"] = [{"supplier": "JP1", "material": "Ga", "decide": True}]
    assert main(["resilient", str(write(t)), "--samples", "5"]) == 65
    err = capsys.readouterr().err
    assert "Offtakes!C2: the offtake of JP1 Ga is a decision" in err and "give max_t" in err
    assert "Stockpile!D2: the stock build of Ga is a decision" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--cvar-level", "1"], "strictly between 0 and 1"),
        (["--cvar-level", "0"], "strictly between 0 and 1"),
        (["--risk-weight", "-1"], "must be 0 or more"),
        (["--samples", "0"], "must be at least 1"),
        (["--eval-samples", "0"], "must be at least 1"),
        (["--risk-weight", "nan"], "must be 0 or more"),
    ],
)
def test_bad_options_exit_64(write: Write, capsys: Any, options: list[str], message: str) -> None:
    assert main(["resilient", str(write(newsvendor())), *options]) == 64
    assert message in capsys.readouterr().err


def test_cvar_level_setting_outside_the_interval_is_a_cell_error(write: Write, capsys: Any) -> None:
    t = newsvendor()
    t["Settings"][1]["value"] = 1
    assert main(["resilient", str(write(t)), "--samples", "5"]) == 65
    assert "Settings!B3" in capsys.readouterr().err


def test_cli_writes_the_three_files(write: Write, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "out"
    code = main(
        [
            *("resilient", str(write(newsvendor())), "--samples", "80", "--seed", "2"),
            *("--eval-samples", "100", "--risk-weight", "1", "--out", str(out)),
        ]
    )
    assert code == 0
    doc = json.loads((out / "resilient.json").read_text())
    for key in (
        "expected_cost_usd",
        "cvar_usd",
        "p95_cost_usd",
        "buyer_spend_usd",
        "vss_usd",
        "evpi_usd",
    ):
        assert isinstance(doc[key], float) and math.isfinite(doc[key])
        assert key in doc["deterministic"] or key in ("vss_usd", "evpi_usd")
        assert key in doc["recommended"] or key in ("vss_usd", "evpi_usd")
    (c,) = doc["commitments"]
    assert set(c) >= {"kind", "supplier", "material", "period", "quantity_t"}
    assert c["kind"] == "stockpile" and c["quantity_t"] == pytest.approx(10.0, abs=1e-6)
    assert doc["risk_weight"] == 1.0 and doc["cvar_level"] == 0.8
    assert (out / "resilient.xlsx").stat().st_size > 0
    assert "# Resilient plan" in (out / "resilient.md").read_text()
    printed = capsys.readouterr().out
    assert "stock build Ga 2027: 10.0 t (its maximum)" in printed


def test_nightly_writes_the_resilient_plan_on_its_weekday(write: Write, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from optimizer.runs.nightly import NightlyOptions, run_nightly

    path = write(newsvendor())
    monday = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    options = NightlyOptions(analyze=False, frontier_points=2, resilient_weekday=0)
    run = run_nightly(path, tmp_path / "runs", options, now=monday)
    assert run.exit_code == 0 and run.folder is not None
    doc = json.loads((run.folder / "resilient.json").read_text())
    assert doc["seed"] == 20261130
    assert run.manifest["resilient"]["status"] == "complete"
    assert [c["kind"] for c in run.manifest["resilient"]["commitments"]] == ["stockpile"]
    tuesday = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    later = run_nightly(path, tmp_path / "runs", options, now=tuesday)
    assert later.folder is not None and not (later.folder / "resilient.json").exists()
    assert "resilient" not in later.manifest


def test_ctrl_c_stops_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    """SIGINT during a long run: exit 130, no resilient file (and no temporary one) left."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "optimizer", "resilient", "--samples", "3000"),
            *("--eval-samples", "5000", "--log-format", "json", "--out", str(out)),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first progress line: the run is under way
    assert json.loads(first)["message"] == "drawing samples"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130
    assert "interrupted" in rest
    assert not out.exists() or not any(out.iterdir())


def test_a_probability_outside_zero_one_is_cited(write: Write, capsys: Any) -> None:
    t = newsvendor()
    t["Risks"][0]["probability"] = 1.5
    assert main(["resilient", str(write(t)), "--samples", "5"]) == 65
    assert "Risks!C2" in capsys.readouterr().err


def test_commitments_no_sample_can_carry_are_explained(write: Write, capsys: Any) -> None:
    """A firm decided offtake of at least 5 t from China under a China-share cap of 0: no
    sample can carry it. Exit 65, the reason as `solve` explains an infeasible plan."""
    t = newsvendor()
    t["Offtakes"] = [{"supplier": "CN1", "material": "Ga", "min_t": 5, "max_t": 8, "decide": True}]
    t["Settings"].append({"setting": "max_china_share", "value": 0})
    assert main(["resilient", str(write(t)), "--samples", "20"]) == 65
    err = capsys.readouterr().err
    assert "cannot be carried in every sample" in err and "Traceback" not in err
    assert "Even undisrupted:" in err and "Ga" in err


def test_stress_perfect_recourse_stays_a_lower_bound_with_decisions(write: Write) -> None:
    """With decided rows, perfect recourse chooses the first stage per sample too: every
    sample costs at most what it costs under any fixed plan (newsvendor: 1000 / 1200 with
    hindsight, 1120 / 1320 under the 6 t build, 1000 / 6600 under no build)."""
    from optimizer.analysis.stress import run_stress

    path = write(newsvendor())
    perfect = run_stress(path, samples=40, seed=5)
    built = run_stress(path, samples=40, seed=5, plan=(6.0,), plan_label="6 t")
    none = run_stress(path, samples=40, seed=5, plan=(0.0,), plan_label="none")
    p = perfect.samples["objective_usd"].to_numpy()
    b = built.samples["objective_usd"].to_numpy()
    n = none.samples["objective_usd"].to_numpy()
    assert set(p) <= {1000 * K, 1200 * K}
    assert set(b) <= {1120 * K, 1320 * K}
    assert set(n) <= {1000 * K, 6600 * K}
    assert (p <= b + 1e-6).all() and (p <= n + 1e-6).all()
    assert perfect.plan.endswith("decisions chosen per sample too")
    assert built.plan == "6 t"
