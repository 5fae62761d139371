"""`sourcing` command line: solve, frontier, nightly, stress, resilient, validate, template,
synthetic.

Exit codes: 0 solved; 3 infeasible or unbounded; 4 time limit without a
solution; 5 partial failure (some scenarios failed, the rest written); 64 usage;
65 invalid data; 66 missing or unreadable file; 70 internal error; 73 cannot
write output.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from optimizer import __version__
from optimizer.analysis.emissions_frontier import emissions_frontier
from optimizer.analysis.frontier import cost_of_independence
from optimizer.analysis.risks import risk_problems
from optimizer.common.executor import EXECUTORS
from optimizer.common.format import millions, tonnes
from optimizer.common.problems import (
    InputFileError,
    InvalidInputError,
    OutputError,
    Problem,
    UnknownScenarioError,
    errors,
)
from optimizer.contract.book import (
    DEFAULT_WORKBOOK,
    Workbook,
    check_all,
    find_scenario,
    open_workbook,
    validate,
)
from optimizer.contract.scenarios import BASELINE
from optimizer.model.solution import Status
from optimizer.output.compare import compare
from optimizer.output.emissions_report import write_emissions_frontier
from optimizer.output.results import Results
from optimizer.output.whatif_report import write_comparison, write_frontier
from optimizer.runs.arguments import executor_of, int_at_least
from optimizer.runs.console import (
    COMPLIANT_HEADER,
    COMPLIANT_NOTE,
    SUMMARY_HEADER,
    SUMMARY_NOTE,
    format_table,
    summary_rows,
)
from optimizer.runs.logs import configure as configure_logging
from optimizer.runs.nightly import NightlyOptions, change_lines, run_nightly
from optimizer.runs.pipeline import model_data, solve_and_report_all
from optimizer.runs.risk_cli import add_parsers as add_risk_parsers
from optimizer.runs.risk_cli import cmd_resilient, cmd_stress

EXIT_OK = 0
#: `nightly --resilient-day` choices: a weekday, or every run
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "every")
EXIT_INFEASIBLE = 3
EXIT_TIME_LIMIT = 4
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NO_INPUT = 66
EXIT_SOFTWARE = 70
EXIT_CANT_WRITE = 73


#: OSError numbers that mean "the output cannot be written" (exit 73); any other OSError
#: that reaches main is a bug (exit 70), never a usage or output error by default.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0 (0: stop before the first iteration)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more (got {text})")
    return value


def _tonnes(text: str) -> float:
    """An argparse type: a finite number of tonnes >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of tonnes") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 t or more (got {text})")
    return value


