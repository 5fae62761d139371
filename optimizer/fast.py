"""The fast path: compile the Pyomo model once to matrices, then drive highspy directly.

`FastOptimizer` has the public API of `optimizer.solve.Optimizer` and returns the
same `Solution` objects, without Pyomo's persistent HiGHS interface, whose
per-variable and per-coefficient bookkeeping costs several times HiGHS's own
solve time on large models:

1. `optimizer.model.build_model` builds the model (Pyomo stays the modelling
   layer; the objective and purchase bounds are left out, see 3) and Pyomo's
   `LinearStandardFormCompiler` compiles its constraints once (mixed form: one
   row per constraint in declaration order). Every compiled row and column is
   checked against the model's constraints and variables, so each HiGHS index
   maps back to a (family, index) key. Then the Pyomo model is released.
2. The CSC matrix goes to highspy in one `passModel` call, with the columns in
   the order Pyomo's persistent interface creates them: HiGHS gets the very
   same LP, so both paths return the same plan even among tied optima. That
   HiGHS object is kept, so re-solves start from the previous basis.
3. Costs, column bounds, row bounds and share coefficients (everything a
   what-if can change) are computed from ModelData with the formulas of the
   model's mutable Params; at compile time they are checked against what
   Pyomo compiled (the objective too, in the tests), and a mismatch raises
   instead of solving a different LP. `update(data)` with an unchanged
   structure recomputes them with numpy and pushes only what changed.

Row orientation (which side is the body) is Pyomo's, so duals and reduced costs
are HiGHS's values as is, exactly as the persistent interface reports them for
this minimisation.
"""

from __future__ import annotations

import gc
import math
import operator
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
import scipy.sparse
from pyomo.common.gc_manager import PauseGC
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.model import BuiltModel, build_model
from optimizer.model_data import Buy, BuyData, ModelData, check_finite
from optimizer.problems import InvalidInputError
from optimizer.schema import KG_PER_T
from optimizer.solve import (
    ArrayMap,
    KeyIndex,
    Solution,
    Status,
    _status,
    answer_without_solver,
    finish,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int32]
Key = tuple[str, ...]

#: Share rows (sum of a group's x - share * sum of all x, <= or >= 0) and their setting.
SHARE_FAMILIES = {
    "china_cap": "max_china_share",
    "country_cap": "max_country_share",
    "allied_min": "min_allied_share",
}
#: Share value used while compiling: no coefficient (indicator - share) is then zero, so
#: the compiled pattern holds every entry any share setting may need.
COMPILE_SHARE = 0.5
#: More changed matrix coefficients than this: re-pass the model (keeping the basis)
#: instead of calling changeCoeff entry by entry.
MAX_COEFF_CHANGES = 2000
#: HiGHS model status -> Pyomo termination condition, as Pyomo's HiGHS interface maps it,
#: so `optimizer.solve._status` gives the same Status for both paths.
_TERMINATION = {
    "kNotset": TerminationCondition.unknown,
    "kLoadError": TerminationCondition.error,
    "kModelError": TerminationCondition.error,
    "kPresolveError": TerminationCondition.error,
    "kSolveError": TerminationCondition.error,
    "kPostsolveError": TerminationCondition.error,
    "kModelEmpty": TerminationCondition.unknown,
    "kOptimal": TerminationCondition.convergenceCriteriaSatisfied,
    "kInfeasible": TerminationCondition.provenInfeasible,
    "kUnboundedOrInfeasible": TerminationCondition.infeasibleOrUnbounded,
    "kUnbounded": TerminationCondition.unbounded,
    "kObjectiveBound": TerminationCondition.objectiveLimit,
    "kObjectiveTarget": TerminationCondition.objectiveLimit,
    "kTimeLimit": TerminationCondition.maxTimeLimit,
    "kIterationLimit": TerminationCondition.iterationLimit,
    "kSolutionLimit": TerminationCondition.iterationLimit,
    "kUnknown": TerminationCondition.unknown,
}


def _termination(status: highspy.HighsModelStatus) -> TerminationCondition:
    return _TERMINATION.get(status.name, TerminationCondition.unknown)


def _key(index: Any) -> Key:
    return tuple(index) if isinstance(index, tuple) else (index,)


