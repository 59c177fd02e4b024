"""CV-Bench accuracy: per source, per task, and the benchmark's combined formula.

The dataset card (nyu-visionx/CV-Bench) defines the headline as

    overall = ( (acc_ADE20K + acc_COCO) / 2  +  acc_Omni3D ) / 2

i.e. the 2D accuracy is the mean of the two 2D sources' accuracies (not the accuracy over all 2D
questions) and the overall number is the mean of the 2D and 3D accuracies. When a source has no
questions at all (a ``--limit`` run, a partial copy), the means are taken over the sources and
types that do have questions instead of counting an absent source as 0; with every source
present this is the card's formula exactly.

The statistics are summable counts (``n_<key>``, ``correct_<key>``) so the bootstrap and the
distributed gather stay exact; ``cvbench_metrics`` works element-wise on numpy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..bootstrap import safe_div

SOURCES_2D = ("ADE20K", "COCO")
SOURCES_3D = ("Omni3D",)
SOURCES = SOURCES_2D + SOURCES_3D
TYPE_OF_SOURCE = {**dict.fromkeys(SOURCES_2D, "2D"), **dict.fromkeys(SOURCES_3D, "3D")}
TASKS = ("Count", "Relation", "Depth", "Distance")
METRIC_NAMES = (
    "overall", "accuracy_2d", "accuracy_3d",
    *(f"accuracy_{s.lower()}" for s in SOURCES),
    *(f"accuracy_{t.lower()}" for t in TASKS),
    "accuracy",
)  # fmt: skip


def cvbench_stats(source: str, task: str, correct: bool) -> dict[str, float]:
    """Summable counts of one scored question."""
    c = float(correct)
    return {"n": 1.0, "correct": c, f"n_{source}": 1.0, f"correct_{source}": c,
            f"n_task_{task}": 1.0, f"correct_task_{task}": c}


def _mean_present(values: Sequence[Any], counts: Sequence[Any]) -> Any:
    """Mean of ``values`` over the entries whose count is positive (element-wise)."""
    present = [(np.asarray(n, dtype=np.float64) > 0).astype(np.float64) for n in counts]
    return safe_div(sum(v * p for v, p in zip(values, present, strict=True)), sum(present))


def cvbench_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """All CV-Bench metrics (percent) from summed ``cvbench_stats``."""
    def n(key: str) -> Any:
        return totals.get(f"n_{key}", 0.0)

    def acc(key: str) -> Any:
        return 100 * safe_div(totals.get(f"correct_{key}", 0.0), n(key))

    acc_2d = _mean_present([acc(s) for s in SOURCES_2D], [n(s) for s in SOURCES_2D])
    acc_3d = _mean_present([acc(s) for s in SOURCES_3D], [n(s) for s in SOURCES_3D])
    n_2d = sum(n(s) for s in SOURCES_2D)
    n_3d = sum(n(s) for s in SOURCES_3D)
    out = {
        "overall": _mean_present([acc_2d, acc_3d], [n_2d, n_3d]),
        "accuracy_2d": acc_2d,
        "accuracy_3d": acc_3d,
        **{f"accuracy_{s.lower()}": acc(s) for s in SOURCES},
        **{f"accuracy_{t.lower()}": acc(f"task_{t}") for t in TASKS},
        "accuracy": 100 * safe_div(totals.get("correct", 0.0), totals.get("n", 0.0)),
    }
    return out
