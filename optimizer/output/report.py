"""Reports for one scenario: report.xlsx (with native charts), summary.md, results.json.

The three are written into a temporary folder that replaces the scenario's
folder in one step (`common.files.atomic_folder`), so a failure never leaves
a half-written or mixed report over an earlier good one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from optimizer.common.files import atomic_folder
from optimizer.common.format import pct
from optimizer.common.xlsx import save_workbook, set_cell, write_rows
from optimizer.contract.records import Inputs
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.tables import inputs_to_tables
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.results import SPEND_KEYS, Results
from optimizer.output.sankey import sankey_spec, write_sankey_html
from optimizer.output.styles import RATE, TONNES, USD, slug, style_header, table_sheet


def _summary_sheet(wb: Workbook, res: Results, inputs: Inputs) -> None:
    ws = wb.active
    assert ws is not None
    ws.title = "Summary"
    set_cell(ws, 1, 1, f"Sourcing plan: {res.scenario}").font = Font(bold=True, size=14)
    lines: list[tuple[str, Any, str | None]] = [
        ("Workbook", Path(inputs.source).name, None),
        ("Scenario", res.description or res.scenario, None),
        ("Status", res.status.value, None),
        ("Message", res.message, None),
        ("Tariffs", tariff_line(res), None),
        ("Buyer spend (USD)", res.buyer_spend_usd, USD),
        ("Fiscal cost: government price support (USD)", res.fiscal_cost_usd, USD),
        ("Unmet demand (t)", res.unmet_t, TONNES),
        *[(f"  unmet {m} (t)", q, TONNES) for m, q in res.unmet_by_material.items()],
        ("Bought (t)", res.bought_t, TONNES),
        *(
            [
                ("Received by the buyer (t)", res.received_t, TONNES),
                *[
                    (f"  China's share of tonnes received at stage {k}", v, RATE)
                    for k, v in res.china_by_stage().items()
                ],
                *[
                    (f"  compliant {r.material} {r.period}: short (t)", r.shortfall_t, TONNES)
                    for r in res.compliance.itertuples()
                ],
            ]
            if res.has_chain
            else []
        ),
        (
            "China share of the value received (shipping facility's country)"
            if res.has_chain
            else "China share of the value bought",
            res.china_value_share,
            RATE,
        ),
        ("Objective (USD): spend + unmet penalty, a modelling price", res.total_cost_usd, USD),
    ]
    for i, (label, value, fmt) in enumerate(lines, start=3):
        set_cell(ws, i, 1, label).font = Font(bold=True)
        set_cell(ws, i, 2, value, fmt)
    row = 3 + len(lines) + 1
    set_cell(ws, row, 1, "Buyer spend by component").font = Font(bold=True)
    first = row + 1
    for i, key in enumerate(SPEND_KEYS, start=first):
        set_cell(ws, i, 1, key.replace("_", " "))
        set_cell(ws, i, 2, res.cost_breakdown_usd[key], USD)
    last = first + len(SPEND_KEYS) - 1
    set_cell(ws, last + 1, 1, "unmet-demand penalty (modelling price, objective only)")
    set_cell(ws, last + 1, 2, res.cost_breakdown_usd["unmet_penalty"], USD)
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Buyer spend by component (USD)"
    chart.legend = None
    chart.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 7, 14
    ws.add_chart(chart, "D3")
    row = last + 3
    set_cell(ws, row, 1, "What binds").font = Font(bold=True)
    for i, text in enumerate(res.highlights or ["nothing binds"], start=row + 1):
        set_cell(ws, i, 1, text)
    ws.column_dimensions["A"].width = 52
    ws.column_dimensions["B"].width = 22


def tariff_line(res: Results) -> str:
    """`regime in_force (as of 2026-12-01)`: which tariffs a plan applied."""
    regime = res.tariff_regime or "flat rates (Countries, TariffOverrides)"
    return f"regime {regime}" + (f" (as of {res.data_date})" if res.data_date else "")


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
    style_header(ws, len(header))
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
    table_sheet(wb, "Costs", df)


def _chain_sheets(wb: Workbook, res: Results) -> None:
    """The supply chain: compliance per segment, origin by stage, flows, activity, discards."""
    if res.has_chain and len(res.compliance.columns):
        table_sheet(wb, "Compliance", res.compliance)
    table_sheet(wb, "Origin by stage", res.origin_by_stage)
    table_sheet(wb, "Flows", res.flows)
    table_sheet(wb, "Activity", res.activity)
    table_sheet(wb, "Discarded", res.discarded)


def _inputs_sheets(wb: Workbook, inputs: Inputs) -> None:
    """The inputs used, one sheet each, named `In <Sheet>` (Settings as setting/value rows)."""
    for sheet, rows in inputs_to_tables(inputs).items():
        header = [c.name for c in SHEETS_BY_NAME[sheet.lower()].columns]
        ws = wb.create_sheet(f"In {sheet}")
        write_rows(ws, header, ([row.get(c) for c in header] for row in rows))
        style_header(ws, len(header))


def report_workbook(res: Results, inputs: Inputs) -> Workbook:
    """The report as an openpyxl Workbook (not yet saved)."""
    wb = Workbook()
    _summary_sheet(wb, res, inputs)
    _volume_chart_sheet(wb, res)
    table_sheet(wb, "Allocation", res.allocation)
    _costs_sheet(wb, res)
    table_sheet(wb, "Shares", res.shares)
    table_sheet(wb, "China exposure", res.china_exposure)
    table_sheet(wb, "Tariff rates", res.tariff_rates)
    table_sheet(wb, "Unmet", res.unmet)
    table_sheet(wb, "Stock", res.stock)
    table_sheet(wb, "Shadow prices", res.shadow_prices)
    if res.has_chain:
        _chain_sheets(wb, res)
    for title, df in (
        ("Policy costs", res.policy_costs),
        ("Tariff break-evens", res.tariff_breakevens),
        ("Country tariffs", res.country_breakevens),
        ("Break-evens by period", res.breakevens_by_period),
        ("Process break-evens", res.process_breakevens),
    ):
        if len(df.columns):
            table_sheet(wb, title, df)
    _inputs_sheets(wb, inputs)
    return wb


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.0f}"


def _china_lines(res: Results) -> list[str]:
    """China's share per material and period, by tonnes and by value."""
    ce = res.china_exposure
    if not len(ce):
        return []
    return [
        "## China exposure per material",
        "",
        markdown_table(
            ["material", "period", "bought t", "China t", "share by tonnes", "share by value"],
            [
                [
                    r.material,
                    r.period,
                    f"{r.bought_t:,.1f}",
                    f"{r.china_t:,.1f}",
                    pct(r.tonnes_share),
                    pct(r.value_share),
                ]
                for r in ce.itertuples()
            ],
        ),
        "",
    ]


