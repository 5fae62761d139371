"""What-if latency on the default workbook: app control changes and the analysis steps.

Measured side by side in one run (`make bench`):

- the app's solve-side time per control change (`Session.run` without the
  frontier: validate, update the built model, solve, tabulate, break-evens),
  over a sequence of distinct changes a planner would make (tariffs, China
  toggle and cap, floors), with the persistent engine's figure next to it;
- the cost-of-independence frontier (11 points), the policy-cost attribution,
  the offer break-evens and the country break-evens, each timed on both
  engines.

Results: reports/bench/whatif.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from optimizer.analysis.breakevens import offer_breakevens  # noqa: E402
from optimizer.analysis.country_breakevens import country_breakevens  # noqa: E402
from optimizer.analysis.frontier import cost_of_independence  # noqa: E402
from optimizer.analysis.policy import policy_costs  # noqa: E402
from optimizer.contract.book import DEFAULT_WORKBOOK, open_workbook, scenario_inputs  # noqa: E402
from optimizer.model.data import prepare  # noqa: E402
from optimizer.model.fast import FastOptimizer  # noqa: E402
from optimizer.model.reference import Optimizer  # noqa: E402
from optimizer.runs.session import Session, WhatIf  # noqa: E402

ENGINES: dict[str, Any] = {"fast": FastOptimizer, "persistent": Optimizer}
REPEATS = 5


def what_ifs() -> list[WhatIf]:
    """Distinct control changes, in the order a planner might make them."""
    out = [WhatIf()]
    for rate in (0.25, 0.3, 0.46, 0.1):
        out.append(WhatIf(tariffs={"Vietnam": rate}))
        out.append(WhatIf(tariffs={"Malaysia": rate}))
    out += [WhatIf(exclude_china=True), WhatIf(exclude_china=False)]
    out += [WhatIf(max_china_share=s) for s in (0.8, 0.6, 0.4, 0.2, 0.0)]
    out += [WhatIf(floors={"NdPr oxide": f}) for f in (90.0, 110.0, 130.0, 0.0)]
    return out


def control_changes(engine: Any) -> list[float]:
    """Solve-side ms of each change in a fresh session running on `engine`."""
    s = Session(open_workbook(DEFAULT_WORKBOOK), engine=engine)
    times = []
    for w in what_ifs():
        outcome = s.run(w, with_frontier=False)
        assert outcome.results is not None, outcome.problems
        times.append(outcome.solve_ms)
    return times[1:]  # the first builds the model


def best_of(step: Callable[[], object]) -> float:
    """Best wall time of a step, ms."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        step()
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def analysis_steps(engine: Any) -> dict[str, float]:
    """ms of the frontier, policy costs and break-evens with `engine` (model built once each)."""
    inputs, _ = scenario_inputs(open_workbook(DEFAULT_WORKBOOK))
    assert inputs is not None
    data = prepare(inputs)

    def offers() -> None:
        opt = engine(data)
        offer_breakevens(opt, opt.solve())

    def countries() -> None:
        opt = engine(data)
        country_breakevens(opt, opt.solve())

    return {
        "frontier_11_points_ms": best_of(lambda: cost_of_independence(inputs, engine=engine)),
        "policy_costs_ms": best_of(lambda: policy_costs(inputs, engine(data))),
        "offer_breakevens_ms": best_of(offers),
        "country_breakevens_ms": best_of(countries),
    }


def main() -> None:
    """Print and save the what-if latencies of both engines."""
    record: dict[str, Any] = {}
    for name, engine in ENGINES.items():
        times = control_changes(engine)
        record[name] = {
            "control_changes": len(times),
            "control_median_ms": statistics.median(times),
            "control_max_ms": max(times),
            **analysis_steps(engine),
        }
    fast, pers = record["fast"], record["persistent"]
    print(f"\nWhat-if latency on the default workbook (best of {REPEATS} for analysis steps)")
    print(f"{'step':<28} {'fast ms':>9} {'persistent ms':>14} {'ratio':>7}")
    for key in fast:
        if key == "control_changes":
            continue
        print(f"{key:<28} {fast[key]:>9.1f} {pers[key]:>14.1f} {pers[key] / fast[key]:>6.1f}x")
    print(f"({fast['control_changes']} control changes; target: under 300 ms solve-side)")
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "whatif.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
