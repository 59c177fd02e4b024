"""NaturalBench: the official answer extraction and the question / image / group accuracies.

A NaturalBench group is two images and two questions whose answers flip between the images, so
a model that ignores the image cannot score. The official evaluation (``example.py`` and
``naturalbench_vqa.py`` in Baiqi-Li/NaturalBench, copied by lmms-eval) reads a response by the
*earliest* whole-word, case-insensitive occurrence of "yes" vs "no" (yes/no questions) or of
"A" vs "B" (multiple choice); a response with neither is unparsable and counts as wrong. That
rule is kept as is, quirks included: "No, yes." reads as no, "Not sure" matches nothing, and in
a multiple-choice response the article "a" counts as option A ("a dog" -> A), exactly as the
official script reads it.

Metrics (percent), over complete groups of four answers:

- ``q_acc``: a question counts when it is answered right on both images (2 per group);
- ``i_acc``: an image counts when both questions about it are right (2 per group);
- ``g_acc``: all four answers of the group are right (the benchmark's headline);
- ``accuracy``: plain per-answer accuracy (the official "Acc"), over every scored answer.

The official script compares each answer with the fixed pattern (yes/A, no/B, no/B, yes/A) of
q0-i0, q0-i1, q1-i0, q1-i1 that the released data follows; here each answer is compared with
its own ground-truth column, which is the same on the released data and stays right on copies
that do not follow the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..bootstrap import safe_div

YES_NO = "yes_no"
MULTIPLE_CHOICE = "multiple_choice"
QUESTION_TYPES = (YES_NO, MULTIPLE_CHOICE)
ANSWERS = {YES_NO: ("yes", "no"), MULTIPLE_CHOICE: ("A", "B")}
POSITIONS = ("q0_i0", "q0_i1", "q1_i0", "q1_i1")  # the official order within a group
# The answers the released data has at each position (the official scorer assumes them).
PATTERN = {t: (a, b, b, a) for t, (a, b) in ANSWERS.items()}
METRIC_NAMES = ("g_acc", "q_acc", "i_acc", "accuracy")


def _word_at(text: str, word: str) -> int:
    m = re.search(r"\b" + re.escape(word) + r"\b", text, re.IGNORECASE)
    return m.start() if m else -1


def extract_answer(text: str, question_type: str) -> str | None:
    """The official reading: the first of the two answers to appear as a whole word, or None."""
    first, second = ANSWERS[question_type]
    p1, p2 = _word_at(text, first), _word_at(text, second)
    if p1 == -1 and p2 == -1:
        return None
    if p1 != -1 and p2 != -1:
        return first if p1 < p2 else second
    return first if p1 != -1 else second


def group_stats(correct: Mapping[str, bool]) -> dict[str, float]:
    """Question, image and group counts of one complete group (``correct`` keyed by POSITIONS)."""
    q = sum(correct[f"q{k}_i0"] and correct[f"q{k}_i1"] for k in (0, 1))
    i = sum(correct[f"q0_i{k}"] and correct[f"q1_i{k}"] for k in (0, 1))
    return {"groups": 1.0, "q_correct": float(q), "i_correct": float(i), "g_correct": float(q == 2 and i == 2)}


def naturalbench_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """The four metrics (percent) from summed counts; works element-wise on numpy arrays."""
    groups = totals.get("groups", 0.0)
    return {
        "g_acc": 100 * safe_div(totals.get("g_correct", 0.0), groups),
        "q_acc": 100 * safe_div(totals.get("q_correct", 0.0), 2 * groups),
        "i_acc": 100 * safe_div(totals.get("i_correct", 0.0), 2 * groups),
        "accuracy": 100 * safe_div(totals.get("correct", 0.0), totals.get("n", 0.0)),
    }

