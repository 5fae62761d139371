"""How every report workbook looks: number formats by column name, header style, table sheets.

A column's format follows from its name (`*_usd` money, `*_t` tonnes, shares
and rates as percentages), so a new column in a result table is formatted
without touching the writers.
"""

from __future__ import annotations

import re

import pandas as pd

from optimizer.common.report_book import ReportBook, Sheet

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


def slug(name: str) -> str:
    """A folder name for a scenario: letters, digits, dot, dash, underscore."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned or "scenario"


def column_format(column: str) -> str | None:
    if column in FORMATS:
        return FORMATS[column]
    if column.endswith("_usd"):
        return USD
    if column.endswith("_t"):
        return TONNES
    return None


def table_sheet(
    book: ReportBook, title: str, df: pd.DataFrame, keep_scenario: bool = False, start_row: int = 1
) -> Sheet:
    """A sheet holding one result table: styled header, formats by column name."""
    ws = book.sheet(title)
    header = [str(c) for c in df.columns if keep_scenario or c != "scenario"]
    rows = df[header].itertuples(index=False, name=None)
    formats = {c: f for c in header if (f := column_format(c))}
    ws.rows(header, rows, formats, start_row=start_row)  # numpy, NaN, inf handled there
    return ws
