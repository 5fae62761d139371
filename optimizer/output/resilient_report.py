"""`sourcing resilient`'s outputs: console lines, resilient.json, resilient.xlsx, resilient.md.

Written atomically together: a failure leaves the previous set as it was. "Cost" in
these files is the risk model's total cost (buyer spend plus the unmet-demand penalty
and carbon price, modelling prices, plus the first-stage cost); every file says so and
reports buyer spend and unmet tonnes apart.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

import pandas as pd

from optimizer.analysis.resilient import ResilientResult
from optimizer.common.files import atomic_path
from optimizer.common.format import json_document, json_safe, money, money_m, pct, tonnes
from optimizer.common.report_book import ReportBook
from optimizer.output.markdown import markdown_table, md_text
from optimizer.output.styles import table_sheet

FILES: Final = ("resilient.json", "resilient.xlsx", "resilient.md")
COST_NOTE: Final = (
    "Cost here is the risk model's total cost: buyer spend plus unmet demand at the "
    "unmet-demand penalty and emissions at the carbon price (both modelling prices, not "
    "money anyone pays), plus what the commitments cost up front. Buyer spend (money) and "
    "unmet tonnes are reported apart."
)


def resilient_json(r: ResilientResult) -> dict[str, Any]:
    """resilient.json: the headline keys, both plans out of sample, the plan, the frontier."""
    rec, det = r.recommended_eval.record(), r.deterministic_eval.record()
    doc = {
        "scenario": r.scenario,
        "samples": r.samples,
        "distinct_samples": r.distinct_samples,
        "eval_samples": r.eval_samples,
        "seed": r.seed,
        "risk_weight": r.risk_weight,
        "cvar_level": r.cvar_level,
        "risks_source": r.risks_source,
        "cost_definition": COST_NOTE,
        "expected_cost_usd": rec["expected_cost_usd"],
        "cvar_usd": rec["cvar_usd"],
        "p95_cost_usd": rec["p95_cost_usd"],
        "buyer_spend_usd": rec["buyer_spend_usd"],
        "expected_unmet_t": rec["expected_unmet_t"],
        "vss_usd": r.vss_usd,
        "evpi_usd": r.evpi_usd,
        "recommended": rec,
        "deterministic": det,
        "commitments": r.recommended,
        "deterministic_commitments": r.deterministic_plan,
        "in_sample": r.in_sample,
        "frontier": r.frontier,
        "protection": r.protection,
        "extensive_form": r.extensive,
        "seconds": round(r.seconds, 3),
        "warnings": r.warnings,
    }
    return dict(json_safe(doc))


def headline(r: ResilientResult) -> str:
    """One sentence: what the plan commits and what it buys, in tonnes and money first."""
    rec, det = r.recommended_eval, r.deterministic_eval
    signed = [c for c in r.recommended if c["quantity_t"] > 0]
    return (
        f"The recommended plan commits {len(signed)} of {len(r.recommended)} decisions; out of "
        f"sample it leaves {tonnes(rec.expected_unmet_t, unit=True)} of demand unmet on "
        f"average against {tonnes(det.expected_unmet_t, unit=True)} for the deterministic "
        f"plan, at an expected buyer spend of {money_m(rec.buyer_spend_usd)} against "
        f"{money_m(det.buyer_spend_usd)}; the CVaR{r.cvar_level:.0%} of the risk model's "
        f"cost is {money(rec.distribution.cvar_usd)} against "
        f"{money(det.distribution.cvar_usd)}"
    )


def flat_frontier(r: ResilientResult) -> str | None:
    """A sentence when weighting CVaR more barely moves it (the tail cannot be hedged)."""
    if len(r.frontier) < 2:
        return None
    cvars = [f["cvar_usd"] for f in r.frontier]
    top = max(abs(c) for c in cvars) or 1.0
    if (max(cvars) - min(cvars)) / top > 0.001:
        return None
    worst = max(r.recommended_eval.shortfall, key=lambda s: s["expected_t"], default=None)
    what = f" (mostly {worst['material']})" if worst else ""
    return (
        "Weighting CVaR more moves it by less than 0.1%: the worst samples are shortfalls"
        f"{what} that none of the workbook's decisions can hedge; add a decision on that "
        "supply to change them."
    )


def resilient_lines(r: ResilientResult) -> list[str]:
    """The console summary."""
    lines = [
        f"resilient plan for {r.scenario}: {r.samples} samples ({r.distinct_samples} distinct), "
        f"seed {r.seed}, lambda {r.risk_weight:g}, CVaR level {r.cvar_level:g}, risks from "
        f"{r.risks_source}; extensive form {r.extensive['variables']:,} columns, HiGHS "
        f"{r.extensive['method']} {r.extensive['highs_s']:.1f} s; {r.seconds:.1f} s in all",
        headline(r) + ".",
        f"VSS {money(r.vss_usd)}, EVPI {money(r.evpi_usd)} (in sample, risk-model objective "
        "E + lambda x CVaR)",
        *([note] if (note := flat_frontier(r)) else []),
        "commitments (recommended vs deterministic):",
    ]
    for c, d in zip(r.recommended, r.deterministic_plan, strict=True):
        who = c["supplier"] or "stock build"
        lines.append(
            f"  {c['kind']:9} {who} {c['material']} {c['period']}: "
            f"{tonnes(c['quantity_t'], unit=True)}{' (its maximum)' if c['at_max'] else ''} "
            f"(deterministic {tonnes(d['quantity_t'], unit=True)})"
        )
    for label, e in (("recommended", r.recommended_eval), ("deterministic", r.deterministic_eval)):
        dist = e.distribution
        lines.append(
            f"{label} out of sample ({e.solved} samples): buyer spend {money_m(e.buyer_spend_usd)}"
            f", expected unmet {tonnes(e.expected_unmet_t, unit=True)}; cost mean "
            f"{money(dist.expected_cost_usd)}, P50 {money(dist.p50_cost_usd)}, P95 "
            f"{money(dist.p95_cost_usd)}, CVaR {money(dist.cvar_usd)} (risk model)"
        )
    if r.protection:
        best = r.protection[0]
        lines.append(
            f"most protection per USD: {best['kind']} {best['supplier'] or 'stock build'} "
            f"{best['material']} ({tonnes(best['quantity_t'], unit=True)} over {best['periods']}: "
            f"without it CVaR rises {money(best['cvar_saved_usd'])} and expected unmet demand "
            f"{tonnes(best['expected_unmet_saved_t'], unit=True)}, for "
            f"{money_m(best['committed_usd'])} committed)"
        )
    lines.append("Cost = " + COST_NOTE[len("Cost here is ") :])
    return lines


def _plans_rows(r: ResilientResult) -> list[dict[str, Any]]:
    rows = []
    for c, d in zip(r.recommended, r.deterministic_plan, strict=True):
        rows.append(
            {
                "kind": c["kind"],
                "supplier": c["supplier"],
                "material": c["material"],
                "period": c["period"],
                "recommended_t": c["quantity_t"],
                "deterministic_t": d["quantity_t"],
                "min_t": c["min_t"],
                "max_t": c["max_t"],
                "upfront_fee_usd": c["fee_usd"],
                "at_max": c["at_max"],
            }
        )
    return rows


def _comparison_rows(r: ResilientResult) -> list[dict[str, Any]]:
    rec, det = r.recommended_eval.record(), r.deterministic_eval.record()
    keys = (
        ("expected_cost_usd", "USD (risk model)"),
        ("p50_cost_usd", "USD (risk model)"),
        ("p95_cost_usd", "USD (risk model)"),
        ("cvar_usd", "USD (risk model)"),
        ("buyer_spend_usd", "USD"),
        ("fiscal_cost_usd", "USD"),
        ("expected_unmet_t", "t"),
        ("solved_samples", "samples"),
    )
    return [
        {"metric": k, "recommended": rec[k], "deterministic": det[k], "unit": u} for k, u in keys
    ]


def _shortfall_rows(r: ResilientResult) -> list[dict[str, Any]]:
    rows = []
    for label, e in (("recommended", r.recommended_eval), ("deterministic", r.deterministic_eval)):
        rows += [
            {
                "plan": label,
                "material": s["material"],
                "shortfall_probability": s["probability"],
                "expected_shortfall_t": s["expected_t"],
                "p95_shortfall_t": s["p95_t"],
            }
            for s in e.shortfall
        ]
    return rows


def resilient_workbook(r: ResilientResult) -> bytes:
    """resilient.xlsx: Summary, Commitments, Out of sample, Shortfalls, Frontier (with a
    native chart), Protection, In sample."""
    book = ReportBook()
    summary = book.sheet("Summary")
    summary.cell(1, 1, f"Resilient plan: {r.scenario}")
    summary.cell(2, 1, headline(r) + ".")
    summary.cell(3, 1, COST_NOTE)
    summary.cell(
        4,
        1,
        f"{r.samples} samples ({r.distinct_samples} distinct) from seed {r.seed} choose the "
        f"plan; {r.eval_samples} independent samples evaluate it. lambda {r.risk_weight:g}, "
        f"CVaR level {r.cvar_level:g}; risks from {r.risks_source}.",
    )
    summary.cell(5, 1, f"VSS {money(r.vss_usd)}; EVPI {money(r.evpi_usd)} (in sample).")
    summary.cell(6, 1, flat_frontier(r) or "")
    summary.width(1, 120)
    table_sheet(book, "Commitments", pd.DataFrame(_plans_rows(r)))
    table_sheet(book, "Out of sample", pd.DataFrame(_comparison_rows(r)))
    columns = ["plan", "material", "shortfall_probability"]
    columns += ["expected_shortfall_t", "p95_shortfall_t"]
    table_sheet(book, "Shortfalls", pd.DataFrame(_shortfall_rows(r), columns=columns))
    front = pd.DataFrame(r.frontier)
    ws = table_sheet(book, "Frontier", front)
    n = len(front)
    if n > 1:
        cols = [str(c) for c in front.columns]
        x, y = cols.index("cvar_usd") + 1, cols.index("expected_cost_usd") + 1
        chart = book.chart("scatter", "straight_with_markers")
        chart.add_series(
            {
                "name": "plans over lambda",
                "categories": ws.ref(2, x, n + 1, x),
                "values": ws.ref(2, y, n + 1, y),
                "marker": {"type": "circle", "size": 6},
            }
        )
        chart.set_title({"name": "Expected cost against CVaR (in sample, risk model)"})
        chart.set_x_axis({"name": f"CVaR{r.cvar_level:.0%}, USD"})
        chart.set_y_axis({"name": "expected cost, USD"})
        chart.set_size({"width": 720, "height": 360})
        ws.insert_chart(f"A{n + 4}", chart)
    table_sheet(book, "Protection", pd.DataFrame(r.protection))
    table_sheet(
        book,
        "In sample",
        pd.DataFrame([{"metric": k, "value": v} for k, v in r.in_sample.items()]),
    )
    return book.to_bytes()


def _show(value: Any, unit: str) -> str:
    if unit.startswith("USD"):
        return money(value)
    return tonnes(value, unit=True) if unit == "t" else f"{value:,}"


def resilient_markdown(r: ResilientResult) -> str:
    """resilient.md: the headline, the plan, both plans out of sample, the frontier."""
    lines = [
        f"# Resilient plan: {md_text(r.scenario)}",
        "",
        f"**{md_text(headline(r))}.**",
        "",
        COST_NOTE,
        "",
        f"{r.samples} samples ({r.distinct_samples} distinct) from seed {r.seed} choose the plan;"
        f" {r.eval_samples} independent samples evaluate it. Objective: expected cost + "
        f"{r.risk_weight:g} x CVaR at level {r.cvar_level:g}. VSS {money(r.vss_usd)}, EVPI "
        f"{money(r.evpi_usd)} (in sample).",
        "",
        "## What to commit",
        "",
        markdown_table(
            ["kind", "supplier", "material", "period", "recommended", "deterministic"],
            [
                [
                    p["kind"],
                    p["supplier"] or "stock build",
                    p["material"],
                    p["period"],
                    tonnes(p["recommended_t"], unit=True),
                    tonnes(p["deterministic_t"], unit=True),
                ]
                for p in _plans_rows(r)
            ],
        ),
        "",
        "## Both plans out of sample",
        "",
        markdown_table(
            ["metric", "recommended", "deterministic"],
            [
                [c["metric"], *(_show(c[k], c["unit"]) for k in ("recommended", "deterministic"))]
                for c in _comparison_rows(r)
            ],
        ),
        "",
        "## Expected cost against CVaR",
        "",
        markdown_table(
            ["lambda", "expected cost", "CVaR", "P95", "committed"],
            [
                [
                    f"{f['risk_weight']:g}",
                    money(f["expected_cost_usd"]),
                    money(f["cvar_usd"]),
                    money(f["p95_cost_usd"]),
                    tonnes(f["committed_t"], unit=True),
                ]
                for f in r.frontier
            ],
        ),
        "",
        flat_frontier(r) or "",
        "",
        "## Protection per commitment",
        "",
        markdown_table(
            ["commitment", "periods", "t", "committed", "CVaR saved", "unmet saved", "per USD"],
            [
                [
                    f"{p['kind']} {p['supplier'] or 'stock build'} {p['material']}",
                    p["periods"],
                    tonnes(p["quantity_t"]),
                    money_m(p["committed_usd"]),
                    money(p["cvar_saved_usd"]),
                    tonnes(p["expected_unmet_saved_t"], unit=True),
                    f"{p['protection_per_usd']:,.2f}",
                ]
                for p in r.protection
            ],
        ),
        "",
    ]
    if r.deterministic_eval.shortfall or r.recommended_eval.shortfall:
        lines += [
            "## Shortfalls out of sample",
            "",
            markdown_table(
                ["plan", "material", "probability", "expected", "P95"],
                [
                    [
                        s["plan"],
                        s["material"],
                        pct(s["shortfall_probability"]),
                        tonnes(s["expected_shortfall_t"], unit=True),
                        tonnes(s["p95_shortfall_t"], unit=True),
                    ]
                    for s in _shortfall_rows(r)
                ],
            ),
            "",
        ]
    return "\n".join(lines)


def write_resilient_report(r: ResilientResult, out_dir: str | Path) -> list[Path]:
    """resilient.json, .xlsx and .md in `out_dir`, replaced only once all were written."""
    out = Path(out_dir)
    doc = json_document(resilient_json(r))
    xlsx_bytes = resilient_workbook(r)
    md = resilient_markdown(r)
    paths = [out / name for name in FILES]
    with ExitStack() as stack:
        js, xlsx, mdp = (stack.enter_context(atomic_path(p)) for p in paths)
        js.write_text(doc, encoding="utf-8")
        xlsx.write_bytes(xlsx_bytes)
        mdp.write_text(md, encoding="utf-8")
    return paths
