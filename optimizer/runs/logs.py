"""Logging for unattended runs: readable lines by default, one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER = "sourcing"
#: LogRecord attributes that are not user-supplied fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """{"time", "level", "message", ...extra fields} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    """`2026-11-22 02:00:01 info  message (key=value ...)`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        tail = " (" + ", ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else ""
        return f"{when} {record.levelname.lower():<7} {record.getMessage()}{tail}"


def configure(fmt: str = "text", stream: Any = None) -> logging.Logger:
    """The `sourcing` logger writing to stderr in the chosen format."""
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
