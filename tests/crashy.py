"""Task functions for executor tests: importable by spawned workers and Dask workers."""

from __future__ import annotations

import os


def square_or_die(item: tuple[str, int]) -> int:
    """Square the number; the item named 'boom' kills its worker process outright."""
    name, n = item
    if name == "boom":
        os._exit(13)  # a hard crash: no exception, no cleanup, the worker is gone
    return n * n


def square_or_raise(item: tuple[str, int]) -> int:
    """Square the number; 'bad' raises (an ordinary task failure)."""
    name, n = item
    if name == "bad":
        raise ValueError("bad item")
    return n * n
