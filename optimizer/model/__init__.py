"""The model: ModelData from Inputs, the Pyomo LP (one function per constraint family), the
compiled fast path and the reference engine on HiGHS, infeasibility explanations, synthetic
instances."""

from optimizer.model import lean_scipy  # noqa: F401  (before any module imports scipy)
