"""The unattended nightly run: every scenario and the frontier, into a dated run folder.

Layout under the output root (default `reports/`):

    2026-11-22T020000Z/            one complete run (manifest.json, changes.md,
        manifest.json              comparison, frontier, one folder per scenario)
        changes.md
        <scenario>/report.xlsx ...
    latest -> 2026-11-22T020000Z   the last complete run (a symlink, swapped atomically)
    .2026-11-23T020000Z.partial/   a run in progress (or killed: renamed *.failed later)
    2026-11-23T020000Z.failed/     a run that failed; its manifest says why

A run is written into its `.partial` folder and renamed into place only when
complete, so a failed or killed run never touches the previous run or `latest`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from optimizer.analysis.frontier import cost_of_independence
from optimizer.common.executor import Executor, TaskOutcome, run_tasks
from optimizer.common.format import money_m
from optimizer.common.problems import InputFileError, InvalidInputError, OutputError
from optimizer.contract.book import Workbook, check_all, open_workbook
from optimizer.contract.records import Inputs
from optimizer.model.solution import Status
from optimizer.output.compare import compare
from optimizer.output.markdown import md_text
from optimizer.output.report import write_scenario_report
from optimizer.output.results import Results
from optimizer.output.styles import slug
from optimizer.output.whatif_report import write_comparison, write_frontier
from optimizer.runs.pipeline import model_data, solve_scenario
from optimizer.runs.weekly import weekly_resilient

log = logging.getLogger("sourcing")

EXIT_OK = 0
EXIT_INFEASIBLE = 3
EXIT_TIME_LIMIT = 4
EXIT_PARTIAL = 5  # some scenarios failed (crash, killed worker); the others were written
EXIT_DATA = 65
EXIT_CANT_WRITE = 73

#: Volume moves (t, summed over periods) below this are not reported as changes.
DEFAULT_THRESHOLD_T = 1.0


@dataclass(frozen=True)
class NightlyOptions:
    """Everything that shapes a run (recorded in the manifest)."""

    executor: Executor = "serial"
    workers: int = 1
    scheduler: str | None = None
    time_limit: float | None = None
    frontier_points: int = 11
    threshold_t: float = DEFAULT_THRESHOLD_T
    analyze: bool = True
    #: weekday (0 = Monday) on which the run also writes the resilient plan
    #: (`sourcing resilient` on the baseline into the run folder); None: never, 7: every run
    resilient_weekday: int | None = None
    resilient_samples: int = 200


@dataclass(frozen=True)
class SolveTask:
    """One scenario to solve in a worker: the workbook travels as bytes (remote workers)."""

    workbook: bytes
    name: str
    scenario: str
    time_limit: float | None
    analyze: bool
    threads: int = 1


#: Workbooks already read by this worker process, by SHA-256 of their bytes.
_OPENED: dict[str, Workbook] = {}


def _workbook_from_bytes(data: bytes, name: str) -> Workbook:
    """Read the workbook once per worker process, not once per task."""
    key = hashlib.sha256(data).hexdigest()
    if key not in _OPENED:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            _OPENED.clear()  # one workbook per run: keep memory flat
            _OPENED[key] = open_workbook(path)
    return _OPENED[key]


def solve_task(task: SolveTask) -> tuple[Inputs, Results]:
    """Solve one scenario from workbook bytes (runs in a worker; HiGHS on one thread)."""
    wb = _workbook_from_bytes(task.workbook, task.name)
    inputs, _, results = solve_scenario(
        wb, task.scenario, time_limit=task.time_limit, threads=task.threads, analyze=task.analyze
    )
    return inputs, results


@dataclass
class NightlyRun:
    """The outcome of a run."""

    exit_code: int
    folder: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)


def versions() -> dict[str, str]:
    """Versions of this package, the solver stack and Python."""
    import highspy

    out = {"python": platform.python_version()}
    for dist in (
        "critical-minerals-optimizer",
        "pyomo",
        "highspy",
        "pandas",
        "openpyxl",
        "numpy",
        "distributed",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    out["HiGHS"] = (
        f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"
    )
    return out


def _run_name(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H%M%SZ")


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    from optimizer.common.files import write_text_atomic

    write_text_atomic(path, json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n")


def _mark_stale_partials(root: Path, mine: Path) -> None:
    """A `.partial` folder left by a killed run becomes `<name>.failed` (never `latest`)."""
    for stale in root.glob(".*.partial"):
        if stale == mine:
            continue
        target = root / (stale.name[1 : -len(".partial")] + ".failed")
        with contextlib.suppress(OSError):
            stale.rename(target)
            _write_json(
                target / "manifest.json",
                {"status": "failed", "reason": "run was killed before it finished"},
            )


def _point_latest(root: Path, folder: Path) -> None:
    """Swap `latest` to the new run atomically (a new symlink renamed over the old one)."""
    tmp = root / f".latest.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(folder.name)
    os.replace(tmp, root / "latest")


def previous_run(root: Path) -> Path | None:
    """The run `latest` points to, if any."""
    latest = root / "latest"
    return latest.resolve() if latest.exists() else None


def run_nightly(
    workbook: str | Path, out_root: str | Path, options: NightlyOptions, now: datetime | None = None
) -> NightlyRun:
    """Solve everything, write a complete run folder, update `latest`.

    Data, solver and output trouble never raise: the exit code and the manifest
    say what happened. Only a workbook that cannot be read raises InputFileError.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    root = Path(out_root)
    workbook = Path(workbook)
    wb = open_workbook(workbook)  # InputFileError (exit 66) when missing or unreadable
    try:
        data = workbook.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{workbook}: cannot be read ({exc.strerror or exc})") from exc
    manifest: dict[str, Any] = {
        "run": _run_name(now),
        "started": now.isoformat(),
        "input": str(workbook),
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "versions": versions(),
        "options": asdict(options),
        "scenarios": [],
    }
    log.info(
        "nightly run started",
        extra={
            "run": manifest["run"],
            "input": str(workbook),
            "input_sha256": manifest["input_sha256"],
        },
    )
    try:
        check_all(wb, wb.scenario_names)
    except InvalidInputError as exc:
        for p in exc.problems:
            log.error(f"{p.where}: {p.message}", extra={"cell": p.where})
        manifest.update(
            status="failed", exit_code=EXIT_DATA, problems=[str(p) for p in exc.problems]
        )
        folder = _fail(root, manifest)
        return NightlyRun(EXIT_DATA, folder, manifest)

    partial = root / f".{manifest['run']}.partial"
    try:
        partial.mkdir(parents=True, exist_ok=False)
        _mark_stale_partials(root, partial)
        exit_code = _solve_and_write(
            wb.scenario_names, data, workbook, wb, partial, root, options, manifest
        )
        manifest.update(
            status="complete",
            exit_code=exit_code,
            seconds=round(time.perf_counter() - started, 3),
            finished=datetime.now(UTC).isoformat(),
        )
        _write_json(partial / "manifest.json", manifest)
        final = root / manifest["run"]
        partial.rename(final)
        _point_latest(root, final)
    except (OSError, OutputError) as exc:
        log.error(f"cannot write the run: {exc}")
        manifest.update(status="failed", exit_code=EXIT_CANT_WRITE, reason=str(exc))
        with contextlib.suppress(OSError, OutputError):
            _write_json(partial / "manifest.json", manifest)
            partial.rename(root / f"{manifest['run']}.failed")
        return NightlyRun(EXIT_CANT_WRITE, None, manifest)
    log.info(
        "nightly run finished",
        extra={"run": manifest["run"], "exit_code": exit_code, "seconds": manifest["seconds"]},
    )
    return NightlyRun(exit_code, final, manifest)