def _size(text: str) -> str | int:
    """An argparse type: a synthetic instance size (a name or a number of variables)."""
    from optimizer.model.synthetic import dims_for

    size: str | int = int(text) if text.isdigit() else text
    try:
        dims_for(size)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return size


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    parser = _Parser(
        prog="sourcing",
        description="Critical-minerals sourcing optimizer (Pyomo + HiGHS).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    solve = sub.add_parser("solve", help="solve the baseline and scenarios, write reports")
    solve.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    group = solve.add_mutually_exclusive_group()
    group.add_argument(
        "--scenario", action="append", default=[], metavar="NAME", help="scenario (repeatable)"
    )
    group.add_argument("--all-scenarios", action="store_true", help="every scenario in the file")
    solve.add_argument("--out", default="reports", help="output folder (default: reports)")
    solve.add_argument("--time-limit", type=_seconds, default=None, metavar="S", help="seconds")
    solve.add_argument(
        "--no-analysis",
        action="store_true",
        help="skip policy costs and tariff break-evens (faster)",
    )
    solve.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="scenarios solved in parallel (default: SOURCING_WORKERS, else one per CPU core)",
    )

    front = sub.add_parser("frontier", help="cost of independence from China: cost vs China cap")
    front.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    front.add_argument("--scenario", default=BASELINE, metavar="NAME", help="scenario to sweep")
    front.add_argument(
        "--points", type=int_at_least(2), default=11, help="points from 100%% to 0%% (>= 2)"
    )
    front.add_argument("--out", default="reports", help="output folder (default: reports)")

    emit = sub.add_parser(
        "emissions-frontier", help="cost against emissions: the epsilon-constraint frontier"
    )
    emit.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    emit.add_argument("--scenario", default=BASELINE, metavar="NAME", help="scenario to sweep")
    emit.add_argument(
        "--points", type=int_at_least(2), default=11, help="caps from none to the least (>= 2)"
    )
    emit.add_argument("--out", default="reports", help="output folder (default: reports)")

    night = sub.add_parser(
        "nightly", help="every scenario and the frontier into a dated run folder, with a diff"
    )
    night.add_argument("workbook", nargs="?", default=str(DEFAULT_WORKBOOK), help="input .xlsx")
    night.add_argument("--out", default="reports", help="output root (default: reports)")
    night.add_argument(
        "--workers", type=int_at_least(1), default=1, help="parallel workers (default 1)"
    )
    night.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="serial, process (local pool) or dask (default: process when --workers > 1)",
    )
    night.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler")
    night.add_argument("--log-format", choices=("text", "json"), default="text")
    night.add_argument(
        "--resilient-day",
        choices=WEEKDAYS,
        default=None,
        help="weekday on which the run also writes the resilient plan (or `every`)",
    )
    night.add_argument(
        "--resilient-samples",
        type=int_at_least(1),
        default=200,
        help="samples of the weekly resilient plan (200)",
    )
    night.add_argument("--time-limit", type=_seconds, default=None, metavar="S", help="per solve")
    night.add_argument(
        "--points", type=int_at_least(2), default=11, help="frontier points (default 11)"
    )
    night.add_argument(
        "--threshold-t", type=_tonnes, default=1.0, help="smallest volume move reported (t)"
    )
    night.add_argument("--no-analysis", action="store_true", help="skip policy costs, break-evens")

    add_risk_parsers(sub)

    val = sub.add_parser("validate", help="list every problem in a workbook as Sheet!Cell")
    val.add_argument("workbook", help="input .xlsx")

    tpl = sub.add_parser("template", help="write a blank input workbook with help and dropdowns")
    tpl.add_argument("out", help="where to write the .xlsx")
    tpl.add_argument("--force", action="store_true", help="overwrite an existing file")

    syn = sub.add_parser(
        "synthetic", help="write a seeded synthetic input workbook (benchmarks, load tests)"
    )
    syn.add_argument("out", help="where to write the .xlsx")
    syn.add_argument(
        "--size",
        default="10k",
        type=_size,
        help="small, default, 10k, 100k, 1m or a number of variables (default 10k)",
    )
    syn.add_argument("--seed", type=int, default=0, help="random seed (0)")
    syn.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def _print_problems(problems: Sequence[Problem], stream: TextIO) -> None:
    for p in problems:
        tag = "" if p.severity == "error" else "warning: "
        print(f"{p.where}: {tag}{p.message}", file=stream)


def cmd_validate(args: argparse.Namespace) -> int:
    """Print every problem; 65 if any is an error."""
    wb = open_workbook(args.workbook)
    problems = validate(wb)
    if not errors(problems):  # Risks rows are checked against valid inputs only
        problems += risk_problems(wb)
    _print_problems(problems, sys.stdout)
    n_err = len(errors(problems))
    n_warn = len(problems) - n_err
    print(
        f"{args.workbook}: {n_err} error(s), {n_warn} warning(s) in the baseline and "
        f"{len(wb.scenarios)} scenario(s)"
    )
    return EXIT_DATA if n_err else EXIT_OK


def _status_code(results: Sequence[Results]) -> int:
    statuses = {r.status for r in results}
    if Status.ERROR in statuses:
        return EXIT_SOFTWARE
    if Status.TIME_LIMIT in statuses and any(
        r.status is Status.TIME_LIMIT and r.total_cost_usd is None for r in results
    ):
        return EXIT_TIME_LIMIT
    if statuses & {Status.INFEASIBLE, Status.UNBOUNDED}:
        return EXIT_INFEASIBLE
    return EXIT_OK