@dataclass
class CompiledLp:
    """The compiled LP plus the maps from its rows and columns back to model keys.

    Arrays here are in *canonical* column order: x (ModelData.buys order), then
    u (MT order, when unmet is allowed), v (ST order), w (TOP order). HiGHS gets
    the columns in the order Pyomo's persistent interface would have created
    them (`from_highs`, `to_highs`), so both paths hand HiGHS the same LP and
    HiGHS returns the same vertex even when the optimum is not unique. Rows are
    in the model's constraint declaration order in both; `families` gives each
    constraint family's row range and keys.
    """

    num_col: int
    num_row: int
    cost: Floats
    col_lower: Floats
    col_upper: Floats
    row_lower: Floats
    row_upper: Floats
    #: the full compiled pattern (including entries that are zero for current shares)
    a_start: Ints
    a_index: Ints
    a_value: Floats
    bound_type: npt.NDArray[np.int8]  # per row: 0 ==, 1 <=, -1 >=
    #: column ranges: family -> (first column, keys in column order)
    columns: dict[str, tuple[int, list[Key]]] = field(default_factory=dict)
    #: row ranges: family -> (first row, keys in row order), in declaration order
    families: dict[str, tuple[int, list[Key]]] = field(default_factory=dict)
    #: balance rows: orientation (+1: x, u and v[t-1] on the left; -1: flipped by Pyomo)
    balance_sign: Floats = field(default_factory=lambda: np.zeros(0))
    #: share entries: positions in a_value, their row, column, family code and indicator
    share_pos: Ints = field(default_factory=lambda: np.zeros(0, np.int32))
    share_row: Ints = field(default_factory=lambda: np.zeros(0, np.int32))
    share_col: Ints = field(default_factory=lambda: np.zeros(0, np.int32))
    share_family: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    share_indicator: Floats = field(default_factory=lambda: np.zeros(0))
    #: HiGHS column k holds canonical column from_highs[k]; to_highs is the inverse
    from_highs: Ints = field(default_factory=lambda: np.zeros(0, np.int32))
    to_highs: Ints = field(default_factory=lambda: np.zeros(0, np.int32))

    def family_of_row(self, row: int) -> tuple[str, Key] | None:
        """(constraint family, index) of a HiGHS row."""
        for name, (first, keys) in self.families.items():
            if first <= row < first + len(keys):
                return name, keys[row - first]
        return None

    def family_of_col(self, col: int) -> tuple[str, Key] | None:
        """(variable family, index) of a HiGHS column."""
        if not 0 <= col < self.num_col:
            return None
        col = int(self.from_highs[col])
        for name, (first, keys) in self.columns.items():
            if first <= col < first + len(keys):
                return name, keys[col - first]
        return None


# --------------------------------------------------------------------------- numbers from data


def _share_values(data: ModelData) -> tuple[float, ...]:
    """The share settings, in SHARE_FAMILIES order."""
    return tuple(float(getattr(data.settings, name)) for name in SHARE_FAMILIES.values())


def _x_costs(buys: Sequence[BuyData]) -> list[float]:
    """Objective coefficient of x[b] (USD per t): 1000 x landed cost, as the model's Params."""
    return [KG_PER_T * (d.price_paid * (1 + d.tariff_rate) + d.freight) for d in buys]


def _other_costs(data: ModelData, lp: CompiledLp) -> Floats:
    """Objective coefficients (USD per t) of u, v and w, in column order."""
    unmet = KG_PER_T * data.settings.unmet_penalty_usd_per_kg
    n_unmet = len(lp.columns["u"][1]) if "u" in lp.columns else 0
    holding = [KG_PER_T * data.stock[k[0]].holding_usd_per_kg for k in lp.columns["v"][1]]
    top = [KG_PER_T * (f * data.buys[b].price_paid) for b, (_, f) in data.take_or_pay.items()]
    return np.concatenate((np.full(n_unmet, unmet), holding, top)).astype(np.float64)


