"""The app's Risk tab without Streamlit: `sourcing resilient` on the active workbook with
small counts (an answer in seconds), turned into plain tables, numbers and a sentence.

What the app keeps in its session is a RiskView: strings, numbers, lists and the
resilient.xlsx bytes, never a solver object. "Cost" in it is the risk model's (buyer
spend plus the unmet-demand penalty and carbon price, modelling prices, plus the first
stage): the view names it so, and keeps buyer spend and unmet tonnes apart.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from optimizer.analysis.plan_eval import Progress, quiet
from optimizer.analysis.resilient import ResilientResult, run_resilient
from optimizer.common.format import millions, number, tonnes
from optimizer.contract.records import Inputs
from optimizer.model.first_stage import OFFTAKE, RESERVE, STOCKPILE
from optimizer.output.resilient_report import flat_frontier, headline, resilient_workbook

#: The app's counts: small enough to answer in seconds (the CLI defaults are 200 / 1000)
APP_SAMPLES: Final = 40
APP_EVAL_SAMPLES: Final = 150
APP_FRONTIER: Final = (0.0, 1.0)
APP_SEED: Final = 0
NO_DECISION: Final = (
    "This workbook marks no decision, so there is nothing to commit now. Set `decide` "
    "TRUE on Offtakes rows (with max_t) or Stockpile rows (with build_max_t) for the "
    "resilient plan to choose them."
)
KINDS: Final = {OFFTAKE: "offtake", RESERVE: "option", STOCKPILE: "stock build"}
#: Where each phase of a run starts, as a share of the whole (measured on the default
#: workbook at the app's counts: the out-of-sample evaluation takes the last 40%)
PHASES: Final = {
    "drawing samples": 0.0,
    "building samples": 0.02,
    "solving the extensive form": 0.04,
    "wait-and-see": 0.13,
    "frontier": 0.17,
    "protection per commitment": 0.22,
    "out-of-sample evaluation": 0.57,
}


def has_decisions(inputs: Inputs) -> bool:
    """Whether the workbook marks any Offtakes or Stockpile row `decide` TRUE."""
    return any(k.decide for k in inputs.offtakes) or any(s.decide for s in inputs.stockpile)


def progress_fraction(what: str, done: int, total: int) -> float:
    """The share of a run done when `run_resilient` reports (what, done, total)."""
    starts = list(PHASES.values())
    if what not in PHASES:
        return 0.0
    i = list(PHASES).index(what)
    start = starts[i]
    end = starts[i + 1] if i + 1 < len(starts) else 1.0
    return min(1.0, start + (end - start) * (done / total if total > 0 else 0.0))


@dataclass(frozen=True)
class RiskView:
    """A resilient run as the Risk tab shows it (plain data only)."""

    scenario: str
    workbook: str
    risk_weight: float
    cvar_level: float
    samples: int
    eval_samples: int
    seconds: float
    headline: str
    commitments: list[dict[str, str]]
    plans: list[dict[str, Any]]  # out of sample, per plan: USD and t
    vss_usd: float
    evpi_usd: float
    frontier: list[dict[str, float]]  # in sample, USD M
    frontier_note: str | None  # a sentence when weighting CVaR more barely moves it
    protection: list[dict[str, str]]
    xlsx: bytes = field(repr=False)
    warnings: list[str] = field(default_factory=list)


def _plain(text: str) -> str:
    """`-0.0` shown as `0.0` (a saving that rounds to nothing has no sign)."""
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def _ratio(value: Any) -> str:
    """`9,219.3`; `n/a` when nothing was committed."""
    v = number(value)
    return "n/a" if v is None else f"{v:,.1f}"


def _quantity(c: dict[str, Any]) -> str:
    return tonnes(c["quantity_t"]) + (" (max)" if c["at_max"] and c["quantity_t"] > 0 else "")


def commitment_rows(r: ResilientResult) -> list[dict[str, str]]:
    """What to commit: one row per decision, recommended against deterministic."""
    return [
        {
            "Commitment": KINDS.get(c["kind"], c["kind"]),
            "Supplier": c["supplier"] or "-",
            "Material": c["material"],
            "Period": str(c["period"]),
            "Recommended (t)": _quantity(c),
            "Deterministic (t)": _quantity(d),
            "Allowed (t)": f"{tonnes(c['min_t'])} to {tonnes(c['max_t'])}",
        }
        for c, d in zip(r.recommended, r.deterministic_plan, strict=True)
    ]


def plan_rows(r: ResilientResult) -> list[dict[str, Any]]:
    """Both plans out of sample: buyer spend (money) and unmet t apart from the risk
    model's cost."""
    return [
        {
            "plan": label,
            "buyer_spend_usd": e.buyer_spend_usd,
            "expected_unmet_t": e.expected_unmet_t,
            "expected_cost_usd": e.distribution.expected_cost_usd,
            "cvar_usd": e.distribution.cvar_usd,
            "solved": e.solved,
            "unsolved": e.unsolved,
        }
        for label, e in (
            ("recommended", r.recommended_eval),
            ("deterministic", r.deterministic_eval),
        )
    ]