def default_workers() -> int:
    """Scenario workers when --workers is not given: SOURCING_WORKERS if set (a whole number
    >= 1; anything else is ignored), else one per CPU core."""
    text = os.environ.get("SOURCING_WORKERS", "")
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return os.cpu_count() or 1


def cmd_solve(args: argparse.Namespace) -> int:
    """Validate everything requested, then solve and write one folder per scenario."""
    started = time.perf_counter()
    wb: Workbook = open_workbook(args.workbook)
    if args.all_scenarios:
        names = wb.scenario_names
    else:
        names = [BASELINE] + [find_scenario(wb, n).name for n in args.scenario]
        names = list(dict.fromkeys(names))
    _print_problems(check_all(wb, names), sys.stderr)  # warnings: errors raised before
    results = []
    workers = args.workers or default_workers()
    for res, folder in solve_and_report_all(
        wb, names, args.out, args.time_limit, not args.no_analysis, workers
    ):
        name = res.scenario
        results.append(res)
        for line in res.highlights[:6] if res.status is not Status.OPTIMAL else [res.message]:
            print(f"  [{name}] {line}")
        print(f"  [{name}] wrote {folder}")
    if len(results) > 1:
        comparison = compare(results)
        for path in write_comparison(comparison, args.out):
            print(f"  wrote {path}")
        print()
        for line in comparison.sentences:
            print(f"  {line}")
    print()
    rows = summary_rows(results)
    compliant = any(len(r.compliance) for r in results)
    print(format_table([*SUMMARY_HEADER, *([COMPLIANT_HEADER] if compliant else [])], rows))
    print(textwrap.fill(SUMMARY_NOTE + (" " + COMPLIANT_NOTE if compliant else ""), width=100))
    regime = results[0].tariff_regime or "flat rates (Countries, TariffOverrides)"
    as_of = f" as of {results[0].data_date}" if results[0].data_date else ""
    print(f"Tariffs: regime {regime}{as_of} in the baseline (scenarios may switch it).")
    elapsed = time.perf_counter() - started
    print(f"\n{len(results)} scenario(s) from {args.workbook} in {elapsed:.2f} s")
    return _status_code(results)


def cmd_frontier(args: argparse.Namespace) -> int:
    """Sweep the China cap from 100% to 0% and write frontier.csv/.xlsx/.md."""
    wb = open_workbook(args.workbook)
    name = find_scenario(wb, args.scenario).name if args.scenario != BASELINE else BASELINE
    check_all(wb, [name])
    inputs, _ = model_data(wb, name)
    front = cost_of_independence(inputs, args.points)
    rows = [
        [
            f"{r['max_china_share']:.0%}" + (" (workbook)" if r["workbook_setting"] else ""),
            millions(r["buyer_spend_usd"]),
            millions(r["spend_delta_usd"], signed=True),
            millions(r["fiscal_cost_usd"]),
            tonnes(r["unmet_t"], missing="-"),
        ]
        for r in front.table.to_dict("records")
    ]
    header = ["max China share", "buyer spend USD M", "vs no cap USD M", "fiscal USD M", "unmet t"]
    print(format_table(header, rows))
    print(f"\n{front.sentence}\n{front.note}")
    for path in write_frontier(front, args.out):
        print(f"wrote {path}")
    print(f"{len(rows)} points in {front.seconds:.2f} s")
    failed = [r for r in front.table["status"] if r != Status.OPTIMAL.value]
    return EXIT_INFEASIBLE if failed else EXIT_OK


