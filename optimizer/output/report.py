"""Reports for one scenario: report.xlsx (with native charts), summary.md, results.json.

The three are written into a temporary folder that replaces the scenario's
folder in one step (`common.files.atomic_folder`), so a failure never leaves
a half-written or mixed report over an earlier good one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.common.files import atomic_folder
from optimizer.common.format import json_document, pct
from optimizer.common.report_book import ReportBook
from optimizer.contract.records import Inputs
from optimizer.contract.schema import SHEETS_BY_NAME
from optimizer.contract.tables import inputs_to_tables
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.results import SPEND_KEYS, Results
from optimizer.output.sankey import sankey_spec, write_sankey_html
from optimizer.output.styles import RATE, TONNES, USD, slug, table_sheet


def _summary_sheet(
    book: ReportBook, res: Results, inputs: Inputs, changes: Sequence[str] = ()
) -> None:
    ws = book.sheet("Summary")
    title = f"Sourcing plan: {res.scenario}"
    if changes:
        title += " with what-if: " + "; ".join(changes[:3]) + ("; ..." if len(changes) > 3 else "")
    ws.cell(1, 1, title, bold=True, font_size=14)
    lines: list[tuple[str, Any, str | None]] = [
        ("Workbook", Path(inputs.source).name, None),
        ("Scenario", res.description or res.scenario, None),
        *[(f"What-if change {i}", text, None) for i, text in enumerate(changes, start=1)],
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
        ("Emissions, stated intensities (t CO2e)", res.emissions_t_co2e, TONNES),
        ("  tonnes from sources with no stated intensity (t)", res.emissions_unknown_t, TONNES),
        *(
            [
                (
                    "Carbon price (USD/t CO2e; the objective adds its charge too)",
                    res.carbon_price_usd_per_t_co2e,
                    USD,
                ),
                (
                    "  carbon charge (USD; a modelling price)",
                    res.cost_breakdown_usd["carbon_price"],
                    USD,
                ),
            ]
            if res.carbon_price_usd_per_t_co2e
            else []
        ),
        ("Objective (USD): spend + unmet penalty, a modelling price", res.total_cost_usd, USD),
    ]
    for i, (label, value, fmt) in enumerate(lines, start=3):
        ws.cell(i, 1, label, bold=True)
        ws.cell(i, 2, value, fmt)
    row = 3 + len(lines) + 1
    ws.cell(row, 1, "Buyer spend by component", bold=True)
    first = row + 1
    for i, key in enumerate(SPEND_KEYS, start=first):
        ws.cell(i, 1, key.replace("_", " "))
        ws.cell(i, 2, res.cost_breakdown_usd[key], USD)
    last = first + len(SPEND_KEYS) - 1
    ws.cell(last + 1, 1, "unmet-demand penalty (modelling price, objective only)")
    ws.cell(last + 1, 2, res.cost_breakdown_usd["unmet_penalty"], USD)
    chart = book.chart("bar")
    chart.add_series({"categories": ws.ref(first, 1, last, 1), "values": ws.ref(first, 2, last, 2)})
    chart.set_title({"name": "Buyer spend by component (USD)"})
    chart.set_legend({"none": True})
    chart.set_size({"width": 530, "height": 265})
    ws.insert_chart("D3", chart)
    row = last + 3
    ws.cell(row, 1, "What binds", bold=True)
    for i, text in enumerate(res.highlights or ["nothing binds"], start=row + 1):
        ws.cell(i, 1, text)
    ws.width(1, 52)
    ws.width(2, 22)


def tariff_line(res: Results) -> str:
    """`regime in_force (as of 2026-12-01)`: which tariffs a plan applied."""
    regime = res.tariff_regime or "flat rates (Countries, TariffOverrides)"
    return f"regime {regime}" + (f" (as of {res.data_date})" if res.data_date else "")


def _volume_chart_sheet(book: ReportBook, res: Results) -> None:
    """Tonnes by origin country per material and period, as a stacked native bar chart."""
    ws = book.sheet("Volume by origin")
    if res.shares.empty:
        ws.cell(1, 1, "no purchases")
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
    last = ws.rows(header, rows, dict.fromkeys(header[1:], TONNES))
    chart = book.chart("bar", "stacked")
    for j in range(2, len(header) + 1):
        chart.add_series(
            {
                "name": ws.ref(1, j, 1, j),
                "categories": ws.ref(2, 1, last, 1),
                "values": ws.ref(2, j, last, j),
                "overlap": 100,
            }
        )
    chart.set_title({"name": "Tonnes by origin country"})
    chart.set_x_axis({"name": "t"})
    chart.set_y_axis({"reverse": True})  # first material at the top, as the table reads
    chart.set_size({"width": 680, "height": int(max(300, 23 * len(rows)))})
    ws.insert_chart(f"{chr(ord('A') + min(len(header) + 1, 25))}2", chart)


def _shadow_price_sheet(book: ReportBook, res: Results) -> None:
    """The binding rows (what limits the plan); every row, binding or not, is in results.json."""
    sp = res.shadow_prices
    binding = sp[sp["binding"].astype(bool)] if len(sp) else sp
    ws = table_sheet(book, "Shadow prices", binding)
    ws.cell(
        len(binding) + 3,
        1,
        f"Binding rows only: {len(binding)} of {len(sp)}; results.json `shadow_prices` has "
        "every row (a row that does not bind has a dual of 0).",
    )


def _costs_sheet(book: ReportBook, res: Results) -> None:
    alloc = res.allocation
    cols = ["purchase_usd", "tariff_usd", "freight_usd", "cost_usd"]
    if alloc.empty:
        df = pd.DataFrame(columns=["material", "period", *cols])
    else:
        df = alloc.groupby(["material", "period"], sort=False, as_index=False)[cols].sum()
    table_sheet(book, "Costs", df)


def _chain_sheets(book: ReportBook, res: Results) -> None:
    """The supply chain: compliance per segment, origin by stage, flows, activity, discards."""
    if res.has_chain and len(res.compliance.columns):
        table_sheet(book, "Compliance", res.compliance)
    table_sheet(book, "Origin by stage", res.origin_by_stage)
    table_sheet(book, "Flows", res.flows)
    table_sheet(book, "Activity", res.activity)
    table_sheet(book, "Discarded", res.discarded)


def _inputs_sheets(book: ReportBook, inputs: Inputs) -> None:
    """The inputs used, one sheet each, named `In <Sheet>` (Settings as setting/value rows)."""
    for sheet, rows in inputs_to_tables(inputs).items():
        header = [c.name for c in SHEETS_BY_NAME[sheet.lower()].columns]
        book.sheet(f"In {sheet}").rows(header, ([row.get(c) for c in header] for row in rows))


def report_xlsx(res: Results, inputs: Inputs, changes: Sequence[str] = ()) -> bytes:
    """The report workbook's file (report.xlsx) as bytes; `changes` are a what-if's changes
    in words (the app's), put in the title and listed on the Summary sheet."""
    book = ReportBook()
    _summary_sheet(book, res, inputs, changes)
    _volume_chart_sheet(book, res)
    table_sheet(book, "Allocation", res.allocation)
    _costs_sheet(book, res)
    table_sheet(book, "Shares", res.shares)
    table_sheet(book, "China exposure", res.china_exposure)
    table_sheet(book, "Tariff rates", res.tariff_rates)
    table_sheet(book, "Unmet", res.unmet)
    table_sheet(book, "Stock", res.stock)
    _shadow_price_sheet(book, res)
    if res.has_chain:
        _chain_sheets(book, res)
    table_sheet(book, "Emissions", res.emissions)
    table_sheet(book, "Emissions delivered", res.delivered_emissions)
    for title, df in (
        ("Policy costs", res.policy_costs),
        ("Tariff break-evens", res.tariff_breakevens),
        ("Country tariffs", res.country_breakevens),
        ("Break-evens by period", res.breakevens_by_period),
        ("Process break-evens", res.process_breakevens),
    ):
        if len(df.columns):
            table_sheet(book, title, df)
    _inputs_sheets(book, inputs)
    return book.to_bytes()


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
        f"- Emissions: {res.emissions_t_co2e:,.1f} t CO2e from sources with a stated "
        "intensity"
        + (
            f"; {res.emissions_unknown_t:,.1f} t bought or made with none (not in the total)"
            if res.emissions_unknown_t > 0
            else ""
        )
        + (
            f"; carbon price ${res.carbon_price_usd_per_t_co2e:,.0f}/t CO2e in the objective"
            if res.carbon_price_usd_per_t_co2e
            else ""
        ),
        f"- Tariffs: {tariff_line(res)}",
        f"- Objective {_usd(res.total_cost_usd)} = buyer spend + unmet-demand penalty "
        f"{_usd(res.penalty_usd)} (a modelling price, not money paid)"
        + (" + fiscal cost (national-cost view)" if res.national_cost else "")
        + (
            f" + carbon charge {_usd(res.cost_breakdown_usd['carbon_price'])} (a modelling price)"
            if res.carbon_price_usd_per_t_co2e
            else ""
        ),
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
    xlsx = report_xlsx(res, inputs)
    text = summary_markdown(res)
    doc = json_document(_json_safe_doc(res))
    with atomic_folder(folder) as tmp:
        (tmp / "report.xlsx").write_bytes(xlsx)
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
