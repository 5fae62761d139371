"""The fast path: one compiled LP (`optimizer.model.compiled`) driven through highspy directly.

`FastOptimizer` keeps the `Engine` contract of `optimizer.model.solution` and
returns the same `Solution` objects as the reference engine, without Pyomo's
persistent HiGHS interface, whose per-variable and per-coefficient bookkeeping
costs several times HiGHS's own solve time on large models. A what-if with an
unchanged structure recomputes costs, bounds and share coefficients from
ModelData with numpy and pushes only what changed; HiGHS re-solves from its
previous basis.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import highspy
import numpy as np
import numpy.typing as npt
from pyomo.common.gc_manager import PauseGC
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.common.problems import InvalidInputError
from optimizer.contract.schema import KG_PER_T
from optimizer.model.build import build_model
from optimizer.model.chain_edits import moved_positions
from optimizer.model.compiled import (
    CompiledLp,
    Floats,
    Key,
    compile_model,
    other_costs,
    pass_model,
    row_bounds,
    row_rhs,
    share_coefficients,
    share_values,
    x_costs,
)
from optimizer.model.compiled_chain import CHAIN_COLUMNS, column_uppers
from optimizer.model.data import BuyData, ModelData, check_finite, update_is_finite
from optimizer.model.emissions import act_cost
from optimizer.model.engine import (
    WARM_FAILURES,
    answer_without_solver,
    finish,
    retry_without_presolve,
    status_of,
    termination,
)
from optimizer.model.solution import ArrayMap, KeyIndex, Solution, Status

#: More changed matrix coefficients than this: re-pass the model (keeping the basis)
#: instead of calling changeCoeff entry by entry.
MAX_COEFF_CHANGES = 2000
#: Models up to this many columns keep the LP of their previous structure when rebuilt
#: (two HiGHS models in memory), so a restore after a structural what-if is a swap.
KEEP_MAX_COLUMNS = 200_000
#: The attributes `_setup` sets: one structure's LP, HiGHS model and bookkeeping.
SETUP_STATE = (
    "lp",
    "_data",
    "_structure",
    "_highs",
    "_buys",
    "_indexes",
    "_shares",
    "_acts",
    "_ships",
    "_chain_columns",
    "_runs",
    "_touch",
    "timings",
)


class FastOptimizer:
    """One compiled LP, one HiGHS instance: build once, update and re-solve many times.

    Keeps the `optimizer.model.solution.Engine` contract, as `reference.Optimizer`
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
        #: warm re-solves HiGHS could not finish from the kept basis, re-run from scratch
        self.warm_failures = 0
        #: seconds of the last build / compile / passModel / run / extraction (for benchmarks)
        self.timings: dict[str, float] = {}
        #: the LP of the structure before the last rebuild (small models; not when matching
        #: Pyomo's pivots, whose rebuilds start cold)
        self._kept: dict[str, Any] | None = None
        #: counts runs and edits of the HiGHS model: ranging is kept for one version
        self._version = 0
        self._ranging: tuple[int, Any] | None = None
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
        self._version += 1
        self._data = data
        self._structure = data.structure
        self._highs: Any = cast(Any, highspy.Highs)()
        self._highs.setOptionValue("output_flag", False)
        pass_model(self._highs, self.lp)
        t3 = time.perf_counter()
        self._buys: list[BuyData] = list(data.buys.values())
        #: per variable and constraint family: its keys and their index, shared by solutions
        self._indexes: dict[str, KeyIndex[Key]] = {
            name: KeyIndex(keys)
            for name, (_, keys) in (*self.lp.columns.items(), *self.lp.families.items())
        }
        self._shares = share_values(data)
        #: the chain's records as the LP has them (updates push only the ones that changed)
        self._acts = list(data.chain.acts.values()) if data.chain else []
        self._ships = list(data.chain.ships.values()) if data.chain else []
        #: columns of the chain's y and f (kept as they are by updates that leave the chain)
        self._chain_columns = np.zeros(self.lp.num_col, bool)
        for name in ("y", "f"):
            if name in self.lp.columns:
                first, keys = self.lp.columns[name]
                self._chain_columns[first : first + len(keys)] = True
        self._runs = 0  # runs of this HiGHS model (a rebuild starts again at 0)
        # the entry _touch_matrix rewrites: column 0's first, a balance row's +-1 (fixed)
        self._touch: tuple[int, int, float] | None = None
        balance_rows = len(self.lp.families.get("balance", (0, []))[1])
        if len(self.lp.a_index) and self.lp.a_index[0] < balance_rows:
            row, value = int(self.lp.a_index[0]), float(self.lp.a_value[0])
            self._touch = (row, int(self.lp.to_highs[0]), value)
        self.timings = {"build": t1 - t0, "compile": t2 - t1, "pass": t3 - t2}

    def _state(self) -> dict[str, Any]:
        """What `_setup` made for the current structure (to swap back to it later)."""
        return {name: self.__dict__[name] for name in SETUP_STATE}

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
            kept = self._kept
            small = self.lp.num_col <= KEEP_MAX_COLUMNS and not self.match_persistent
            self._kept = self._state() if small else None
            if kept is not None and kept["_structure"] == data.structure:
                # back to the LP of the structure before (an analysis that switched a lever
                # off and now restores it): its HiGHS model, warm, updated in place
                self.__dict__.update(kept)
                self._update(data)
                return False
            self._setup(data)
            self.rebuilds += 1
            return False
        buys = list(data.buys.values())
        changed = moved_positions(buys, self._buys)
        if not update_is_finite(data, [buys[i] for i in changed.tolist()], self._data.chain):
            problems = check_finite(data)  # the full check, for its messages
            if problems:
                raise InvalidInputError(problems)
        self._push(data, buys, changed)
        self._data = data
        self._buys = buys
        return True

    def _push(self, data: ModelData, buys: list[BuyData], changed: npt.NDArray[np.intp]) -> None:
        """Send HiGHS only the costs, bounds and coefficients that differ from the current LP."""
        self._version += 1
        lp, highs = self.lp, self._highs
        nx = len(buys)
        cost = lp.cost.copy()
        upper = lp.col_upper.copy()
        if len(changed):
            sub = [buys[i] for i in changed.tolist()]
            cost[changed] = x_costs(sub)
            upper[changed] = np.fromiter((d.upper_t for d in sub), float, len(sub))
        if data.stock:  # stock limits (the chain's columns keep theirs here)
            fresh = column_uppers(
                data, lp.columns, lp.num_col, include_x=False, include_chain=False
            )
            upper[nx:] = np.where(self._chain_columns[nx:], upper[nx:], fresh[nx:])
        head = other_costs(data, lp, with_chain=False)
        cost[nx : nx + len(head)] = head
        if data.chain is not None and (
            data.chain is not self._data.chain or data.emissions != self._data.emissions
        ):
            self._push_chain(data, cost, upper)
        cols = np.flatnonzero(upper != lp.col_upper)
        if len(cols):
            at = lp.to_highs[cols]
            highs.changeColsBounds(len(cols), at, lp.col_lower[cols], upper[cols])
            lp.col_upper = upper
        cols = np.flatnonzero(cost != lp.cost)
        if len(cols):
            highs.changeColsCost(len(cols), lp.to_highs[cols], cost[cols])
            lp.cost = cost

        lower, upper = row_bounds(lp, row_rhs(data, lp))
        rows = np.flatnonzero((lower != lp.row_lower) | (upper != lp.row_upper)).astype(np.int32)
        if len(rows):
            highs.changeRowsBounds(len(rows), rows, lower[rows], upper[rows])
            lp.row_lower, lp.row_upper = lower, upper

        shares = share_values(data)
        if shares != self._shares:
            values = share_coefficients(lp, shares)
            diff = np.flatnonzero(values != lp.a_value[lp.share_pos])
            lp.a_value[lp.share_pos] = values
            if len(diff) <= MAX_COEFF_CHANGES:
                for i in diff.tolist():
                    col = int(lp.to_highs[lp.share_col[i]])
                    highs.changeCoeff(int(lp.share_row[i]), col, float(values[i]))
            else:
                basis = highs.getBasis()
                pass_model(highs, lp)
                if basis.valid:
                    highs.setBasis(basis)
            self._shares = shares

    def _push_chain(self, data: ModelData, cost: Floats, upper: Floats) -> None:
        """Costs and bounds of the chain's activities and shipments that are new objects (the
        chain's records are frozen: an unchanged one is the same object)."""
        assert data.chain is not None
        lp = self.lp
        carbon = data.emissions != self._data.emissions  # every activity's cost moves with it
        acts, ships = list(data.chain.acts), list(data.chain.ships.values())
        for name, records, before, unit_cost in (
            ("y", list(data.chain.acts.values()), self._acts, lambda i: act_cost(data, acts[i])),
            ("f", ships, self._ships, lambda i: ships[i].objective_cost),
        ):
            if name not in lp.columns or not records:
                continue
            first = lp.columns[name][0]
            moved = moved_positions(records, before)
            if name == "y" and carbon:
                moved = np.arange(len(records))
            if len(moved):
                at = first + moved
                sub = moved.tolist()
                cost[at] = KG_PER_T * np.fromiter(map(unit_cost, sub), float, len(sub))
                upper[at] = np.minimum(
                    np.fromiter((records[i].upper_t for i in sub), float, len(sub)),
                    highspy.kHighsInf,
                )
        self._acts = list(data.chain.acts.values())
        self._ships = list(data.chain.ships.values())

    # ----------------------------------------------------------------------- solve

    def _run(self) -> tuple[TerminationCondition, float]:
        """Run HiGHS; the termination condition and HiGHS's own time for this run."""
        if self._runs and self.match_persistent:
            self._touch_matrix()
        self._runs += 1
        self._version += 1
        before = self._highs.getRunTime()
        status = self._highs.run()
        if self._runs > 1 and (
            status == highspy.HighsStatus.kError or self._highs.getModelStatus() in WARM_FAILURES
        ):
            # a warm start can fail numerically where a cold one does not (HiGHS's dual
            # simplex after a basis whose duals the unmet-demand penalty set, measured on the
            # default workbook going from exclude_china back to a full plan): solve afresh
            self.warm_failures += 1
            self._highs.clearSolver()
            status = self._highs.run()
        if status == highspy.HighsStatus.kError or self._highs.getModelStatus() in WARM_FAILURES:
            retry_without_presolve(self._highs)
        seconds = self._highs.getRunTime() - before
        return termination(self._highs.getModelStatus()), seconds

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
        status = status_of(tc)
        if status is Status.INFEASIBLE:
            self._set_options(time_limit, "off")
            tc, _ = self._run()
            status = status_of(tc)
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

    def solve_without_rows(self, family: str, keys: Sequence[Key]) -> Solution:
        """Solve with some rows of a constraint family opened (free), then put them back: a
        lever switched off (an offtake minimum) with the LP's structure and basis kept."""
        first, _ = self.lp.families[family]
        pos = self._indexes[family].positions()
        rows = np.array([first + pos[k] for k in keys], np.int32)
        free = np.full(len(rows), highspy.kHighsInf)
        self._highs.changeRowsBounds(len(rows), rows, -free, free)
        self._version += 1
        try:
            return self.solve()
        finally:
            self._highs.changeRowsBounds(
                len(rows), rows, self.lp.row_lower[rows], self.lp.row_upper[rows]
            )
            self._version += 1

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
        for name in CHAIN_COLUMNS:
            if name in lp.columns:
                solution.chain[name] = values(name, col, clip=True)
        for name, (first, keys) in lp.families.items():
            part = row_dual[first : first + len(keys)].copy()
            solution.duals[name] = ArrayMap(indexes[name], part)
        solution.reduced_costs = values("x", col_dual, clip=False)

    def probe(
        self, costs: Mapping[tuple[str, Any], float], read: Sequence[tuple[str, Any]]
    ) -> list[float] | None:
        """Re-solve with some columns' objective coefficients (USD per t) changed, read some
        columns' values (clipped at 0, as a Solution holds them) and put the coefficients
        back: the many one-lever what-ifs of a break-even search without new model data.

        Columns are (family, key), e.g. ("x", (supplier, material, period)). The LP is the
        one of `data` again afterwards; HiGHS keeps the basis the re-solve ended at (the
        next solve starts warm from it). None when that LP is not optimal.
        """
        return self.prober(list(costs), read)(list(costs.values()))

    def prober(
        self, changed: Sequence[tuple[str, Any]], read: Sequence[tuple[str, Any]]
    ) -> Callable[[npt.ArrayLike], list[float] | None]:
        """`probe` with its columns looked up once: call it with the costs of `changed`, in
        order, as many times as a search needs (a rebuilt LP is looked up again)."""
        lp: CompiledLp | None = None
        at = cols = where = np.zeros(0, np.intp)

        def run(costs: npt.ArrayLike) -> list[float] | None:
            nonlocal lp, at, cols, where
            if lp is not self.lp:
                lp = self.lp
                at = np.fromiter((self._column(f, k) for f, k in changed), np.intp, len(changed))
                cols = lp.to_highs[at].astype(np.int32)
                where = np.fromiter(
                    (lp.to_highs[self._column(f, k)] for f, k in read), np.intp, len(read)
                )
            values = self._run_with_costs(cols, costs, lp.cost[at])
            if values is None:
                return None
            clipped: list[float] = np.maximum(values[where], 0.0).tolist()
            return clipped

        return run

    def _run_with_costs(self, cols: Any, costs: Any, restore: Any) -> Floats | None:
        """Run with HiGHS columns `cols` at `costs`, then put `restore` back: every HiGHS
        column's value, or None when that LP is not optimal."""
        self._highs.changeColsCost(len(cols), cols, np.asarray(costs, float))
        self._version += 1
        try:
            self._set_options(None, "choose")
            tc, _ = self._run()
            if status_of(tc) is not Status.OPTIMAL:
                return None
            values: Floats = np.asarray(self._highs.getSolution().col_value)
            return values
        finally:
            self._highs.changeColsCost(len(cols), cols, restore)
            self._version += 1

    def probe_objective(self, cost: Floats) -> Floats | None:
        """Solve with every column's objective coefficient replaced (`cost`, canonical column
        order, see CompiledLp) and return the column values, canonical order; the objective
        is put back. None when that LP is not optimal (an emissions-only objective, say)."""
        cols = self.lp.to_highs.astype(np.int32)
        values = self._run_with_costs(cols, cost, self.lp.cost)
        return None if values is None else values[cols]

    def _column(self, family: str, key: Any) -> int:
        """The compiled LP's column of (family, key) (its HiGHS column is lp.to_highs[...])."""
        return self.lp.columns[family][0] + self._indexes[family].positions()[key]

    def cost_ranging(self, family: str = "x") -> dict[Any, tuple[float, float]]:
        """HiGHS cost ranging of a variable family's columns after an optimal solve (purchases
        x by default; y for process activity; see Optimizer)."""
        if family not in self.lp.columns:
            return {}
        if self._ranging is None or self._ranging[0] != self._version:
            status, ranging = self._highs.getRanging()  # of every column: kept for the next call
            if status != highspy.HighsStatus.kOk or not ranging.valid:
                return {}
            self._ranging = (self._version, ranging)
        ranging = self._ranging[1]
        first, keys = self.lp.columns[family]
        at = self.lp.to_highs[first : first + len(keys)]
        down = np.asarray(ranging.col_cost_dn.value_, dtype=float)[at]
        up = np.asarray(ranging.col_cost_up.value_, dtype=float)[at]
        down = np.where(down <= -highspy.kHighsInf, -math.inf, down)
        up = np.where(up >= highspy.kHighsInf, math.inf, up)
        return {k: (d, u) for k, d, u in zip(keys, down.tolist(), up.tolist(), strict=True)}
