"""The stress test's outputs: console lines, stress.xlsx (native chart), stress.md, stress.json."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

import pandas as pd

from optimizer.analysis.stress_result import StressResult, cost_buckets
from optimizer.common.files import atomic_path
from optimizer.common.format import json_document, json_safe, millions, money_m, pct, tonnes
from optimizer.common.report_book import ReportBook, Sheet
from optimizer.output.markdown import markdown_table, md_text

#: Suppliers and drivers listed in stress.md.
TOP: Final = 10

# --------------------------------------------------------------------------- output


def stress_lines(result: StressResult) -> list[str]:
    """The console summary (what `sourcing stress` prints)."""
    s = result.metric
    lines = [
        f"stress test of {result.scenario}: {s('samples')} samples, seed {result.seed}, "
        f"risks from {result.risks_source}; {result.executor}"
        + (f" x{result.workers}" if result.executor != "serial" else "")
        + f", {result.seconds:,.1f} s; plan: {result.plan}",
        f"buyer spend: baseline plan {money_m(s('baseline_spend_usd'))}; "
        f"expected {money_m(s('expected_spend_usd'))}, "
        f"P50 {money_m(s('p50_spend_usd'))}, P95 {money_m(s('p95_spend_usd'))}, "
        f"max {money_m(s('max_spend_usd'))}; expected fiscal cost "
        f"{money_m(s('expected_fiscal_cost_usd'))}",
        "shortfall probability: "
        + ", ".join(
            f"{r.material} {pct(r.shortfall_probability)} "
            f"(expected {r.expected_shortfall_t:,.1f} t, P95 {r.p95_shortfall_t:,.1f} t)"
            for r in result.unmet.itertuples()
        ),
    ]
    top = result.suppliers.head(3)
    if len(top):
        lines.append(
            "suppliers that matter most: "
            + "; ".join(
                f"{r.rank}. {r.supplier} (if lost: spend "
                f"{money_m(r.alone_spend_increase_usd, signed=True)}, "
                f"{tonnes(r.alone_extra_unmet_t)} t more unmet)"
                for r in top.itertuples()
            )
        )
    failed = int(s("failed_samples"))
    unsolved = int(s("unsolved_samples"))
    if failed or unsolved:
        lines.append(
            f"WARNING: {failed} samples failed and {unsolved} were not solved to optimality; "
            "the statistics cover the solved samples only"
        )
    return lines


#: Number formats of stress.xlsx by column name (suffix rules in _format).
_FORMATS: Final[Mapping[str, str]] = {
    "probability": "0.0%",
    "magnitude": "0.0%",
    "share": "0.0%",
    "frequency": "0.0%",
    "expected_share_of_demand": "0.0%",
    "outage_probability": "0.0%",
    "shortfall_probability": "0.0%",
    "shortfall_rate_when_out": "0.0%",
    "shortfall_rate_with": "0.0%",
    "seconds": "0.000",
}


def _format(column: str) -> str | None:
    if column in _FORMATS:
        return _FORMATS[column]
    if column.endswith("_usd"):
        return '"$"#,##0'
    if column.endswith("_t"):
        return "#,##0.00"
    return None


def _sheet(book: ReportBook, title: str, df: pd.DataFrame, start_row: int = 1) -> Sheet:
    ws = book.sheet(title)
    header = [str(c) for c in df.columns]
    formats = {c: f for c in header if (f := _format(c))}
    rows = ([json_safe(v) for v in row] for row in df.itertuples(index=False, name=None))
    ws.rows(header, rows, formats, start_row=start_row)
    return ws


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): json_safe(v) for k, v in r.items()} for r in df.to_dict("records")]


def stress_json(result: StressResult) -> dict[str, Any]:
    """stress.json: every table, NaN as null."""
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "headline": result.headline,
        "risks_source": result.risks_source,
        "plan": result.plan,
        "executor": result.executor,
        "workers": result.workers,
        "seconds": round(result.seconds, 3),
        "summary": {r["metric"]: json_safe(r["value"]) for r in result.summary.to_dict("records")},
        "unmet": _records(result.unmet),
        "suppliers": _records(result.suppliers),
        "drivers": _records(result.drivers),
        "risks": _records(result.risks),
        "cost_buckets": _records(cost_buckets(result)),
        "samples": _records(result.samples),
        "warnings": result.warnings,
    }


def _summary_rows(result: StressResult) -> list[list[str]]:
    rows = []
    for r in result.summary.itertuples():
        value = r.value
        if r.unit == "USD":
            shown = money_m(value)
        elif str(r.unit).startswith("USD"):
            shown = f"{money_m(value)} ({str(r.unit)[4:].strip(' ()')})"
        elif r.unit == "fraction":
            shown = pct(value)
        elif r.unit == "t":
            shown = tonnes(value, decimals=2) + " t"
        else:
            shown = str(value)
        rows.append([str(r.metric).replace("_", " "), shown])
    return rows


def stress_markdown(result: StressResult) -> str:
    """stress.md: headline, summary, shortfalls, suppliers that matter most, drivers, risks."""
    u, sup, drv = result.unmet, result.suppliers.head(TOP), result.drivers.head(TOP)
    lines = [
        f"# Stress test: {md_text(result.scenario)}",
        "",
        f"**{md_text(result.headline)}.**",
        "",
        f"{result.metric('samples')} samples, seed {result.seed}, risks from "
        f"{result.risks_source}; plan: {md_text(result.plan)}"
        + (
            " (a lower bound on what a disruption costs a plan fixed in advance)"
            if result.plan.startswith("perfect")
            else " (the first stage fixed, only purchases, stock use and unmet demand "
            "re-planned per sample)"
        )
        + ". Buyer spend is what the "
        "buyer pays; shortfalls are in tonnes; the `objective` rows also price unmet demand "
        "at the penalty, a modelling price, not money anyone pays.",
        "",
        markdown_table(["metric", "value"], _summary_rows(result)),
        "",
        "## Shortfalls per material",
        "",
        markdown_table(
            ["material", "P(shortfall)", "expected t", "P95 t", "max t", "mean when short t"],
            [
                [
                    r.material,
                    pct(r.shortfall_probability),
                    tonnes(r.expected_shortfall_t, decimals=2),
                    tonnes(r.p95_shortfall_t, decimals=2),
                    tonnes(r.max_shortfall_t, decimals=2),
                    tonnes(r.mean_shortfall_when_short_t, decimals=2),
                ]
                for r in u.itertuples()
            ],
        ),
        "",
        "## Suppliers that matter most",
        "",
        "Ranked by the model's objective when the supplier is lost alone (re-optimised; it "
        "prices unmet demand at the penalty), shown as buyer spend and unmet tonnes apart; the "
        "Monte Carlo columns compare samples where an outage hit it with the others.",
        "",
        markdown_table(
            [
                "rank",
                "supplier",
                "country",
                "spend if lost alone USD M",
                "extra unmet t",
                "P(out)",
                "samples out",
                "spend when out vs not USD M",
            ],
            [
                [
                    r.rank,
                    r.supplier,
                    r.country,
                    millions(r.alone_spend_increase_usd, signed=True, decimals=1, missing="n/a"),
                    tonnes(r.alone_extra_unmet_t, decimals=2),
                    pct(r.outage_probability),
                    r.samples_out,
                    millions(r.spend_increase_when_out_usd, signed=True, decimals=1, missing="n/a"),
                ]
                for r in sup.itertuples()
            ],
        ),
        "",
        "## Disruptions that matter most",
        "",
        markdown_table(
            ["disruption", "samples", "shortfall rate with", "mean spend with vs without USD M"],
            [
                [
                    r.disruption,
                    r.samples,
                    pct(r.shortfall_rate_with),
                    millions(r.spend_increase_usd, signed=True, decimals=1, missing="n/a"),
                ]
                for r in drv.itertuples()
            ],
        ),
        "",
        "## Risks drawn",
        "",
        markdown_table(
            ["risk", "target", "probability", "magnitude", "from", "note"],
            [
                [
                    r.risk,
                    r.target,
                    pct(r.probability),
                    f"{r.magnitude:g}",
                    r.from_period or "all",
                    r.note,
                ]
                for r in result.risks.itertuples()
            ],
        ),
        "",
    ]
    if result.warnings:
        lines += ["## Warnings", "", *[f"- {md_text(w)}" for w in result.warnings], ""]
    return "\n".join(lines)


def stress_workbook(result: StressResult) -> bytes:
    """stress.xlsx (as bytes): Summary, Spend distribution (native bar chart), Shortfalls,
    Suppliers, Drivers, Risks, Samples."""
    book = ReportBook()
    ws = _sheet(book, "Summary", result.summary, start_row=3)
    ws.cell(1, 1, result.headline)
    ws.width(1, 30)
    ws.width(2, 20)
    for r, row in enumerate(result.summary.itertuples(index=False), start=4):
        unit = str(row.unit)
        if unit.startswith("USD"):
            ws.cell(r, 2, json_safe(row.value), '"$"#,##0')
        elif unit == "fraction":
            ws.cell(r, 2, json_safe(row.value), "0.0%")
    buckets = cost_buckets(result)
    dist = _sheet(book, "Spend distribution", buckets)
    n = len(buckets)
    if n:
        chart = book.chart("column")
        chart.add_series(
            {
                "name": dist.ref(1, 4, 1, 4),
                "categories": dist.ref(2, 1, n + 1, 1),
                "values": dist.ref(2, 4, n + 1, 4),
                "gap": 10,
            }
        )
        chart.set_title({"name": "Buyer spend per sample (re-optimised)"})
        chart.set_x_axis({"name": "buyer spend, USD M"})
        chart.set_y_axis({"name": "samples"})
        chart.set_legend({"none": True})
        chart.set_size({"width": 750, "height": 340})
        dist.insert_chart(f"A{n + 3}", chart)
    dist.width(1, 26)
    _sheet(book, "Shortfalls", result.unmet)
    _sheet(book, "Suppliers", result.suppliers)
    _sheet(book, "Drivers", result.drivers)
    _sheet(book, "Risks", result.risks)
    samples = _sheet(book, "Samples", result.samples)
    samples.width(2, 60)
    return book.to_bytes()


def write_stress_report(result: StressResult, out_dir: str | Path) -> list[Path]:
    """stress.xlsx, stress.md and stress.json in `out_dir`, each replaced only once all were
    written (an earlier report survives a failure)."""
    out = Path(out_dir)
    xlsx_bytes = stress_workbook(result)
    md = stress_markdown(result)
    doc = json_document(stress_json(result))
    paths = [out / "stress.xlsx", out / "stress.md", out / "stress.json"]
    with ExitStack() as stack:
        xlsx, mdp, js = (stack.enter_context(atomic_path(p)) for p in paths)
        xlsx.write_bytes(xlsx_bytes)
        mdp.write_text(md, encoding="utf-8")
        js.write_text(doc, encoding="utf-8")
    return paths
