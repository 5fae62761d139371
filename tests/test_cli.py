"""The CLI as a user runs it: real processes, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import ROOT, Tables

Write = Callable[[Tables], Path]


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_solve_default_writes_reports_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    proc = run("solve", "--scenario", "exclude_china", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "scenario" in proc.stdout and "exclude_china" in proc.stdout
    for name in ("baseline", "exclude_china"):
        folder = out / name
        files = {p.name for p in folder.iterdir()}
        assert files == {"report.xlsx", "summary.md", "results.json", "chain.html"}
        doc = json.loads((folder / "results.json").read_text())
        assert doc["scenario"] == name and doc["status"] == "optimal"
        assert set(doc["cost_breakdown_usd"]) == {
            "purchase",
            "tariff",
            "freight",
            "processing",
            "take_or_pay",
            "unmet_penalty",
            "holding",
            "fiscal_in_objective",
            "carbon_price",
        }
        assert doc["total_cost_usd"] == pytest.approx(sum(doc["cost_breakdown_usd"].values()))
        assert doc["total_cost_usd"] == pytest.approx(doc["buyer_spend_usd"] + doc["penalty_usd"])
        assert doc["tariff_regime"] == {"name": "in_force", "as_of": "2026-12-01"}
        first = doc["allocation"][0]
        assert {
            "supplier",
            "country",
            "material",
            "period",
            "quantity_t",
            "landed_usd_per_kg",
        } <= set(first)
        assert isinstance(doc["unmet"], list) and isinstance(doc["shadow_prices"], list)
    no_china = json.loads((out / "exclude_china" / "results.json").read_text())
    assert all(a["country"] != "China" for a in no_china["allocation"])


def test_validate_lists_problems_and_exits_65(write: Write, tables: Tables) -> None:
    tables["Offers"][1]["price_usd_per_kg"] = "TBD"
    tables["Offtakes"] = [{"supplier": "JP1", "material": "Tb"}]
    proc = run("validate", write(tables))
    assert proc.returncode == 65
    assert 'Offers!C3: price_usd_per_kg must be a number (found "TBD")' in proc.stdout
    assert 'Offtakes!B2: material "Tb" is not in Materials' in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_default_exits_0() -> None:
    proc = run("validate", ROOT / "inputs" / "default.xlsx")
    assert proc.returncode == 0 and "0 error(s)" in proc.stdout


def test_solve_invalid_data_writes_nothing(write: Write, tables: Tables, tmp_path: Path) -> None:
    tables["Countries"][0]["tariff_rate"] = 1.9
    out = tmp_path / "out"
    proc = run("solve", write(tables), "--out", out)
    assert proc.returncode == 65
    assert "Countries!B2: tariff_rate is a fraction" in proc.stderr
    assert not out.exists()


def test_missing_file_exits_66(tmp_path: Path) -> None:
    proc = run("solve", tmp_path / "missing.xlsx")
    assert proc.returncode == 66 and "no such file" in proc.stderr


def test_infeasible_exits_3(write: Write, tables: Tables, tmp_path: Path) -> None:
    tables["Suppliers"][1]["capacity_t"] = 1
    tables["Settings"] = [
        {"setting": "exclude_china", "value": True},
        {"setting": "allow_unmet", "value": False},
    ]
    proc = run("solve", write(tables), "--out", tmp_path)
    assert proc.returncode == 3
    assert "Ga 2026: short by 9 t" in proc.stdout
    doc = json.loads((tmp_path / "baseline" / "results.json").read_text())
    assert doc["status"] == "infeasible" and doc["total_cost_usd"] is None


def test_time_limit_without_solution_exits_4(tmp_path: Path) -> None:
    proc = run("solve", "--time-limit", "0", "--out", tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "baseline" / "results.json").read_text())
    assert doc["status"] == "time_limit" and doc["total_cost_usd"] is None


def test_unwritable_output_exits_73_and_keeps_earlier_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("solve", "--out", out).returncode == 0
    report = out / "baseline" / "report.xlsx"
    before = report.read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run("solve", "--out", blocker)
    assert proc.returncode == 73 and "cannot write" in proc.stderr
    assert report.read_bytes() == before


def test_unknown_scenario_and_bad_usage_exit_64() -> None:
    assert run("solve", "--scenario", "nope").returncode == 64
    assert run("solve", "--time-limit", "soon").returncode == 64


def test_template_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "mine.xlsx"
    assert run("template", path).returncode == 0
    assert run("template", path).returncode == 73  # never overwrites without --force
    wb = openpyxl.load_workbook(path)
    assert {"Materials", "Demand", "Countries", "Suppliers", "Offers", "Settings"} <= set(
        wb.sheetnames
    )
    offers = wb["Offers"]
    assert offers["A1"].value == "supplier" and str(offers["A2"].value).startswith("# ")
    assert offers["A1"].comment is not None
    formulas = {dv.formula1 for dv in offers.data_validations.dataValidation}
    assert "=Suppliers!$A$3:$A$2000" in formulas and "=Materials!$A$3:$A$2000" in formulas
    # the blank template is read without errors except that it has no data yet
    proc = run("validate", path)
    assert proc.returncode == 65 and "Demand!A2: no data rows" in proc.stdout


def test_full_stdout_exits_73() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "optimizer", "validate", str(ROOT / "inputs" / "default.xlsx")],
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 73 and "cannot write output" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_solve_prints_warnings(write: Write, tables: Tables, tmp_path: Path) -> None:
    tables["Settings"] = [
        {"setting": "exclude_china", "value": True},
        {"setting": "max_china_share", "value": 0.5},
    ]
    proc = run("solve", write(tables), "--no-analysis", "--out", tmp_path)
    assert proc.returncode == 0
    assert "warning: max_china_share has no effect while exclude_china is TRUE" in proc.stderr


def test_stress_command_is_seeded_and_writes_reports(tmp_path: Path) -> None:
    runs = [
        run("stress", "--samples", "30", "--seed", "7", "--out", tmp_path / str(i))
        for i in range(2)
    ]
    assert all(p.returncode == 0 for p in runs), runs[0].stderr
    assert runs[0].stdout.splitlines()[1] == runs[1].stdout.splitlines()[1]  # same numbers
    assert "P95" in runs[0].stdout
    for name in ("stress.xlsx", "stress.md", "stress.json"):
        assert (tmp_path / "0" / name).exists()
    assert run("stress", "--samples", "0", "--out", tmp_path).returncode == 64


def test_scenarios_on_two_workers_write_what_one_process_writes(tmp_path: Path) -> None:
    """--workers 2 (forked from the single-threaded CLI) writes the same plans, break-evens
    and chain diagrams as one process; a folder it cannot write is still exit 73."""
    names = ["--scenario", "exclude_china", "--scenario", "dfars_in_force"]
    one, two = tmp_path / "one", tmp_path / "two"
    first = run("solve", *names, "--workers", "1", "--out", one)
    second = run("solve", *names, "--workers", "2", "--out", two)
    assert first.returncode == second.returncode == 0, second.stderr
    for name in ("baseline", "exclude_china", "dfars_in_force"):
        a = json.loads((one / name / "results.json").read_text())
        b = json.loads((two / name / "results.json").read_text())
        for key in ("buyer_spend_usd", "allocation", "flows", "compliance", "tariff_breakevens"):
            assert a[key] == b[key], (name, key)
        assert (one / name / "chain.html").read_bytes() == (two / name / "chain.html").read_bytes()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    proc = run("solve", *names, "--workers", "2", "--out", blocked)
    assert proc.returncode == 73, proc.stderr
    assert "Traceback" not in proc.stderr
    assert blocked.read_text(encoding="utf-8") == "not a folder"
