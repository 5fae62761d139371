"""The extensive form of the two-stage plan, replicated from one compiled sample as sparse blocks.

Pyomo models one stage: `build_model` + `compile_model` give the LP of one sample
(rows A y in [l, u], columns y in [0, U], costs c). A disruption sample changes
only numbers (costs, column bounds, right-hand sides: `optimizer.analysis.risks`),
so every sample's block reuses the compiled matrix with its own vectors, and the
first-stage columns (optimizer.model.first_stage) are shared by every block:

    min  c1 z + sum_s p_s c_s y_s + lambda * (eta + 1/(1-alpha) sum_s p_s xi_s)
    s.t. A y_s + B_s z             in [l_s, u_s]                 (each sample s)
         purchase_s(b) - keep_sb z_b <= 0                        (access: each offtake b)
         c1 z + c_s y_s - eta - xi_s <= 0,  xi_s >= 0             (CVaR, when lambda > 0)
         z in [lower, upper];  y_s in [0, U_s]

B_s holds -keep_sb on a decided purchase's offtake-minimum (firm) or take-or-pay row,
and +1 for a stock build in its material's first balance row (Pyomo's orientation of
each row, read from the compiled coefficient of the purchase or stock). The CVaR term
is Rockafellar-Uryasev's: at the optimum eta is the alpha-quantile (VaR) of the total
cost and eta + E[xi]/(1-alpha) its CVaR. Total cost is the objective of a sample
(buyer spend, the unmet-demand penalty and the carbon price, modelling prices both)
plus the first-stage cost. The matrix is assembled with numpy (never N Pyomo blocks)
and passed to HiGHS in one call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse

from optimizer.common.problems import InvalidInputError
from optimizer.model.build import build_model
from optimizer.model.compiled import (
    CompiledLp,
    Floats,
    compile_model,
    other_costs,
    row_bounds,
    row_rhs,
    x_costs,
)
from optimizer.model.compiled_chain import column_uppers
from optimizer.model.data import ModelData, check_finite
from optimizer.model.engine import WARM_FAILURES, retry_without_presolve
from optimizer.model.first_stage import FIRM, STOCKPILE, TAKE_OR_PAY, FirstStage

INF: Final = highspy.kHighsInf
#: HiGHS methods the extensive form may be solved with
METHODS: Final = ("simplex", "ipm")


@dataclass
class SampleVectors:
    """What one sample changes: costs, column uppers and row bounds (canonical order)."""

    cost: Floats
    col_upper: Floats
    row_lower: Floats
    row_upper: Floats


@dataclass
class OneStage:
    """The compiled LP of one sample plus where the first-stage columns enter it."""

    lp: CompiledLp
    first: FirstStage
    #: per decision: (row, coefficient before the keep factor) in the block's own rows
    entries: list[tuple[int, float, bool]] = field(default_factory=list)
    #: per access row (one per offtake decision): the block columns of its purchase
    access_cols: list[list[int]] = field(default_factory=list)
    access_of: list[int] = field(default_factory=list)  # decision index of each access row
    unmet_cols: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def block_rows(self) -> int:
        return self.lp.num_row + len(self.access_cols)

    def vectors(self, data: ModelData) -> SampleVectors:
        """A sample's vectors from its data (same structure as the compiled one)."""
        lp = self.lp
        cost = np.concatenate((x_costs(list(data.buys.values())), other_costs(data, lp)))
        lower, upper = row_bounds(lp, row_rhs(data, lp))
        n_acc = len(self.access_cols)
        return SampleVectors(
            cost.astype(np.float64),
            column_uppers(data, lp.columns, lp.num_col),
            np.concatenate((lower, np.full(n_acc, -INF))),
            np.concatenate((upper, np.zeros(n_acc))),
        )


def _coefficient(lp: CompiledLp, col: int, row: int) -> float:
    lo, hi = lp.a_start[col], lp.a_start[col + 1]
    at = lo + int(np.searchsorted(lp.a_index[lo:hi], row))
    return float(lp.a_value[at]) if at < hi and lp.a_index[at] == row else 0.0


