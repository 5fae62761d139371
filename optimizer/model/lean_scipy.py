"""Keep Pyomo from importing scipy.stats when scipy is first imported (about 0.5 s per process).

Pyomo defers `import scipy`; once anything imports it, Pyomo's callback
(`pyomo.common.dependencies._finalize_scipy`) also imports scipy.stats,
integrate and spatial. This package needs scipy.sparse only (Pyomo's
standard-form compiler and `compiled.py`), so before scipy is imported the
callback is narrowed to that. Measured 2026-12-02: importing the CLI took
1.5 s, 1.0 s with this. Where Pyomo's internals differ (another version) or
scipy is already imported, nothing is changed; Pyomo code that needs
scipy.stats still imports it itself.
"""

from __future__ import annotations

import sys
from types import ModuleType


def _sparse_only(module: ModuleType, available: bool) -> None:
    if available:
        import scipy.sparse  # noqa: F401


def narrow_scipy_callback() -> bool:
    """Narrow Pyomo's scipy callback; True if it was narrowed."""
    if "scipy" in sys.modules:
        return False
    try:
        from pyomo.common import dependencies
    except ImportError:
        return False
    indicator = getattr(dependencies, "scipy_available", None)
    if getattr(indicator, "_module", True) is not None or not hasattr(indicator, "_callback"):
        return False
    indicator._callback = _sparse_only  # type: ignore[union-attr]
    return True


narrow_scipy_callback()
