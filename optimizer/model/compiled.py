"""The fast path's first half: compile the Pyomo model once to matrices HiGHS can take.

`FastOptimizer` has the public API of `optimizer.model.reference.Optimizer` and returns the
same `Solution` objects, without Pyomo's persistent HiGHS interface, whose
per-variable and per-coefficient bookkeeping costs several times HiGHS's own
solve time on large models:

1. `optimizer.model.build.build_model` builds the model (Pyomo stays the modelling
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

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
import scipy.sparse
from pyomo.common.gc_manager import PauseGC
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from optimizer.contract.schema import KG_PER_T
from optimizer.model.build import BuiltModel
from optimizer.model.compiled_chain import (
    CHAIN_COLUMNS,
    SHARE_COLUMNS,
    chain_costs,
    chain_rhs,
    column_uppers,
)
from optimizer.model.data import BuyData, ModelData

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


def share_values(data: ModelData) -> tuple[float, ...]:
    """The share settings, in SHARE_FAMILIES order."""
    return tuple(float(getattr(data.settings, name)) for name in SHARE_FAMILIES.values())


def x_costs(buys: Sequence[BuyData]) -> list[float]:
    """Objective coefficient of x[b] (USD per t): 1000 x (landed cost + counted support), as the
    model's Params."""
    return [
        KG_PER_T * (d.price_paid * (1 + d.tariff_rate) + d.freight + d.objective_extra)
        for d in buys
    ]


def other_costs(data: ModelData, lp: CompiledLp, with_chain: bool = True) -> Floats:
    """Objective coefficients (USD per t) of u, v and w, then the chain's, in column order
    (`with_chain=False`: u, v and w only, for an update that leaves the chain as it was)."""
    unmet = KG_PER_T * data.settings.unmet_penalty_usd_per_kg
    n_unmet = len(lp.columns["u"][1]) if "u" in lp.columns else 0
    holding = [KG_PER_T * data.stock[k[0]].holding_usd_per_kg for k in lp.columns["v"][1]]
    top = [KG_PER_T * (f * data.buys[b].price_paid) for b, (_, f) in data.take_or_pay.items()]
    chain = chain_costs(data, lp.columns) if with_chain else np.zeros(0)
    return np.concatenate((np.full(n_unmet, unmet), holding, top, chain)).astype(np.float64)


def row_rhs(data: ModelData, lp: CompiledLp) -> Floats:
    """Right-hand side of every row in Pyomo's orientation (see build.py's rules)."""
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
    chain_rhs(data, put, lambda name: lp.families[name][1] if name in lp.families else [])
    if "emissions_cap" in lp.families and data.emissions is not None:
        caps = data.emissions.caps
        put("emissions_cap", [caps[(k[0], k[1])] for k in lp.families["emissions_cap"][1]])
    return rhs  # share rows, lanes, consumption: 0 <= / >= / == 0


def row_bounds(lp: CompiledLp, rhs: Floats) -> tuple[Floats, Floats]:
    lower = np.where(lp.bound_type == 1, -highspy.kHighsInf, rhs)
    upper = np.where(lp.bound_type == -1, highspy.kHighsInf, rhs)
    return lower, upper


def share_coefficients(lp: CompiledLp, shares: tuple[float, ...]) -> Floats:
    """Coefficient of x[b] in a share row: 1 if b is in the row's group, minus the share."""
    values: Floats = lp.share_indicator - np.asarray(shares, dtype=float)[lp.share_family]
    return values


# --------------------------------------------------------------------------- compile


def compile_model(built: BuiltModel) -> CompiledLp:
    """Compile a built model with Pyomo's standard-form compiler and record the index maps.

    The constraints are compiled. Objective coefficients come from ModelData
    (`x_costs`, `other_costs`: the formulas `update` needs anyway), since
    building and compiling a million coefficient expressions costs as much as
    all the rows; FastOptimizer builds the model without its objective (and takes
    the purchase bounds from ModelData as well: `build_model(matrix_only=True)`). When the
    model has one, it is compiled as well and must give the same vector (the
    tests check this). Raises RuntimeError whenever the compiled LP is not the
    one these maps and formulas describe (a build.py change this module does
    not know about), instead of solving a different LP.
    """
    m = built.model
    share_params = [getattr(m, p) for p in ("china_share", "country_share", "allied_share")]
    saved = [p.value for p in share_params]
    optional = [getattr(m, name, None) for name in ("u", *CHAIN_COLUMNS)]
    var_families = [v for v in (m.x, optional[0], m.v, m.w, *optional[1:]) if v is not None]
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
    allowed = np.zeros(lp.num_col, dtype=bool)
    for name in SHARE_COLUMNS:
        if name in lp.columns:
            first, keys = lp.columns[name]
            allowed[first : first + len(keys)] = True
    if not np.all((indicator == 0.0) | (indicator == 1.0)) or not np.all(
        allowed[col_of_entry[pos]]
    ):
        raise RuntimeError("share rows are not sum(group x) - share * sum(x)")
    lp.share_pos, lp.share_row = pos, lp.a_index[pos]
    lp.share_col, lp.share_family = col_of_entry[pos], entry_code[pos]
    lp.share_indicator = indicator
    lp.a_value[pos] = share_coefficients(lp, share_values(data))

    # every other number comes from data; it must be what Pyomo compiled
    lp.cost = np.concatenate((x_costs(buys), other_costs(data, lp))).astype(np.float64)
    if check_objective:
        compiled_cost = np.asarray(_pick_columns(info.c, source).toarray(), dtype=float)
        compiled_cost = compiled_cost.reshape(-1)
        if not np.allclose(lp.cost, compiled_cost, rtol=1e-12, atol=1e-12):
            raise RuntimeError("objective coefficients differ from the compiled model")
    rhs = row_rhs(data, lp)
    if not np.allclose(rhs, np.asarray(info.rhs, dtype=float), rtol=1e-12, atol=1e-12):
        raise RuntimeError("right-hand sides differ from the compiled model")
    lp.row_lower, lp.row_upper = row_bounds(lp, rhs)
    lp.col_lower = np.zeros(lp.num_col)
    lp.col_upper = column_uppers(data, lp.columns, lp.num_col)
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

    What `pass_model` hands to HiGHS, and what the benchmark's raw-highspy baseline loads.
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


def pass_model(highs: Any, lp: CompiledLp) -> None:
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
