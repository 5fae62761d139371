"""The reference engine: the sourcing LP on Pyomo's persistent HiGHS interface.

`Optimizer` keeps the `Engine` contract (`optimizer.model.solution`). It owns
one HiGHS instance; `update(data)` changes parameters in place when the
structure is unchanged (and rebuilds otherwise), so the next `solve()` starts
from the previous basis. Every command runs on the fast path
(`optimizer.model.fast`); tests/test_fast.py shows both give the same
objective, primal values, duals and reduced costs.
"""

from __future__ import annotations

import math
import time
from typing import Any

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from optimizer.common.problems import InvalidInputError
from optimizer.model.build import BuiltModel, build_model, update_model
from optimizer.model.data import ModelData, check_finite
from optimizer.model.engine import answer_without_solver, finish, finite_or_inf, status_of
from optimizer.model.solution import Solution, Status


def _key(index: Any) -> tuple[str, ...]:
    return tuple(index) if isinstance(index, tuple) else (index,)


def _index(obj: Any) -> tuple[str, ...]:
    idx = obj.index()
    return tuple(idx) if isinstance(idx, tuple) else (idx,)


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
        status = status_of(results.termination_condition)
        if status is Status.ERROR and getattr(self._solver, "_solver_model", None) is not None:
            # a warm start HiGHS cannot finish (see FastOptimizer._run): solve afresh
            self.highs.clearSolver()
            results = self._solver.solve(self.built.model)
            status = status_of(results.termination_condition)
        highs_seconds = self._highs_clock() - clock  # this run only
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

    def cost_ranging(self, family: str = "x") -> dict[Any, tuple[float, float]]:
        """HiGHS cost ranging of a variable family (x: each purchase) after an optimal solve.

        (down, up): the objective coefficients (USD per t) between which the
        current basis stays optimal; +-inf where no change of that cost alters it.
        Empty if HiGHS has no valid ranging (e.g. the last solve was not optimal).
        """
        status, ranging = self.highs.getRanging()
        if status != highspy.HighsStatus.kOk or not ranging.valid:
            return {}
        var = getattr(self.built.model, family, None)
        if var is None:
            return {}
        column = self._solver._pyomo_var_to_solver_var_map
        down, up = ranging.col_cost_dn.value_, ranging.col_cost_up.value_
        out = {}
        for k, v in var.items():
            j = column.get(id(v))
            if j is not None:
                out[_key(k)] = (finite_or_inf(down[j]), finite_or_inf(up[j]))
        return out

    def _confirm_without_presolve(self) -> Status:
        """Re-run with presolve off: presolve may report 'infeasible or unbounded' loosely."""
        self._solver.config.solver_options = {"presolve": "off"}
        results = self._solver.solve(self.built.model)
        return status_of(results.termination_condition)

    def _load(self, solution: Solution, results: Any) -> None:
        m = self.built.model
        loader = results.solution_loader
        primals = loader.get_vars()
        solution.x = {b: max(0.0, primals[m.x[b]]) for b in m.B}
        if hasattr(m, "u"):
            solution.unmet = {mt: max(0.0, primals[m.u[mt]]) for mt in m.MT}
        solution.stock = {st: max(0.0, primals[m.v[st]]) for st in m.ST}
        solution.untaken = {b: max(0.0, primals[m.w[b]]) for b in m.TOP}
        for name in ("y", "f", "d", "uc", "vc"):  # the supply chain's variables (contract v2)
            if hasattr(m, name):
                var = getattr(m, name)
                solution.chain[name] = {_key(k): max(0.0, primals[v]) for k, v in var.items()}
        duals = loader.get_duals()
        for con in m.component_objects(pyo.Constraint, active=True):
            solution.duals[con.local_name] = {
                _index(c): float(duals[c]) for c in con.values() if c in duals
            }
        rc = loader.get_reduced_costs([m.x[b] for b in m.B])
        solution.reduced_costs = {b: float(rc[m.x[b]]) for b in m.B}
