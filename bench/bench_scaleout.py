"""Scenarios per second on the default workbook: serial, local process pool, Dask LocalCluster.

Measured side by side in one run (`make bench`); each executor solves the same
batch of scenario tasks (every scenario of the default workbook, repeated), with
HiGHS on one thread per worker and the model built inside each task. Start-up
(spawning processes, starting the cluster) is included, as a nightly job pays it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.common.executor import Executor, run_tasks  # noqa: E402
from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook  # noqa: E402
from optimizer.runs.nightly import SolveTask, solve_task  # noqa: E402

REPEAT = int(os.environ.get("BENCH_SCALEOUT_REPEAT", "4"))


def main() -> None:
    """Print and save scenarios/second per executor."""
    data = DEFAULT_WORKBOOK.read_bytes()
    names = open_workbook(DEFAULT_WORKBOOK).scenario_names
    tasks = [
        (f"{name}#{i}", SolveTask(data, DEFAULT_WORKBOOK.name, name, None, analyze=False))
        for i in range(REPEAT)
        for name in names
    ]
    configs: list[tuple[str, Executor, int]] = [
        ("serial", "serial", 1),
        ("process pool x2", "process", 2),
        ("Dask LocalCluster x2", "dask", 2),
    ]
    rows = []
    for label, executor, workers in configs:
        start = time.perf_counter()
        out = run_tasks(solve_task, tasks, executor, workers)
        seconds = time.perf_counter() - start
        ok = sum(o.ok for o in out)
        rows.append(
            {
                "executor": label,
                "tasks": len(tasks),
                "ok": ok,
                "seconds": seconds,
                "scenarios_per_s": len(tasks) / seconds,
            }
        )
    base = rows[0]["scenarios_per_s"]
    print(f"\nScale-out on the default workbook ({len(tasks)} scenario solves per executor)")
    print(f"{'executor':<22} {'seconds':>8} {'scen/s':>8} {'vs serial':>10}")
    for r in rows:
        r["vs_serial"] = r["scenarios_per_s"] / base
        print(
            f"{r['executor']:<22} {r['seconds']:>8.2f} {r['scenarios_per_s']:>8.1f} "
            f"{r['vs_serial']:>9.2f}x"
        )
    out_dir = ROOT / "reports" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "scaleout.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