def _row_rhs(data: ModelData, lp: CompiledLp) -> Floats:
    """Right-hand side of every row in Pyomo's orientation (see model.py's rules)."""
    rhs = np.zeros(lp.num_row)
    first_period = data.periods[0] if data.periods else None

    def put(name: str, values: Sequence[float] | Floats) -> None:
        if name in lp.families:
            start, keys = lp.families[name]
            rhs[start : start + len(keys)] = values

    if "balance" in lp.families:
        _, keys = lp.families["balance"]
        natural = [
            data.demand[(mat, t)]
            - (data.stock[mat].initial_t if mat in data.stock and t == first_period else 0.0)
            for mat, t in keys
        ]
        put("balance", lp.balance_sign * np.asarray(natural, dtype=float))
    if "reserve_min" in lp.families:
        put("reserve_min", [data.stock[k[0]].reserve_t for k in lp.families["reserve_min"][1]])
    put("facility_cap", list(data.capacity.values()))
    put("offtake_min", list(data.hard_minimum.values()))
    put("take_or_pay", [-q for q, _ in data.take_or_pay.values()])
    return rhs  # share rows: 0 <= / >= 0


def _row_bounds(lp: CompiledLp, rhs: Floats) -> tuple[Floats, Floats]:
    lower = np.where(lp.bound_type == 1, -highspy.kHighsInf, rhs)
    upper = np.where(lp.bound_type == -1, highspy.kHighsInf, rhs)
    return lower, upper


def _share_coefficients(lp: CompiledLp, shares: tuple[float, ...]) -> Floats:
    """Coefficient of x[b] in a share row: 1 if b is in the row's group, minus the share."""
    values: Floats = lp.share_indicator - np.asarray(shares, dtype=float)[lp.share_family]
    return values


# --------------------------------------------------------------------------- compile


def compile_model(built: BuiltModel) -> CompiledLp:
    """Compile a built model with Pyomo's standard-form compiler and record the index maps.

    The constraints are compiled. Objective coefficients come from ModelData
    (`_x_costs`, `_other_costs`: the formulas `update` needs anyway), since
    building and compiling a million coefficient expressions costs as much as
    all the rows; FastOptimizer builds the model without its objective (and takes
    the purchase bounds from ModelData as well: `build_model(matrix_only=True)`). When the
    model has one, it is compiled as well and must give the same vector (the
    tests check this). Raises RuntimeError whenever the compiled LP is not the
    one these maps and formulas describe (a model.py change this module does
    not know about), instead of solving a different LP.
    """
    m = built.model
    share_params = [getattr(m, p) for p in ("china_share", "country_share", "allied_share")]
    saved = [p.value for p in share_params]
    var_families = [v for v in (m.x, getattr(m, "u", None), m.v, m.w) if v is not None]
    check_objective = hasattr(m, "cost")
    try:
        for p in share_params:
            p.set_value(COMPILE_SHARE)
        info = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    finally:
        for p, value in zip(share_params, saved, strict=True):
            p.set_value(value)

    with PauseGC():
        lp, source = _record_maps(m, info, var_families)
        _check_and_fill(lp, built.data, info, check_objective, source)
    return lp