def _fail(root: Path, manifest: dict[str, Any]) -> Path | None:
    """Record a run that could not start (bad data) as `<run>.failed`; latest is untouched."""
    folder = root / f"{manifest['run']}.failed"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / "manifest.json", manifest)
    except (OSError, OutputError):
        return None
    return folder


def _solve_and_write(
    names: list[str],
    data: bytes,
    workbook: Path,
    wb: Any,
    folder: Path,
    root: Path,
    options: NightlyOptions,
    manifest: dict[str, Any],
) -> int:
    tasks = [
        (name, SolveTask(data, workbook.name, name, options.time_limit, options.analyze))
        for name in names
    ]
    outcomes: list[TaskOutcome[tuple[Inputs, Results]]] = run_tasks(
        solve_task, tasks, options.executor, options.workers, options.scheduler
    )
    results: list[Results] = []
    failed = 0
    for out in outcomes:
        entry: dict[str, Any] = {
            "name": out.key,
            "seconds": round(out.seconds, 4),
            "attempts": out.attempts,
        }
        if not out.ok or out.value is None:
            failed += 1
            entry.update(status="failed", total_cost_usd=None, error=out.error)
            log.error(f"scenario {out.key} failed: {out.error}", extra={"scenario": out.key})
        else:
            inputs, res = out.value
            write_scenario_report(res, inputs, folder)
            results.append(res)
            entry.update(
                status=res.status.value,
                buyer_spend_usd=res.buyer_spend_usd,
                fiscal_cost_usd=res.fiscal_cost_usd,
                unmet_t=res.unmet_t,
                unmet_by_material_t=res.unmet_by_material,
                china_value_share=res.china_value_share,
                total_cost_usd=res.total_cost_usd,
                message=res.message,
            )
            log.info(
                f"scenario {out.key}: {res.status.value}",
                extra={
                    "scenario": out.key,
                    "status": res.status.value,
                    "buyer_spend_usd": res.buyer_spend_usd,
                    "unmet_t": res.unmet_t,
                },
            )
        manifest["scenarios"].append(entry)
    if len(results) > 1:
        write_comparison(compare(results), folder)
    inputs, _ = model_data(wb)
    front = cost_of_independence(inputs, options.frontier_points)
    write_frontier(front, folder)
    manifest["frontier"] = {
        "sentence": front.sentence,
        "seconds": round(front.seconds, 4),
        "last_10pct_usd": front.last_step_usd,
    }
    resilient_failed = weekly_resilient(
        workbook, folder, options.resilient_weekday, options.resilient_samples, options, manifest
    )
    prev = previous_run(root)
    changes = diff_runs(prev, results, options.threshold_t) if prev else []
    manifest["previous_run"] = prev.name if prev else None
    manifest["changes"] = changes
    from optimizer.common.files import write_text_atomic

    write_text_atomic(folder / "changes.md", changes_markdown(changes, prev, manifest["run"]))
    statuses = {r.status for r in results}
    if failed or resilient_failed:
        return EXIT_PARTIAL
    if any(r.status is Status.TIME_LIMIT and r.total_cost_usd is None for r in results):
        return EXIT_TIME_LIMIT
    if statuses & {Status.INFEASIBLE, Status.UNBOUNDED}:
        return EXIT_INFEASIBLE
    if Status.ERROR in statuses:
        return EXIT_PARTIAL
    return EXIT_OK


