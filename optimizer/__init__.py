"""Critical-minerals sourcing optimizer: a Pyomo/HiGHS LP over an Excel contract.

From Python (see README "From Python"):

    import optimizer
    wb = optimizer.open_workbook()          # the default workbook, or a path
    results = optimizer.solve_all(wb)       # name -> Results (pandas tables)
    optimizer.compare(results).summary

The package is a pipeline of stages, each a subpackage importing only the ones
below it (docs/architecture.md): `contract` (the workbook) -> `model` (the LP
and its engines) -> `analysis` (what-ifs, stress) -> `output` (tables and
reports) -> `runs` (pipeline, API, CLI, nightly, app session); `common` holds
what all of them use. The names below are loaded on first use, so importing a
single stage stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "open_workbook": "optimizer.runs.api",
    "scenarios": "optimizer.runs.api",
    "solve": "optimizer.runs.api",
    "solve_all": "optimizer.runs.api",
    "compare": "optimizer.runs.api",
    "frontier": "optimizer.runs.api",
    "stress": "optimizer.runs.api",
    "Workbook": "optimizer.contract.book",
    "Results": "optimizer.output.results",
    "Comparison": "optimizer.output.compare",
    "Frontier": "optimizer.analysis.frontier",
    "StressResult": "optimizer.analysis.stress_result",
    "Status": "optimizer.model.solution",
    "Problem": "optimizer.common.problems",
    "SourcingError": "optimizer.common.problems",
    "InputFileError": "optimizer.common.problems",
    "InvalidInputError": "optimizer.common.problems",
}

__all__ = [  # the same names as _EXPORTS (a test keeps them equal)
    "Comparison",
    "Frontier",
    "InputFileError",
    "InvalidInputError",
    "Problem",
    "Results",
    "SourcingError",
    "Status",
    "StressResult",
    "Workbook",
    "__version__",
    "compare",
    "frontier",
    "open_workbook",
    "scenarios",
    "solve",
    "solve_all",
    "stress",
]

if TYPE_CHECKING:
    from optimizer.analysis.frontier import Frontier
    from optimizer.analysis.stress_result import StressResult
    from optimizer.common.problems import InputFileError, InvalidInputError, Problem, SourcingError
    from optimizer.contract.book import Workbook
    from optimizer.model.solution import Status
    from optimizer.output.compare import Comparison
    from optimizer.output.results import Results
    from optimizer.runs.api import (
        compare,
        frontier,
        open_workbook,
        scenarios,
        solve,
        solve_all,
        stress,
    )


def __getattr__(name: str) -> Any:
    """Load a public name from its stage on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
