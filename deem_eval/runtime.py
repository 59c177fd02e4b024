"""Process-wide runtime settings read from the environment (never hard-coded)."""

from __future__ import annotations

import os


def set_torch_threads() -> int:
    """Use DEEM_THREADS, else OMP_NUM_THREADS, else all cores; return the number set."""
    import torch

    raw = os.environ.get("DEEM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    n = int(raw) if raw and raw.isdigit() and int(raw) > 0 else (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def cache_dir() -> str:
    """The user cache for deem-eval (honours XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "deem-eval")
