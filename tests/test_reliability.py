"""Reliability: empty or infeasible plans compare cleanly, exit codes keep their meaning,
break-evens stay within what a workbook can express, report folders are replaced whole."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.analysis.breakevens import lane_breakevens
from optimizer.analysis.country_breakevens import country_breakevens
from optimizer.analysis.frontier import cost_of_independence
from optimizer.common.xlsx import write_input_workbook
from optimizer.contract.book import open_workbook
from optimizer.contract.records import TariffOverride
from optimizer.model.data import prepare
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import Status
from optimizer.output.report import write_scenario_report
from optimizer.output.results import make_results
from optimizer.runs import cli, risk_cli
from optimizer.runs.pipeline import model_data, solve_scenario
from tests.conftest import ROOT, Tables
from tests.test_properties import workbooks

Write = Callable[[Tables], Path]


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """The real CLI in-process: exit code, stdout, stderr (never a traceback)."""
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def infeasible_baseline(tables: Tables) -> Tables:
    """Demand 10 t per period, 3 + 3 t of capacity, unmet not allowed; `more_capacity` fixes it."""
    t = copy.deepcopy(tables)
    for s in t["Suppliers"]:
        s["capacity_t"] = 3
    t["Settings"] = [{"setting": "allow_unmet", "value": False}]
    t["Scenarios"] = [
        {
            "scenario": "more_capacity",
            "sheet": "Suppliers",
            "key": "CN1",
            "column": "capacity_t",
            "value": 100,
            "description": "CN1 at full capacity",
        }
    ]
    return t


# --------------------------------------------------------------------------- 1. comparisons


def test_all_scenarios_with_an_infeasible_baseline_exits_3_and_writes_the_comparison(
    capsys: pytest.CaptureFixture[str], write: Write, tables: Tables, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, _stdout, _ = run_cli(
        capsys, "solve", write(infeasible_baseline(tables)), "--all-scenarios", "--out", out
    )
    assert code == 3
    md = (out / "comparison.md").read_text(encoding="utf-8")
    assert "more_capacity" in md and "infeasible" in md
    assert json.loads((out / "baseline" / "results.json").read_text())["status"] == "infeasible"
    fixed = json.loads((out / "more_capacity" / "results.json").read_text())
    assert fixed["status"] == "optimal"
    assert fixed["total_cost_usd"] == pytest.approx(20 * 1000 * 12.0)  # all from CN1 at 10 x 1.2


def test_a_named_infeasible_scenario_exits_3_not_64(
    capsys: pytest.CaptureFixture[str], write: Write, tables: Tables, tmp_path: Path
) -> None:
    tables["Settings"] = [{"setting": "allow_unmet", "value": False}]
    tables["Scenarios"] = [
        {"scenario": "tight", "sheet": "Suppliers", "key": "*", "column": "capacity_t", "value": 1}
    ]
    code, _, err = run_cli(
        capsys, "solve", write(tables), "--scenario", "tight", "--out", tmp_path / "o"
    )
    assert code == 3, err
    assert "unknown scenario" not in err
    assert (tmp_path / "o" / "comparison.md").exists()


def test_zero_demand_everywhere_compares_empty_plans(
    capsys: pytest.CaptureFixture[str], write: Write, tables: Tables, tmp_path: Path
) -> None:
    for d in tables["Demand"]:
        d["demand_t"] = 0
    tables["Scenarios"] = [
        {
            "scenario": "no_china",
            "sheet": "Settings",
            "key": "exclude_china",
            "column": "value",
            "value": True,
        }
    ]
    code, stdout, _ = run_cli(
        capsys, "solve", write(tables), "--all-scenarios", "--out", tmp_path / "o"
    )
    assert code == 0
    assert "no_china" in (tmp_path / "o" / "comparison.md").read_text(encoding="utf-8")
    assert "+0.00 (+0.0%)" not in stdout or "no_china" in stdout


# --------------------------------------------------------------------------- 2. exit codes


def test_an_internal_error_is_exit_70_with_the_debug_hint_never_64(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    write: Write,
    tables: Tables,
    tmp_path: Path,
) -> None:
    path = write(tables)

    def broken(*_a: Any, **_k: Any) -> Any:
        raise KeyError("a bug deep inside")

    monkeypatch.setattr(cli, "compare", broken)
    tables["Scenarios"] = [
        {
            "scenario": "x",
            "sheet": "Countries",
            "key": "China",
            "column": "tariff_rate",
            "value": 0.3,
        }
    ]
    path = write(tables)
    code, _, err = run_cli(capsys, "solve", path, "--all-scenarios", "--out", tmp_path / "o")
    assert code == 70
    assert "SOURCING_DEBUG=1" in err
    boom = lambda *a, **k: (_ for _ in ()).throw(ValueError("x"))  # noqa: E731
    monkeypatch.setattr(risk_cli, "run_stress", boom)
    code, _, err = run_cli(capsys, "stress", path, "--samples", "5", "--out", tmp_path / "s")
    assert code == 70 and "SOURCING_DEBUG=1" in err
    monkeypatch.setenv("SOURCING_DEBUG", "1")
    with pytest.raises(ValueError):
        cli.main(["stress", str(path), "--samples", "5", "--out", str(tmp_path / "s")])


@pytest.mark.parametrize(
    "args",
    [
        ["stress", "--samples", "0"],
        ["stress", "--seed", "-1"],
        ["stress", "--workers", "0"],
        ["frontier", "--points", "1"],
        ["solve", "--time-limit", "-1"],
        ["nightly", "--threshold-t", "-1"],
        ["synthetic", "x.xlsx", "--size", "huge"],
    ],
)
def test_bad_option_values_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert cli.main(args) == 64
    assert "error:" in capsys.readouterr().err


def test_nightly_on_a_missing_workbook_is_exit_66(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, "nightly", tmp_path / "nope.xlsx", "--out", tmp_path / "r")
    assert code == 66
    assert "no such file" in err
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- 3. lane break-evens


def lane_volume(inputs: Any, country: str, material: str, rate: float) -> float:
    """Volume of a (country, material) lane with its rate set by a TariffOverrides row,
    solved through parse -> prepare -> a fresh engine (independent of the break-even code)."""
    overrides = [
        o for o in inputs.tariff_overrides if (o.country, o.material) != (country, material)
    ]
    overrides.append(TariffOverride(country, material, rate))
    changed = type(inputs)(**{**inputs.__dict__, "tariff_overrides": tuple(overrides)})
    data = prepare(changed)
    sol = FastOptimizer(data).solve()
    assert sol.status is Status.OPTIMAL
    if data.chain is None:
        return sum(
            q for b, q in sol.x.items() if data.buys[b].country == country and b[1] == material
        )
    # with a chain: every flow of the material from the country's facilities that enters
    # the United States (to the buyer or to a US facility), read from the Flows table
    flows = make_results("lane", data, sol).flows
    enters = (flows["to"] == "buyer") | (flows["to_country"] == "United States")
    lane = enters & (flows["from_country"] == country) & (flows["material"] == material)
    return float(flows.loc[lane, "quantity_t"].sum())


def test_lane_break_evens_of_a_hand_solved_instance(write: Write, tables: Tables) -> None:
    tables["Offers"][1]["price_usd_per_kg"] = 11  # JP1 lands at 11 x 1.15 = 12.65 vs CN1 12
    _inputs, data = model_data(open_workbook(write(tables)))
    opt = FastOptimizer(data)
    lanes = lane_breakevens(opt, opt.solve()).set_index(["country", "material"])
    china, japan = lanes.loc[("China", "Ga")], lanes.loc[("Japan", "Ga")]
    # China loses volume once 10 (1 + r) > 12.65: r = 26.5%; Japan gains below 12/11 - 1 = 9.09%
    assert china["loses_volume_above"] == pytest.approx(0.265, abs=0.002)
    assert japan["gains_volume_below"] == pytest.approx(1 / 11, abs=0.002)
    assert china["volume_t"] == pytest.approx(20.0) and japan["volume_t"] == 0.0
    assert (
        china["gains_volume_below"] is None
        or china["gains_volume_below"] != china["gains_volume_below"]
    )
    assert "not within 0-100%" in china["gains_note"]
    assert bool(china["verified"]) and bool(japan["verified"])


def test_lane_break_evens_on_the_default_workbook_are_rates_a_workbook_can_hold() -> None:
    from optimizer.contract.book import DEFAULT_WORKBOOK

    inputs, data = model_data(open_workbook(DEFAULT_WORKBOOK))
    opt = FastOptimizer(data)
    sol = opt.solve()
    lanes = lane_breakevens(opt, sol)
    assert len(lanes) >= 10
    checked = 0
    for r in lanes.itertuples():
        for column, note in (
            ("loses_volume_above", r.loses_note),
            ("gains_volume_below", r.gains_note),
        ):
            value = getattr(r, column)
            if value is None or value != value:
                assert note, (r.country, r.material, column)
                continue
            assert 0.0 <= value <= 1.0, (r.country, r.material, column, value)
            if checked < 12:  # re-solve +-0.2 points around the reported rate, independently
                base = lane_volume(inputs, r.country, r.material, r.tariff_rate)
                below = lane_volume(inputs, r.country, r.material, max(0.0, value - 0.002))
                above = lane_volume(inputs, r.country, r.material, min(1.0, value + 0.002))
                if column == "loses_volume_above":
                    assert below == pytest.approx(base, abs=1e-6) and above < base - 1e-6
                else:
                    assert above == pytest.approx(base, abs=1e-6) and below > base + 1e-6
                checked += 1
    assert checked >= 3


# --------------------------------------------------------------------------- 4. country brackets


def test_country_break_evens_report_their_bracket(write: Write, tables: Tables) -> None:
    _, data = model_data(open_workbook(write(tables)))
    opt = FastOptimizer(data)
    cb = country_breakevens(opt, opt.solve()).set_index("country")
    low, high = cb.loc["China", "rate_volume_falls_low"], cb.loc["China", "rate_volume_falls"]
    assert low <= 0.38 <= high  # 10 (1 + r) = 13.8
    assert high - low <= 0.001
    assert "China's volume falls between" in cb.loc["China", "sentence"]


# --------------------------------------------------------------------------- 5. frontier


def test_the_frontier_says_it_switches_exclusion_off_and_marks_the_workbook_setting(
    capsys: pytest.CaptureFixture[str], write: Write, tables: Tables, tmp_path: Path
) -> None:
    tables["Settings"] = [{"setting": "exclude_china", "value": True}]
    path = write(tables)
    inputs, _ = model_data(open_workbook(path))
    front = cost_of_independence(inputs, points=5)
    mine = front.table[front.table["workbook_setting"]]
    assert list(mine["max_china_share"]) == [0.0]
    as_given = solve_scenario(open_workbook(path))[2]
    assert float(mine["objective_usd"].iloc[0]) == pytest.approx(as_given.total_cost_usd)
    assert float(mine["buyer_spend_usd"].iloc[0]) == pytest.approx(as_given.buyer_spend_usd)
    assert "exclude_china" in front.note
    code, stdout, _ = run_cli(capsys, "frontier", path, "--points", "5", "--out", tmp_path)
    assert code == 0
    assert "exclude_china" in stdout
    md = (tmp_path / "frontier.md").read_text(encoding="utf-8")
    assert "exclude_china" in md and "workbook" in md


def test_a_cap_off_the_grid_is_added_to_the_frontier(write: Write, tables: Tables) -> None:
    tables["Settings"] = [{"setting": "max_china_share", "value": 0.45}]
    path = write(tables)
    inputs, _ = model_data(open_workbook(path))
    front = cost_of_independence(inputs, points=3)
    mine = front.table[front.table["workbook_setting"]]
    assert list(mine["max_china_share"]) == [0.45]
    as_given = solve_scenario(open_workbook(path))[2].total_cost_usd
    assert float(mine["objective_usd"].iloc[0]) == pytest.approx(as_given)
    assert list(front.table["max_china_share"]) == sorted(front.table["max_china_share"])[::-1]


# --------------------------------------------------------------------------- 6. scenario keys


def test_a_wildcard_key_matching_no_row_is_cited_and_documented(
    capsys: pytest.CaptureFixture[str], write: Write, tables: Tables, tmp_path: Path
) -> None:
    tables["Scenarios"] = [
        {"scenario": "typo", "sheet": "Offers", "key": "*|Germanium", "column": "max_t", "value": 5}
    ]
    code, _, err = run_cli(capsys, "solve", write(tables), "--all-scenarios", "--out", tmp_path)
    assert code == 65
    assert 'Scenarios!C2: no Offers row matches "* | Germanium"' in err
    docs = (ROOT / "docs" / "workbook.md").read_text(encoding="utf-8")
    assert "matches no row is an error" in docs


# --------------------------------------------------------------------------- 7. whole folders

KILL_BETWEEN_RENAMES = """
import os, signal, sys
from optimizer.contract.book import open_workbook
from optimizer.runs.pipeline import solve_scenario
from optimizer.output.report import write_scenario_report
inputs, _, res = solve_scenario(open_workbook(sys.argv[1]))
real, calls = os.replace, []
def replace(*args, **kwargs):
    calls.append(args)
    if len(calls) == 2:  # one file of the report is in place, the others are not
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
os.replace = replace
write_scenario_report(res, inputs, sys.argv[2])
print("FINISHED", flush=True)
"""


def test_a_kill_between_renames_leaves_the_old_or_the_new_folder_never_a_mix(
    write: Write, tables: Tables, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    inputs, _, res = solve_scenario(open_workbook(write(tables)))
    folder = write_scenario_report(res, inputs, out)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    tables["Countries"][0]["tariff_rate"] = 0.9  # a different plan, so every file changes
    child = subprocess.run(
        [sys.executable, "-c", KILL_BETWEEN_RENAMES, str(write(tables)), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode in (0, -signal.SIGKILL), child.stderr
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(after) == set(before)
    same = [after[n] == before[n] for n in before]
    assert all(same) or not any(same), dict(zip(before, same, strict=True))


# --------------------------------------------------------------------------- property


@st.composite
def workbooks_with_scenarios(draw: st.DrawFn) -> Tables:
    """A random workbook plus scenarios that make it infeasible, empty, or just different."""
    tables = draw(workbooks())
    rows: list[dict[str, Any]] = []
    kinds = draw(
        st.lists(
            st.sampled_from(["infeasible", "empty", "tariff", "no_china"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for kind in kinds:
        if kind == "infeasible":
            rows += [
                {
                    "scenario": kind,
                    "sheet": "Settings",
                    "key": "allow_unmet",
                    "column": "value",
                    "value": False,
                },
                {
                    "scenario": kind,
                    "sheet": "Demand",
                    "key": "*",
                    "column": "demand_t",
                    "value": 10_000,
                },
            ]
        elif kind == "empty":
            rows.append(
                {"scenario": kind, "sheet": "Demand", "key": "*", "column": "demand_t", "value": 0}
            )
        elif kind == "tariff":
            rows.append(
                {
                    "scenario": kind,
                    "sheet": "Countries",
                    "key": "*",
                    "column": "tariff_rate",
                    "value": draw(st.sampled_from([0, 0.5, 1])),
                }
            )
        else:
            rows.append(
                {
                    "scenario": kind,
                    "sheet": "Settings",
                    "key": "exclude_china",
                    "column": "value",
                    "value": True,
                }
            )
    if draw(st.booleans()):
        tables["Settings"] = [{"setting": "allow_unmet", "value": draw(st.booleans())}]
    tables["Scenarios"] = rows
    return tables


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables=workbooks_with_scenarios(), analyze=st.booleans())
def test_solve_all_scenarios_exits_0_3_or_65_and_writes_the_comparison(
    tables: Tables, analyze: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    path = tmp / "wb.xlsx"
    write_input_workbook(path, tables)
    out = tmp / "out"
    args = ["solve", str(path), "--all-scenarios", "--out", str(out)]
    code = cli.main(args if analyze else [*args, "--no-analysis"])
    assert code in (0, 3, 65)
    if code == 65:
        assert not out.exists()
        return
    statuses = [
        json.loads((f / "results.json").read_text())["status"] for f in out.iterdir() if f.is_dir()
    ]
    assert len(statuses) == 1 + len({r["scenario"] for r in tables["Scenarios"]})
    if "optimal" in statuses:
        assert (out / "comparison.md").exists()
    assert (code == 3) == any(s in ("infeasible", "unbounded") for s in statuses)
    assert not any(p.name.startswith(".") for p in out.iterdir()), "a temporary was left"
