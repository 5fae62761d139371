"""Solve the sourcing LP with HiGHS: the solver contract and the reference path.

Two classes keep the `Engine` contract: `Optimizer` here (Pyomo's persistent
HiGHS interface, the reference) and `optimizer.fast.FastOptimizer` (the same
Pyomo model compiled once to matrices and handed to highspy; what the CLI, the
app, the nightly runs and the what-if analysis use). Each owns one HiGHS
instance; `update(data)` changes parameters in place when the structure is
unchanged (and rebuilds otherwise), so the next `solve()` starts from the
previous basis. Status is an enum and is never "optimal" unless HiGHS proved
optimality on finite data. tests/test_fast.py shows both give the same
objective, primal values, duals and reduced costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

import highspy
import numpy as np
import numpy.typing as npt
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.model import BuiltModel, build_model, update_model
from optimizer.model_data import MT, Buy, ModelData, check_finite
from optimizer.problems import InvalidInputError


class Status(StrEnum):
    """Outcome of a solve."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"  # stopped by the time limit (a solution may exist)
    ERROR = "error"

    @property
    def solved(self) -> bool:
        """True only for a proven optimum."""
        return self is Status.OPTIMAL


K = TypeVar("K")


class KeyIndex(Generic[K]):
    """A key list and its key -> position dict, built on first lookup and then shared."""

    __slots__ = ("_positions", "keys")

    def __init__(self, keys: Sequence[K]) -> None:
        self.keys = keys
        self._positions: dict[K, int] | None = None

    def positions(self) -> dict[K, int]:
        """key -> position in `keys`."""
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.keys)}
        return self._positions


