"""Map a picklable function over items: in this process, in local worker processes, or on a Dask cluster.

Results come back in the order of the items whatever ran where, so a batch gives the same figures serially and
scaled out. Worker processes start with `spawn` (torch and SQLite handles do not survive a fork well); Dask
workers must have rca-tui installed (the same version) and see the same data paths. `AheadMap` is the exception:
its workers run short pure functions while the caller goes on working, so they start with a fork (in
milliseconds, where a spawn re-imports the engine) and never touch what they inherit.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Key = TypeVar("Key")


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


class AheadMap:
    """`run` yields (key, function(item)) for each (key, item) in order while up to `ahead` later items are computed
    in `workers` worker processes; the caller works on each result meanwhile. The keys stay in this process (they
    are never pickled). A caller that would wait for a result computes, meanwhile, the newest item no worker has
    taken yet, so the work balances itself between the caller and the workers, however busy their cores are.
    A single item is computed here: starting a process would cost more than it saves. Where
    processes cannot be started, or die, the items are computed here as their results are asked for; where the
    caller dies (even by kill -9), its workers exit within a second. `processes` says how many worker processes
    took part (0: everything ran here)."""

    def __init__(self, function: Callable[[Item], Result], workers: int, ahead: int | None = None):
        # by default what the pool holds (an item running in each worker, one queued per worker and one more) and
        # two that the caller may take
        self.function, self.workers, self.ahead = function, workers, ahead or 2 * workers + 2
        self.processes = 0
        self._pool: ProcessPoolExecutor | None = None

    def run(self, pairs: Iterable[tuple[Key, Item]]) -> Iterator[tuple[Key, Result]]:
        pairs = iter(pairs)
        head = list(islice(pairs, 2))
        if len(head) < 2:
            yield from ((key, self.function(item)) for key, item in head)
            return
        self._pool = self._start()
        pending: deque[tuple[Key, Item, Future | None]] = deque()
        try:
            for key, item in chain(head, pairs):
                pending.append((key, item, self._submit(item)))
                if len(pending) > self.ahead:
                    yield self._collect(pending)
            while pending:
                yield self._collect(pending)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor | None:
        if self.workers < 1:
            return None
        try:
            return ProcessPoolExecutor(self.workers, mp_context=get_context("fork" if sys.platform == "linux"
                                                                            else "spawn"),
                                       initializer=_exit_with_parent, initargs=(os.getpid(),))
        except (OSError, ValueError, NotImplementedError):
            return None

    def _submit(self, item: Item) -> Future | None:
        if self._pool is None:
            return None
        try:
            future = self._pool.submit(self.function, item)
        except (OSError, RuntimeError):  # cannot fork, or the pool broke: the rest runs here
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            return None
        self.processes = self.workers
        return future

    def _collect(self, pending: deque[tuple[Key, Item, Future | None]]) -> tuple[Key, Result]:
        """The oldest pending item's result; while it is not ready, compute later items no worker has taken."""
        while pending[0][2] is not None and not pending[0][2].done() and self._take_one(pending):
            pass
        key, item, future = pending.popleft()
        if future is not None:
            try:
                return key, future.result()
            except (BrokenProcessPool, CancelledError):
                pass
        return key, self.function(item)

    def _take_one(self, pending: deque[tuple[Key, Item, Future | None]]) -> bool:
        """Compute here the newest pending item that no worker has taken yet; False when there is none."""
        for index in range(len(pending) - 1, 0, -1):
            key, item, future = pending[index]
            if future is not None and future.cancel():
                pending[index] = (key, item, _finished(self.function(item)))
                return True
        return False


def _finished(result: Result) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


def _exit_with_parent(parent: int) -> None:
    """In a worker process: exit as soon as `parent` is gone (a worker waiting for items would otherwise wait
    forever, as its forked copy of the pipe keeps the queue open)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


PARENT_POLL_SECONDS = 0.5


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