def protection_rows(r: ResilientResult) -> list[dict[str, str]]:
    """Per commitment, what dropping it alone to its lower bound would cost."""
    return [
        {
            "Commitment": KINDS.get(p["kind"], p["kind"]),
            "Supplier": p["supplier"] or "-",
            "Material": p["material"],
            "Periods": p["periods"],
            "Committed (t)": tonnes(p["quantity_t"]),
            "Committed ($ M)": millions(p["committed_usd"], decimals=1),
            "Model CVaR saved ($ M)": _plain(millions(p["cvar_saved_usd"], decimals=1)),
            "Unmet saved (t)": _plain(tonnes(p["expected_unmet_saved_t"])),
            "CVaR saved per $": _plain(_ratio(p["protection_per_usd"])),
        }
        for p in r.protection
    ]


def risk_view(r: ResilientResult, workbook: str) -> RiskView:
    """The Risk tab's view of a resilient run."""
    return RiskView(
        scenario=r.scenario,
        workbook=workbook,
        risk_weight=r.risk_weight,
        cvar_level=r.cvar_level,
        samples=r.samples,
        eval_samples=r.eval_samples,
        seconds=r.seconds,
        headline=headline(r),
        commitments=commitment_rows(r),
        plans=plan_rows(r),
        vss_usd=r.vss_usd,
        evpi_usd=r.evpi_usd,
        frontier=[
            {
                "risk weight": f["risk_weight"],
                "expected model cost ($ M)": f["expected_cost_usd"] / 1e6,
                "model CVaR ($ M)": f["cvar_usd"] / 1e6,
            }
            for f in r.frontier
        ],
        frontier_note=flat_frontier(r),
        protection=protection_rows(r),
        xlsx=resilient_workbook(r),
        warnings=list(r.warnings),
    )


def run_risk(
    data: bytes,
    name: str,
    scenario: str,
    risk_weight: float | None = None,
    cvar_level: float | None = None,
    progress: Progress = quiet,
) -> RiskView:
    """`run_resilient` at the app's counts on a workbook given as bytes (written to a
    temporary file of this call's own, deleted afterwards). Raises what run_resilient
    raises (InvalidInputError when no row is decided or a cell is wrong, ValueError)."""
    with tempfile.TemporaryDirectory(prefix="risk-") as tmp:
        path = Path(tmp) / (Path(name).name or "workbook.xlsx")
        path.write_bytes(data)
        result = run_resilient(
            path,
            scenario=scenario,
            samples=APP_SAMPLES,
            seed=APP_SEED,
            risk_weight=risk_weight,
            cvar_level=cvar_level,
            eval_samples=APP_EVAL_SAMPLES,
            frontier_weights=APP_FRONTIER,
            progress=progress,
        )
    return risk_view(result, name)
