"""argparse types of the command line: a bad value is a usage error (exit 64), never a
traceback. Shared by optimizer.runs.cli and optimizer.runs.risk_cli."""

from __future__ import annotations

import argparse
import math
from typing import Any

from optimizer.common.executor import Executor


def int_at_least(low: int) -> Any:
    """An argparse type: a whole number >= low (a bad value is a usage error, exit 64)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low} (got {value})")
        return value

    return parse


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def risk_weight_arg(text: str) -> float:
    """An argparse type: lambda, a finite number >= 0."""
    value = _number(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {text})")
    return value


def cvar_level_arg(text: str) -> float:
    """An argparse type: alpha, strictly between 0 and 1."""
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1 (got {text})")
    return value


def executor_of(args: argparse.Namespace) -> Executor:
    """`--executor`, or by default a process pool when `--workers` > 1, else serial."""
    chosen: Executor = args.executor or ("process" if args.workers > 1 else "serial")
    return chosen
