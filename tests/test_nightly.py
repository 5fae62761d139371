"""The nightly job: manifest, atomic run folders, idempotency, diffs, logs, scale-out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from optimizer.common.executor import run_tasks
from optimizer.contract.book import DEFAULT_WORKBOOK
from optimizer.runs.nightly import NightlyOptions, run_nightly
from tests.conftest import ROOT
from tests.crashy import square_or_die, square_or_raise

FAST = NightlyOptions(analyze=False, frontier_points=3)
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def night(wb: Path, out: Path, when: datetime, options: NightlyOptions = FAST):  # type: ignore[no-untyped-def]
    return run_nightly(wb, out, options, now=when)


def costs(manifest: dict) -> dict[str, float]:  # type: ignore[type-arg]
    return {s["name"]: s["total_cost_usd"] for s in manifest["scenarios"]}


def edited_copy(tmp_path: Path, cell: str, value: object, sheet: str = "Countries") -> Path:
    wb = openpyxl.load_workbook(DEFAULT_WORKBOOK)
    wb[sheet][cell] = value
    path = tmp_path / "edited.xlsx"
    wb.save(path)
    return path


def test_run_folder_manifest_latest_and_idempotency(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    first = night(DEFAULT_WORKBOOK, out, T0)
    assert first.exit_code == 0 and first.folder == out / "2026-11-22T020000Z"
    m = json.loads((first.folder / "manifest.json").read_text())
    assert {"input_sha256", "versions", "options", "scenarios", "exit_code"} <= set(m)
    assert m["exit_code"] == 0 and m["status"] == "complete"
    assert len(m["input_sha256"]) == 64 and m["versions"]["HiGHS"]
    assert {s["name"] for s in m["scenarios"]} >= {"baseline", "exclude_china"}
    assert all({"name", "status", "total_cost_usd", "seconds"} <= set(s) for s in m["scenarios"])
    assert (out / "latest").resolve() == first.folder
    for name in ("changes.md", "comparison.xlsx", "frontier.csv", "baseline/report.xlsx"):
        assert (first.folder / name).exists(), name
    assert "First run" in (first.folder / "changes.md").read_text()

    second = night(DEFAULT_WORKBOOK, out, T0 + timedelta(days=1))
    assert costs(second.manifest) == costs(first.manifest)  # same inputs, same numbers
    a = json.loads((first.folder / "baseline" / "results.json").read_text())
    b = json.loads((second.folder / "baseline" / "results.json").read_text())
    assert a["allocation"] == b["allocation"]
    assert second.manifest["changes"] == []
    assert "Nothing changed since 2026-11-22T020000Z" in (second.folder / "changes.md").read_text()
    assert (out / "latest").resolve() == second.folder


def test_what_changed_since_last_night(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    night(DEFAULT_WORKBOOK, out, T0)
    wb = openpyxl.load_workbook(DEFAULT_WORKBOOK)
    ws = wb["Offers"]
    for row in ws.iter_rows(min_row=2):
        if (row[0].value, row[1].value) == ("China gallium producers (aggregate)", "Gallium"):
            row[2].value = 9000  # China gallium price jumps: volume moves elsewhere
    path = tmp_path / "ga.xlsx"
    wb.save(path)
    run = night(path, out, T0 + timedelta(days=1))
    assert run.exit_code == 0
    kinds = {(c["scenario"], c["kind"]) for c in run.manifest["changes"]}
    assert ("baseline", "spend") in kinds and ("baseline", "volume") in kinds
    moves = [
        c
        for c in run.manifest["changes"]
        if c["scenario"] == "baseline" and c["kind"] == "volume" and c["material"] == "Gallium"
    ]
    assert any(c["change_t"] < 0 and c["country"] == "China" for c in moves)
    # the volume moves to other origins (not tonne for tonne: 4N gallium also feeds 6N
    # refiners, whose yields differ between China and elsewhere)
    assert any(c["change_t"] > 0 and c["country"] != "China" for c in moves)
    text = (run.folder / "changes.md").read_text()
    assert "baseline: " in text and "Gallium: " in text and "buyer spend +$" in text


def test_bad_workbook_keeps_latest_and_names_the_cell(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    good = night(DEFAULT_WORKBOOK, out, T0)
    bad = edited_copy(tmp_path, "B3", "nineteen")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "nightly",
            str(bad),
            "--out",
            str(out),
            "--log-format",
            "json",
            "--no-analysis",
            "--points",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 65
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    assert any(r.get("cell") == "Countries!B3" and r["level"] == "error" for r in lines)
    assert (out / "latest").resolve() == good.folder
    failed = [p for p in out.iterdir() if p.name.endswith(".failed")]
    assert len(failed) == 1
    assert json.loads((failed[0] / "manifest.json").read_text())["exit_code"] == 65


def test_a_write_failure_leaves_the_previous_run_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    good = night(DEFAULT_WORKBOOK, out, T0)
    before = (good.folder / "baseline" / "report.xlsx").read_bytes()
    import optimizer.runs.nightly as nightly
    from optimizer.common.problems import OutputError

    def disk_full(*_: object, **__: object) -> None:
        raise OutputError("cannot write comparison.xlsx: No space left on device")

    monkeypatch.setattr(nightly, "write_comparison", disk_full)
    run = night(DEFAULT_WORKBOOK, out, T0 + timedelta(days=1))
    assert run.exit_code == 73 and run.manifest["status"] == "failed"
    assert (out / "latest").resolve() == good.folder
    assert (good.folder / "baseline" / "report.xlsx").read_bytes() == before
    assert (out / "2026-11-23T020000Z.failed" / "manifest.json").exists()


def test_a_killed_run_leaves_the_previous_run_intact(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    good = night(DEFAULT_WORKBOOK, out, T0)
    script = (
        "import os, signal, sys\n"
        "from datetime import datetime, UTC\n"
        "import optimizer.runs.nightly as n\n"
        "def die(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "n.write_frontier = die\n"  # after every scenario report, before the manifest
        "n.run_nightly(sys.argv[1], sys.argv[2], n.NightlyOptions(analyze=False),"
        " now=datetime(2026, 11, 23, 2, tzinfo=UTC))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(DEFAULT_WORKBOOK), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9
    partial = out / ".2026-11-23T020000Z.partial"
    assert (partial / "baseline" / "report.xlsx").exists()  # it was half way through
    assert not (partial / "manifest.json").exists()
    assert (out / "latest").resolve() == good.folder
    # the next run marks the killed one as failed and completes
    run = night(DEFAULT_WORKBOOK, out, T0 + timedelta(days=2))
    assert run.exit_code == 0 and not partial.exists()
    killed = out / "2026-11-23T020000Z.failed"
    assert json.loads((killed / "manifest.json").read_text())["status"] == "failed"
    assert (out / "latest").resolve() == run.folder


def test_process_pool_and_dask_match_serial(tmp_path: Path) -> None:
    serial = night(DEFAULT_WORKBOOK, tmp_path / "s", T0)
    pool = night(
        DEFAULT_WORKBOOK,
        tmp_path / "p",
        T0,
        NightlyOptions(executor="process", workers=2, analyze=False, frontier_points=3),
    )
    dask = night(
        DEFAULT_WORKBOOK,
        tmp_path / "d",
        T0,
        NightlyOptions(executor="dask", workers=2, analyze=False, frontier_points=3),
    )
    assert serial.exit_code == pool.exit_code == dask.exit_code == 0
    assert costs(pool.manifest) == costs(serial.manifest)
    assert costs(dask.manifest) == costs(serial.manifest)


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_a_killed_worker_is_retried_then_reported_failed(executor: str) -> None:
    items = [(name, (name, n)) for name, n in (("a", 2), ("boom", 3), ("c", 4))]
    out = run_tasks(square_or_die, items, executor, workers=2)  # type: ignore[arg-type]
    by = {o.key: o for o in out}
    assert by["a"].ok and by["a"].value == 4 and by["c"].ok and by["c"].value == 16
    assert not by["boom"].ok and by["boom"].error
    assert [o.key for o in out] == ["a", "boom", "c"]  # nothing silently dropped


def test_failing_tasks_are_retried_once_serially() -> None:
    items = [("x", ("x", 5)), ("bad", ("bad", 1))]
    out = run_tasks(square_or_raise, items, "serial")
    assert out[0].ok and out[0].value == 25
    assert not out[1].ok and out[1].attempts == 2 and "ValueError: bad item" in out[1].error


def test_text_log_lines_are_readable(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimizer",
            "nightly",
            "--out",
            str(tmp_path),
            "--no-analysis",
            "--points",
            "3",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert "info    scenario baseline: optimal" in proc.stderr
    assert proc.stdout.startswith("run folder: ")
