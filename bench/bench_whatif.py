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

import optimizer.session as session_module  # noqa: E402
import optimizer.whatif as whatif  # noqa: E402
from optimizer.fast import FastOptimizer  # noqa: E402
from optimizer.model_data import prepare  # noqa: E402
from optimizer.pipeline import DEFAULT_WORKBOOK, open_workbook, scenario_inputs  # noqa: E402
from optimizer.session import Session, WhatIf  # noqa: E402
from optimizer.solve import Optimizer  # noqa: E402

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
    session_module.FastOptimizer = engine  # type: ignore[attr-defined]
    try:
        s = Session(open_workbook(DEFAULT_WORKBOOK))
        times = []
        for w in what_ifs():
            outcome = s.run(w, with_frontier=False)
            assert outcome.results is not None, outcome.problems
            times.append(outcome.solve_ms)
        return times[1:]  # the first builds the model
    finally:
        session_module.FastOptimizer = FastOptimizer  # type: ignore[attr-defined]


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
    whatif.FastOptimizer = engine  # type: ignore[attr-defined]
    try:
        inputs, _ = scenario_inputs(open_workbook(DEFAULT_WORKBOOK))
        assert inputs is not None
        data = prepare(inputs)

        def offers() -> None:
            opt = engine(data)
            whatif.offer_breakevens(opt, opt.solve())

        def countries() -> None:
            opt = engine(data)
            whatif.country_breakevens(opt, opt.solve())

        return {
            "frontier_11_points_ms": best_of(lambda: whatif.cost_of_independence(inputs)),
            "policy_costs_ms": best_of(lambda: whatif.policy_costs(inputs, engine(data))),
            "offer_breakevens_ms": best_of(offers),
            "country_breakevens_ms": best_of(countries),
        }
    finally:
        whatif.FastOptimizer = FastOptimizer  # type: ignore[attr-defined]


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
