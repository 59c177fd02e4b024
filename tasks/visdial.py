"""``visdial``: VisDial v1.0 val, answer options ranked by the model, scored like the challenge.

Data under ``<root>/visdial/``:

- ``visdial_1.0_val.json``: ``{"version", "split", "data": {"questions": [str], "answers": [str],
  "dialogs": [{"image_id", "caption", "dialog": [{"question", "answer", "answer_options",
  "gt_index"}]}]}}`` where ``question``/``answer``/``answer_options`` index the two string lists
  and ``gt_index`` is the position of the human answer among the 100 options;
- ``visdial_1.0_val_dense_annotations.json``: ``[{"image_id", "round_id", "gt_relevance"}]``
  (``round_id`` 1-based, ``gt_relevance`` one float per option), for one round per dialog;
- images ``VisualDialog_val2018/VisualDialog_val2018_{image_id:012d}.jpg``.

One sample per round, id ``"{image_id}_{round}"`` (round 1-based). The prompt holds the caption,
the earlier rounds with their human answers (the official setting) and the question.

Ranking. Under logits scoring (``--scoring logits``, or an adapter that only scores options)
the model scores all 100 options of a round in one batched pass, and the runner keeps every
option's log-likelihood on the record (``option_scores``); they are ranked like the official
code (:mod:`deem_eval.metrics.visdial`). Under generation the generated answer is matched to
the options after the VQA answer normalisation: the options it matches rank first, the rest
follow in option order (a stable sort), so R@k and MRR say whether the model produced the
human answer. A samples file re-scored with ``deem-eval score`` keeps ``option_scores`` when
it has them. Metrics: NDCG (headline, over the densely annotated rounds), MRR, R@1/5/10
(percent) and the mean rank, over all rounds.

No Hugging Face copy of VisDial is maintained for lmms-eval, so only the original layout is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError, UserError
from deem_eval.io import read_json
from deem_eval.metrics.visdial import METRIC_NAMES, ndcg, round_stats, scores_to_ranks, visdial_metrics
from deem_eval.metrics.vqa_eval import process_digit_article, process_punctuation
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task, TaskConfig

DIALOGS_LAYOUT = (
    'visdial_1.0_val.json = {"data": {"questions": [str], "answers": [str], "dialogs": [{"image_id": int, '
    '"caption": str, "dialog": [{"question": int, "answer": int, "answer_options": [int x 100], '
    '"gt_index": int}]}]}}'
)
DENSE_LAYOUT = 'visdial_1.0_val_dense_annotations.json = [{"image_id": int, "round_id": int (1-based), ' \
               '"gt_relevance": [float per option]}]'
IMAGE_FOLDER = "VisualDialog_val2018"


@dataclasses.dataclass
class VisDialConfig(TaskConfig):
    history: int = 10  # earlier rounds kept in the prompt (the most recent ones)


def _int(obj: Any, key: str, path: Path, where: str, expected: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(path, f"{where}: {key!r} must be an integer", expected=expected)
    return value


def normalise_answer(text: str) -> str:
    """The VQA answer normalisation (punctuation, case, number words, articles, contractions)."""
    return process_digit_article(process_punctuation(" ".join(text.split())))


def _question_text(q: str) -> str:
    q = q.strip()
    return q if q.endswith("?") else q + "?"


@register_task("visdial")
class VisDialTask(Task):
    """VisDial v1.0 val: rank 100 answer options per round; NDCG, MRR, R@1/5/10, mean rank."""

    name = "visdial"
    folder = "visdial"
    expected = ("visdial_1.0_val.json", "visdial_1.0_val_dense_annotations.json", IMAGE_FOLDER)
    source = (
        "visualdialog.org v1.0: visdial_1.0_val.json, visdial_1.0_val_dense_annotations.json and the "
        "VisualDialog_val2018 images"
    )
    metrics = METRIC_NAMES
    headline = "ndcg"
    output_type = "options"
    prompt_template = "{image}{question}"
    answer_prefix = "A:"
    max_new_tokens = 16
    Config = VisDialConfig

    # ---- data ---------------------------------------------------------------------------
    def _dense(self) -> dict[tuple[int, int], list[float]]:
        path = self.data_dir / "visdial_1.0_val_dense_annotations.json"
        doc = read_json(path, expected=DENSE_LAYOUT)
        if not isinstance(doc, list):
            raise DataError(path, "is not a list of annotations", expected=DENSE_LAYOUT)
        out: dict[tuple[int, int], list[float]] = {}
        for i, ann in enumerate(doc):
            where = f"entry {i}"
            key = (_int(ann, "image_id", path, where, DENSE_LAYOUT), _int(ann, "round_id", path, where, DENSE_LAYOUT))
            rel = ann.get("gt_relevance", ann.get("relevance"))
            if not isinstance(rel, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    for v in rel):
                raise DataError(path, f"{where}: 'gt_relevance' must be a list of numbers", expected=DENSE_LAYOUT)
            if key in out:
                raise DataError(path, f"{where}: a second annotation for image {key[0]} round {key[1]}")
            out[key] = [float(v) for v in rel]
        return out

    def samples(self) -> Iterator[Sample]:
        path = self.data_dir / "visdial_1.0_val.json"
        doc = read_json(path, expected=DIALOGS_LAYOUT)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("questions", "answers",
                                                                                            "dialogs")):
            raise DataError(path, "needs data.questions, data.answers and data.dialogs lists", expected=DIALOGS_LAYOUT)
        questions, answers = data["questions"], data["answers"]
        dense = self._dense()
        used: set[tuple[int, int]] = set()
        image_root = self.data_dir / IMAGE_FOLDER
        seen: set[int] = set()
        for d, dialog in enumerate(data["dialogs"]):
            where = f"data.dialogs[{d}]"
            image_id = _int(dialog, "image_id", path, where, DIALOGS_LAYOUT)
            if image_id in seen:
                raise DataError(path, f"{where}: a second dialog for image {image_id}")
            seen.add(image_id)
            caption, rounds = dialog.get("caption"), dialog.get("dialog")
            if not isinstance(caption, str) or not isinstance(rounds, list) or not rounds:
                raise DataError(path, f"{where} needs a string 'caption' and a non-empty 'dialog' list",
                                expected=DIALOGS_LAYOUT)
            name = f"{IMAGE_FOLDER}_{image_id:012d}.jpg"
            image = ImageRef(key=f"visdial/{name}", path=inside(image_root, name, "image", path))
            history: list[str] = []
            for r, rnd in enumerate(rounds):
                rw = f"{where}.dialog[{r}]"
                q = self._text(questions, _int(rnd, "question", path, rw, DIALOGS_LAYOUT), path, rw, "question")
                a = self._text(answers, _int(rnd, "answer", path, rw, DIALOGS_LAYOUT), path, rw, "answer")
                options = self._options(rnd, answers, path, rw)
                gt = _int(rnd, "gt_index", path, rw, DIALOGS_LAYOUT)
                if not 0 <= gt < len(options):
                    raise DataError(path, f"{rw}: gt_index {gt} is not a position among {len(options)} options")
                relevance = dense.get((image_id, r + 1))
                if relevance is not None:
                    used.add((image_id, r + 1))
                    if len(relevance) != len(options):
                        raise DataError(self.data_dir / "visdial_1.0_val_dense_annotations.json",
                                        f"image {image_id} round {r + 1}: {len(relevance)} relevance values for "
                                        f"{len(options)} options", expected=DENSE_LAYOUT)
                yield Sample(
                    id=f"{image_id}_{r + 1}",
                    target={"gt_index": gt, "answer": options[gt], "gt_relevance": relevance},
                    image=image,
                    question=self._dialog_text(caption, history, q),
                    options=options,
                    meta={"image_id": image_id, "round": r + 1},
                )
                history.append(f"Q: {_question_text(q)} A: {a}")
        if not seen:
            raise DataError(path, "holds no dialogs", expected=DIALOGS_LAYOUT)
        stray = sorted(set(dense) - used)
        if stray:
            raise DataError(self.data_dir / "visdial_1.0_val_dense_annotations.json",
                            f"annotates image {stray[0][0]} round {stray[0][1]}, which no dialog has",
                            expected=DENSE_LAYOUT)

    @staticmethod
    def _text(strings: list[Any], index: int, path: Path, where: str, what: str) -> str:
        if not 0 <= index < len(strings) or not isinstance(strings[index], str):
            raise DataError(path, f"{where}: {what} index {index} names no string in data.{what}s",
                            expected=DIALOGS_LAYOUT)
        return strings[index]

    def _options(self, rnd: dict[str, Any], answers: list[Any], path: Path, where: str) -> list[str]:
        idx = rnd.get("answer_options")
        if not isinstance(idx, list) or not idx:
            raise DataError(path, f"{where}: 'answer_options' must be a non-empty list of answer indices",
                            expected=DIALOGS_LAYOUT)
        options = []
        for j, a in enumerate(idx):
            if not isinstance(a, int) or isinstance(a, bool):
                raise DataError(path, f"{where}: answer_options[{j}] is not an integer", expected=DIALOGS_LAYOUT)
            options.append(self._text(answers, a, path, where, "answer"))
        if len(set(options)) != len(options):
            raise DataError(path, f"{where}: answer_options name the same answer twice")
        return options

    def _dialog_text(self, caption: str, history: list[str], question: str) -> str:
        keep = history[-self.config.history:] if self.config.history > 0 else []
        lines = [f"Caption: {' '.join(caption.split())}", *keep, f"Q: {_question_text(question)}"]
        return "\n".join(lines)

    def prompt_fingerprint(self) -> str:
        import hashlib

        return hashlib.sha256((super().prompt_fingerprint() + f"|history={self.config.history}").encode()) \
            .hexdigest()[:16]

    # ---- scoring ------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        """Ranking needs the option scores on the record: filled in by ``prepare``."""
        return {"score": None}

    def option_ranks(self, sample: Sample, record: Mapping[str, Any]) -> list[int]:
        """Ranks of the options: from the model's option scores, else from the generated answer."""
        scores = record.get("option_scores")
        options = sample.options or []
        if isinstance(scores, Mapping):
            absent = [o for o in options if o not in scores]
            if absent:
                raise UserError(f"visdial sample {sample.id}: option_scores lack {len(absent)} of its options "
                                f"(e.g. {absent[0]!r}); were they written for another data root?")
            return scores_to_ranks([scores[o] for o in options])
        answer = normalise_answer(record.get("prediction") or "")
        return scores_to_ranks([float(normalise_answer(o) == answer) for o in options], stable=True)

    def prepare(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            sample = rec["_sample"]
            ranks = self.option_ranks(sample, rec)
            gt_rank = ranks[sample.target["gt_index"]]
            relevance = sample.target["gt_relevance"]
            rec["gt_rank"] = gt_rank
            rec["ndcg"] = None if relevance is None else ndcg(ranks, relevance)
            rec["score"] = 1.0 / gt_rank

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return round_stats(record["gt_rank"], record["ndcg"])

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return visdial_metrics(totals)

    def bootstrap_units(self, records: list[dict[str, Any]]) -> list[list[int]]:
        """Dialogs are resampled whole (their rounds share an image and a history)."""
        units: dict[Any, list[int]] = {}
        for i, rec in enumerate(records):
            units.setdefault(rec["_sample"].meta["image_id"], []).append(i)
        return list(units.values())
