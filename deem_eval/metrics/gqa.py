"""GQA accuracy as LLaVA evaluates it: its answer conversion, then the official GQA ``eval.py``.

LLaVA's ``scripts/convert_gqa_for_eval.py`` turns each (stripped) model answer into
``text.rstrip(".").lower()``; GQA's ``eval.py`` then counts a balanced question correct when
that string equals the gold ``answer`` exactly, and reports the accuracy overall, per
structural type (query, verify, logical, choose, compare), per semantic type (rel, attr, obj,
cat, global), and split into ``open`` (structural type query) and ``binary`` (all others).
So "Yes." scores as "yes", while "the left one" does not match "left". The other numbers of
``eval.py`` (consistency, validity, plausibility, grounding, distribution) need files the
testdev release does not pair with predictions here (choices, scene graphs) and are not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..bootstrap import safe_div

STRUCTURAL = ("query", "verify", "logical", "choose", "compare")
SEMANTIC = ("rel", "attr", "obj", "cat", "global")


def normalise_prediction(text: str) -> str:
    """LLaVA's conversion of a model answer for GQA scoring."""
    return text.strip().rstrip(".").lower()


def is_correct(prediction: str, answer: str) -> bool:
    return normalise_prediction(prediction) == answer


def question_stats(correct: bool, structural: str, semantic: str) -> dict[str, float]:
    """Summable statistics of one balanced question."""
    c = float(correct)
    kind = "open" if structural == "query" else "binary"
    return {"n": 1.0, "correct": c, f"n:{kind}": 1.0, f"c:{kind}": c,
            f"n:structural_{structural}": 1.0, f"c:structural_{structural}": c,
            f"n:semantic_{semantic}": 1.0, f"c:semantic_{semantic}": c}


def gqa_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """``accuracy``, ``binary``, ``open`` and ``structural_<t>`` / ``semantic_<t>`` accuracies (percent)."""
    out = {"accuracy": 100 * safe_div(totals.get("correct", 0.0), totals.get("n", 0.0))}
    for name in sorted(k[2:] for k in totals if k.startswith("n:")):
        out[name] = 100 * safe_div(totals.get(f"c:{name}", 0.0), totals[f"n:{name}"])
    return out
