"""Markdown for summaries: tables with escaped cells, and text that no viewer runs as a formula."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def md_text(value: Any) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return "'" + text if text.startswith(("=", "+", "-", "@")) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table with escaped cells."""
    out = ["| " + " | ".join(md_text(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(md_text(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
