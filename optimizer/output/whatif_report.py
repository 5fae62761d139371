"""Outputs of the what-if analyses: comparison.xlsx/.md and frontier.csv/.xlsx/.md, atomically."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference

from optimizer.analysis.frontier import Frontier
from optimizer.common.files import atomic_path
from optimizer.common.format import millions, pct
from optimizer.common.xlsx import save_workbook, set_cell, write_csv
from optimizer.output.compare import Comparison
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.styles import table_sheet

# --------------------------------------------------------------------------- what-if reports


def write_comparison(comp: Comparison, out_dir: str | Path) -> list[Path]:
    """comparison.xlsx (with a native chart of cost deltas) and comparison.md, atomically."""
    out = Path(out_dir)
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    ws = table_sheet(wb, "Summary", comp.summary, keep_scenario=True)
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
    table_sheet(wb, "By material", comp.by_material, keep_scenario=True)
    table_sheet(wb, "Allocation changes", comp.allocation_changes, keep_scenario=True)
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
                        millions(r.total_cost_usd),
                        millions(r.delta_usd, signed=True),
                        pct(r.delta_pct, signed=True, missing="-"),
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


def write_frontier(front: Frontier, out_dir: str | Path) -> list[Path]:
    """frontier.csv, frontier.xlsx (native line chart) and frontier.md, atomically."""
    out = Path(out_dir)
    table = front.table.copy()
    if "workbook_setting" in table:  # the workbook's own point as its own chart series
        table["workbook_point_usd"] = table["total_cost_usd"].where(table["workbook_setting"])
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    ws = table_sheet(wb, "Frontier", table, keep_scenario=True)
    n = len(table)
    header = [c.value for c in ws[1]]
    chart = LineChart()
    chart.title = "Cost of independence from China"
    chart.x_axis.title = "max China share"
    chart.y_axis.title = "total cost (USD)"
    cost_col = header.index("total_cost_usd") + 1
    chart.add_data(Reference(ws, min_col=cost_col, min_row=1, max_row=n + 1), titles_from_data=True)
    if "workbook_point_usd" in header:
        mine = header.index("workbook_point_usd") + 1
        chart.add_data(Reference(ws, min_col=mine, min_row=1, max_row=n + 1), titles_from_data=True)
        marker = chart.series[-1]
        marker.marker.symbol, marker.marker.size = "diamond", 10
        marker.graphicalProperties.line.noFill = True
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
    ws.add_chart(chart, f"A{n + 6}")
    set_cell(ws, n + 3, 1, front.sentence)
    set_cell(ws, n + 4, 1, front.note)
    mats = [c.split(": ")[0] for c in table.columns if c.endswith(": cost_usd")]
    md = "\n".join(
        [
            "# Cost of independence from China",
            "",
            md_text(front.sentence),
            "",
            md_text(front.note),
            "",
            markdown_table(
                [
                    "point",
                    "max China share",
                    "cost USD M",
                    "vs no cap USD M",
                    "unmet t",
                    *[f"{m} USD M" for m in mats],
                ],
                [
                    [
                        "the workbook's setting" if r.get("workbook_setting") else "",
                        f"{r['max_china_share']:.0%}",
                        millions(r["total_cost_usd"]),
                        millions(r["delta_usd"], signed=True),
                        "-" if r["unmet_t"] is None else f"{r['unmet_t']:,.1f}",
                        *[millions(r[f"{m}: cost_usd"]) for m in mats],
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