def summary_markdown(res: Results) -> str:
    """summary.md: headline (spend, fiscal cost, unmet tonnes apart), spend by component, what
    binds, China exposure per material, break-evens, purchases."""
    unmet = ", ".join(f"{m} {q:,.1f} t" for m, q in res.unmet_by_material.items()) or "none"
    lines = [
        f"# Sourcing plan: {md_text(res.scenario)}",
        "",
        *([md_text(res.description), ""] if res.description else []),
        f"- Status: **{res.status.value}**"
        + ("" if res.message == res.status.value else f" ({md_text(res.message)})"),
        f"- Buyer spend: **{_usd(res.buyer_spend_usd)}**",
        f"- Fiscal cost (government price support): {_usd(res.fiscal_cost_usd)}",
        f"- Unmet demand: {unmet}",
        *(
            [
                f"- Received: {res.received_t:,.1f} t (bought from offers: {res.bought_t:,.1f} t); "
                f"China share of the value received, by the shipping facility's country: "
                f"{pct(res.china_value_share)}",
                "- China's share of the tonnes received, by stage of their chain: "
                + (
                    ", ".join(f"{k} {pct(v)}" for k, v in res.china_by_stage().items())
                    or "none at any stage"
                ),
            ]
            if res.has_chain
            else [
                f"- Bought: {res.bought_t:,.1f} t; China share of the value bought: "
                f"{pct(res.china_value_share)}"
            ]
        ),
        f"- Tariffs: {tariff_line(res)}",
        f"- Objective {_usd(res.total_cost_usd)} = buyer spend + unmet-demand penalty "
        f"{_usd(res.penalty_usd)} (a modelling price, not money paid)"
        + (" + fiscal cost (national-cost view)" if res.national_cost else ""),
        "",
        "## Buyer spend by component (USD)",
        "",
        markdown_table(
            ["component", "USD"],
            [[k.replace("_", " "), f"{res.cost_breakdown_usd[k]:,.0f}"] for k in SPEND_KEYS],
        ),
        "",
        "## What binds",
        "",
        *[f"- {md_text(h)}" for h in res.highlights or ["nothing binds"]],
        "",
    ]
    lines += _chain_lines(res)
    lines += _china_lines(res)
    lines += _breakeven_lines(res)
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


