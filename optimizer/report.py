"""Reports for one scenario: report.xlsx (with native charts), summary.md, results.json.

All three are written to temporary files first and renamed into place only
when all of them were written, so a failure never leaves a half-written or
mixed report over an earlier good one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from optimizer.inputs import Inputs
from optimizer.results import COST_KEYS, Results
from optimizer.schema import SHEETS_BY_NAME
from optimizer.tables import inputs_to_tables
from optimizer.whatif import Comparison, Frontier
from optimizer.xlsx import atomic_path, save_workbook, set_cell, write_csv, write_rows

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


def _style_header(ws: Worksheet, ncols: int, row: int = 1) -> None:
    for j in range(1, ncols + 1):
        c = ws.cell(row=row, column=j)
        c.font = HEADER_FONT
        c.fill = HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=row + 1, column=1)


def _fmt(column: str) -> str | None:
    if column in FORMATS:
        return FORMATS[column]
    if column.endswith("_usd"):
        return USD
    if column.endswith("_t"):
        return TONNES
    return None


def _table_sheet(
    wb: Workbook, title: str, df: pd.DataFrame, keep_scenario: bool = False
) -> Worksheet:
    ws = wb.create_sheet(title)
    header = [str(c) for c in df.columns if keep_scenario or c != "scenario"]
    rows = df[header].itertuples(index=False, name=None)
    formats = {c: f for c in header if (f := _fmt(c))}
    write_rows(ws, header, ([_plain(v) for v in row] for row in rows), formats)
    _style_header(ws, len(header))
    return ws


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones for openpyxl; NaN and infinities as blank cells."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _summary_sheet(wb: Workbook, res: Results, inputs: Inputs) -> None:
    ws = wb.active
    assert ws is not None
    ws.title = "Summary"
    set_cell(ws, 1, 1, f"Sourcing plan: {res.scenario}").font = Font(bold=True, size=14)
    lines: list[tuple[str, Any, str | None]] = [
        ("Workbook", Path(inputs.source).name, None),
        ("Status", res.status.value, None),
        ("Message", res.message, None),
        ("Total cost (USD)", res.total_cost_usd, USD),
        ("Bought (t)", res.bought_t, TONNES),
        ("Unmet demand (t)", res.unmet_t, TONNES),
        ("China share of tonnes bought", res.china_share, RATE),
    ]
    for i, (label, value, fmt) in enumerate(lines, start=3):
        set_cell(ws, i, 1, label).font = Font(bold=True)
        set_cell(ws, i, 2, value, fmt)
    row = 3 + len(lines) + 1
    set_cell(ws, row, 1, "Cost breakdown").font = Font(bold=True)
    first = row + 1
    for i, key in enumerate(COST_KEYS, start=first):
        set_cell(ws, i, 1, key.replace("_", " "))
        set_cell(ws, i, 2, res.cost_breakdown_usd[key], USD)
    last = first + len(COST_KEYS) - 1
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Cost breakdown (USD)"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 7, 14
    ws.add_chart(chart, "D3")
    row = last + 2
    set_cell(ws, row, 1, "What binds").font = Font(bold=True)
    for i, text in enumerate(res.highlights or ["nothing binds"], start=row + 1):
        set_cell(ws, i, 1, text)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 22


def _volume_chart_sheet(wb: Workbook, res: Results) -> None:
    """Tonnes by origin country per material and period, as a stacked native bar chart."""
    ws = wb.create_sheet("Volume by origin")
    if res.shares.empty:
        set_cell(ws, 1, 1, "no purchases")
        return
    pivot = res.shares.pivot_table(
        index=["material", "period"],
        columns="country",
        values="quantity_t",
        aggfunc="sum",
        sort=False,
    ).fillna(0.0)
    header = ["material / period", *map(str, pivot.columns)]
    rows = [
        [f"{m} {t}", *map(float, vals)]
        for (m, t), vals in zip(pivot.index, pivot.values, strict=True)
    ]
    last = write_rows(ws, header, rows, dict.fromkeys(header[1:], TONNES))
    _style_header(ws, len(header))
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Tonnes by origin country"
    chart.y_axis.title = "t"
    chart.add_data(
        Reference(ws, min_col=2, max_col=len(header), min_row=1, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    chart.height, chart.width = max(8, 0.6 * len(rows)), 18
    ws.add_chart(chart, f"{chr(ord('A') + min(len(header) + 1, 25))}2")


def _costs_sheet(wb: Workbook, res: Results) -> None:
    alloc = res.allocation
    cols = ["purchase_usd", "tariff_usd", "freight_usd", "cost_usd"]
    if alloc.empty:
        df = pd.DataFrame(columns=["material", "period", *cols])
    else:
        df = alloc.groupby(["material", "period"], sort=False, as_index=False)[cols].sum()
    _table_sheet(wb, "Costs", df)


def _inputs_sheets(wb: Workbook, inputs: Inputs) -> None:
    """The inputs used, one sheet each, named `In <Sheet>` (Settings as setting/value rows)."""
    for sheet, rows in inputs_to_tables(inputs).items():
        header = [c.name for c in SHEETS_BY_NAME[sheet.lower()].columns]
        ws = wb.create_sheet(f"In {sheet}")
        write_rows(ws, header, ([row.get(c) for c in header] for row in rows))
        _style_header(ws, len(header))


def report_workbook(res: Results, inputs: Inputs) -> Workbook:
    """The report as an openpyxl Workbook (not yet saved)."""
    wb = Workbook()
    _summary_sheet(wb, res, inputs)
    _volume_chart_sheet(wb, res)
    _table_sheet(wb, "Allocation", res.allocation)
    _costs_sheet(wb, res)
    _table_sheet(wb, "Shares", res.shares)
    _table_sheet(wb, "Unmet", res.unmet)
    _table_sheet(wb, "Stock", res.stock)
    _table_sheet(wb, "Shadow prices", res.shadow_prices)
    for title, df in (
        ("Policy costs", res.policy_costs),
        ("Tariff break-evens", res.tariff_breakevens),
        ("Country tariffs", res.country_breakevens),
    ):
        if len(df.columns):
            _table_sheet(wb, title, df)
    _inputs_sheets(wb, inputs)
    return wb


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


def summary_markdown(res: Results) -> str:
    """summary.md: headline, cost breakdown, what binds, purchases by material."""
    total = "n/a" if res.total_cost_usd is None else f"${res.total_cost_usd:,.0f}"
    lines = [
        f"# Sourcing plan: {md_text(res.scenario)}",
        "",
        f"- Status: **{res.status.value}**"
        + ("" if res.message == res.status.value else f" ({md_text(res.message)})"),
        f"- Total cost: **{total}**",
        f"- Bought: {res.bought_t:,.1f} t; unmet: {res.unmet_t:,.1f} t; "
        f"China share: {res.china_share:.1%}",
        "",
        "## Cost breakdown (USD)",
        "",
        markdown_table(
            ["component", "USD"],
            [[k.replace("_", " "), f"{res.cost_breakdown_usd[k]:,.0f}"] for k in COST_KEYS],
        ),
        "",
        "## What binds",
        "",
        *[f"- {md_text(h)}" for h in res.highlights or ["nothing binds"]],
        "",
    ]
    tb = res.tariff_breakevens
    if len(tb):
        near = tb.dropna(subset=["headroom"])
        near = near.loc[near["headroom"].abs().sort_values().index].head(10)
        lines += [
            "## Tariff break-evens closest to today's rates",
            "",
            markdown_table(
                ["supplier", "material", "period", "tariff", "break-even", "what happens"],
                [
                    [
                        r.supplier,
                        r.material,
                        r.period,
                        f"{r.tariff_rate:.1%}",
                        f"{r.breakeven_tariff_rate:.1%}",
                        r.change,
                    ]
                    for r in near.itertuples()
                ],
            ),
            "",
        ]
    if not res.allocation.empty:
        g = res.allocation.groupby(["material", "period", "supplier", "country"], sort=False)
        agg = g.agg(t=("quantity_t", "sum"), landed=("landed_usd_per_kg", "first")).reset_index()
        lines += [
            "## Purchases",
            "",
            markdown_table(
                ["material", "period", "supplier", "country", "t", "landed USD/kg"],
                [
                    [r.material, r.period, r.supplier, r.country, f"{r.t:,.1f}", f"{r.landed:,.2f}"]
                    for r in agg.itertuples()
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def write_scenario_report(res: Results, inputs: Inputs, out_dir: str | Path) -> Path:
    """Write report.xlsx, summary.md and results.json into out_dir/<scenario>/ atomically."""
    folder = Path(out_dir) / slug(res.scenario)
    wb = report_workbook(res, inputs)
    text = summary_markdown(res)
    doc = json.dumps(_json_safe_doc(res), indent=2, allow_nan=False)
    with ExitStack() as stack:
        xlsx = stack.enter_context(atomic_path(folder / "report.xlsx"))
        md = stack.enter_context(atomic_path(folder / "summary.md"))
        js = stack.enter_context(atomic_path(folder / "results.json"))
        save_workbook(wb, xlsx)
        md.write_text(text, encoding="utf-8")
        js.write_text(doc, encoding="utf-8")
    return folder


def _json_safe_doc(res: Results) -> dict[str, Any]:
    from optimizer.results import results_json

    return results_json(res)


# --------------------------------------------------------------------------- what-if reports


def write_comparison(comp: Comparison, out_dir: str | Path) -> list[Path]:
    """comparison.xlsx (with a native chart of cost deltas) and comparison.md, atomically."""
    out = Path(out_dir)
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    ws = _table_sheet(wb, "Summary", comp.summary, keep_scenario=True)
    n = len(comp.summary)
    header = [c.value for c in ws[1]]
    col = header.index("delta_usd") + 1
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Cost vs baseline (USD)"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    chart.height, chart.width = max(7, 0.7 * n), 16
    ws.add_chart(chart, f"A{n + 4}")
    _table_sheet(wb, "By material", comp.by_material, keep_scenario=True)
    _table_sheet(wb, "Allocation changes", comp.allocation_changes, keep_scenario=True)
    notes = wb.create_sheet("Headlines")
    for i, line in enumerate(comp.sentences, start=1):
        set_cell(notes, i, 1, line)
    notes.column_dimensions["A"].width = 140
    s = comp.summary
    md = "\n".join(
        [
            "# Scenario comparison",
            "",
            *[f"- {md_text(line)}" for line in comp.sentences],
            "",
            markdown_table(
                [
                    "scenario",
                    "status",
                    "cost USD M",
                    "vs baseline USD M",
                    "vs baseline %",
                    "unmet t",
                    "China share",
                ],
                [
                    [
                        r.scenario,
                        r.status,
                        _money_m(r.total_cost_usd),
                        _money_m(r.delta_usd, signed=True),
                        _pct(r.delta_pct),
                        f"{r.unmet_t:,.1f}",
                        f"{r.china_share:.1%}",
                    ]
                    for r in s.itertuples()
                ],
            ),
            "",
        ]
    )
    with ExitStack() as stack:
        xlsx = stack.enter_context(atomic_path(out / "comparison.xlsx"))
        mdp = stack.enter_context(atomic_path(out / "comparison.md"))
        save_workbook(wb, xlsx)
        mdp.write_text(md, encoding="utf-8")
    return [out / "comparison.xlsx", out / "comparison.md"]


def _pct(value: Any) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value:+.1%}"


def _money_m(value: Any, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    return f"{value / 1e6:+,.2f}" if signed else f"{value / 1e6:,.2f}"


def write_frontier(front: Frontier, out_dir: str | Path) -> list[Path]:
    """frontier.csv, frontier.xlsx (native line chart) and frontier.md, atomically."""
    out = Path(out_dir)
    table = front.table
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    ws = _table_sheet(wb, "Frontier", table, keep_scenario=True)
    n = len(table)
    header = [c.value for c in ws[1]]
    chart = LineChart()
    chart.title = "Cost of independence from China"
    chart.x_axis.title = "max China share"
    chart.y_axis.title = "total cost (USD)"
    cost_col = header.index("total_cost_usd") + 1
    chart.add_data(Reference(ws, min_col=cost_col, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    unmet = BarChart()
    unmet_col = header.index("unmet_t") + 1
    unmet.add_data(
        Reference(ws, min_col=unmet_col, min_row=1, max_row=n + 1), titles_from_data=True
    )
    unmet.y_axis.axId = 200
    unmet.y_axis.title = "unmet (t)"
    unmet.y_axis.crosses = "max"
    chart += unmet
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, f"A{n + 4}")
    set_cell(ws, n + 3, 1, front.sentence)
    mats = [c.split(": ")[0] for c in table.columns if c.endswith(": cost_usd")]
    md = "\n".join(
        [
            "# Cost of independence from China",
            "",
            md_text(front.sentence),
            "",
            markdown_table(
                [
                    "max China share",
                    "cost USD M",
                    "vs no cap USD M",
                    "unmet t",
                    *[f"{m} USD M" for m in mats],
                ],
                [
                    [
                        f"{r['max_china_share']:.0%}",
                        _money_m(r["total_cost_usd"]),
                        _money_m(r["delta_usd"], signed=True),
                        "-" if r["unmet_t"] is None else f"{r['unmet_t']:,.1f}",
                        *[_money_m(r[f"{m}: cost_usd"]) for m in mats],
                    ]
                    for r in table.to_dict("records")
                ],
            ),
            "",
        ]
    )
    with ExitStack() as stack:
        csv_path = stack.enter_context(atomic_path(out / "frontier.csv"))
        xlsx = stack.enter_context(atomic_path(out / "frontier.xlsx"))
        mdp = stack.enter_context(atomic_path(out / "frontier.md"))
        write_csv(csv_path, table)
        save_workbook(wb, xlsx)
        mdp.write_text(md, encoding="utf-8")
    return [out / "frontier.csv", out / "frontier.xlsx", out / "frontier.md"]
