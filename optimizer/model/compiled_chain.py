"""The fast path's numbers for the supply chain's columns and rows, computed from ModelData.

`optimizer.model.compiled` compiles the chain's rows with the rest of the model;
costs, column bounds and right-hand sides come from here, with the formulas of
`optimizer.model.chain`'s mutable Params, and are checked against what Pyomo
compiled (a mismatch raises instead of solving a different LP).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from optimizer.contract.schema import KG_PER_T
from optimizer.model.data import ModelData
from optimizer.model.emissions import act_cost

Floats = npt.NDArray[np.float64]
#: The chain's variable families, in the order build_model declares them.
CHAIN_COLUMNS = ("y", "f", "d", "uc", "vc")
#: Columns that may sit in a share row: purchases delivered and shipments to the buyer.
SHARE_COLUMNS = ("x", "f")


def _count(columns: dict[str, tuple[int, list[Any]]], name: str) -> int:
    return len(columns[name][1]) if name in columns else 0


def chain_costs(data: ModelData, columns: dict[str, tuple[int, list[Any]]]) -> Floats:
    """Objective coefficients (USD per t) of y, f, d, uc, vc, in column order."""
    if data.chain is None:
        return np.zeros(0)
    c = data.chain
    parts = [
        np.fromiter(
            (KG_PER_T * act_cost(data, k) for k in c.acts), float, len(c.acts)
        ),  # fee plus carbon price
        np.fromiter((KG_PER_T * f.objective_cost for f in c.ships.values()), float, len(c.ships)),
        np.zeros(_count(columns, "d") + _count(columns, "uc") + _count(columns, "vc")),
    ]
    return np.concatenate(parts).astype(np.float64)


def column_uppers(
    data: ModelData,
    columns: dict[str, tuple[int, list[Any]]],
    n: int,
    include_x: bool = True,
    include_chain: bool = True,
) -> Floats:
    """Upper bound of every column (kHighsInf where unbounded): x, v (stock max_t), y and f.

    `include_x=False` / `include_chain=False` leave x / y and f unbounded here (for an
    update that sets x itself, or leaves the chain as it was).
    """
    upper = np.full(n, highspy.kHighsInf)

    def put(name: str, values: Any) -> None:
        if name in columns:
            first, keys = columns[name]
            block = np.asarray(values, dtype=float)
            upper[first : first + len(keys)] = np.minimum(block, highspy.kHighsInf)

    if include_x:
        buys = data.buys.values()
        put("x", np.fromiter((d.upper_t for d in buys), float, len(data.buys)))
    if "v" in columns:
        put("v", [data.stock[k[0]].max_t for k in columns["v"][1]])
    if data.chain is not None and include_chain:
        c = data.chain
        put("y", np.fromiter((a.upper_t for a in c.acts.values()), float, len(c.acts)))
        put("f", np.fromiter((f.upper_t for f in c.ships.values()), float, len(c.ships)))
    return upper


def chain_rhs(
    data: ModelData, put: Callable[[str, Any], None], keys_of: Callable[[str], list[Any]]
) -> None:
    """Right-hand sides of the chain's rows (the others are 0)."""
    if data.chain is None:
        return
    c = data.chain
    put("process_capacity", list(c.process_cap.values()))
    put("route_capacity", list(c.route_cap.values()))
    put("offer_limit_row", list(c.offer_cap.values()))
    first = data.periods[0] if data.periods else None
    stocked = set(c.compliant_stock)
    put(
        "compliant_balance",
        [
            c.compliant_demand[(mat, t)]
            - (c.compliant_initial.get(mat, 0.0) if mat in stocked and t == first else 0.0)
            for mat, t in keys_of("compliant_balance")
        ],
    )
