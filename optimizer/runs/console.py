"""The console summary of a solve: one aligned text row per scenario, and what it means."""

from __future__ import annotations

from collections.abc import Sequence

from optimizer.common.format import millions, pct
from optimizer.contract.scenarios import BASELINE
from optimizer.output.results import Results


def summary_rows(results: Sequence[Results]) -> list[list[str]]:
    """Rows of the console table: scenario, status, buyer spend and its change vs the baseline,
    fiscal cost, unmet tonnes by material, China's share of the value bought."""
    base = next((r for r in results if r.scenario == BASELINE), None)
    rows = []
    for r in results:
        spend, fiscal = r.buyer_spend_usd, r.fiscal_cost_usd
        delta = "-"
        if base and base.buyer_spend_usd and spend is not None and r is not base:
            d = spend - base.buyer_spend_usd
            delta = f"{millions(d, signed=True)} ({d / base.buyer_spend_usd:+.1%})"
        unmet = ", ".join(f"{m} {q:,.1f}" for m, q in r.unmet_by_material.items()) or "-"
        row = [
            r.scenario,
            r.status.value,
            millions(spend),
            delta,
            millions(fiscal),
            unmet if r.solved else "-",
            pct(r.china_value_share) if r.solved else "-",
        ]
        if any(len(x.compliance) for x in results):
            short = r.compliant_shortfall_t
            row.append("-" if not len(r.compliance) else f"{short:,.1f}" if short else "met")
        rows.append(row)
    return rows


SUMMARY_HEADER = [
    "scenario",
    "status",
    "buyer spend USD M",
    "vs baseline USD M",
    "fiscal USD M",
    "unmet t",
    "China share (value)",
]
#: What the table's figures are (printed under it).
SUMMARY_NOTE = (
    "Buyer spend = purchase + tariff + freight + processing + take-or-pay + holding; fiscal = "
    "the government's price support on what is bought; unmet demand in tonnes (the optimiser "
    "prices it at the unmet-demand penalty, a modelling price that no figure here includes); "
    "China share of the value received (customs value x tonnes, by the country of the "
    "shipping facility), all materials."
)
#: The extra column when some scenario has a compliant segment.
COMPLIANT_HEADER = "compliant short t"
COMPLIANT_NOTE = (
    "Compliant short t: demand of the compliant segments (no stage in an excluded country) "
    "left unmet, part of unmet t."
)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table for the terminal."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        cells = [
            str(c).ljust(w) if i < 2 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells))
    return "\n".join(out)
