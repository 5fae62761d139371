"""Foundations every stage uses: problems and errors, input limits, safe file writing, formatting,
and running many independent solves (serially, on a process pool or on Dask)."""
