"""Regenerate inputs/default.xlsx from the reviewable CSVs in inputs/default/.

Each CSV is one sheet (header = schema columns + `source`). Cells are typed as
a planner would type them: TRUE/FALSE as booleans, numbers as numbers, blank
as empty. Run `make inputs` after editing a CSV; a test fails if the workbook
and the CSVs disagree.
"""

from __future__ import annotations

import csv
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.common.xlsx import write_input_workbook  # noqa: E402
from optimizer.contract.schema import SHEETS  # noqa: E402

CSV_DIR = ROOT / "inputs" / "default"
OUT = ROOT / "inputs" / "default.xlsx"
#: Columns kept as text even when they look like numbers.
TEXT_COLUMNS = {
    "key",
    "source",
    "description",
    "supplier",
    "material",
    "country",
    "scenario",
    "hts",
    "regime",
    "process",
    "output",
    "from_supplier",
    "to",
    "stage",
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def typed(column: str, text: str) -> Any:
    """The value a planner would have typed into the cell (ISO dates as date cells)."""
    if text == "":
        return None
    if column in TEXT_COLUMNS:
        return text
    if ISO_DATE.fullmatch(text):
        return datetime.fromisoformat(text)
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def read_tables(csv_dir: Path = CSV_DIR) -> dict[str, list[dict[str, Any]]]:
    """Every sheet's rows, in schema order, from the CSVs."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for spec in SHEETS:
        path = csv_dir / f"{spec.name}.csv"
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            tables[spec.name] = [
                {k: typed(k, v) for k, v in row.items()} for row in csv.DictReader(fh)
            ]
    return tables


def main() -> None:
    """Write inputs/default.xlsx."""
    write_input_workbook(OUT, read_tables())
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
