"""Open-ended VQA: vqav2, okvqa, vizwiz, scored with the official VQA accuracy.

Data under ``<root>/{vqav2,okvqa,vizwiz}/``:

- ``questions.json``: ``{info, task_type, data_type, data_subtype, license, questions:
  [{image_id, question, question_id}]}``;
- ``annotations.json``: ``{annotations: [{question_id, image_id, question_type, answer_type,
  multiple_choice_answer, answers: [{answer, answer_confidence, answer_id}]}]}``;
- images ``images/COCO_val2014_{image_id:012d}.jpg``. A question entry may instead name its
  image file in an ``image`` field (VizWiz's ``VizWiz_val_00000000.jpg``), looked up in
  ``images/``.

Sample id: ``question_id`` as a string. Every question needs an annotation with at least one
answer. VizWiz's "unanswerable" is an ordinary answer string.

Metrics (percent), see ``deem_eval.metrics.vqa_eval``: ``accuracy`` (headline) and
``accuracy_<answer type>`` for each answer type present in the annotations, with the type
written in metric form: ``accuracy_yes_no``, ``accuracy_number``, ``accuracy_other`` (VQAv2),
plus ``accuracy_unanswerable`` for VizWiz; OK-VQA's annotations use ``other`` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.vqa_eval import question_stats, vqa_accuracy, vqa_metrics
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task

QUESTIONS_LAYOUT = "questions.json with questions: [{image_id, question, question_id}]"
ANNOTATIONS_LAYOUT = (
    "annotations.json with annotations: [{question_id, image_id, question_type, answer_type, "
    "multiple_choice_answer, answers: [{answer, answer_confidence, answer_id}]}]"
)


def _records(path: Path, key: str, layout: str) -> list[dict[str, Any]]:
    doc = read_json(path, expected=layout)
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise DataError(path, f"no list under {key!r}", expected=layout)
    for i, item in enumerate(items):
        qid = item.get("question_id") if isinstance(item, dict) else None
        if not isinstance(qid, (int, str)) or isinstance(qid, bool):
            raise DataError(path, f"{key}[{i}] is not an object with a question_id", expected=layout)
    return items


def _answers(ann: dict[str, Any], path: Path, where: str) -> list[str]:
    answers = ann.get("answers")
    if not isinstance(answers, list) or not answers:
        raise DataError(path, f"{where} has no answers", expected=ANNOTATIONS_LAYOUT)
    out = []
    for a in answers:
        if not isinstance(a, dict) or not isinstance(a.get("answer"), str):
            raise DataError(
                path, f"{where}: an answer lacks the string 'answer'", expected=ANNOTATIONS_LAYOUT
            )
        out.append(a["answer"])
    return out


class VQATask(Task):
    expected = ("questions.json", "annotations.json", "images")
    output_type = "generate"
    prompt_template = "{image}{question}\nAnswer the question using a single word or phrase."
    max_new_tokens = 16
    metrics = ("accuracy", "accuracy_yes_no", "accuracy_number", "accuracy_other")
    headline = "accuracy"

    def samples(self) -> Iterator[Sample]:
        q_path, a_path = self.data_dir / "questions.json", self.data_dir / "annotations.json"
        questions = _records(q_path, "questions", QUESTIONS_LAYOUT)
        if not questions:
            raise DataError(q_path, "holds no questions", expected=QUESTIONS_LAYOUT)
        annotations: dict[str, dict[str, Any]] = {}
        for i, ann in enumerate(_records(a_path, "annotations", ANNOTATIONS_LAYOUT)):
            qid = str(ann["question_id"])
            if qid in annotations:
                raise DataError(a_path, f"annotations[{i}]: duplicate question_id {qid}")
            annotations[qid] = ann
        seen: set[str] = set()
        for i, q in enumerate(questions):
            where = f"questions[{i}]"
            qid = str(q["question_id"])
            if qid in seen:
                raise DataError(q_path, f"{where}: duplicate question_id {qid}")
            seen.add(qid)
            if not isinstance(q.get("question"), str):
                raise DataError(q_path, f"{where} lacks the string 'question'", expected=QUESTIONS_LAYOUT)
            ann = annotations.get(qid)
            if ann is None:
                raise DataError(a_path, f"no annotation for question_id {qid}", expected=ANNOTATIONS_LAYOUT)
            answers = _answers(ann, a_path, f"annotation of question_id {qid}")
            name = self._image_name(q, q_path, where)
            yield Sample(
                id=qid,
                target=answers,
                image=ImageRef(
                    key=name, path=inside(self.data_dir / "images", name, f"{where} image", q_path)
                ),
                question=q["question"],
                meta={
                    "answer_type": str(ann.get("answer_type", "other")),
                    "question_type": str(ann.get("question_type", "")),
                },
            )

    @staticmethod
    def _image_name(q: dict[str, Any], path: Path, where: str) -> str:
        if isinstance(q.get("image"), str) and q["image"]:
            return q["image"]
        image_id = q.get("image_id")
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise DataError(
                path,
                f"{where} has neither an 'image' name nor an integer image_id",
                expected=QUESTIONS_LAYOUT,
            )
        return f"COCO_val2014_{image_id:012d}.jpg"

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        return {"score": vqa_accuracy(prediction, sample.target), "answer_type": sample.meta["answer_type"]}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return question_stats(record["score"], record["answer_type"])

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return vqa_metrics(totals)


@register_task("vqav2")
class VQAv2(VQATask):
    """VQAv2 val (open-ended)."""

    name = "vqav2"
    folder = "vqav2"
    source = (
        "visualqa.org: v2_OpenEnded_mscoco_val2014_questions.json saved as questions.json, "
        "v2_mscoco_val2014_annotations.json as annotations.json; COCO val2014 images"
    )


@register_task("okvqa")
class OKVQA(VQATask):
    """OK-VQA val: questions that need outside knowledge."""

    name = "okvqa"
    folder = "okvqa"
    source = (
        "okvqa.allenai.org: OpenEnded_mscoco_val2014_questions.json saved as questions.json, "
        "mscoco_val2014_annotations.json as annotations.json; COCO val2014 images"
    )
    metrics = ("accuracy", "accuracy_other")


@register_task("vizwiz")
class VizWiz(VQATask):
    """VizWiz-VQA val: questions from blind users, some unanswerable."""

    name = "vizwiz"
    folder = "vizwiz"
    source = (
        "vizwiz.org VizWiz-VQA val (val.json) written as questions.json/annotations.json, each question "
        "naming its file in 'image'; the val images in images/"
    )
    metrics = ("accuracy", "accuracy_yes_no", "accuracy_number", "accuracy_other", "accuracy_unanswerable")
