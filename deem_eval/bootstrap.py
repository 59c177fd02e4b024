"""Sums of per-record statistics and a vectorised percentile bootstrap over them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .task import Task


def sum_stats(stats: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Key-wise sum; a key missing from a record counts as 0."""
    out: dict[str, float] = {}
    for s in stats:
        for k, v in s.items():
            out[k] = out.get(k, 0.0) + float(v)
    return out


def safe_div(num: Any, den: Any) -> Any:
    """num / den with 0 where den == 0, for scalars and arrays alike."""
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    out = np.divide(num_a, den_a, out=np.zeros(np.broadcast(num_a, den_a).shape), where=den_a != 0)
    return out if out.ndim else float(out)


def unit_matrix(
    task: Task, records: list[dict[str, Any]], units: list[list[int]], keys: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """(stat keys, units x keys array of each unit's summed statistics); the bootstrap resamples rows."""
    per_record = [task.stats(r) for r in records]
    if keys is None:
        keys = sorted({k for s in per_record for k in s})
    out = np.zeros((len(units), len(keys)))
    for u, idx in enumerate(units):
        for i in idx:
            for j, k in enumerate(keys):
                out[u, j] += per_record[i].get(k, 0.0)
    return keys, out


def bootstrap_ci(task: Task, records: list[dict[str, Any]], n_boot: int = 1000, seed: int = 0) -> dict[str, list[float]]:
    """Resample units with replacement ``n_boot`` times and take the 2.5/97.5 percentiles."""
    units = task.bootstrap_units(records)
    if not units:
        return {}
    keys, unit_stats = unit_matrix(task, records, units)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(units), np.full(len(units), 1.0 / len(units)), size=n_boot)
    totals = counts @ unit_stats  # (n_boot, n_keys)
    metrics = task.compute({k: totals[:, j] for j, k in enumerate(keys)})
    out: dict[str, list[float]] = {}
    for name, values in metrics.items():
        arr = np.broadcast_to(np.asarray(values, dtype=np.float64), (n_boot,))
        lo, hi = np.percentile(arr, [2.5, 97.5])
        out[name] = [round(float(lo), 4), round(float(hi), 4)]
    return out