def cmd_emissions_frontier(args: argparse.Namespace) -> int:
    """Sweep a cap on all emissions and write emissions_frontier.csv/.xlsx/.md."""
    wb = open_workbook(args.workbook)
    name = find_scenario(wb, args.scenario).name if args.scenario != BASELINE else BASELINE
    check_all(wb, [name])
    front = emissions_frontier(model_data(wb, name)[0], args.points, name)
    rows = [
        [
            f"{r['emissions_cap_t_co2e']:,.0f}",
            "-" if r["counted_t_co2e"] is None else f"{r['counted_t_co2e']:,.0f}",
            millions(r["buyer_spend_usd"]),
            millions(r["cost_delta_usd"], signed=True),
            tonnes(r["unmet_t"], missing="-"),
            "-" if r["status"] != "optimal" else f"{r['abatement_usd_per_t_co2e']:,.0f}",
        ]
        for r in front.table.to_dict("records")
    ]
    header = ["cap t CO2e", "emissions t CO2e", "buyer spend USD M", "vs no cap USD M"]
    print(format_table([*header, "unmet t", "abatement USD/t CO2e"], rows))
    print(f"\n{front.sentence}\n{textwrap.fill(front.note, width=100)}")
    for path in write_emissions_frontier(front, args.out):
        print(f"wrote {path}")
    print(f"{len(rows)} points in {front.seconds:.2f} s")
    failed = len(front.table) == 0 or any(front.table["status"] != Status.OPTIMAL.value)
    return EXIT_INFEASIBLE if failed else EXIT_OK


def cmd_nightly(args: argparse.Namespace) -> int:
    """The unattended run: exit 0 all solved, 3/4 solver outcomes, 5 partial failure,
    65 bad data (latest untouched), 73 cannot write."""
    configure_logging(args.log_format)
    executor = executor_of(args)
    options = NightlyOptions(
        executor=executor,
        workers=max(1, args.workers),
        scheduler=args.scheduler,
        time_limit=args.time_limit,
        frontier_points=max(2, args.points),
        threshold_t=args.threshold_t,
        analyze=not args.no_analysis,
        resilient_weekday=None
        if args.resilient_day is None
        else WEEKDAYS.index(args.resilient_day),
        resilient_samples=args.resilient_samples,
    )
    run = run_nightly(args.workbook, args.out, options)
    if run.folder is not None:
        print(f"run folder: {run.folder}")
    for line in change_lines(run.manifest.get("changes", [])):
        print(f"  changed: {line}")
    return run.exit_code


def cmd_template(args: argparse.Namespace) -> int:
    """Write a blank workbook; refuse to overwrite unless --force."""
    from optimizer.contract.template import write_template

    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"{out}: exists; pass --force to overwrite", file=sys.stderr)
        return EXIT_CANT_WRITE
    write_template(out)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_synthetic(args: argparse.Namespace) -> int:
    """Write a synthetic workbook of a given size and seed; refuse to overwrite unless --force."""
    from optimizer.model.synthetic import write_workbook

    size: str | int = args.size
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"{out}: exists; pass --force to overwrite", file=sys.stderr)
        return EXIT_CANT_WRITE
    write_workbook(out, size, args.seed)
    print(f"wrote {out} (size {args.size}, seed {args.seed})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sourcing` console script and `python -m optimizer`."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a bad command line (64): returned
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handlers = {
        "solve": cmd_solve,
        "validate": cmd_validate,
        "template": cmd_template,
        "synthetic": cmd_synthetic,
        "frontier": cmd_frontier,
        "emissions-frontier": cmd_emissions_frontier,
        "nightly": cmd_nightly,
        "stress": cmd_stress,
        "resilient": cmd_resilient,
    }
    try:
        return handlers[args.command](args)
    except InvalidInputError as exc:
        _print_problems(exc.problems, sys.stderr)
        print(f"{exc}; nothing was written", file=sys.stderr)
        return EXIT_DATA
    except UnknownScenarioError as exc:  # the only data-independent mistake found after parsing
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_INPUT
    except OutputError as exc:
        print(f"error: {exc}; earlier reports were left as they were", file=sys.stderr)
        return EXIT_CANT_WRITE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:  # not an output problem: a bug
            return _internal_error(exc)
        with contextlib.suppress(OSError):  # e.g. stdout on a full disk or a closed pipe
            print(f"error: cannot write output: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CANT_WRITE
    except Exception as exc:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """Exit 70 for anything unexpected, with the hint for a traceback (SOURCING_DEBUG re-raises)."""
    if os.environ.get("SOURCING_DEBUG"):
        raise exc
    with contextlib.suppress(OSError):
        print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug; set SOURCING_DEBUG=1 for the traceback and report it.",
            file=sys.stderr,
        )
    return EXIT_SOFTWARE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
