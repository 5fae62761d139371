"""Our extensive form against mpi-sppy (progressive hedging and its extensive form).

The issue: where an extensive form outgrows one machine, use an existing decomposition
engine rather than writing one. This measures where, on the default workbook
(baseline, seed 0, risk weight 0), mpi-sppy (https://github.com/Pyomo/mpi-sppy) would
take over from `optimizer.model.extensive`. mpi-sppy is not a project dependency: run
this from an environment that has it (`pip install -e . mpi-sppy`); without it the
script says so and exits 0. It runs without mpi4py (mpi-sppy's serial fallback: one
rank, every scenario on it).

Engines, each (engine, sample count) in a fresh subprocess so that its peak RSS is
its own (ru_maxrss, imports and `prepare_run` included), HiGHS on one thread:

- ours: `solve_plan` on `sample_set(stage, draw_samples(risks, second, N, 0))`; wall_s
  counts drawing, the sample vectors, the numpy assembly and HiGHS (simplex up to
  20,000 samples, as `sourcing resilient` chooses). Identical draws are merged
  (distinct samples, summed probabilities); mpi-sppy gets the same distinct samples
  with the same probabilities (`_mpisppy_probability`), so all three solve one LP.
- sppy_ef: `mpisppy.opt.ef.ExtensiveForm` over a `scenario_creator` that builds one
  sample's Pyomo model with the first stage inside it (tests/ef_reference.py's
  `build_reference` on that one draw, then `sputils.attach_root_node`), solved by
  Pyomo's `highs` (pyomo.contrib.solver) with simplex; wall_s = building the
  scenarios + the EF + Pyomo's hand-over to HiGHS + HiGHS.
- ph: `mpisppy.opt.ph.PH` over the same scenario_creator, subproblems solved by
  Pyomo's `highs` with presolve off (see child_ph: with it, one subproblem ends in
  HiGHS status unknown and mpi-sppy aborts PH as infeasible). The proximal term is
  linearised (mpi-sppy's linearize_proximal_terms; tolerance PROX_TOL t) so every
  subproblem stays an LP:
  HiGHS's QP solver did not finish one PH iteration of 10 samples in 10 minutes
  with the quadratic term. rho_i = RHO_FACTOR x the decision's unit cost, USD/t
  (a stock build's price; an offtake's landed cost; RHO_FACTOR = 10 was the best of
  0.1, 1, 10 and 100 at 10 samples). PH stops at convthresh CONV_THRESH t (mpi-sppy's
  metric: the mean |x_s - xbar| over scenarios and decisions), PH_ITERS iterations or
  PH_TIME_LIMIT s of wall time (scenario building included), whichever comes first.
  Its first stage is xbar (clipped to the bounds), evaluated exactly with our
  engine (`solve_extensive(..., fixed=xbar)`) after PH's peak RSS is read: gap =
  (that expected cost - our optimum) / our optimum, also as a share of the VSS (EEV -
  RP of the same sample set, the value the first stage is for); bound_gap is the
  same for PH's trivial bound (the wait-and-see bound of iteration 0).

Results: reports/bench/decomposition.json (records, the fitted MB per distinct sample
of our extensive form and where it reaches this machine's memory). Environment:
BENCH_DECOMP_SAMPLES (default "10,100,1000"), BENCH_DECOMP_ENGINES (default
"ours,sppy_ef,ph"), BENCH_DECOMP_PH_TIME_LIMIT (default 420 s),
BENCH_DECOMP_PH_ITERS (default 50), BENCH_DECOMP_TIME_LIMIT (a child's own
timeout, default 1200 s); --merge keeps earlier records this run does not repeat.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
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
RISK_WEIGHT = 0.0
ENGINES = ("ours", "sppy_ef", "ph")
DEFAULT_SAMPLES = "10,100,1000"
RHO_FACTOR = 10.0
PROX_TOL = 1e-2  # t: the linearised proximal term's accuracy
CONV_THRESH = 1e-2  # t: mean |x_s - xbar|
PH_ITERS = int(os.environ.get("BENCH_DECOMP_PH_ITERS", "50"))
PH_TIME_LIMIT_S = float(os.environ.get("BENCH_DECOMP_PH_TIME_LIMIT", "420"))
CHILD_TIMEOUT_S = float(os.environ.get("BENCH_DECOMP_TIME_LIMIT", "1200"))
#: address-space cap of each child: a MemoryError rather than a swamped shared host
MEMORY_MB = int(os.environ.get("BENCH_DECOMP_MEMORY_MB", "20000"))
MACHINE_MB = 24 * 1024
OUT = ROOT / "reports" / "bench"


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- child


def one_thread_highs() -> None:
    """Make `optimizer.model.extensive`'s highspy.Highs run on THREADS threads."""
    import highspy

    base = highspy.Highs

    class OneThread(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.setOptionValue("threads", THREADS)

    highspy.Highs = OneThread


def setup_and_samples(samples: int) -> tuple[Any, Any, float]:
    """The default workbook's Setup and its sample set; seconds to draw and vectorise."""
    from optimizer.analysis.plan_eval import sample_set
    from optimizer.analysis.resilient import prepare_run
    from optimizer.analysis.risks import draw_samples
    from optimizer.contract.book import DEFAULT_WORKBOOK

    setup = prepare_run(DEFAULT_WORKBOOK)
    start = time.perf_counter()
    fit = sample_set(setup.stage, draw_samples(setup.risks, setup.first.second, samples, SEED))
    return setup, fit, time.perf_counter() - start


def evaluate(setup: Any, fit: Any, values: list[float]) -> float:
    """Expected cost (USD) of a fixed first stage over the sample set (our engine)."""
    from optimizer.model.extensive import solve_extensive

    decisions = setup.first.decisions
    clipped = [min(max(v, d.lower_t), d.upper_t) for v, d in zip(values, decisions, strict=True)]
    sol = solve_extensive(
        setup.stage, fit.vectors, fit.keeps, fit.probabilities, fixed=clipped, threads=THREADS
    )
    return sol.objective_usd if sol.status == "optimal" else math.nan


def child_ours(samples: int) -> dict[str, Any]:
    """Our extensive form: sample vectors, assembly and HiGHS, wall seconds."""
    one_thread_highs()
    from optimizer.analysis.resilient import deterministic, solve_plan

    start = time.perf_counter()
    setup, fit, vectors_s = setup_and_samples(samples)
    setup_s = time.perf_counter() - start - vectors_s
    t0 = time.perf_counter()
    sol = solve_plan(setup, fit, RISK_WEIGHT, setup.inputs.settings.cvar_level)
    solve_s = time.perf_counter() - t0
    peak = peak_rss_mb()
    eev = evaluate(setup, fit, list(deterministic(setup).values))  # after the peak is read
    return {
        "distinct_samples": len(fit.draws),
        "status": sol.status,
        "objective_usd": sol.objective_usd,
        "values": list(sol.values),
        "eev_usd": eev,
        "vss_usd": eev - sol.objective_usd,
        "variables": sol.variables,
        "rows": sol.rows,
        "method": sol.method,
        "setup_s": setup_s,
        "vectors_s": vectors_s,
        "assemble_s": sol.build_s,
        "highs_s": sol.highs_s,
        "wall_s": vectors_s + solve_s,
        "peak_rss_mb": peak,
    }


def scenario_names(fit: Any) -> list[str]:
    return [f"s{i}" for i in range(len(fit.draws))]


def scenario_creator_for(setup: Any, fit: Any) -> Any:
    """mpi-sppy's scenario_creator: one sample's Pyomo model, first stage included."""
    import mpisppy.utils.sputils as sputils

    from tests.ef_reference import build_reference

    def scenario_creator(name: str) -> Any:
        i = int(name[1:])
        model = build_reference(setup.first, [fit.draws[i]], [1.0], RISK_WEIGHT)
        sputils.attach_root_node(model, model.first_cost, [model.z])
        model._mpisppy_probability = fit.probabilities[i]
        return model

    return scenario_creator


def child_sppy_ef(samples: int) -> dict[str, Any]:
    """mpi-sppy's ExtensiveForm over the Pyomo scenarios, solved by Pyomo's highs."""
    import pyomo.environ as pyo
    from mpisppy.opt.ef import ExtensiveForm

    setup, fit, _ = setup_and_samples(samples)
    names = scenario_names(fit)
    start = time.perf_counter()
    ef = ExtensiveForm({"solver": "highs"}, names, scenario_creator_for(setup, fit))
    build_s = time.perf_counter() - start
    t0 = time.perf_counter()
    results = ef.solve_extensive_form(solver_options={"threads": THREADS, "solver": "simplex"})
    solve_s = time.perf_counter() - t0
    peak = peak_rss_mb()
    status = str(results.solver.termination_condition)
    values: list[float] = []
    objective = math.nan
    if ef.tree_solution_available:
        objective = float(ef.get_objective_value())
        z = ef.local_scenarios[names[0]].z
        values = [float(pyo.value(z[i])) for i in range(len(setup.first.decisions))]
    return {
        "distinct_samples": len(fit.draws),
        "status": status,
        "objective_usd": objective,
        "values": values,
        "build_s": build_s,
        "solve_s": solve_s,
        "wall_s": build_s + solve_s,
        "peak_rss_mb": peak,
    }


def decision_rates(first: Any) -> list[float]:
    """USD/t each decision's tonne costs: a build's price, an offtake's landed cost."""
    from optimizer.model.first_stage import STOCKPILE

    return [
        d.cost_usd_per_t if d.kind == STOCKPILE else 1000.0 * first.second.buys[d.buy].landed
        for d in first.decisions
    ]


def child_ph(samples: int) -> dict[str, Any]:
    """mpi-sppy's progressive hedging; xbar evaluated with our engine afterwards."""
    import mpisppy.utils.sputils as sputils
    import pyomo.environ as pyo
    from mpisppy.extensions.extension import Extension
    from mpisppy.opt.ph import PH

    setup, fit, _ = setup_and_samples(samples)
    names = scenario_names(fit)
    rates = decision_rates(setup.first)
    n1 = len(rates)
    trace: list[dict[str, float]] = []
    clock = {"start": time.perf_counter()}

    def rho_setter(model: Any) -> list[tuple[int, float]]:
        return [(id(model.z[i]), RHO_FACTOR * r) for i, r in enumerate(rates)]

    class Trace(Extension):  # type: ignore[misc]
        def post_iter0(self) -> None:
            trace.append({"iteration": 0, "s": time.perf_counter() - clock["start"]})

        def enditer_after_sync(self) -> None:
            trace.append(
                {
                    "iteration": int(self.opt._PHIter),
                    "s": time.perf_counter() - clock["start"],
                    "conv": float(self.opt.conv),
                }
            )

    options = {
        "solver_name": "highs",
        "PHIterLimit": PH_ITERS,
        "defaultPHrho": 1.0,
        "convthresh": CONV_THRESH,
        "time_limit": PH_TIME_LIMIT_S,
        "verbose": False,
        "display_progress": False,
        "display_timing": False,
        "linearize_proximal_terms": True,
        "proximal_linearization_tolerance": PROX_TOL,
        # presolve off: HiGHS's presolve ends in status unknown on one sample's subproblem
        # at 100 and at 1,000 samples (both China REE suppliers out: the failure
        # optimizer.model.engine.retry_without_presolve handles), and mpi-sppy then
        # stops PH as infeasible; without presolve every subproblem solves (~10% slower)
        "solver_options_layers": [
            sputils.solver_options_layer("default", {"threads": THREADS, "presolve": "off"})
        ],
    }
    clock["start"] = time.perf_counter()
    ph = PH(options, names, scenario_creator_for(setup, fit), rho_setter=rho_setter,
            extensions=Trace)  # fmt: skip
    build_s = time.perf_counter() - clock["start"]
    conv, eobj, trivial_bound = ph.ph_main()
    wall_s = time.perf_counter() - clock["start"]
    peak = peak_rss_mb()
    scenario = next(iter(ph.local_scenarios.values()))
    xbar = [float(pyo.value(scenario._mpisppy_model.xbars[("ROOT", i)])) for i in range(n1)]
    # PH rounds solved after iteration 0 (mpi-sppy's _PHIter is one more when it stops
    # on convthresh or the time limit: it checks both before the round's solves)
    iterations = sum(1 for t in trace if t["iteration"] > 0)
    if conv is not None and conv < CONV_THRESH:
        stop = "converged"
    elif iterations >= PH_ITERS:
        stop = "iteration limit"
    else:
        stop = "time limit"
    iter0_s = trace[0]["s"] - build_s if trace else math.nan
    later = [b["s"] - a["s"] for a, b in itertools.pairwise(trace)]
    return {
        "distinct_samples": len(fit.draws),
        "status": stop,
        "iterations": iterations,
        "conv": conv,
        "eobj_usd": eobj,  # mpi-sppy's weighted E[objective], proximal term included
        "trivial_bound_usd": trivial_bound,
        "values": xbar,
        "objective_usd": evaluate(setup, fit, xbar),  # after the peak is read
        "build_s": build_s,
        "iter0_s": iter0_s,
        "iteration_s": sum(later) / len(later) if later else math.nan,
        "wall_s": wall_s,
        "peak_rss_mb": peak,
        "rho_factor": RHO_FACTOR,
        "convthresh": CONV_THRESH,
        "prox_tolerance_t": PROX_TOL,
        "iteration_limit": PH_ITERS,
        "time_limit_s": PH_TIME_LIMIT_S,
        "trace": trace,
    }


CHILDREN = {"ours": child_ours, "sppy_ef": child_sppy_ef, "ph": child_ph}


def child(engine: str, samples: int) -> dict[str, Any]:
    limit = MEMORY_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return {"engine": engine, "samples": samples, **CHILDREN[engine](samples)}


# --------------------------------------------------------------------------- parent


def run_child(engine: str, samples: int) -> dict[str, Any]:
    """One run in a fresh interpreter; a crash or a kill is recorded, never raised."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", engine, str(samples)]
    base: dict[str, Any] = {"engine": engine, "samples": samples}
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return {**base, "status": f"killed after {CHILD_TIMEOUT_S:.0f} s"}
    if proc.returncode != 0:
        memory = "MemoryError" in proc.stderr or "bad_alloc" in proc.stderr
        status = f"out of memory (> {MEMORY_MB:,} MB)" if memory else f"exit {proc.returncode}"
        return {**base, "status": status, "stderr": proc.stderr[-2000:]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["child_s"] = time.perf_counter() - start
    return out


def compare(records: list[dict[str, Any]]) -> None:
    """Gaps to our optimum of the same sample count (relative, USD and share of VSS)."""
    ours = {r["samples"]: r for r in records if r["engine"] == "ours" and "objective_usd" in r}
    for r in records:
        ref = ours.get(r["samples"])
        if ref is None or r["engine"] == "ours" or "objective_usd" not in r:
            continue
        rp, vss = ref["objective_usd"], ref["vss_usd"]
        for name, value in (("gap", r["objective_usd"]), ("bound_gap", r.get("trivial_bound_usd"))):
            if value is None or not math.isfinite(value):
                continue
            diff = value - rp if name == "gap" else rp - value
            r[f"{name}_usd"] = diff
            r[name] = diff / abs(rp)
            r[f"{name}_of_vss"] = diff / vss if vss > 0 else None
        r["speed_vs_ours"] = ref["wall_s"] / r["wall_s"] if r.get("wall_s") else None


def memory_fit(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Least-squares peak RSS = a + b x distinct samples of our EF; where it hits the machine."""
    pts = [
        (r["distinct_samples"], r["peak_rss_mb"])
        for r in records
        if r["engine"] == "ours" and "peak_rss_mb" in r
    ]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    a = my - b * mx
    biggest = max(pts)
    draws = [r for r in records if r["engine"] == "ours" and r["distinct_samples"] == biggest[0]]
    distinct_share = biggest[0] / draws[0]["samples"]
    at = (MACHINE_MB - a) / b
    return {
        "mb_intercept": a,
        "mb_per_distinct_sample": b,
        "machine_mb": MACHINE_MB,
        "distinct_samples_at_machine": at,
        "distinct_share_at_largest": distinct_share,
        "drawn_samples_at_machine_approx": at / distinct_share,
        "points": pts,
    }


def fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def print_table(records: list[dict[str, Any]], fit: dict[str, Any] | None) -> None:
    print("\nDefault workbook, baseline, seed 0, risk weight 0 (HiGHS on 1 thread)")
    print(
        f"{'samples':>7} {'distinct':>8} {'engine':<8} {'wall s':>8} {'peak MB':>8} "
        f"{'iters':>5} {'gap':>9} {'gap/VSS':>8} {'bound gap':>9}  status"
    )
    for r in records:
        print(
            f"{r['samples']:>7} {fmt(r.get('distinct_samples'), 'd'):>8} {r['engine']:<8} "
            f"{fmt(r.get('wall_s'), '.2f'):>8} {fmt(r.get('peak_rss_mb'), ',.0f'):>8} "
            f"{fmt(r.get('iterations'), 'd'):>5} {fmt(r.get('gap'), '.2e'):>9} "
            f"{fmt(r.get('gap_of_vss'), '.2%'):>8} {fmt(r.get('bound_gap'), '.2e'):>9}  "
            f"{r.get('status')}"
        )
    if fit:
        print(
            f"our EF: {fit['mb_intercept']:.0f} MB + {fit['mb_per_distinct_sample']:.2f} MB per "
            f"distinct sample; {MACHINE_MB:,} MB at ~{fit['distinct_samples_at_machine']:,.0f} "
            f"distinct (~{fit['drawn_samples_at_machine_approx']:,.0f} drawn) samples"
        )


def version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(name)
    except PackageNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SAMPLES"))
    parser.add_argument("--merge", action="store_true", help="keep earlier records not re-run")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    if importlib.util.find_spec("mpisppy") is None:
        print(
            "skipped: mpisppy is not importable here (it is not a project dependency); "
            "run from an environment with `pip install -e . mpi-sppy`"
        )
        return 0

    env = os.environ.get
    counts = [int(s) for s in env("BENCH_DECOMP_SAMPLES", DEFAULT_SAMPLES).split(",") if s]
    engines = [e.strip() for e in env("BENCH_DECOMP_ENGINES", ",".join(ENGINES)).split(",")]
    bad = [e for e in engines if e not in ENGINES]
    if bad:
        parser.error(f"unknown engine(s) {bad}: choose from {', '.join(ENGINES)}")
    load_before = os.getloadavg()
    records = []
    for n in counts:
        for engine in engines:
            print(f"[{n} samples] {engine} ...", file=sys.stderr, flush=True)
            record = run_child(engine, n)
            record["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            print(
                f"    {record.get('status')}, {fmt(record.get('wall_s'), '.1f')} s",
                file=sys.stderr,
                flush=True,
            )
            records.append(record)

    out = Path(args.out)
    path = out / "decomposition.json"
    if args.merge and path.exists():
        new = {(r["engine"], r["samples"]) for r in records}
        old = json.loads(path.read_text())["records"]
        records = [r for r in old if (r["engine"], r["samples"]) not in new] + records
    records.sort(key=lambda r: (r["samples"], ENGINES.index(r["engine"])))
    compare(records)
    fit = memory_fit(records)
    print_table(records, fit)
    machine = {
        "python": platform.python_version(),
        "mpi-sppy": version("mpi-sppy"),
        "pyomo": version("pyomo"),
        "highspy": version("highspy"),
        "mpi4py": version("mpi4py"),
        "cpus": os.cpu_count(),
        "threads": THREADS,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    out.mkdir(parents=True, exist_ok=True)
    body = {"machine": machine, "records": records, "memory_fit": fit}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
