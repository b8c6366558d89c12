"""Map a picklable function over items: in this process, in local worker processes, or on a Dask cluster.

Results come back in the order of the items whatever ran where, so a batch gives the same figures serially and
scaled out. Worker processes start with `spawn` (torch and SQLite handles do not survive a fork well); Dask
workers must have rca-tui installed (the same version) and see the same data paths.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class ParallelError(RuntimeError):
    """The cluster cannot be reached, or distributed is not installed."""


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int = 1,
                scheduler: str | None = None) -> Iterator[Result]:
    """Yield function(item) for each item, in order, as soon as it and those before it are done."""
    items = list(items)
    if scheduler:
        yield from _dask_map(function, items, scheduler)
    elif workers > 1 and len(items) > 1:
        with ProcessPoolExecutor(min(workers, len(items)), mp_context=get_context("spawn")) as pool:
            yield from pool.map(function, items)
    else:
        yield from map(function, items)


def _dask_map(function: Callable[[Any], Any], items: list, scheduler: str) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError:
        raise ParallelError("--dask-scheduler needs Dask distributed: pip install 'rca-tui[cluster]'") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ParallelError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    with client:
        futures = client.map(function, items, pure=False)
        for future in futures:
            yield future.result()


def write_atomically(path: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """`write(tmp)` to a name private to this process (pid + random, ending in `suffix`), then rename it to `path`:
    workers sharing a cache folder (local processes or Dask workers) never read a half-written file, and the last
    rename of identical bytes wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
