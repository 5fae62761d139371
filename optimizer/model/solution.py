"""What a solve returns, and what callers may use of an engine.

`Status` is an enum, never "optimal" unless HiGHS proved optimality on finite
data; `Solution` holds primal and dual values keyed like ModelData; `Engine`
is the contract both engines keep (`optimizer.model.reference.Optimizer` on
Pyomo's persistent HiGHS interface, the reference, and
`optimizer.model.fast.FastOptimizer`, the same Pyomo model compiled once to
matrices and handed to highspy, which every command uses).
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

import highspy
import numpy as np
import numpy.typing as npt

from optimizer.model.data import MT, Buy, ModelData

#: Quantities below this (t) are solver noise, not purchases.
EPS_T = 1e-6
#: Duals below this (USD per t) are treated as non-binding.
EPS_DUAL = 1e-6


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
    #: the supply chain's variables (contract v2): y activity, f shipments, d discarded,
    #: uc compliant unmet, vc compliant stock; each keyed like ChainData
    chain: dict[str, Mapping[Any, float]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


class Engine(Protocol):
    """What callers may use of an engine (reference.Optimizer and fast.FastOptimizer)."""

    threads: int | None
    rebuilds: int

    @property
    def data(self) -> ModelData: ...
    @property
    def highs(self) -> highspy.Highs: ...
    def update(self, data: ModelData) -> bool: ...
    def solve(self, time_limit: float | None = None) -> Solution: ...
    def cost_ranging(self, family: str = ...) -> dict[Any, tuple[float, float]]: ...
    def row_key(self, row: int) -> tuple[str, tuple[str, ...]] | None: ...
    def col_key(self, col: int) -> tuple[str, tuple[str, ...]] | None: ...
    def sibling(self, data: ModelData) -> Engine: ...


#: Builds an engine for some data: `FastOptimizer` (the default everywhere) or `Optimizer`.
EngineFactory = Callable[[ModelData], Engine]