class ArrayMap(Mapping[K, float]):
    """A read-only mapping key -> float over a numpy array, built in O(1).

    The fast path returns its primal and dual values this way: the keys and
    their index are shared by every solve of the same compiled LP, so a
    re-solve copies one array instead of hashing a hundred thousand tuple keys
    into new dicts (and the index is built only when a value is looked up by
    key). `items()` and `values()` read the array in key order.
    """

    __slots__ = ("_index", "_values")

    def __init__(self, index: KeyIndex[K], values: npt.NDArray[np.float64]) -> None:
        self._index, self._values = index, values

    def __getitem__(self, key: K) -> float:
        return float(self._values[self._index.positions()[key]])

    def __iter__(self) -> Iterator[K]:
        return iter(self._index.keys)

    def __len__(self) -> int:
        return len(self._index.keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index.positions()

    def items(self) -> ItemsView[K, float]:
        return _Items(self)

    def values(self) -> ValuesView[float]:
        return _Values(self)

    def __repr__(self) -> str:
        return f"ArrayMap({dict(self.items())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (list(self.items()),)  # pickles (to other processes) as a plain dict


class _Items(ItemsView[K, float]):
    _mapping: ArrayMap[K]

    def __iter__(self) -> Iterator[tuple[K, float]]:
        m = self._mapping
        return zip(m._index.keys, m._values.tolist(), strict=True)


class _Values(ValuesView[float]):
    _mapping: ArrayMap[Any]

    def __iter__(self) -> Iterator[float]:
        return iter(self._mapping._values.tolist())


@dataclass
class Solution:
    """Primal and dual values of one solve, keyed like ModelData (t, USD per t)."""

    status: Status
    message: str = ""
    objective_usd: float | None = None
    best_bound_usd: float | None = None
    seconds: float = 0.0
    highs_seconds: float = 0.0
    #: values are read-only mappings (dicts, or ArrayMaps on the fast path)
    x: Mapping[Buy, float] = field(default_factory=dict)
    unmet: Mapping[MT, float] = field(default_factory=dict)
    stock: Mapping[MT, float] = field(default_factory=dict)
    untaken: Mapping[Buy, float] = field(default_factory=dict)
    #: constraint family -> index -> dual (USD per t of right-hand side; Pyomo sign convention)
    duals: dict[str, Mapping[tuple[str, ...], float]] = field(default_factory=dict)
    #: reduced cost of x (USD per t)
    reduced_costs: Mapping[Buy, float] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def _index(obj: Any) -> tuple[str, ...]:
    idx = obj.index()
    return tuple(idx) if isinstance(idx, tuple) else (idx,)


class Engine(Protocol):
    """What callers may use of an optimizer (Optimizer and fast.FastOptimizer)."""

    threads: int | None
    rebuilds: int

    @property
    def data(self) -> ModelData: ...
    @property
    def highs(self) -> highspy.Highs: ...
    def update(self, data: ModelData) -> bool: ...
    def solve(self, time_limit: float | None = None) -> Solution: ...
    def cost_ranging(self) -> dict[Buy, tuple[float, float]]: ...
    def row_key(self, row: int) -> tuple[str, tuple[str, ...]] | None: ...
    def col_key(self, col: int) -> tuple[str, tuple[str, ...]] | None: ...
    def sibling(self, data: ModelData) -> Engine: ...


class Optimizer:
    """One Pyomo model on Pyomo's persistent HiGHS interface: the reference engine."""

    def __init__(self, data: ModelData, threads: int | None = None) -> None:
        problems = check_finite(data)
        if problems:
            raise InvalidInputError(problems)
        self.threads = threads
        self.built: BuiltModel = build_model(data)
        self._solver = self._new_solver()
        self.rebuilds = 0

    def _new_solver(self) -> Highs:
        solver = Highs()
        solver.config.load_solutions = False
        solver.config.raise_exception_on_nonoptimal_result = False
        if self.threads is not None:
            solver.config.threads = self.threads
        return solver

    @property
    def data(self) -> ModelData:
        """The data the model currently represents."""
        return self.built.data

    @property
    def highs(self) -> highspy.Highs:
        """The underlying highspy object (after the first solve), for ranging and IIS."""
        highs: highspy.Highs = self._solver._solver_model
        return highs

    def sibling(self, data: ModelData) -> Optimizer:
        """A new engine of this kind and thread count for other data (e.g. an elastic re-solve)."""
        return Optimizer(data, threads=self.threads)

    def row_key(self, row: int) -> tuple[str, tuple[str, ...]] | None:
        """(constraint family, index) of a HiGHS row, after a solve."""
        con = self._solver._solver_con_to_pyomo_con_map.get(row)
        return None if con is None else (con.parent_component().local_name, _index(con))

    def col_key(self, col: int) -> tuple[str, tuple[str, ...]] | None:
        """(variable family, index) of a HiGHS column, after a solve."""
        for vid, j in self._solver._pyomo_var_to_solver_var_map.items():
            if j == col:
                var = self._solver._vars[vid][0]
                return var.parent_component().local_name, _index(var)
        return None

    def _highs_clock(self) -> float:
        """HiGHS's run clock (it counts all runs of the instance; 0 before the first)."""
        highs = getattr(self._solver, "_solver_model", None)
        return float(highs.getRunTime()) if highs is not None else 0.0

    def update(self, data: ModelData) -> bool:
        """Point the model at new data; True if updated in place, False if it was rebuilt."""
        problems = check_finite(data)
        if problems:
            raise InvalidInputError(problems)
        if update_model(self.built, data):
            return True
        self.built = build_model(data)
        self._solver = self._new_solver()
        self.rebuilds += 1
        return False

    def solve(self, time_limit: float | None = None) -> Solution:
        """Solve and return a Solution; a non-optimal status carries an explanation."""
        start = time.perf_counter()
        answer = answer_without_solver(self.data)
        if answer is not None:
            return answer
        # HiGHS keeps options between runs: always set them, never leave a previous value
        self._solver.config.time_limit = math.inf if time_limit is None else time_limit
        self._solver.config.solver_options = {"presolve": "choose"}
        clock = self._highs_clock()
        results = self._solver.solve(self.built.model)
        highs_seconds = self._highs_clock() - clock  # this run only
        status = _status(results.termination_condition)
        if status is Status.INFEASIBLE:
            status = self._confirm_without_presolve()
        solution = Solution(status, highs_seconds=highs_seconds)
        if status is Status.OPTIMAL:
            self._load(solution, results)
        incumbent = results.incumbent_objective
        finish(
            solution,
            self,
            None if incumbent is None else float(incumbent),
            results.objective_bound,
            results.termination_condition.name,
        )
        solution.seconds = time.perf_counter() - start
        return solution

    def cost_ranging(self) -> dict[Buy, tuple[float, float]]:
        """HiGHS cost ranging of each purchase after an optimal solve.

        (down, up): the objective coefficients (USD per t) between which the
        current basis stays optimal; +-inf where no change of that cost alters it.
        Empty if HiGHS has no valid ranging (e.g. the last solve was not optimal).
        """
        status, ranging = self.highs.getRanging()
        if status != highspy.HighsStatus.kOk or not ranging.valid:
            return {}
        m = self.built.model
        column = self._solver._pyomo_var_to_solver_var_map
        down, up = ranging.col_cost_dn.value_, ranging.col_cost_up.value_
        out = {}
        for b in m.B:
            j = column[id(m.x[b])]
            out[b] = (_finite_or_inf(down[j]), _finite_or_inf(up[j]))
        return out

    def _confirm_without_presolve(self) -> Status:
        """Re-run with presolve off: presolve may report 'infeasible or unbounded' loosely."""
        self._solver.config.solver_options = {"presolve": "off"}
        results = self._solver.solve(self.built.model)
        return _status(results.termination_condition)

    def _load(self, solution: Solution, results: Any) -> None:
        m = self.built.model
        loader = results.solution_loader
        primals = loader.get_vars()
        solution.x = {b: max(0.0, primals[m.x[b]]) for b in m.B}
        if hasattr(m, "u"):
            solution.unmet = {mt: max(0.0, primals[m.u[mt]]) for mt in m.MT}
        solution.stock = {st: max(0.0, primals[m.v[st]]) for st in m.ST}
        solution.untaken = {b: max(0.0, primals[m.w[b]]) for b in m.TOP}
        duals = loader.get_duals()
        for con in m.component_objects(pyo.Constraint, active=True):
            solution.duals[con.local_name] = {
                _index(c): float(duals[c]) for c in con.values() if c in duals
            }
        rc = loader.get_reduced_costs([m.x[b] for b in m.B])
        solution.reduced_costs = {b: float(rc[m.x[b]]) for b in m.B}


def answer_without_solver(data: ModelData) -> Solution | None:
    """The answer when HiGHS need not (or cannot usefully) run; None otherwise.

    Demand with no offer, no stock and unmet not allowed is infeasible, said in
    the planner's words; a model with no variable at all is the empty plan
    (HiGHS would answer "unknown"). `seconds` is the time this check took.
    """
    start = time.perf_counter()
    early = _unmeetable_demand(data)
    if early:
        return Solution(
            Status.INFEASIBLE,
            "demand cannot be met and allow_unmet is FALSE: " + "; ".join(early),
            conflicts=early,
            seconds=time.perf_counter() - start,
        )
    if not data.buys and not data.stock and not data.settings.allow_unmet:
        return Solution(
            Status.OPTIMAL,
            "empty model: no purchase is possible and no demand is to be met",
            objective_usd=0.0,
            best_bound_usd=0.0,
            seconds=time.perf_counter() - start,
        )
    return None


def finish(
    solution: Solution,
    engine: Engine,
    incumbent: float | None,
    bound: float | None,
    termination: str,
) -> None:
    """Objective, bound and message of a solve from its status (both engines).

    `incumbent`: the objective of the plan HiGHS holds (None without one);
    `bound`: the proven bound at a time limit; `termination`: the solver's own
    word for an error. An infeasible answer is explained from the engine.
    """
    status = solution.status
    if status is Status.OPTIMAL:
        solution.objective_usd = incumbent
        solution.best_bound_usd = incumbent
        solution.message = "optimal"
    elif status is Status.TIME_LIMIT:
        solution.objective_usd = incumbent
        solution.best_bound_usd = bound
        solution.message = (
            f"time limit reached; best plan found costs {incumbent:,.0f} USD"
            if incumbent is not None
            else "time limit reached before any feasible plan was found"
        )
    elif status is Status.INFEASIBLE:
        from optimizer.explain import explain_infeasible

        solution.conflicts = explain_infeasible(engine)
        solution.message = "infeasible: " + "; ".join(solution.conflicts)
    elif status is Status.UNBOUNDED:
        solution.message = "unbounded: some cost can fall without limit (check for negative costs)"
    else:
        solution.message = f"solver error ({termination})"


def _finite_or_inf(value: float) -> float:
    """HiGHS reports infinity as kHighsInf (1e30 and beyond)."""
    if value >= highspy.kHighsInf:
        return math.inf
    if value <= -highspy.kHighsInf:
        return -math.inf
    return float(value)


def _status(tc: TerminationCondition) -> Status:
    if tc is TerminationCondition.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if tc is TerminationCondition.provenInfeasible:
        return Status.INFEASIBLE
    if tc is TerminationCondition.unbounded:
        return Status.UNBOUNDED
    if tc is TerminationCondition.infeasibleOrUnbounded:
        return Status.INFEASIBLE  # confirmed or corrected by the presolve-off re-run
    if tc is TerminationCondition.maxTimeLimit:
        return Status.TIME_LIMIT
    return Status.ERROR


def _unmeetable_demand(data: ModelData) -> list[str]:
    """(material, period) pairs with demand, no offer, no stock and unmet not allowed."""
    if data.settings.allow_unmet:
        return []
    offered = {(b[1], b[2]) for b in data.buys}
    return [
        f"{mat} {t}: demand {q:,.6g} t but no offer in that period"
        for (mat, t), q in data.demand.items()
        if q > 0 and (mat, t) not in offered and mat not in data.stock
    ]


def solve_data(data: ModelData, time_limit: float | None = None) -> Solution:
    """Build and solve once on the fast path (convenience for scripts and tests)."""
    from optimizer.fast import FastOptimizer

    return FastOptimizer(data).solve(time_limit)
