"""The two-stage extensive form on the default workbook: build time against HiGHS's own time.

Measured side by side in one run (`make bench`): for each sample count
(BENCH_STOCHASTIC_SAMPLES, default "100,1000,10000"; baseline, seed 0, risk weight
0, and once more at risk weight 1 with 1,000 samples) and each HiGHS method
(BENCH_STOCHASTIC_METHODS, default "simplex,ipm"), `optimizer.model.extensive.
solve_extensive` solves the stochastic plan on one HiGHS thread, each (samples,
method, risk weight) in a fresh subprocess so that peak memory is that run's own.

Per run, seconds:

- draw_s: `draw_samples` (the disruptions of every sample);
- vectors_s: `sample_set` (merging identical draws; each distinct sample's costs,
  column uppers and row bounds through `OneStage.vectors`);
- assemble_s: the numpy assembly of the extensive form (ExtensiveSolution.build_s);
- pass_s: HiGHS's passModel;
- build_s = draw_s + vectors_s + assemble_s + pass_s: everything before HiGHS runs;
- highs_s: HiGHS's run (ExtensiveSolution.highs_s, a presolve-off retry included);
- extract_s: the rest of solve_extensive (creating HiGHS, reading the solution);
- total_s = build_s + highs_s + extract_s, and ratio = total_s / highs_s.

Reading the workbook and compiling the one-stage LP (`prepare_run`, a fixed cost
independent of the sample count) is reported as setup_s and left out of total_s.
passModel is timed by a subclass of highspy.Highs installed in the child (the
library splits no such time out); the same subclass sets HiGHS's time_limit
(BENCH_STOCHASTIC_TIME_LIMIT, default 900 s). A run that stops at the limit is
recorded with its status and no objective or ratio. peak_rss_mb is the child's own
ru_maxrss (imports and setup included: setup_rss_mb is the peak before drawing).

Results: reports/bench/stochastic.json (records, the faster method per sample count
and the targets: ratio <= 1.3 at 1,000 samples and <= 1.5 at 10,000). `--merge`
keeps the records of an earlier run that this run does not re-measure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 0
THREADS = 1
DEFAULT_SAMPLES = "100,1000,10000"
DEFAULT_METHODS = "simplex,ipm"
#: Above this many samples only simplex runs by default: IPM took 7x simplex's time at 1,000
#: samples (95 s against 13 s, 2026-12-02) and would pass the time limit at 10,000
#: (BENCH_STOCHASTIC_METHODS set explicitly runs every method listed at every size).
IPM_MAX_SAMPLES = 1000
#: (samples, risk weight) measured besides risk weight 0, when that sample count is run
RISK_RUNS = ((1000, 1.0),)
TIME_LIMIT_S = float(os.environ.get("BENCH_STOCHASTIC_TIME_LIMIT", "900"))
#: address-space cap of each child: a MemoryError rather than a swamped shared host
MEMORY_MB = int(os.environ.get("BENCH_STOCHASTIC_MEMORY_MB", "16000"))
TARGETS = {1000: 1.3, 10000: 1.5}  # samples -> max total / HiGHS
OUT = ROOT / "reports" / "bench"


# --------------------------------------------------------------------------- child


def timed_highs(base: Any, time_limit: float, log: dict[str, Any]) -> Any:
    """A highspy.Highs subclass that sets time_limit and logs passModel and run times."""

    class TimedHighs(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.setOptionValue("time_limit", time_limit)

        def passModel(self, *args: Any) -> Any:
            start = time.perf_counter()
            out = super().passModel(*args)
            log["pass_s"] += time.perf_counter() - start
            log["nonzeros"] = int(args[2]) if len(args) > 2 else None
            return out

        def run(self) -> Any:
            start = time.perf_counter()
            out = super().run()
            log["runs"].append(time.perf_counter() - start)
            info = self.getInfo()
            log["simplex_iterations"] = int(info.simplex_iteration_count)
            log["ipm_iterations"] = int(info.ipm_iteration_count)
            log["crossover_iterations"] = int(info.crossover_iteration_count)
            log["highs_run_time_s"] = float(self.getRunTime())
            return out

    return TimedHighs


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(samples: int, method: str, risk_weight: float, time_limit: float) -> dict[str, Any]:
    """One run: draw, sample vectors, assemble, pass and solve; seconds of each."""
    limit = MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import highspy

    from optimizer.analysis.plan_eval import sample_set
    from optimizer.analysis.resilient import prepare_run
    from optimizer.analysis.risks import draw_samples
    from optimizer.contract.book import DEFAULT_WORKBOOK
    from optimizer.model.extensive import solve_extensive

    log: dict[str, Any] = {"pass_s": 0.0, "runs": []}
    highspy.Highs = timed_highs(highspy.Highs, time_limit, log)  # solve_extensive's Highs

    start = time.perf_counter()
    setup = prepare_run(DEFAULT_WORKBOOK)
    setup_s = time.perf_counter() - start
    setup_rss = peak_rss_mb()
    alpha = setup.inputs.settings.cvar_level

    t0 = time.perf_counter()
    draws = draw_samples(setup.risks, setup.first.second, samples, SEED)
    t1 = time.perf_counter()
    fit = sample_set(setup.stage, draws)
    t2 = time.perf_counter()
    sol = solve_extensive(
        setup.stage,
        fit.vectors,
        fit.keeps,
        fit.probabilities,
        risk_weight,
        alpha,
        method,
        threads=THREADS,
    )
    t3 = time.perf_counter()
    if not log["runs"]:
        raise RuntimeError("solve_extensive did not run the timed highspy.Highs subclass")

    draw_s, vectors_s, solve_call_s = t1 - t0, t2 - t1, t3 - t2
    build_s = draw_s + vectors_s + sol.build_s + log["pass_s"]
    total_s = draw_s + vectors_s + solve_call_s
    optimal = sol.status == "optimal"
    return {
        "samples": samples,
        "distinct_samples": len(fit.draws),
        "method": method,
        "risk_weight": risk_weight,
        "cvar_level": alpha,
        "status": sol.status,
        "variables": sol.variables,
        "rows": sol.rows,
        "nonzeros": log.get("nonzeros"),
        "setup_s": setup_s,
        "draw_s": draw_s,
        "vectors_s": vectors_s,
        "vectors_ms_per_distinct_sample": vectors_s / len(fit.draws) * 1000,
        "assemble_s": sol.build_s,
        "pass_s": log["pass_s"],
        "build_s": build_s,
        "highs_s": sol.highs_s,
        "highs_runs": len(log["runs"]),  # 2: HiGHS re-ran without presolve
        "highs_run_time_s": log.get("highs_run_time_s"),
        "extract_s": solve_call_s - sol.build_s - log["pass_s"] - sol.highs_s,
        "total_s": total_s,
        "ratio": total_s / sol.highs_s if optimal else None,
        "vectors_share": vectors_s / total_s,
        "simplex_iterations": log.get("simplex_iterations"),
        "ipm_iterations": log.get("ipm_iterations"),
        "crossover_iterations": log.get("crossover_iterations"),
        "objective_usd": sol.objective_usd if optimal else None,
        "time_limit_s": time_limit,
        "threads": THREADS,
        "setup_rss_mb": setup_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


# --------------------------------------------------------------------------- parent


def run_child(samples: int, method: str, risk_weight: float) -> dict[str, Any]:
    """One run in a fresh interpreter; a crash or a kill is recorded, never raised."""
    args = ["--child", "--samples", str(samples), "--method", method]
    args += ["--risk-weight", str(risk_weight), "--time-limit", str(TIME_LIMIT_S)]
    timeout = 1.5 * TIME_LIMIT_S + 600  # the limit is HiGHS's; building comes on top
    base: dict[str, Any] = {"samples": samples, "method": method, "risk_weight": risk_weight}
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {**base, "status": f"killed after {timeout:.0f} s", "ratio": None}
    if proc.returncode != 0:
        memory = "MemoryError" in proc.stderr or "bad_alloc" in proc.stderr
        status = f"out of memory (> {MEMORY_MB:,} MB)" if memory else f"exit {proc.returncode}"
        return {
            **base,
            "status": status,
            "ratio": None,
            "wall_s": time.perf_counter() - start,
            "stderr": proc.stderr[-1500:],
        }
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def key(r: dict[str, Any]) -> tuple[int, float, str]:
    return (int(r["samples"]), float(r["risk_weight"]), str(r["method"]))


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (samples, risk weight): the methods measured, the faster one and the target."""
    groups: dict[tuple[int, float], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((int(r["samples"]), float(r["risk_weight"])), []).append(r)
    out = []
    for (samples, weight), group in sorted(groups.items()):
        done = [r for r in group if r.get("status") == "optimal"]
        best = min(done, key=lambda r: r["total_s"]) if done else None
        compared = len(group) > 1
        target = TARGETS.get(samples)
        out.append(
            {
                "samples": samples,
                "risk_weight": weight,
                "methods": {r["method"]: r.get("status") for r in group},
                "faster": best["method"] if best and compared else None,
                "speedup": (
                    max(r["total_s"] for r in group if "total_s" in r) / best["total_s"]
                    if best and compared and len(done) == len(group)
                    else None
                ),
                "best_total_s": best["total_s"] if best else None,
                "best_ratio": best["ratio"] if best else None,
                "target_ratio": target,
                "target_met": (best["ratio"] <= target) if best and target else None,
            }
        )
    for r in records:
        s = next(x for x in out if (x["samples"], x["risk_weight"]) == key(r)[:2])
        r["faster"] = s["faster"]
    return out


def fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def print_table(records: list[dict[str, Any]], summary: list[dict[str, Any]]) -> None:
    cols = (
        ("samples", ">7", "d"),
        ("distinct_samples", ">8", "d"),
        ("risk_weight", ">4", ".0f"),
        ("method", "<7", ""),
        ("variables", ">10", ",d"),
        ("draw_s", ">7", ".2f"),
        ("vectors_s", ">9", ".2f"),
        ("assemble_s", ">10", ".2f"),
        ("pass_s", ">7", ".2f"),
        ("build_s", ">8", ".2f"),
        ("highs_s", ">8", ".2f"),
        ("total_s", ">8", ".2f"),
        ("ratio", ">6", ".2f"),
        ("peak_rss_mb", ">8", ",.0f"),
        ("status", "<12", ""),
    )
    heads = {"distinct_samples": "distinct", "risk_weight": "lam", "peak_rss_mb": "rss MB"}
    print("\nTwo-stage extensive form, default workbook (HiGHS on 1 thread)")
    print(" ".join(format(heads.get(c, c), align) for c, align, _ in cols))
    for r in records:
        cells = []
        for c, align, spec in cols:
            v = r.get(c)
            cells.append(format(v if isinstance(v, str) else fmt(v, spec), align))
        print(" ".join(cells))
    for s in summary:
        line = f"{s['samples']:>6} samples, lambda {s['risk_weight']:g}: "
        line += f"faster {s['faster']}" if s["faster"] else "one method measured"
        if s["speedup"]:
            line += f" ({s['speedup']:.2f}x)"
        if s["target_ratio"]:
            met = {True: "met", False: "missed", None: "not measured"}[s["target_met"]]
            line += f"; ratio {fmt(s['best_ratio'], '.2f')} (target <= {s['target_ratio']}): {met}"
        print(line)


def main() -> int:
    """Parent: one child per (samples, method, risk weight); print and save the records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--samples", type=int)
    parser.add_argument("--method")
    parser.add_argument("--risk-weight", type=float, default=0.0)
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S)
    parser.add_argument("--merge", action="store_true", help="keep earlier records not re-run")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.samples, args.method, args.risk_weight, args.time_limit)))
        return 0

    env = os.environ.get
    counts = [int(s) for s in env("BENCH_STOCHASTIC_SAMPLES", DEFAULT_SAMPLES).split(",") if s]
    explicit = "BENCH_STOCHASTIC_METHODS" in os.environ
    methods = [m.strip() for m in env("BENCH_STOCHASTIC_METHODS", DEFAULT_METHODS).split(",")]
    runs = [(n, 0.0) for n in counts] + [(n, w) for n, w in RISK_RUNS if n in counts]
    load_before = os.getloadavg()
    records = []
    for n, weight in runs:
        for method in [m for m in methods if m]:
            if method == "ipm" and n > IPM_MAX_SAMPLES and not explicit:
                continue
            print(f"[{n} samples, lambda {weight:g}] {method} ...", file=sys.stderr, flush=True)
            record = run_child(n, method, weight)
            record["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            records.append(record)
    import highspy

    machine = {
        "python": platform.python_version(),
        "highspy": getattr(highspy, "__version__", None) or _dist_version("highspy"),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    for r in records:
        r["machine"] = machine

    out = Path(args.out)
    path = out / "stochastic.json"
    if args.merge and path.exists():
        new = {key(r) for r in records}
        kept = [r for r in json.loads(path.read_text())["records"] if key(r) not in new]
        records = kept + records
    records.sort(key=key)
    summary = summarise(records)
    print_table(records, summary)
    out.mkdir(parents=True, exist_ok=True)
    body = {"records": records, "summary": summary}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
    return 0


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