def one_stage(first: FirstStage) -> OneStage:
    """Compile the second stage's LP once (Pyomo) and place the first-stage columns in it."""
    data = first.second
    problems = check_finite(data)
    if problems:
        raise InvalidInputError(problems)
    lp = compile_model(build_model(data, matrix_only=True))
    x_first, x_keys = lp.columns["x"]
    x_col = {k: x_first + i for i, k in enumerate(x_keys)}
    ship_col: dict[Any, int] = {}
    if "f" in lp.columns:
        f_first, f_keys = lp.columns["f"]
        ship_col = {k: f_first + i for i, k in enumerate(f_keys)}

    def row_of(family: str, key: tuple[str, ...]) -> int:
        first_row, keys = lp.families[family]
        return first_row + keys.index(key)

    out = OneStage(lp, first)
    for i, d in enumerate(first.decisions):
        if d.kind == STOCKPILE:
            row = row_of("balance", (d.material, d.period))
            out.entries.append(
                (row, float(lp.balance_sign[row - lp.families["balance"][0]]), False)
            )
            continue
        b = d.buy
        purchase = [x_col[b]]
        if data.chain is not None:
            purchase += [ship_col[e] for e in data.chain.offer_ships.get(b, ())]
        out.access_cols.append(purchase)
        out.access_of.append(i)
        if d.binding in (FIRM, TAKE_OR_PAY):
            row = row_of("offtake_min" if d.binding == FIRM else "take_or_pay", b)
            sign = _coefficient(lp, x_col[b], row)  # +1 or -1: the row's orientation
            out.entries.append((row, -sign, True))
        else:
            out.entries.append((-1, 0.0, True))
    if "u" in lp.columns:
        u_first, u_keys = lp.columns["u"]
        out.unmet_cols = np.arange(u_first, u_first + len(u_keys))
    return out


@dataclass
class ExtensiveSolution:
    """First-stage values, per-sample total cost (USD) and unmet t, HiGHS's status and time."""

    status: str
    values: tuple[float, ...]
    objective_usd: float
    sample_cost_usd: Floats
    sample_unmet_t: Floats
    var_usd: float
    variables: int
    rows: int
    build_s: float
    highs_s: float
    method: str


