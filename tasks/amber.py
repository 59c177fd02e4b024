"""AMBER, discriminative part: yes/no questions on existence, attributes and relations.

Data under ``<root>/amber/`` as in junyangwang0410/AMBER: ``data/query/query_discriminative.json``
(a list of ``{id, image, query}``; ``--task-args amber_disc.query=query_discriminative-existence.json``
picks one of the per-dimension files instead), ``data/annotations.json`` (a list of ``{id, type,
truth}``; the discriminative types are ``discriminative-hallucination`` (existence),
``discriminative-attribute-state`` / ``-number`` / ``-action`` and ``relation``) and the images in
``image/`` (``AMBER_1.jpg`` ...). Sample id: ``id``.

Scoring follows the official ``inference.py``: the positive class is **no** (a hallucination
benchmark asks whether the model rejects what is not there), so precision = right "no" answers /
"no" answers and recall = right "no" answers / questions whose truth is no; accuracy = right
answers / questions; F1 = 2PR / (P + R). The official script compares the response with "Yes" /
"No" exactly; free-form responses are first read with VLMEvalKit's rule
(:func:`deem_eval.metrics.yesno_rules.yorn_answer`), so "Yes" and "No" score as there, and a
response that is neither is wrong and not a "no" answer. (The official printout rounds P and R to
one decimal and adds 1e-4 to the F1 denominator, a difference below 0.01 points.)

Metrics (percent): ``accuracy``, ``precision``, ``recall``, ``f1`` (headline) over all questions,
and the same prefixed by ``existence_``, ``attribute_``, ``relation_`` and the attribute
sub-dimensions ``state_``, ``number_``, ``action_``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from deem_eval.bootstrap import safe_div
from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.yesno_rules import NO, YES, yorn_answer
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import TaskConfig

from .pope import YesNoTask, yes_no_label

TYPES = {  # annotation type -> (dimension, attribute sub-dimension or None)
    "discriminative-hallucination": ("existence", None),
    "discriminative-attribute-state": ("attribute", "state"),
    "discriminative-attribute-number": ("attribute", "number"),
    "discriminative-attribute-action": ("attribute", "action"),
    "relation": ("relation", None),
}
GROUPS = ("", "existence", "attribute", "relation", "state", "number", "action")
QUERY_LAYOUT = "a JSON list of {id, image, query}"
ANNOTATION_LAYOUT = "a JSON list of {id, type, truth}"


@dataclasses.dataclass
class AmberConfig(TaskConfig):
    query: str = "query_discriminative.json"  # file in data/query/ (the whole set or one dimension)


def _prefix(group: str) -> str:
    return f"{group}_" if group else ""


@register_task("amber_disc")
class AmberDiscriminative(YesNoTask):
    """AMBER discriminative questions with the official no-positive precision/recall/F1."""

    name = "amber_disc"
    folder = "amber"
    expected = ("data/query/query_discriminative.json", "data/annotations.json", "image")
    source = "junyangwang0410/AMBER on GitHub (data/) + the AMBER images (image/), linked from its README"
    metrics = tuple(f"{_prefix(g)}{m}" for g in GROUPS for m in ("accuracy", "precision", "recall", "f1"))
    headline = "f1"
    Config = AmberConfig

    def missing(self) -> list[str]:
        wanted = (f"data/query/{self.config.query}", *self.expected[1:])
        return [e for e in wanted if not (self.data_dir / e).exists()]

    def samples(self) -> Iterator[Sample]:
        q_path = inside(self.data_dir / "data/query", self.config.query, "query file", self.data_dir)
        a_path = self.data_dir / "data/annotations.json"
        queries = read_json(q_path, expected=QUERY_LAYOUT)
        if not isinstance(queries, list) or not queries:
            raise DataError(q_path, "not a non-empty list", expected=QUERY_LAYOUT)
        truth = self._annotations(a_path)
        seen: set[str] = set()
        for i, q in enumerate(queries):
            where = f"item {i}"
            if not isinstance(q, dict) or not isinstance(q.get("id"), int) or isinstance(q.get("id"), bool):
                raise DataError(q_path, f"{where} has no integer id", expected=QUERY_LAYOUT)
            if not isinstance(q.get("image"), str) or not isinstance(q.get("query"), str):
                raise DataError(q_path, f"{where} lacks the strings 'image' and 'query'", expected=QUERY_LAYOUT)
            sid = str(q["id"])
            if sid in seen:
                raise DataError(q_path, f"{where}: duplicate id {sid}")
            seen.add(sid)
            ann = truth.get(q["id"])
            if ann is None:
                raise DataError(a_path, f"no annotation for id {sid}", expected=ANNOTATION_LAYOUT)
            if ann["type"] not in TYPES:
                raise DataError(a_path, f"id {sid} has type {ann['type']!r}, not a discriminative one",
                                expected=", ".join(TYPES))
            dim, sub = TYPES[ann["type"]]
            yield Sample(id=sid, target=ann["truth"], question=q["query"], options=[YES, NO],
                         image=ImageRef(key=q["image"], path=inside(self.data_dir / "image", q["image"], "image",
                                                                    q_path)),
                         meta={"dimension": dim, "sub": sub})

    @staticmethod
    def _annotations(path) -> dict[int, dict[str, str]]:
        """id -> {type, truth} for the discriminative entries (generative ones carry lists)."""
        doc = read_json(path, expected=ANNOTATION_LAYOUT)
        if not isinstance(doc, list):
            raise DataError(path, "the top level is not a list", expected=ANNOTATION_LAYOUT)
        out: dict[int, dict[str, str]] = {}
        for i, ann in enumerate(doc):
            if not isinstance(ann, dict) or not isinstance(ann.get("type"), str):
                raise DataError(path, f"item {i} has no string 'type'", expected=ANNOTATION_LAYOUT)
            ann_id = ann.get("id", i + 1)  # the official script indexes annotations by id - 1
            if ann["type"] in TYPES:
                label = yes_no_label(ann.get("truth"), path, None, f"item {i} truth")
                out[ann_id] = {"type": ann["type"], "truth": label}
            else:
                out[ann_id] = {"type": ann["type"], "truth": ""}
        return out

    # ---- scoring -------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = yorn_answer(prediction)
        return {"score": float(parsed == sample.target), "parsed": parsed,
                "dimension": sample.meta["dimension"], "sub": sample.meta["sub"]}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        truth_no, answered_no = record["target"] == NO, record["parsed"] == NO
        counts = {"n": 1.0, "correct": record["score"], "truth_no": float(truth_no),
                  "answered_no": float(answered_no), "correct_no": float(truth_no and answered_no)}
        out: dict[str, float] = {}
        for group in ("", record["dimension"], record["sub"]):
            if group is not None:
                out.update({f"{_prefix(group)}{k}": v for k, v in counts.items()})
        return out

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for group in GROUPS:
            p = _prefix(group)
            if f"{p}n" not in totals:
                continue
            precision = safe_div(totals[f"{p}correct_no"], totals[f"{p}answered_no"])
            recall = safe_div(totals[f"{p}correct_no"], totals[f"{p}truth_no"])
            out[f"{p}accuracy"] = 100 * safe_div(totals[f"{p}correct"], totals[f"{p}n"])
            out[f"{p}precision"] = 100 * precision
            out[f"{p}recall"] = 100 * recall
            out[f"{p}f1"] = 100 * safe_div(2 * precision * recall, precision + recall)
        return out