def _pick_columns(matrix: Any, source: npt.NDArray[np.int64]) -> Any:
    """Columns `source` of a scipy sparse matrix, as CSC; index ncols is an empty column.

    Plain numpy over the CSC arrays (scipy's fancy column indexing is several
    times slower on a million columns).
    """
    a = scipy.sparse.csc_matrix(matrix)
    start = np.append(a.indptr, a.indptr[-1])  # the extra column is empty
    lengths = start[source + 1] - start[source]
    indptr = np.zeros(len(source) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    take = np.repeat(start[source] - indptr[:-1], lengths) + np.arange(indptr[-1])
    return scipy.sparse.csc_matrix(
        (a.data[take], a.indices[take], indptr), shape=(a.shape[0], len(source))
    )


def _record_maps(
    m: pyo.ConcreteModel, info: Any, var_families: list[Any]
) -> tuple[CompiledLp, npt.NDArray[np.int64]]:
    """Map every compiled column and row to its Pyomo family and index, checking the order.

    Also returns, per canonical column, the compiled column it came from.
    """
    # The compiler numbers columns in order of first appearance (asking it for our order
    # costs it more than this permutation): put them back in x, u, v, w index order.
    expected_cols = [v for family in var_families for v in family.values()]
    canonical = {id(v): j for j, v in enumerate(expected_cols)}
    n_compiled = len(info.columns)
    try:
        place = np.fromiter((canonical[id(v)] for v in info.columns), np.int64, n_compiled)
    except KeyError:
        raise RuntimeError("the compiled model has a column that is not x, u, v or w") from None
    if n_compiled and np.bincount(place, minlength=len(expected_cols)).max() > 1:
        raise RuntimeError("the compiled model repeats a column")
    source = np.full(len(expected_cols), n_compiled, dtype=np.int64)  # in no row: empty
    source[place] = np.arange(n_compiled)
    columns = _ranges(var_families)

    cons = list(m.component_objects(pyo.Constraint, active=True))
    expected_rows = [c for con in cons for c in con.values()]
    rows = [r.constraint for r in info.rows]
    if len(rows) != len(expected_rows) or not all(map(operator.is_, rows, expected_rows)):
        raise RuntimeError("compiled rows are not one per constraint in declaration order")
    families = _ranges(cons)

    a = _pick_columns(info.A, source)
    a.sort_indices()
    empty = np.zeros(0)
    lp = CompiledLp(
        num_col=len(expected_cols),
        num_row=len(expected_rows),
        cost=empty,
        col_lower=empty,
        col_upper=empty,
        row_lower=empty,
        row_upper=empty,
        a_start=a.indptr.astype(np.int32),
        a_index=a.indices.astype(np.int32),
        a_value=a.data.astype(np.float64),
        bound_type=np.fromiter((r.bound_type for r in info.rows), np.int8, len(rows)),
        columns=columns,
        families=families,
    )
    return lp, source


def _ranges(components: list[Any]) -> dict[str, tuple[int, list[Key]]]:
    """name -> (first position, keys) of indexed components laid end to end."""
    out: dict[str, tuple[int, list[Key]]] = {}
    at = 0
    for component in components:
        keys = [_key(k) for k in component]
        out[component.local_name] = (at, keys)
        at += len(keys)
    return out


def _check_and_fill(
    lp: CompiledLp,
    data: ModelData,
    info: Any,
    check_objective: bool,
    source: npt.NDArray[np.int64],
) -> None:
    """Fill costs, bounds and share coefficients from data; check them against the compile."""
    buys = list(data.buys.values())
    nx = len(buys)
    col_of_entry = np.repeat(np.arange(lp.num_col, dtype=np.int32), np.diff(lp.a_start))

    # balance orientation: Pyomo flips a stocked row with nothing on its left-hand side
    if "balance" in lp.families:
        start, keys = lp.families["balance"]
        sign = np.ones(len(keys))
        if "v" in lp.columns:
            v_first, v_keys = lp.columns["v"]
            v_col = {k: v_first + i for i, k in enumerate(v_keys)}
            for i, k in enumerate(keys):
                if k in v_col:  # the coefficient of v[m,t] in its own balance row
                    j = v_col[k]
                    lo, hi = lp.a_start[j], lp.a_start[j + 1]
                    at = lo + np.searchsorted(lp.a_index[lo:hi], start + i)
                    if at < hi and lp.a_index[at] == start + i:
                        sign[i] = -lp.a_value[at]
                    else:
                        sign[i] = 0.0  # caught below
        if not np.all(np.abs(sign) == 1.0):
            raise RuntimeError("a balance row has no stock coefficient of +-1")
        lp.balance_sign = sign

    # share rows: compiled at COMPILE_SHARE, so each entry is indicator - COMPILE_SHARE
    code = np.full(lp.num_row, -1, dtype=np.int8)
    for j, name in enumerate(SHARE_FAMILIES):
        if name in lp.families:
            start, keys = lp.families[name]
            code[start : start + len(keys)] = j
    entry_code = code[lp.a_index]
    pos = np.flatnonzero(entry_code >= 0).astype(np.int32)
    indicator = lp.a_value[pos] + COMPILE_SHARE
    if not np.all((indicator == 0.0) | (indicator == 1.0)) or np.any(col_of_entry[pos] >= nx):
        raise RuntimeError("share rows are not sum(group x) - share * sum(x)")
    lp.share_pos, lp.share_row = pos, lp.a_index[pos]
    lp.share_col, lp.share_family = col_of_entry[pos], entry_code[pos]
    lp.share_indicator = indicator
    lp.a_value[pos] = _share_coefficients(lp, _share_values(data))

    # every other number comes from data; it must be what Pyomo compiled
    lp.cost = np.concatenate((_x_costs(buys), _other_costs(data, lp))).astype(np.float64)
    if check_objective:
        compiled_cost = np.asarray(_pick_columns(info.c, source).toarray(), dtype=float)
        compiled_cost = compiled_cost.reshape(-1)
        if not np.allclose(lp.cost, compiled_cost, rtol=1e-12, atol=1e-12):
            raise RuntimeError("objective coefficients differ from the compiled model")
    rhs = _row_rhs(data, lp)
    if not np.allclose(rhs, np.asarray(info.rhs, dtype=float), rtol=1e-12, atol=1e-12):
        raise RuntimeError("right-hand sides differ from the compiled model")
    lp.row_lower, lp.row_upper = _row_bounds(lp, rhs)
    lp.col_lower = np.zeros(lp.num_col)
    lp.col_upper = np.full(lp.num_col, highspy.kHighsInf)
    lp.col_upper[:nx] = np.fromiter((d.upper_t for d in buys), float, nx)
    _persistent_order(lp)


def _persistent_order(lp: CompiledLp) -> None:
    """The column order of Pyomo's persistent interface: order of first appearance.

    It walks the constraints in order and adds each variable the first time it
    meets it; within a row the new variables come as x, u, v, w (a balance row
    reads x..., u[m,t], then v[m,t] on the right-hand side). So a column's place
    is (first row it appears in, family, canonical order). tests/test_fast.py
    checks this against the persistent interface's own map.
    """
    lengths = np.diff(lp.a_start)
    first_row = np.full(lp.num_col, lp.num_row, dtype=np.int64)
    nonempty = lengths > 0
    first_row[nonempty] = lp.a_index[lp.a_start[:-1][nonempty]]
    sizes = [len(keys) for _, keys in lp.columns.values()]
    rank = np.repeat(np.arange(len(sizes)), sizes)
    from_highs = np.lexsort((np.arange(lp.num_col), rank, first_row)).astype(np.int32)
    to_highs = np.empty(lp.num_col, dtype=np.int32)
    to_highs[from_highs] = np.arange(lp.num_col, dtype=np.int32)
    lp.from_highs, lp.to_highs = from_highs, to_highs


def _highs_csc(lp: CompiledLp) -> tuple[Ints, Ints, Floats]:
    """The matrix in HiGHS's column order, without entries that are zero for the shares."""
    keep = lp.a_value != 0.0
    col = np.repeat(np.arange(lp.num_col, dtype=np.int32), np.diff(lp.a_start))[keep]
    index, value = lp.a_index[keep], lp.a_value[keep]
    counts = np.bincount(col, minlength=lp.num_col)
    canonical_start = np.concatenate(([0], np.cumsum(counts)))
    start = np.concatenate(([0], np.cumsum(counts[lp.from_highs])))
    # entries stay in row order within a column; only whole columns move
    dest = start[lp.to_highs[col]] + (np.arange(len(col)) - canonical_start[col])
    out_index = np.empty_like(index)
    out_value = np.empty_like(value)
    out_index[dest] = index
    out_value[dest] = value
    return start.astype(np.int32), out_index, out_value


def lp_arrays(lp: CompiledLp) -> dict[str, Any]:
    """The LP as HiGHS gets it, as plain arrays in HiGHS's column order.

    What `_pass` hands to HiGHS, and what the benchmark's raw-highspy baseline loads.
    """
    start, index, value = _highs_csc(lp)
    order = lp.from_highs
    return {
        "num_col": lp.num_col,
        "num_row": lp.num_row,
        "cost": lp.cost[order],
        "col_lower": lp.col_lower[order],
        "col_upper": lp.col_upper[order],
        "row_lower": lp.row_lower,
        "row_upper": lp.row_upper,
        "a_start": start,
        "a_index": index,
        "a_value": value,
    }


def _pass(highs: Any, lp: CompiledLp) -> None:
    """Hand the whole LP to HiGHS in one call, as Pyomo's interface would have built it."""
    a = lp_arrays(lp)
    status = highs.passModel(
        a["num_col"],
        a["num_row"],
        len(a["a_value"]),
        1,  # MatrixFormat.kColwise
        1,  # ObjSense.kMinimize
        0.0,
        a["cost"],
        a["col_lower"],
        a["col_upper"],
        a["row_lower"],
        a["row_upper"],
        a["a_start"],
        a["a_index"],
        a["a_value"],
        np.zeros(lp.num_col, dtype=np.int32),  # all continuous
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the compiled LP")


# --------------------------------------------------------------------------- optimizer


class FastOptimizer:
    """One compiled LP, one HiGHS instance: build once, update and re-solve many times.

    Keeps the `optimizer.solve.Engine` contract, as `optimizer.solve.Optimizer`
    does (same constructor, plus `match_persistent`). The Pyomo model is built and compiled, then
    released: HiGHS holds the live LP and `update` edits it directly, so the
    model's memory is free before HiGHS solves (a rebuild builds a new one).
    """

    def __init__(
        self, data: ModelData, threads: int | None = None, match_persistent: bool = False
    ) -> None:
        problems = check_finite(data)
        if problems:
            raise InvalidInputError(problems)
        self.threads = threads
        #: warm re-solves follow Pyomo's persistent interface pivot for pivot (see _touch_matrix)
        self.match_persistent = match_persistent
        self.rebuilds = 0
        #: seconds of the last build / compile / passModel / run / extraction (for benchmarks)
        self.timings: dict[str, float] = {}
        self._setup(data)

    def _setup(self, data: ModelData) -> None:
        # The cyclic GC stays off from build to compile: the model is millions of new
        # objects that live until the compile is done, so GC passes would only re-scan
        # them. Then one young-generation collection frees the model (Pyomo components
        # are self-referencing, so it does not go by reference counting) before HiGHS
        # allocates its own memory: at 1M variables that saves ~0.7 GB of peak memory.
        with PauseGC():
            t0 = time.perf_counter()
            built = build_model(data, matrix_only=True)
            t1 = time.perf_counter()
            self.lp = compile_model(built)
            del built
            gc.collect(0)
            t2 = time.perf_counter()
        self._data = data
        self._structure = data.structure
        self._highs: Any = cast(Any, highspy.Highs)()
        self._highs.setOptionValue("output_flag", False)
        _pass(self._highs, self.lp)
        t3 = time.perf_counter()
        self._buys: list[BuyData] = list(data.buys.values())
        #: per variable and constraint family: its keys and their index, shared by solutions
        self._indexes: dict[str, KeyIndex[Key]] = {
            name: KeyIndex(keys)
            for name, (_, keys) in (*self.lp.columns.items(), *self.lp.families.items())
        }
        self._shares = _share_values(data)
        self._runs = 0  # runs of this HiGHS model (a rebuild starts again at 0)
        # the entry _touch_matrix rewrites: column 0's first, a balance row's +-1 (fixed)
        self._touch: tuple[int, int, float] | None = None
        balance_rows = len(self.lp.families.get("balance", (0, []))[1])
        if len(self.lp.a_index) and self.lp.a_index[0] < balance_rows:
            row, value = int(self.lp.a_index[0]), float(self.lp.a_value[0])
            self._touch = (row, int(self.lp.to_highs[0]), value)
        self.timings = {"build": t1 - t0, "compile": t2 - t1, "pass": t3 - t2}

    @property
    def data(self) -> ModelData:
        """The data the LP currently represents."""
        return self._data

    @property
    def highs(self) -> highspy.Highs:
        """The underlying highspy object, for ranging and IIS (rows and columns: see row_key)."""
        highs: highspy.Highs = self._highs
        return highs

    def sibling(self, data: ModelData) -> FastOptimizer:
        """A new engine of this kind and thread count for other data (e.g. an elastic re-solve)."""
        return FastOptimizer(data, threads=self.threads, match_persistent=self.match_persistent)

    def row_key(self, row: int) -> tuple[str, Key] | None:
        """(constraint family, index) of a HiGHS row, e.g. ("facility_cap", ("S1", "2026"))."""
        return self.lp.family_of_row(row)

    def col_key(self, col: int) -> tuple[str, Key] | None:
        """(variable family, index) of a HiGHS column, e.g. ("x", ("S1", "Ga", "2026"))."""
        return self.lp.family_of_col(col)

    # ----------------------------------------------------------------------- update

    def update(self, data: ModelData) -> bool:
        """Point the LP at new data; True if updated in place, False if it was rebuilt."""
        with PauseGC():  # many short-lived objects on big models: GC passes only cost time
            return self._update(data)

    def _update(self, data: ModelData) -> bool:
        if data.structure != self._structure:
            problems = check_finite(data)
            if problems:
                raise InvalidInputError(problems)
            self._setup(data)
            self.rebuilds += 1
            return False
        buys = list(data.buys.values())
        changed = np.flatnonzero(
            np.fromiter(map(operator.is_not, buys, self._buys), bool, len(buys))
        )
        if not self._finite(data, buys, changed):
            problems = check_finite(data)  # the full check, for its messages
            if problems:
                raise InvalidInputError(problems)
        self._push(data, buys, changed)
        self._data = data
        self._buys = buys
        return True

    def _finite(self, data: ModelData, buys: list[BuyData], changed: npt.NDArray[np.intp]) -> bool:
        """Whether everything check_finite looks at is finite, in time proportional to the change.

        Purchases are looked at only when they are new objects (BuyData is frozen,
        and the others passed when they came in); every other table is small and
        is checked in full, with numpy.
        """

        def finite(values: Any, n: int) -> bool:
            return bool(np.isfinite(np.fromiter(values, float, n)).all())

        sub = [buys[i] for i in changed.tolist()]
        s = data.settings
        return (
            finite((d.landed for d in sub), len(sub))
            and not any(math.isnan(d.upper_t) for d in sub)
            and finite(data.demand.values(), len(data.demand))
            and finite(data.capacity.values(), len(data.capacity))
            and finite(data.hard_minimum.values(), len(data.hard_minimum))
            and finite((q * f for q, f in data.take_or_pay.values()), len(data.take_or_pay))
            and finite(
                (v.initial_t + v.reserve_t + v.holding_usd_per_kg for v in data.stock.values()),
                len(data.stock),
            )
            and finite((*_share_values(data), s.unmet_penalty_usd_per_kg), len(SHARE_FAMILIES) + 1)
        )

    def _push(self, data: ModelData, buys: list[BuyData], changed: npt.NDArray[np.intp]) -> None:
        """Send HiGHS only the costs, bounds and coefficients that differ from the current LP."""
        lp, highs = self.lp, self._highs
        nx = len(buys)
        cost = lp.cost.copy()
        if len(changed):
            sub = [buys[i] for i in changed.tolist()]
            cost[changed] = _x_costs(sub)
            upper = lp.col_upper.copy()
            upper[changed] = np.fromiter((d.upper_t for d in sub), float, len(sub))
            cols = np.flatnonzero(upper != lp.col_upper)
            if len(cols):
                at = lp.to_highs[cols]
                highs.changeColsBounds(len(cols), at, lp.col_lower[cols], upper[cols])
                lp.col_upper = upper
        cost[nx:] = _other_costs(data, lp)
        cols = np.flatnonzero(cost != lp.cost)
        if len(cols):
            highs.changeColsCost(len(cols), lp.to_highs[cols], cost[cols])
            lp.cost = cost

        lower, upper = _row_bounds(lp, _row_rhs(data, lp))
        rows = np.flatnonzero((lower != lp.row_lower) | (upper != lp.row_upper)).astype(np.int32)
        if len(rows):
            highs.changeRowsBounds(len(rows), rows, lower[rows], upper[rows])
            lp.row_lower, lp.row_upper = lower, upper

        shares = _share_values(data)
        if shares != self._shares:
            values = _share_coefficients(lp, shares)
            diff = np.flatnonzero(values != lp.a_value[lp.share_pos])
            lp.a_value[lp.share_pos] = values
            if len(diff) <= MAX_COEFF_CHANGES:
                for i in diff.tolist():
                    col = int(lp.to_highs[lp.share_col[i]])
                    highs.changeCoeff(int(lp.share_row[i]), col, float(values[i]))
            else:
                basis = highs.getBasis()
                _pass(highs, lp)
                if basis.valid:
                    highs.setBasis(basis)
            self._shares = shares

    # ----------------------------------------------------------------------- solve

    def _run(self) -> tuple[TerminationCondition, float]:
        """Run HiGHS; the termination condition and HiGHS's own time for this run."""
        if self._runs and self.match_persistent:
            self._touch_matrix()
        self._runs += 1
        before = self._highs.getRunTime()
        self._highs.run()
        seconds = self._highs.getRunTime() - before
        return _termination(self._highs.getModelStatus()), seconds

    def _touch_matrix(self) -> None:
        """Rewrite one matrix entry with its own value, as Pyomo's interface does before a re-solve.

        Before every solve after the first, Pyomo's persistent HiGHS interface
        re-sends each mutable coefficient (the share rows') with changeCoeff, which
        makes HiGHS refactorise instead of reusing its simplex state. The LP does
        not change, but HiGHS's path from the kept basis does: with one such call
        a warm re-solve here lands on the same vertex as the Pyomo path when the
        optimum is not unique. It costs one factorisation (at 1M variables about
        a third of a warm re-solve), so only `match_persistent=True` does it: the
        tests that compare both paths vertex by vertex. Otherwise a warm re-solve
        reaches an optimum of the same cost, the same one each time it is run.
        """
        if self._touch is not None:
            self._highs.changeCoeff(*self._touch)

    def _set_options(self, time_limit: float | None, presolve: str) -> None:
        # HiGHS keeps options between runs: always set them, never leave a previous value
        highs = self._highs
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("time_limit", math.inf if time_limit is None else float(time_limit))
        highs.setOptionValue("presolve", presolve)
        if self.threads is not None:
            highs.setOptionValue("threads", self.threads)

    def solve(self, time_limit: float | None = None) -> Solution:
        """Solve and return a Solution; a non-optimal status carries an explanation."""
        start = time.perf_counter()
        answer = answer_without_solver(self.data)
        if answer is not None:
            return answer
        self._set_options(time_limit, "choose")
        t_run = time.perf_counter()
        tc, highs_seconds = self._run()
        t_ran = time.perf_counter()
        status = _status(tc)
        if status is Status.INFEASIBLE:
            self._set_options(time_limit, "off")
            tc, _ = self._run()
            status = _status(tc)
        solution = Solution(status, highs_seconds=highs_seconds)
        info = self._highs.getInfo()
        has_solution = info.primal_solution_status == 2
        if status is Status.OPTIMAL:
            t_load = time.perf_counter()
            with PauseGC():
                self._load(solution)
            self.timings["extract"] = time.perf_counter() - t_load
        incumbent = float(info.objective_function_value) if has_solution else None
        # a simplex run stopped early has no proven bound
        finish(solution, self, incumbent, None, tc.name)
        self.timings["run"] = t_ran - t_run
        solution.seconds = time.perf_counter() - start
        return solution

    def _load(self, solution: Solution) -> None:
        """Primal values, duals and reduced costs keyed as Optimizer._load keys them."""
        sol = self._highs.getSolution()
        lp = self.lp
        col = np.asarray(sol.col_value, dtype=float)[lp.to_highs]
        col_dual = np.asarray(sol.col_dual, dtype=float)[lp.to_highs]
        row_dual = np.asarray(sol.row_dual, dtype=float)

        indexes = self._indexes

        def values(name: str, array: Floats, clip: bool) -> Mapping[Any, float]:
            if name not in lp.columns:
                return {}
            first, keys = lp.columns[name]
            part = array[first : first + len(keys)]
            return ArrayMap(indexes[name], np.maximum(part, 0.0) if clip else part.copy())

        solution.x = values("x", col, clip=True)
        solution.unmet = values("u", col, clip=True)
        solution.stock = values("v", col, clip=True)
        solution.untaken = values("w", col, clip=True)
        for name, (first, keys) in lp.families.items():
            part = row_dual[first : first + len(keys)].copy()
            solution.duals[name] = ArrayMap(indexes[name], part)
        solution.reduced_costs = values("x", col_dual, clip=False)

    def cost_ranging(self) -> dict[Buy, tuple[float, float]]:
        """HiGHS cost ranging of each purchase after an optimal solve (see Optimizer)."""
        status, ranging = self._highs.getRanging()
        if status != highspy.HighsStatus.kOk or not ranging.valid:
            return {}
        first, keys = self.lp.columns["x"]
        at = self.lp.to_highs[first : first + len(keys)]
        down = np.asarray(ranging.col_cost_dn.value_, dtype=float)[at]
        up = np.asarray(ranging.col_cost_up.value_, dtype=float)[at]
        down = np.where(down <= -highspy.kHighsInf, -math.inf, down)
        up = np.where(up >= highspy.kHighsInf, math.inf, up)
        return {
            cast(Buy, k): (d, u) for k, d, u in zip(keys, down.tolist(), up.tolist(), strict=True)
        }


__all__ = ["CompiledLp", "FastOptimizer", "compile_model", "lp_arrays"]
