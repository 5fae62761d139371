"""Outputs of the what-if analyses: comparison.xlsx/.md and frontier.csv/.xlsx/.md, atomically."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from optimizer.analysis.frontier import Frontier
from optimizer.common.files import atomic_path
from optimizer.common.format import millions, pct
from optimizer.common.report_book import ReportBook
from optimizer.common.xlsx import write_csv
from optimizer.output.compare import Comparison
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.styles import table_sheet

# --------------------------------------------------------------------------- what-if reports


def write_comparison(comp: Comparison, out_dir: str | Path) -> list[Path]:
    """comparison.xlsx (a native chart of buyer-spend deltas) and comparison.md, atomically."""
    out = Path(out_dir)
    book = ReportBook()
    ws = table_sheet(book, "Summary", comp.summary, keep_scenario=True)
    n = len(comp.summary)
    col = [str(c) for c in comp.summary.columns].index("spend_delta_usd") + 1
    chart = book.chart("bar")
    chart.add_series(
        {
            "name": ws.ref(1, col, 1, col),
            "categories": ws.ref(2, 1, n + 1, 1),
            "values": ws.ref(2, col, n + 1, col),
        }
    )
    chart.set_title({"name": "Buyer spend vs baseline (USD)"})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 600, "height": int(max(265, 26 * n))})
    ws.insert_chart(f"A{n + 4}", chart)
    table_sheet(book, "By material", comp.by_material, keep_scenario=True)
    table_sheet(book, "Allocation changes", comp.allocation_changes, keep_scenario=True)
    notes = book.sheet("Headlines")
    for i, line in enumerate(comp.sentences, start=1):
        notes.cell(i, 1, line)
    notes.width(1, 140)
    s = comp.summary
    unmet_cols = [c for c in s.columns if c.startswith("unmet: ")]

    def unmet(row: Mapping[Any, object]) -> str:
        if row["unmet_t"] is None or row["unmet_t"] != row["unmet_t"]:
            return "-"
        parts = [
            f"{c[len('unmet: ') : -2]} {float(str(row[c])):,.1f}"
            for c in unmet_cols
            if row[c] is not None and float(str(row[c])) > 1e-6
        ]
        return ", ".join(parts) or "0.0"

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
                    "buyer spend USD M",
                    "vs baseline USD M",
                    "vs baseline %",
                    "fiscal USD M",
                    "unmet t",
                    "China share (value)",
                    "emissions kt CO2e",
                    "tariffs",
                ],
                [
                    [
                        r["scenario"],
                        r["status"],
                        millions(r["buyer_spend_usd"]),
                        millions(r["spend_delta_usd"], signed=True),
                        pct(r["spend_delta_pct"], signed=True, missing="-"),
                        millions(r["fiscal_cost_usd"]),
                        unmet(r),
                        pct(r["china_value_share"], missing="-"),
                        "-"
                        if r["emissions_t_co2e"] is None
                        else f"{r['emissions_t_co2e'] / 1000:,.1f}"
                        + (" (some unknown)" if r["emissions_unknown_t"] else ""),
                        f"{r['tariff_regime']}"
                        + (f" (as of {r['data_date']})" if r["data_date"] else ""),
                    ]
                    for r in s.to_dict("records")
                ],
            ),
            "",
            "Buyer spend is what the buyer pays (purchase, tariff, freight, take-or-pay, "
            "holding); fiscal cost is the government's price support on what is bought; "
            "unmet demand is in tonnes. The optimiser also prices unmet demand at a penalty, a "
            "modelling price that is only in the `objective_usd` column of comparison.xlsx.",
            "",
        ]
    )
    with ExitStack() as stack:
        xlsx = stack.enter_context(atomic_path(out / "comparison.xlsx"))
        mdp = stack.enter_context(atomic_path(out / "comparison.md"))
        xlsx.write_bytes(book.to_bytes())
        mdp.write_text(md, encoding="utf-8")
    return [out / "comparison.xlsx", out / "comparison.md"]


def _unmet_cell(row: Mapping[Any, object], materials: list[str]) -> str:
    """`18.0 (Tb oxide 18.0)`: unmet tonnes of a frontier point, by material."""
    total = row["unmet_t"]
    if total is None or total != total:
        return "-"
    parts = [
        f"{m} {float(str(row[f'{m}: unmet_t'])):,.1f}"
        for m in materials
        if row[f"{m}: unmet_t"] is not None and float(str(row[f"{m}: unmet_t"])) > 1e-6
    ]
    return f"{float(str(total)):,.1f}" + (f" ({', '.join(parts)})" if parts else "")


def write_frontier(front: Frontier, out_dir: str | Path) -> list[Path]:
    """frontier.csv, frontier.xlsx (native line chart) and frontier.md, atomically."""
    out = Path(out_dir)
    table = front.table.copy()
    if "workbook_setting" in table:  # the workbook's own point as its own chart series
        table["workbook_point_usd"] = table["buyer_spend_usd"].where(table["workbook_setting"])
    book = ReportBook()
    ws = table_sheet(book, "Frontier", table, keep_scenario=True)
    n = len(table)
    header = [str(c) for c in table.columns]

    def series(column: str) -> dict[str, Any]:
        j = header.index(column) + 1
        return {
            "name": ws.ref(1, j, 1, j),
            "categories": ws.ref(2, 1, n + 1, 1),
            "values": ws.ref(2, j, n + 1, j),
        }

    chart = book.chart("line")
    chart.set_title({"name": "Cost of independence from China"})
    chart.set_x_axis({"name": "max China share"})
    chart.set_y_axis({"name": "buyer spend (USD)"})
    chart.add_series(series("buyer_spend_usd"))
    if "workbook_point_usd" in header:
        chart.add_series(
            series("workbook_point_usd")
            | {"marker": {"type": "diamond", "size": 10}, "line": {"none": True}}
        )
    unmet = book.chart("column")
    unmet.add_series(series("unmet_t") | {"y2_axis": True})
    unmet.set_y2_axis({"name": "unmet (t)"})
    chart.combine(unmet)
    chart.set_size({"width": 680, "height": 340})
    ws.insert_chart(f"A{n + 6}", chart)
    ws.cell(n + 3, 1, front.sentence)
    ws.cell(n + 4, 1, front.note)
    mats = [c.split(": ")[0] for c in table.columns if c.endswith(": spend_usd")]
    md = "\n".join(
        [
            "# Cost of independence from China",
            "",
            md_text(front.sentence),
            "",
            md_text(front.note),
            "",
            f"Tariffs: {md_text(front.tariffs)}.",
            "",
            markdown_table(
                [
                    "point",
                    "max China share (each material, period; tonnes)",
                    "buyer spend USD M",
                    "vs no cap USD M",
                    "fiscal USD M",
                    "unmet t",
                    "China share (value)",
                    *[f"{m} spend USD M" for m in mats],
                ],
                [
                    [
                        "the workbook's setting" if r.get("workbook_setting") else "",
                        f"{r['max_china_share']:.0%}",
                        millions(r["buyer_spend_usd"]),
                        millions(r["spend_delta_usd"], signed=True),
                        millions(r["fiscal_cost_usd"]),
                        _unmet_cell(r, mats),
                        pct(r["china_value_share"], missing="-"),
                        *[millions(r[f"{m}: spend_usd"]) for m in mats],
                    ]
                    for r in table.to_dict("records")
                ],
            ),
            "",
            "The x-axis caps China's share of each material's purchases in each period, by "
            "tonnes (`china_tonnes_share_max` in frontier.csv is the largest share a point "
            "reaches). Spend is what the buyer pays; unmet demand is in tonnes (the optimiser "
            "prices it at a penalty, a modelling price, only in `objective_usd`).",
            "",
        ]
    )
    with ExitStack() as stack:
        csv_path = stack.enter_context(atomic_path(out / "frontier.csv"))
        xlsx = stack.enter_context(atomic_path(out / "frontier.xlsx"))
        mdp = stack.enter_context(atomic_path(out / "frontier.md"))
        write_csv(csv_path, table)
        xlsx.write_bytes(book.to_bytes())
        mdp.write_text(md, encoding="utf-8")
    return [out / "frontier.csv", out / "frontier.xlsx", out / "frontier.md"]
