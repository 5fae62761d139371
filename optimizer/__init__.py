"""Critical-minerals sourcing optimizer: a Pyomo/HiGHS LP over an Excel contract."""

__version__ = "0.1.0"
