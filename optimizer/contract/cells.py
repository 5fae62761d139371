"""Cell values to typed values: numbers, rates, booleans, periods, choices and text.

Every failure is a ValueError whose message completes a sentence that starts
with the column name and quotes what was found, so the caller cites it at its
cell (`Offers!C14: price_usd_per_kg must be a number (found "TBD")`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from optimizer.common.format import printable
from optimizer.common.limits import MAX_NUMBER, MAX_TEXT_CHARS
from optimizer.common.problems import Problem
from optimizer.contract.spec import ColumnSpec, Kind
from optimizer.contract.workbook import CellFault, ExcelError, RawCell

TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


# --------------------------------------------------------------------------- cell parsing


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def show(value: Any) -> str:
    """A cell value as quoted in a message: text quoted and made printable, dates named."""
    when = _date_like(value)
    if when:
        return when
    return f'"{printable(value)}"' if isinstance(value, str) else str(value)


def _date_like(value: Any) -> str | None:
    """`the date 2026-01-01` for a date, time or duration cell (Excel stores them as numbers)."""
    if isinstance(value, datetime):
        clock = "" if value.time() == time() else f" {value:%H:%M:%S}"
        return f"the date {value:%Y-%m-%d}{clock}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, time):
        return f"the time {value.isoformat()}"
    if isinstance(value, timedelta):
        return f"the duration {value}"
    return None


def _check_text(text: str, name: str) -> str:
    """Text as read, refusing control characters (they garble reports and terminals)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"{name} is longer than Excel's {MAX_TEXT_CHARS:,} characters")
    bad = next((c for c in text if _is_control(c)), None)
    if bad is not None:
        raise ValueError(
            f"{name} contains the control character U+{ord(bad):04X} "
            f"({show(text)}); retype the cell"
        )
    return text


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 32 and char not in "\t\n\r") or 0x7F <= code <= 0x9F


def _to_number(value: Any) -> float:
    """A finite float from a number or numeric text; ValueError otherwise."""
    if isinstance(value, (bool, datetime, date, time, timedelta)):
        raise ValueError
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.replace(",", "").replace("_", "").strip())
    raise ValueError


def parse_value(kind: Kind, value: Any, name: str, choices: tuple[str, ...] = ()) -> Any:
    """Parse one non-blank cell value; raises ValueError with a planner-readable message."""
    if isinstance(value, ExcelError):
        raise ValueError(
            f"{name} holds the Excel error {value.code}; fix the formula or type a value"
        )
    if isinstance(value, CellFault):
        raise ValueError(f"{name} {value.reason}")
    if kind is Kind.DATE:
        return _to_date(value, name)
    when = _date_like(value)
    if kind is Kind.PERIOD and when:
        year = f"{value.year}" if isinstance(value, date) else "2026"
        raise ValueError(
            f"{name} must be a label such as 2026 (found {when}); type {year} as text or as a "
            "number formatted as General"
        )
    if kind in (Kind.NUMBER, Kind.RATE) and when:
        raise ValueError(
            f"{name} must be a number (found {when}: the cell is formatted as a date or time); "
            "format it as Number and retype the value"
        )
    if kind in (Kind.TEXT, Kind.PERIOD):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return _check_text(str(value).strip(), name)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        word = str(int(value) if isinstance(value, float) and value.is_integer() else value)
        word = word.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be TRUE or FALSE (found {show(value)})")
    if kind is Kind.CHOICE:
        text = _check_text(str(value).strip(), name).lower()
        if text not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)} (found {show(value)})")
        return text
    if kind is Kind.ANY:
        return value
    percent = kind is Kind.RATE and isinstance(value, str) and value.strip().endswith("%")
    try:
        number = _to_number(value.strip().rstrip("%") if percent else value)
    except ValueError:
        raise ValueError(f"{name} must be a number (found {show(value)})") from None
    if percent:
        number /= 100.0
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number (found {show(value)})")
    if number < 0:
        raise ValueError(f"{name} must not be negative (found {number:g})")
    if abs(number) > MAX_NUMBER:
        raise ValueError(f"{name} is implausibly large ({number:g}; at most {MAX_NUMBER:g})")
    if kind is Kind.RATE and number > 1:
        raise ValueError(
            f"{name} is a fraction between 0 and 1 (found {number:g}); "
            f"write {number / 100:g} or {number:g}% for {number:g}%"
        )
    return number


def _to_date(value: Any, name: str) -> date:
    """A calendar date from a date cell or ISO text (2026-02-20); ValueError otherwise."""
    if isinstance(value, datetime):
        if value.time() != time():
            raise ValueError(f"{name} must be a date without a time of day (found {show(value)})")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = _check_text(value.strip(), name)
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        f"{name} must be a date, as a date cell or as text like 2026-02-20 (found {show(value)})"
    )


def parse_cell(col: ColumnSpec, cell: RawCell | None) -> tuple[Any, Problem | None]:
    """Typed value of one cell, its default when blank, or a Problem citing it."""
    value = None if cell is None else cell.value
    if is_blank(value):
        if col.required and cell is not None:
            return None, Problem.at(cell.ref, f"{col.name} is required")
        return col.default, None
    assert cell is not None
    try:
        return parse_value(col.kind, value, col.name, col.choices), None
    except ValueError as exc:
        return None, Problem.at(cell.ref, str(exc))


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if not close:
        lower = {k.lower(): k for k in known}
        if name.lower() in lower:
            close = [lower[name.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""