def solve_extensive(
    stage: OneStage,
    samples: Sequence[SampleVectors],
    keeps: Sequence[Sequence[float]],
    probabilities: Sequence[float],
    risk_weight: float = 0.0,
    alpha: float = 0.95,
    method: str = "simplex",
    threads: int | None = None,
    fixed: Sequence[float] | None = None,
) -> ExtensiveSolution:
    """Assemble the extensive form over `samples` and solve it with HiGHS.

    keeps[s][i]: share kept of decision i in sample s. `fixed` pins the first stage
    (evaluating a plan). Raises ValueError on a bad method or mismatched lengths.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if not len(samples) == len(keeps) == len(probabilities) or not samples:
        raise ValueError("need one keep vector and one probability per sample (and a sample)")
    start = time.perf_counter()
    lp, first = stage.lp, stage.first
    n1 = len(first.decisions)
    cvar = risk_weight > 0
    n_s = len(samples)
    nb = lp.num_col + (1 if cvar else 0)  # block columns: y, then xi
    rb = stage.block_rows + (1 if cvar else 0)  # block rows: A, access, then the CVaR row
    off_col = n1 + (1 if cvar else 0)  # first block column
    p = np.asarray(probabilities, dtype=float)
    keep = np.asarray(keeps, dtype=float).reshape(n_s, n1)
    c1 = np.array([d.cost_usd_per_t for d in first.decisions], dtype=float)

    # ---- the block pattern (same in every block), as COO in block coordinates
    counts = np.diff(lp.a_start)
    a_col = np.repeat(np.arange(lp.num_col), counts)
    a_row = lp.a_index.astype(np.int64)
    a_val = lp.a_value.copy()
    nz = a_val != 0.0
    a_col, a_row, a_val = a_col[nz], a_row[nz], a_val[nz]
    acc_row = np.concatenate(
        [np.full(len(c), lp.num_row + r) for r, c in enumerate(stage.access_cols)] or [np.zeros(0)]
    ).astype(np.int64)
    acc_col = np.concatenate([np.asarray(c) for c in stage.access_cols] or [np.zeros(0)])
    blk_row = np.concatenate((a_row, acc_row))
    blk_col = np.concatenate((a_col, acc_col.astype(np.int64)))
    blk_val = np.concatenate((a_val, np.ones(len(acc_row))))
    nnz = len(blk_val)
    rows = [np.tile(blk_row, n_s) + np.repeat(np.arange(n_s) * rb, nnz)]
    cols = [np.tile(blk_col, n_s) + off_col + np.repeat(np.arange(n_s) * nb, nnz)]
    vals = [np.tile(blk_val, n_s)]

    # ---- first-stage entries: its row in each block, scaled by the sample's keep factor
    for i, (row, coef, scaled) in enumerate(stage.entries):
        if row >= 0:
            rows.append(np.arange(n_s) * rb + row)
            cols.append(np.full(n_s, i))
            vals.append(coef * (keep[:, i] if scaled else np.ones(n_s)))
    for r, i in enumerate(stage.access_of):
        rows.append(np.arange(n_s) * rb + lp.num_row + r)
        cols.append(np.full(n_s, i))
        vals.append(-keep[:, i])

    cost_blocks = np.stack([s.cost for s in samples])  # n_s x num_col
    if cvar:  # c1 z + c_s y_s - eta - xi_s <= 0
        cvar_row = np.arange(n_s) * rb + (rb - 1)
        nzc = np.nonzero(cost_blocks)
        rows.append(cvar_row[nzc[0]])
        cols.append(off_col + nzc[0] * nb + nzc[1])
        vals.append(cost_blocks[nzc])
        for j in np.flatnonzero(c1):
            rows.append(cvar_row)
            cols.append(np.full(n_s, j))
            vals.append(np.full(n_s, c1[j]))
        rows += [cvar_row, cvar_row]
        cols += [np.full(n_s, n1), off_col + np.arange(n_s) * nb + lp.num_col]
        vals += [np.full(n_s, -1.0), np.full(n_s, -1.0)]

    num_col = off_col + n_s * nb
    num_row = n_s * rb
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(num_row, num_col),
    ).tocsc()  # a counting sort: linear in the entries
    del rows, cols, vals
    a_start = matrix.indptr.astype(np.int32)
    a_index = matrix.indices.astype(np.int32)
    a_value = matrix.data
    del matrix

    # ---- costs and bounds
    cost = np.zeros(num_col)
    cost[:n1] = c1
    col_lower = np.zeros(num_col)
    col_upper = np.full(num_col, INF)
    lower = np.array([d.lower_t for d in first.decisions], dtype=float)
    upper = np.array([d.upper_t for d in first.decisions], dtype=float)
    if fixed is not None:
        lower = upper = np.asarray(fixed, dtype=float)
    col_lower[:n1], col_upper[:n1] = lower, np.minimum(upper, INF)
    blocks = cost[off_col:].reshape(n_s, nb)
    blocks[:, : lp.num_col] = p[:, None] * cost_blocks
    ub = col_upper[off_col:].reshape(n_s, nb)
    ub[:, : lp.num_col] = np.minimum(np.stack([s.col_upper for s in samples]), INF)
    row_lower = np.full(num_row, -INF)
    row_upper = np.zeros(num_row)
    rl = row_lower.reshape(n_s, rb)
    ru = row_upper.reshape(n_s, rb)
    rl[:, : stage.block_rows] = np.stack([s.row_lower for s in samples])
    ru[:, : stage.block_rows] = np.stack([s.row_upper for s in samples])
    if cvar:
        cost[n1] = risk_weight
        col_lower[n1] = -INF  # eta, the VaR: free
        blocks[:, lp.num_col] = risk_weight * p / (1.0 - alpha)
    build_s = time.perf_counter() - start

    highs = cast(Any, highspy.Highs)()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("solver", method)
    if threads is not None:
        highs.setOptionValue("threads", threads)
    highs.passModel(
        num_col,
        num_row,
        len(a_value),
        1,
        1,
        0.0,
        cost,
        col_lower,
        col_upper,
        row_lower,
        row_upper,
        a_start,
        a_index,
        a_value,
        np.zeros(num_col, dtype=np.int32),
    )
    t0 = time.perf_counter()
    highs.run()
    if highs.getModelStatus() in WARM_FAILURES:
        retry_without_presolve(highs)
    highs_s = time.perf_counter() - t0
    status = highs.modelStatusToString(highs.getModelStatus())
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return ExtensiveSolution(
            status, (0.0,) * n1, float("nan"), np.zeros(0), np.zeros(0), float("nan"),
            num_col, num_row, build_s, highs_s, method,
        )  # fmt: skip
    x = np.asarray(highs.getSolution().col_value)
    values = tuple(float(v) for v in x[:n1])
    ys = x[off_col:].reshape(n_s, nb)[:, : lp.num_col]
    sample_cost = float(c1 @ x[:n1]) + np.einsum("ij,ij->i", cost_blocks, ys)
    unmet = ys[:, stage.unmet_cols].sum(axis=1) if len(stage.unmet_cols) else np.zeros(n_s)
    return ExtensiveSolution(
        status="optimal",
        values=values,
        objective_usd=float(highs.getInfo().objective_function_value),
        sample_cost_usd=sample_cost,
        sample_unmet_t=unmet,
        var_usd=float(x[n1]) if cvar else float("nan"),
        variables=num_col,
        rows=num_row,
        build_s=build_s,
        highs_s=highs_s,
        method=method,
    )


def cvar(costs: Sequence[float], probabilities: Sequence[float], alpha: float) -> float:
    """CVaR_alpha of a discrete cost distribution: the mean of its worst (1 - alpha) tail,
    the tail's boundary sample counted in part (Rockafellar-Uryasev's value, exactly)."""
    c = np.asarray(costs, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-c, kind="stable")
    c, p = c[order], p[order]
    tail = 1.0 - alpha
    taken = np.minimum(p, np.maximum(0.0, tail - (np.cumsum(p) - p)))
    return float(taken @ c / tail)


def quantile(costs: Sequence[float], probabilities: Sequence[float], q: float) -> float:
    """The smallest cost whose cumulative probability reaches q (the VaR at level q)."""
    c = np.asarray(costs, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(c, kind="stable")
    cum = np.cumsum(p[order])
    at = int(np.searchsorted(cum, q - 1e-12))
    return float(c[order][min(at, len(c) - 1)])
