"""Markdown for summaries: tables with escaped cells, and text that no viewer runs as a formula."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: A signed figure as the reports print it (`-$0.3 M`, `+12.5%`, `-1.0 t`): no formula.
_FIGURE = re.compile(r"[+-]\$?[\d,]+(\.\d+)?( ?(M|B|%|t|pts))?")


def md_text(value: Any) -> str:
    """A cell's text, escaped; text a spreadsheet would run as a formula gets a quote."""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    risky = text.startswith(("=", "+", "-", "@")) and not _FIGURE.fullmatch(text)
    return "'" + text if risky else text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table with escaped cells."""
    out = ["| " + " | ".join(md_text(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(md_text(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
