"""Run many independent solves: serially, on a local process pool, or on a Dask cluster.

Every task is retried once when it fails or its worker dies; a task that fails
again comes back as a failed TaskOutcome, never silently dropped. Tasks build
their own model (nothing solver-related crosses a process boundary) and
callers pass `threads=1` to HiGHS so parallel workers do not oversubscribe.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")
Executor = Literal["serial", "process", "dask"]
EXECUTORS: tuple[Executor, ...] = ("serial", "process", "dask")


@dataclass
class TaskOutcome(Generic[T]):
    """What happened to one task."""

    key: str
    ok: bool
    value: T | None = None
    error: str = ""
    attempts: int = 1
    seconds: float = 0.0


def _timed(fn: Callable[[Any], T], item: Any) -> tuple[T, float]:
    start = time.perf_counter()
    value = fn(item)
    return value, time.perf_counter() - start


def run_tasks(
    fn: Callable[[Any], T],
    items: Sequence[tuple[str, Any]],
    executor: Executor = "serial",
    workers: int = 1,
    scheduler: str | None = None,
    retries: int = 1,
    start_method: Literal["spawn", "fork"] = "spawn",
) -> list[TaskOutcome[T]]:
    """Run fn(item) for each (key, item); outcomes come back in the order of `items`.

    `fn` must be importable (a module-level function) for the process and Dask executors.
    `start_method` "fork" starts process workers as copies of this one (no import cost);
    only for callers that hold no solver or thread state yet, and where the platform
    has fork (elsewhere it falls back to spawn).
    """
    if executor == "serial" or (executor == "process" and workers <= 1):
        return [_run_serial(fn, key, item, retries) for key, item in items]
    if executor == "process":
        if start_method not in multiprocessing.get_all_start_methods():
            start_method = "spawn"
        return _run_process(fn, items, workers, retries, start_method)
    if executor == "dask":
        return _run_dask(fn, items, workers, scheduler, retries)
    raise ValueError(f"unknown executor {executor!r} (one of {', '.join(EXECUTORS)})")


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _run_serial(fn: Callable[[Any], T], key: str, item: Any, retries: int) -> TaskOutcome[T]:
    error = ""
    for attempt in range(1, retries + 2):
        try:
            value, seconds = _timed(fn, item)
            return TaskOutcome(key, True, value, attempts=attempt, seconds=seconds)
        except Exception as exc:
            error = _describe(exc)
    return TaskOutcome(key, False, error=error, attempts=retries + 1)


def _run_process(
    fn: Callable[[Any], T],
    items: Sequence[tuple[str, Any]],
    workers: int,
    retries: int,
    start_method: str = "spawn",
) -> list[TaskOutcome[T]]:
    """A process pool, spawn-based unless the caller vouches for fork (no solver state).

    A worker that dies breaks the whole pool, so every task that did not finish is
    retried alone, in a fresh one-worker pool: a bad task cannot take innocent ones down
    with it twice."""
    context = multiprocessing.get_context(start_method)
    outcomes: dict[str, TaskOutcome[T]] = {}
    errors: dict[str, str] = {}
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_timed, fn, item): key for key, item in items}
        for fut in cf.as_completed(futures):
            key = futures[fut]
            try:
                value, seconds = fut.result()
                outcomes[key] = TaskOutcome(key, True, value, seconds=seconds)
            except Exception as exc:  # includes BrokenProcessPool when a worker died
                errors[key] = _describe(exc)
    for key, item in items:
        attempt = 1
        while key not in outcomes and attempt <= retries:
            attempt += 1
            with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as alone:
                try:
                    value, seconds = alone.submit(_timed, fn, item).result()
                    outcomes[key] = TaskOutcome(key, True, value, attempts=attempt, seconds=seconds)
                except Exception as exc:
                    errors[key] = _describe(exc)
        if key not in outcomes:
            outcomes[key] = TaskOutcome(key, False, error=errors[key], attempts=attempt)
    return [outcomes[key] for key, _ in items]


def _run_dask(
    fn: Callable[[Any], T],
    items: Sequence[tuple[str, Any]],
    workers: int,
    scheduler: str | None,
    retries: int,
) -> list[TaskOutcome[T]]:
    """Submit to a Dask scheduler (a LocalCluster of single-threaded worker processes when
    no address is given). A task whose worker dies is rescheduled `retries` times by the
    scheduler (allowed-failures) and then reported as failed (KilledWorker)."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        cluster = None
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never clash with another cluster
                silence_logs=50,
            )
        client = Client(cluster if cluster is not None else scheduler)
        try:
            futures = [
                client.submit(
                    _timed, fn, item, key=f"sourcing-{i}-{key}", pure=False, retries=retries
                )
                for i, (key, item) in enumerate(items)
            ]
            outcomes = []
            for (key, _), fut in zip(items, futures, strict=True):
                try:
                    value, seconds = fut.result()
                    outcomes.append(TaskOutcome(key, True, value, seconds=seconds))
                except Exception as exc:
                    outcomes.append(
                        TaskOutcome(key, False, error=_describe(exc), attempts=retries + 1)
                    )
            return outcomes
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
