"""The risk commands of the `sourcing` command line: `stress` and `resilient`.

Kept apart from optimizer.runs.cli (which registers them) so each module stays one
screenful of concerns. Exit codes are cli's: 0 done, 5 some samples unsolved, 64 a bad
command line, 65 bad cells, 130 interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from optimizer.analysis.resilient import (
    DEFAULT_EVAL_SAMPLES,
    fit_plan,
    run_resilient,
)
from optimizer.analysis.resilient import DEFAULT_SAMPLES as RESILIENT_SAMPLES
from optimizer.analysis.stress import DEFAULT_SAMPLES, PERFECT_RECOURSE, run_stress
from optimizer.common.executor import EXECUTORS
from optimizer.contract.book import DEFAULT_WORKBOOK
from optimizer.contract.scenarios import BASELINE
from optimizer.model.extensive import METHODS
from optimizer.output.resilient_report import resilient_lines, write_resilient_report
from optimizer.output.stress_report import stress_lines, write_stress_report
from optimizer.runs.arguments import cvar_level_arg, executor_of, int_at_least, risk_weight_arg
from optimizer.runs.logs import configure as configure_logging

EXIT_OK = 0
EXIT_PARTIAL = 5
#: `sourcing stress --plan` choices: perfect recourse (default) or a fixed first stage
PLANS = ("perfect", "deterministic", "recommended", "workbook")


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workers", type=int_at_least(1), default=1, help="parallel workers (default 1)"
    )
    p.add_argument("--executor", choices=EXECUTORS, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler")


def add_parsers(sub: Any) -> None:
    """Register `stress` and `resilient` on the subparsers object."""
    stress = sub.add_parser("stress", help="Monte Carlo disruptions re-optimised: cost risk")
    stress.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    stress.add_argument(
        "--samples", type=int_at_least(1), default=DEFAULT_SAMPLES, help="samples (500)"
    )
    stress.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (0)")
    stress.add_argument("--scenario", default=BASELINE, metavar="NAME", help="scenario to stress")
    stress.add_argument("--out", default="reports", help="output folder (default: reports)")
    stress.add_argument(
        "--plan",
        choices=PLANS,
        default="perfect",
        help="perfect: every sample re-planned with hindsight (a lower bound, the default); "
        "deterministic / recommended / workbook: that plan's first stage (offtakes signed, "
        "stock built) fixed, only the second stage re-planned",
    )
    _executor_options(stress)

    res = sub.add_parser(
        "resilient",
        help="two-stage stochastic plan: what to commit now against disruption (CVaR)",
    )
    res.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    res.add_argument("--scenario", default=BASELINE, metavar="NAME", help="scenario to plan")
    res.add_argument(
        "--samples",
        type=int_at_least(1),
        default=RESILIENT_SAMPLES,
        help=f"samples the plan is chosen on (default {RESILIENT_SAMPLES})",
    )
    res.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (0)")
    res.add_argument(
        "--risk-weight",
        type=risk_weight_arg,
        default=None,
        metavar="L",
        help="lambda in E + lambda x CVaR (default: Settings risk_weight, else 0)",
    )
    res.add_argument(
        "--cvar-level",
        type=cvar_level_arg,
        default=None,
        metavar="A",
        help="alpha of CVaR, in (0, 1) (default: Settings cvar_level, else 0.95)",
    )
    res.add_argument(
        "--eval-samples",
        type=int_at_least(1),
        default=DEFAULT_EVAL_SAMPLES,
        metavar="M",
        help=f"independent samples both plans are evaluated on (default {DEFAULT_EVAL_SAMPLES})",
    )
    res.add_argument("--method", choices=METHODS, default=None, help="HiGHS method (by size)")
    res.add_argument("--out", default="reports", help="output folder (default: reports)")
    res.add_argument("--log-format", choices=("text", "json"), default="text")
    _executor_options(res)


class ProgressBar:
    """Progress of a long run: a bar with the time left on a terminal, log lines otherwise
    (one JSON object per line under --log-format json)."""

    def __init__(self, log_format: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() and log_format == "text"
        self.logger = None if self.tty else configure_logging(log_format, self.stream)
        self.start = time.perf_counter()
        self.phase = ""

    def __call__(self, what: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        if self.tty:
            share = done / total if total else 1.0
            bar = "#" * int(24 * share)
            left = f", ~{elapsed / share - elapsed:.0f} s left" if 0 < share < 1 else ""
            self.stream.write(f"\r{what:28} [{bar:<24}] {done}/{total}{left}   ")
            self.stream.flush()
        elif what != self.phase and self.logger is not None:
            self.logger.info(
                what, extra={"done": done, "total": total, "elapsed_s": round(elapsed, 2)}
            )
        self.phase = what

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def cmd_stress(args: argparse.Namespace) -> int:
    """Run the stress test and write stress.xlsx/.md/.json; 5 if any sample failed."""
    executor = executor_of(args)
    plan, label = None, PERFECT_RECOURSE
    if args.plan != "perfect":
        values, label = fit_plan(args.workbook, args.plan, args.scenario, seed=args.seed)
        plan = values
    result = run_stress(
        args.workbook,
        scenario=args.scenario,
        samples=args.samples,
        seed=args.seed,
        executor=executor,
        workers=args.workers,
        scheduler=args.scheduler,
        plan=plan,
        plan_label=label,
    )
    for line in stress_lines(result):
        print(line)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in write_stress_report(result, args.out):
        print(f"wrote {path}")
    return EXIT_PARTIAL if result.metric("failed_samples") else EXIT_OK


def cmd_resilient(args: argparse.Namespace) -> int:
    """Choose the first stage against disruption samples; write resilient.json/.xlsx/.md;
    5 if some out-of-sample samples could not be solved."""
    executor = executor_of(args)
    bar = ProgressBar(args.log_format)
    try:
        result = run_resilient(
            args.workbook,
            scenario=args.scenario,
            samples=args.samples,
            seed=args.seed,
            risk_weight=args.risk_weight,
            cvar_level=args.cvar_level,
            eval_samples=args.eval_samples,
            executor=executor,
            workers=args.workers,
            scheduler=args.scheduler,
            method=args.method,
            progress=bar,
        )
    finally:
        bar.close()
    for line in resilient_lines(result):
        print(line)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in write_resilient_report(result, args.out):
        print(f"wrote {path}")
    unsolved = result.recommended_eval.unsolved + result.deterministic_eval.unsolved
    return EXIT_PARTIAL if unsolved else EXIT_OK
