"""Process break-evens (contract v2): the fee at which an unused process starts to be used.

A planner sets a process's fee (`cost_usd_per_kg`: a tolling or processing fee)
per Processes row, for every period, so the break-even is per process: the
highest fee at which it runs at all. HiGHS cost ranging on its activity
columns gives a first guess (the largest entering fee over its periods and
grades); the guess is checked by re-solving with the fee just below and just
above it, as the workbook would set it (its default customs value moves with
the fee), and found by bisection when the check fails. A process whose ranging guess is
below 0 is checked once, at no fee. Processes that do run
get no break-even here (their fee is shown).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from optimizer.analysis.replan import resolve
from optimizer.contract.records import Inputs
from optimizer.contract.schema import KG_PER_T
from optimizer.model.chain_data import ChainData
from optimizer.model.chain_edits import with_process_fee
from optimizer.model.data import ModelData, repriced
from optimizer.model.emissions import act_cost
from optimizer.model.fast import FastOptimizer
from optimizer.model.solution import EPS_T, Engine, Solution, Status

#: Re-solve this far (USD/kg, or this share of the fee if larger) on either side of a guess.
CHECK_USD = 0.005
CHECK_SHARE = 0.001
#: Bisection stops when the bracket is this narrow (USD/kg).
BISECT_USD = 0.005

COLUMNS = [
    "supplier",
    "process",
    "stage",
    "country",
    "fee_usd_per_kg",
    "output_t",
    "breakeven_fee_usd_per_kg",
    "note",
]


def _with_fee(data: ModelData, supplier: str, process: str, fee: float) -> ModelData:
    """The data with one process's fee changed, as a Processes row would set it."""
    assert data.chain is not None
    return repriced(data, chain=with_process_fee(data.chain, supplier, process, fee))


def _runs(opt: Engine, data: ModelData, supplier: str, process: str) -> bool | None:
    sol = resolve(opt, data)
    if sol.status is not Status.OPTIMAL:
        return None
    return _output(sol, supplier, process) > EPS_T


def _output(sol: Solution, supplier: str, process: str) -> float:
    return sum(q for a, q in sol.chain.get("y", {}).items() if (a[0], a[1]) == (supplier, process))


def process_breakevens(
    inputs: Inputs,
    opt: Engine,
    sol: Solution,
    ranging: Mapping[Any, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Per process: its fee, its output, and if unused the fee at which it starts to be used.

    `ranging`: cost ranging of the activity columns at `sol`'s basis; without it, call
    right after `opt.solve()` returned `sol` (ranging reads its basis). `opt` is left
    pointing at the data it was given.
    """
    data = opt.data
    chain = data.chain
    if chain is None or sol.status is not Status.OPTIMAL or not chain.acts:
        return pd.DataFrame(columns=COLUMNS)
    ranging = opt.cost_ranging("y") if ranging is None else ranging
    carbon = data.emissions.act_carbon if data.emissions is not None else (lambda _: 0.0)
    by_process: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for act in chain.acts:
        by_process.setdefault((act[0], act[1]), []).append(act)
    fees = {
        (p.supplier, p.process): p.cost_usd_per_kg for p in inputs.processes if p.period is None
    }
    rows = []
    for (s, p), acts in sorted(by_process.items()):
        first = chain.acts[acts[0]]
        output = _output(sol, s, p)
        fee = fees.get((s, p), first.fee_usd_per_kg)
        row = {
            "supplier": s,
            "process": p,
            "stage": first.stage,
            "country": first.country,
            "fee_usd_per_kg": fee,
            "output_t": output,
            "breakeven_fee_usd_per_kg": None,
            "note": "",
        }
        if output > EPS_T:
            row["note"] = "runs"
        elif all(chain.acts[a].upper_t <= 0 for a in acts):
            row["note"] = "ruled out (exclude_china)"
        else:
            guess = max(
                (
                    ranging[a][0] / KG_PER_T - carbon(a)  # the objective's cost is fee + carbon
                    for a in acts
                    if a in ranging and math.isfinite(ranging[a][0])
                ),
                default=math.nan,
            )
            found = _breakeven(data, opt, s, p, fee, guess)
            if found is None:
                row["note"] = "does not run even at no fee"
            else:
                row["breakeven_fee_usd_per_kg"] = found
                row["note"] = f"runs below ${found:,.2f}/kg"
        rows.append(row)
    opt.update(data)  # leave the engine as it was found
    return pd.DataFrame(rows, columns=COLUMNS)


def _runs_at(opt: Engine, data: ModelData, s: str, p: str) -> Callable[[float], bool]:
    """Whether process p at s runs with its fee at a value: on the fast engine by probes (the
    costs the fee sets, on its activities and on shipments whose customs value follows it,
    changed in HiGHS and put back), otherwise by a re-solve of the data with that fee."""
    if not isinstance(opt, FastOptimizer):
        return lambda at: bool(_runs(opt, _with_fee(data, s, p, at), s, p))
    chain = data.chain
    assert chain is not None
    acts = [a for a in chain.acts if (a[0], a[1]) == (s, p)]
    read: list[tuple[str, Any]] = [("y", a) for a in acts]
    opt.update(data)
    # every cost the fee sets is affine in it (the fee itself, and tariff x a customs value
    # that follows it): evaluated at fees 0 and 1 once, each probe is c0 + fee x (c1 - c0)
    chains = [with_process_fee(chain, s, p, at) for at in (0.0, 1.0)]
    ships = [e for e, f in chain.ships.items() if any(c.ships[e] is not f for c in chains)]
    changed: list[tuple[str, Any]] = [("y", a) for a in acts] + [("f", e) for e in ships]

    def costs(c: ChainData) -> npt.NDArray[np.float64]:
        at_fee = replace(data, chain=c)
        return KG_PER_T * np.array(
            [act_cost(at_fee, a) for a in acts] + [c.ships[e].objective_cost for e in ships]
        )

    c0, c1 = (costs(c) for c in chains)
    probe = opt.prober(changed, read)

    def runs(at: float) -> bool:
        values = probe(c0 + at * (c1 - c0))
        return values is not None and sum(values) > EPS_T

    return runs


def _breakeven(
    data: ModelData, opt: Engine, s: str, p: str, fee: float, guess: float
) -> float | None:
    """The highest fee in [0, fee] at which process p at s runs, or None if it never does."""
    runs_at = _runs_at(opt, data, s, p)

    def runs(at: float) -> bool:
        return runs_at(max(0.0, at))

    if math.isfinite(guess) and guess < 0 and not runs(0.0):
        return None  # ranging says it would need a negative fee, and at no fee it does not run
    if math.isfinite(guess) and 0 <= guess <= fee:
        step = max(CHECK_USD, CHECK_SHARE * max(guess, 1.0))
        if runs(guess - step) and not runs(guess + step):
            return guess
    if not runs(0.0):
        return None
    low, high = 0.0, fee
    while high - low > BISECT_USD:
        mid = (low + high) / 2
        if runs(mid):
            low = mid
        else:
            high = mid
    return (low + high) / 2
