"""Yes/no answers: the official POPE answer parser and a summable confusion-count metric.

The parser follows the POPE evaluation script word for word: keep the text before the first
``.``, drop commas, split on single spaces, and answer "no" when one of the words is exactly
``No``, ``not`` or ``no`` — otherwise "yes". It is case-sensitive on purpose ("NO" reads as
yes), because published POPE numbers were computed that way.

Metrics use "yes" as the positive class and are reported in percent. ``yes_ratio`` is the
share of *predicted* yes answers (the quantity POPE uses to expose a yes-bias).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..bootstrap import safe_div

YES = "yes"
NO = "no"
NEGATION_WORDS = frozenset({"No", "not", "no"})
COUNT_KEYS = ("tp", "fp", "tn", "fn")
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "yes_ratio")


def parse_yes_no(text: str) -> str:
    """Map free text to "yes" or "no" exactly as the official POPE script does."""
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return NO if any(w in NEGATION_WORDS for w in words) else YES


def confusion(predicted: str, target: str) -> dict[str, float]:
    """Confusion counts of one answer (both already "yes"/"no"); positive class = yes."""
    pos_pred, pos_true = predicted == YES, target == YES
    return {
        "tp": float(pos_pred and pos_true),
        "fp": float(pos_pred and not pos_true),
        "tn": float(not pos_pred and not pos_true),
        "fn": float(not pos_pred and pos_true),
    }


def yes_no_metrics(counts: Mapping[str, Any]) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 and yes-ratio (percent) from summed confusion counts.

    Works element-wise on numpy arrays (the bootstrap passes one array per count); every
    division by zero yields 0.
    """
    tp, fp, tn, fn = (counts.get(k, 0.0) for k in COUNT_KEYS)
    total = tp + fp + tn + fn
    precision = safe_div(tp, tp + fp)
    recall = safe_div(tp, tp + fn)
    return {
        "accuracy": 100 * safe_div(tp + tn, total),
        "precision": 100 * precision,
        "recall": 100 * recall,
        "f1": 100 * safe_div(2 * precision * recall, precision + recall),
        "yes_ratio": 100 * safe_div(tp + fp, total),
    }


@dataclass
class YesNoCounts:
    """Summable state of the yes/no metric (update per answer, merge across shards)."""

    tp: float = 0.0
    fp: float = 0.0
    tn: float = 0.0
    fn: float = 0.0

    def update(self, predicted: str, target: str) -> None:
        for key, value in confusion(predicted, target).items():
            setattr(self, key, getattr(self, key) + value)

    def merge(self, other: YesNoCounts) -> YesNoCounts:
        return YesNoCounts(*(getattr(self, k) + getattr(other, k) for k in COUNT_KEYS))

    def state(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in COUNT_KEYS}

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in yes_no_metrics(self.state()).items()}
