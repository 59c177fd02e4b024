"""`deem-eval regress`: compare two results.json files metric by metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .results import load_results


@dataclass
class Delta:
    task: str
    metric: str
    baseline: float
    current: float

    @property
    def delta(self) -> float:
        return self.current - self.baseline


LOWER_IS_BETTER_PREFIXES = ("fid", "fd_")


def compare(baseline: Path, current: Path) -> list[Delta]:
    base, cur = load_results(baseline), load_results(current)
    shared = sorted(set(base["tasks"]) & set(cur["tasks"]))
    if not shared:
        raise UserError(f"{baseline} and {current} share no task")
    out = []
    for task in shared:
        bm, cm = base["tasks"][task].get("metrics", {}), cur["tasks"][task].get("metrics", {})
        for metric in sorted(set(bm) & set(cm)):
            out.append(Delta(task, metric, float(bm[metric]), float(cm[metric])))
    return out


def is_drop(d: Delta, tolerance: float) -> bool:
    """A worse value by more than the tolerance (lower is better for FID-like metrics)."""
    worse = -d.delta if not d.metric.startswith(LOWER_IS_BETTER_PREFIXES) else d.delta
    return worse > tolerance + 1e-9
