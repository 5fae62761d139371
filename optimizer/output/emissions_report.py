"""The emissions frontier's files: emissions_frontier.csv, .xlsx (native chart) and .md.

Written atomically together: a failure leaves the previous set as it was.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from optimizer.analysis.emissions_frontier import EmissionsFrontier
from optimizer.common.files import atomic_path
from optimizer.common.format import millions
from optimizer.common.report_book import ReportBook
from optimizer.common.xlsx import write_csv
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.styles import table_sheet

FILES = ("emissions_frontier.csv", "emissions_frontier.xlsx", "emissions_frontier.md")


def frontier_xlsx(front: EmissionsFrontier) -> bytes:
    """The frontier table with a native chart: buyer spend against emissions, and the
    marginal abatement cost on a second axis."""
    book = ReportBook()
    table = front.table
    ws = table_sheet(book, "Emissions frontier", table)
    n = len(table)
    header = [str(c) for c in table.columns if c != "scenario"]
    if n:
        x = header.index("counted_t_co2e") + 1

        def series(column: str) -> dict[str, object]:
            j = header.index(column) + 1
            return {
                "name": ws.ref(1, j, 1, j),
                "categories": ws.ref(2, x, n + 1, x),
                "values": ws.ref(2, j, n + 1, j),
                "marker": {"type": "circle", "size": 5},
            }

        chart = book.chart("scatter", "straight_with_markers")
        chart.add_series(series("buyer_spend_usd"))
        chart.add_series(series("abatement_usd_per_t_co2e") | {"y2_axis": True})
        chart.set_title({"name": "Buyer spend against emissions (epsilon-constraint frontier)"})
        chart.set_x_axis({"name": "emissions, t CO2e (as the cap counts them)", "reverse": True})
        chart.set_y_axis({"name": "buyer spend, USD"})
        chart.set_y2_axis({"name": "abatement cost, USD per t CO2e"})
        chart.set_size({"width": 760, "height": 380})
        ws.insert_chart(f"A{n + 5}", chart)
    ws.cell(n + 3, 1, front.sentence)
    ws.cell(n + 4, 1, front.note)
    return book.to_bytes()


def frontier_markdown(front: EmissionsFrontier) -> str:
    """emissions_frontier.md: the sentence, the note and the points."""
    rows = [
        [
            str(r["point"]),
            f"{r['emissions_cap_t_co2e']:,.0f}",
            "-" if r["counted_t_co2e"] is None else f"{r['counted_t_co2e']:,.0f}",
            millions(r["buyer_spend_usd"]),
            millions(r["cost_delta_usd"], signed=True),
            "-" if r["unmet_t"] is None else f"{r['unmet_t']:,.1f}",
            "-"
            if r["abatement_usd_per_t_co2e"] is None
            else f"{r['abatement_usd_per_t_co2e']:,.0f}",
            r["status"],
        ]
        for r in front.table.to_dict("records")
    ]
    return "\n".join(
        [
            f"# Cost against emissions: {md_text(front.scenario)}",
            "",
            md_text(front.sentence),
            "",
            md_text(front.note),
            "",
            markdown_table(
                [
                    "point",
                    "cap t CO2e",
                    "emissions t CO2e",
                    "buyer spend USD M",
                    "vs no cap USD M",
                    "unmet t",
                    "abatement USD/t CO2e",
                    "status",
                ],
                rows,
            ),
            "",
        ]
    )


def write_emissions_frontier(front: EmissionsFrontier, out_dir: str | Path) -> list[Path]:
    """emissions_frontier.csv, .xlsx and .md in `out_dir`, replaced together."""
    out = Path(out_dir)
    paths = [out / name for name in FILES]
    xlsx = frontier_xlsx(front)
    md = frontier_markdown(front)
    with ExitStack() as stack:
        csv_path, xlsx_path, md_path = (stack.enter_context(atomic_path(p)) for p in paths)
        write_csv(csv_path, front.table)
        xlsx_path.write_bytes(xlsx)
        md_path.write_text(md, encoding="utf-8")
    return paths
