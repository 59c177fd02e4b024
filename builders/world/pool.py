"""Order-preserving parallel map over worker processes (fork), serial when there is one core."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any


def workers() -> int:
    """DEEM_THREADS, else OMP_NUM_THREADS, else the cores this process may use (at most 8)."""
    raw = os.environ.get("DEEM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if raw and raw.isdigit() and int(raw) > 0:
        return min(int(raw), 8)
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(n, 8)


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], min_parallel: int = 400,
                 chunksize: int = 100) -> list[Any]:
    """``[fn(x) for x in items]``, spread over processes when the list is long enough."""
    n = workers()
    if n <= 1 or len(items) < min_parallel or "fork" not in mp.get_all_start_methods():
        return [fn(x) for x in items]
    with mp.get_context("fork").Pool(n) as pool:
        return list(pool.imap(fn, items, chunksize=chunksize))
