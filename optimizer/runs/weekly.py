"""The nightly run's weekly step: the resilient plan of the baseline into the run folder.

A nightly run with `--resilient-day` writes resilient.json/.xlsx/.md on that weekday (or
on every run with `every`) and records the headline figures and the commitments in the
manifest. A workbook without decisions fails this step only: the night's other outputs
stand and the exit code is 5 (partial).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from optimizer.analysis.resilient import run_resilient
from optimizer.common.problems import InvalidInputError
from optimizer.output.resilient_report import resilient_json, write_resilient_report

log = logging.getLogger("sourcing")


def weekly_resilient(
    workbook: Path,
    folder: Path,
    day: int | None,
    samples: int,
    options: Any,
    manifest: dict[str, Any],
) -> bool:
    """On the chosen weekday, the resilient plan of the baseline into the run folder
    (resilient.json/.xlsx/.md, seed = the run date as YYYYMMDD); True when it failed."""
    started = datetime.fromisoformat(manifest["started"])
    if day is None or (day != 7 and started.weekday() != day):
        return False
    seed = int(started.strftime("%Y%m%d"))
    try:
        result = run_resilient(
            workbook,
            samples=samples,
            seed=seed,
            executor=options.executor,
            workers=options.workers,
            scheduler=options.scheduler,
        )
        write_resilient_report(result, folder)
    except (InvalidInputError, ValueError) as exc:
        problems = getattr(exc, "problems", None) or [exc]
        for p in problems:
            log.error(f"resilient plan: {p}")
        manifest["resilient"] = {"status": "failed", "problems": [str(p) for p in problems]}
        return True
    doc = resilient_json(result)
    manifest["resilient"] = {
        "status": "complete",
        "seed": seed,
        "samples": result.samples,
        "seconds": round(result.seconds, 3),
        **{k: doc[k] for k in ("expected_cost_usd", "cvar_usd", "vss_usd", "evpi_usd")},
        "commitments": [c for c in doc["commitments"] if c["quantity_t"] > 0],
    }
    log.info("resilient plan written", extra={"seed": seed, "vss_usd": doc["vss_usd"]})
    return False
