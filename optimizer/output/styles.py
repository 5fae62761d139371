"""How every report workbook looks: number formats by column name, header style, table sheets.

A column's format follows from its name (`*_usd` money, `*_t` tonnes, shares
and rates as percentages), so a new column in a result table is formatted
without touching the writers.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.common.xlsx import write_rows

USD = '"$"#,##0'
USD_KG = '"$"#,##0.00'
TONNES = "#,##0.0"
RATE = "0.0%"

FORMATS = {
    "quantity_t": TONNES,
    "demand_t": TONNES,
    "stock_t": TONNES,
    "reserve_t": TONNES,
    "offer_price_usd_per_kg": USD_KG,
    "price_paid_usd_per_kg": USD_KG,
    "freight_usd_per_kg": USD_KG,
    "landed_usd_per_kg": USD_KG,
    "usd_per_kg": USD_KG,
    "tariff_rate": RATE,
    "share": RATE,
    "share_of_demand": RATE,
    "purchase_usd": USD,
    "tariff_usd": USD,
    "freight_usd": USD,
    "cost_usd": USD,
    "holding_usd": USD,
    "dual_usd_per_t": USD,
    "usd": USD,
    "cost_usd_m": '"$"#,##0.0,,"M"',
    "cost_pct": RATE,
    "delta_pct": RATE,
    "delta_usd": USD,
    "total_cost_usd": USD,
    "delta_cost_usd": USD,
    "china_share": RATE,
    "allied_share": RATE,
    "max_china_share": RATE,
    "breakeven_tariff_rate": RATE,
    "headroom": RATE,
    "current_rate": RATE,
    "rate_volume_falls": RATE,
    "rate_volume_rises": RATE,
    "unmet_t": TONNES,
    "bought_t": TONNES,
    "volume_t": TONNES,
    "baseline_t": TONNES,
    "scenario_t": TONNES,
    "change_t": TONNES,
}

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")


def slug(name: str) -> str:
    """A folder name for a scenario: letters, digits, dot, dash, underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "scenario"


HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")


def style_header(ws: Worksheet, ncols: int, row: int = 1) -> None:
    """Bold white on blue, wrapped, frozen below. The style is registered once, on the first
    cell, and the others share its style record (openpyxl hashes a style object each time
    one is assigned: a sheet of 20 columns would hash 60 of them)."""
    if ncols < 1:
        ws.freeze_panes = ws.cell(row=row + 1, column=1)
        return
    first = ws.cell(row=row, column=1)
    first.font = HEADER_FONT
    first.fill = HEADER_FILL
    first.alignment = HEADER_ALIGNMENT
    for j in range(2, ncols + 1):
        ws.cell(row=row, column=j)._style = copy.copy(first._style)
    ws.freeze_panes = ws.cell(row=row + 1, column=1)


def column_format(column: str) -> str | None:
    if column in FORMATS:
        return FORMATS[column]
    if column.endswith("_usd"):
        return USD
    if column.endswith("_t"):
        return TONNES
    return None


def table_sheet(
    wb: Workbook, title: str, df: pd.DataFrame, keep_scenario: bool = False
) -> Worksheet:
    ws = wb.create_sheet(title)
    header = [str(c) for c in df.columns if keep_scenario or c != "scenario"]
    rows = df[header].itertuples(index=False, name=None)
    formats = {c: f for c in header if (f := column_format(c))}
    write_rows(ws, header, ([plain(v) for v in row] for row in rows), formats)
    style_header(ws, len(header))
    return ws


def plain(value: Any) -> Any:
    """numpy scalars to Python ones for openpyxl; NaN and infinities as blank cells."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