# --------------------------------------------------------------------------- what changed


def _load_results(folder: Path, scenario: str) -> dict[str, Any] | None:
    path = folder / slug(scenario) / "results.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc


def _volumes(allocation: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for a in allocation:
        key = (a["material"], a["supplier"], a["country"])
        out[key] = out.get(key, 0.0) + float(a["quantity_t"])
    return out


def diff_runs(prev: Path, results: list[Results], threshold_t: float) -> list[dict[str, Any]]:
    """Changes since the previous run: status, cost, volume moves, new unmet demand."""
    from optimizer.output.results_json import results_json

    changes: list[dict[str, Any]] = []
    for res in results:
        old = _load_results(prev, res.scenario)
        new = results_json(res)
        if old is None:
            changes.append({"scenario": res.scenario, "kind": "new_scenario"})
            continue
        if old["status"] != new["status"]:
            changes.append(
                {
                    "scenario": res.scenario,
                    "kind": "status",
                    "before": old["status"],
                    "after": new["status"],
                }
            )
        if old.get("buyer_spend_usd") is not None and new["buyer_spend_usd"] is not None:
            delta = new["buyer_spend_usd"] - old["buyer_spend_usd"]
            if abs(delta) > 0.5:
                changes.append(
                    {
                        "scenario": res.scenario,
                        "kind": "spend",
                        "before_usd": old["buyer_spend_usd"],
                        "after_usd": new["buyer_spend_usd"],
                        "delta_usd": delta,
                    }
                )
        before, after = _volumes(old["allocation"]), _volumes(new["allocation"])
        for key in sorted(set(before) | set(after)):
            move = after.get(key, 0.0) - before.get(key, 0.0)
            if abs(move) >= threshold_t:
                changes.append(
                    {
                        "scenario": res.scenario,
                        "kind": "volume",
                        "material": key[0],
                        "supplier": key[1],
                        "country": key[2],
                        "change_t": move,
                    }
                )
        old_unmet: dict[str, float] = {}
        for u in old["unmet"]:
            old_unmet[u["material"]] = old_unmet.get(u["material"], 0.0) + u["quantity_t"]
        new_unmet: dict[str, float] = {}
        for u in new["unmet"]:
            new_unmet[u["material"]] = new_unmet.get(u["material"], 0.0) + u["quantity_t"]
        for m in dict.fromkeys([*old_unmet, *new_unmet]):
            was, now = old_unmet.get(m, 0.0), new_unmet.get(m, 0.0)
            if abs(now - was) > 1e-6:
                changes.append(
                    {
                        "scenario": res.scenario,
                        "kind": "unmet",
                        "material": m,
                        "before_t": was,
                        "after_t": now,
                    }
                )
    return changes


def change_lines(changes: list[dict[str, Any]]) -> list[str]:
    """`baseline: Germanium: Umicore +4.0 t, China germanium producers -4.0 t; total +$1.2 M`."""
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for c in changes:
        by_scenario.setdefault(c["scenario"], []).append(c)
    lines = []
    for scenario, items in by_scenario.items():
        parts = []
        for c in items:
            if c["kind"] == "status":
                parts.append(f"status {c['before']} -> {c['after']}")
            elif c["kind"] == "new_scenario":
                parts.append("new scenario")
            elif c["kind"] == "unmet":
                parts.append(
                    f"unmet {c['material']} {c['after_t']:,.1f} t (was {c['before_t']:,.1f} t)"
                )
        moves: dict[str, list[str]] = {}
        for c in items:
            if c["kind"] == "volume":
                moves.setdefault(c["material"], []).append(
                    f"{c['supplier']} {c['change_t']:+,.1f} t"
                )
        parts += [f"{m}: {', '.join(v)}" for m, v in moves.items()]
        cost = next((c for c in items if c["kind"] == "spend"), None)
        if cost:
            parts.append(f"buyer spend {money_m(cost['delta_usd'], signed=True)}")
        lines.append(f"{scenario}: " + "; ".join(parts))
    return lines


def changes_markdown(changes: list[dict[str, Any]], prev: Path | None, run: str) -> str:
    """changes.md: what moved since the previous complete run."""
    head = [f"# What changed in {run}", ""]
    if prev is None:
        return "\n".join([*head, "First run: nothing to compare with.", ""])
    if not changes:
        return "\n".join([*head, f"Nothing changed since {prev.name}.", ""])
    lines = [f"- {md_text(line)}" for line in change_lines(changes)]
    return "\n".join([*head, f"Since {prev.name}:", "", *lines, ""])