def _chain_lines(res: Results) -> list[str]:
    """Compliance per segment and origin by stage (workbooks with a supply chain)."""
    if not res.has_chain:
        return []
    lines: list[str] = []
    if len(res.compliance):
        lines += [
            "## Compliant segments",
            "",
            "Compliant: no stage of a delivered tonne in "
            + (", ".join(res.excluded_stage_countries) or "any excluded country")
            + ".",
            "",
            markdown_table(
                ["material", "period", "demand t", "met t", "shortfall t", "status"],
                [
                    [
                        r.material,
                        r.period,
                        f"{r.demand_t:,.1f}",
                        f"{r.met_t:,.1f}",
                        f"{r.shortfall_t:,.1f}",
                        r.status,
                    ]
                    for r in res.compliance.itertuples()
                ],
            ),
            "",
        ]
    rec = res.receipts
    if len(rec):
        g = rec.groupby(["material", "period", "supplier", "country"], sort=False)
        agg = g.agg(t=("quantity_t", "sum"), value=("value_usd", "sum")).reset_index()
        lines += [
            "## Received by the buyer (by shipping facility)",
            "",
            markdown_table(
                ["material", "period", "from", "country", "t", "customs value USD"],
                [
                    [r.material, r.period, r.supplier, r.country, f"{r.t:,.1f}", f"{r.value:,.0f}"]
                    for r in agg.itertuples()
                ],
            ),
            "",
        ]
    ob = res.origin_by_stage
    if len(ob):
        lines += [
            "## Origin by stage (tonnes received, attributed proportionally through the flows)",
            "",
            markdown_table(
                ["material", "period", "stage", "country", "t", "share"],
                [
                    [r.material, r.period, r.stage, r.country, f"{r.quantity_t:,.1f}", pct(r.share)]
                    for r in ob.itertuples()
                ],
            ),
            "",
        ]
    return lines


def _breakeven_lines(res: Results) -> list[str]:
    """The lanes whose break-even is closest to today's rate (what a workbook can set)."""
    tb = res.tariff_breakevens
    if not len(tb):
        return []
    loses = pd.to_numeric(tb["loses_volume_above"], errors="coerce")
    gains = pd.to_numeric(tb["gains_volume_below"], errors="coerce")
    gap = pd.concat(
        [(loses - tb["tariff_rate"]).abs(), (tb["tariff_rate"] - gains).abs()], axis=1
    ).min(axis=1)
    near = tb.loc[gap.dropna().sort_values().index].head(10)
    if near.empty:
        return []
    return [
        "## Tariff break-evens closest to today's rates",
        "",
        "Per (country, material) lane, at one rate for every period (as a Countries or "
        "TariffOverrides row sets it); each checked by re-solving 0.2 points on either side.",
        "",
        markdown_table(
            ["country", "material", "tariff", "volume t", "loses volume above", "gains below"],
            [
                [
                    r.country,
                    r.material,
                    pct(r.tariff_rate),
                    f"{r.volume_t:,.1f}",
                    pct(r.loses_volume_above, missing=str(r.loses_note)),
                    pct(r.gains_volume_below, missing=str(r.gains_note)),
                ]
                for r in near.itertuples()
            ],
        ),
        "",
    ]


def write_scenario_report(res: Results, inputs: Inputs, out_dir: str | Path) -> Path:
    """Write out_dir/<scenario>/ (report.xlsx, summary.md, results.json and, for a workbook with
    a supply chain, chain.html: a self-contained Sankey diagram) as a whole.

    The files are written into a temporary folder that replaces the old one in
    one step, so a crash, a full disk or a kill leaves the previous folder as
    it was, never a mix of old and new files.
    """
    folder = Path(out_dir) / slug(res.scenario)
    wb = report_workbook(res, inputs)
    text = summary_markdown(res)
    doc = json.dumps(_json_safe_doc(res), indent=2, allow_nan=False)
    with atomic_folder(folder) as tmp:
        save_workbook(wb, tmp / "report.xlsx")
        (tmp / "summary.md").write_text(text, encoding="utf-8")
        (tmp / "results.json").write_text(doc, encoding="utf-8")
        if res.has_chain and len(res.flows):
            fig = sankey_spec(
                res.flows,
                f"Supply chain: {res.scenario}",
                excluded=res.excluded_stage_countries,
            )
            write_sankey_html(fig, tmp / "chain.html")
    return folder


def _json_safe_doc(res: Results) -> dict[str, Any]:
    from optimizer.output.results_json import results_json

    return results_json(res)
