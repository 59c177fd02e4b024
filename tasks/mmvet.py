"""MM-Vet: open-ended questions over integrated capabilities, graded 0-1 by a judge (arXiv 2308.02490).

Data: ``<root>/mmvet/mm-vet.json`` — ``{"v1_0": {"imagename": "v1_0.png", "question": ...,
"answer": ..., "capability": ["ocr", "math"]}, ...}`` — and the pictures in ``<root>/mmvet/images/``,
as in the released ``mm-vet.zip``; or, without the JSON, the ``lmms-lab/MMVet`` parquet
(``data/test-*.parquet``: ``question_id``, ``image``, ``question``, ``answer``, ``capability`` as
"rec,ocr"). Sample id: the key / ``question_id`` (``v1_0``). The prompt is the image and the question.

Grading needs ``--judge`` (``judge_mode = "required"``): each answer goes to the judge with the
official few-shot grader prompt of ``mm-vet_evaluator.py`` (question | ground truth with spaced
``<AND>``/``<OR>`` | prediction | blank). The verdict's first space-separated token must be a
number in [0, 1]; anything else scores 0.0 (the official script re-asks up to five times, then
gives 0.0; one verdict per answer here) and is flagged ``verdict_unreadable`` in the record.

Metrics (x100, like the official tables): ``total`` = the mean score (headline), ``cap/<c>`` for
each capability (rec, ocr, know, gen, spat, math): the mean over questions needing it, and
``cap_int/<c1_c2...>`` for each capability combination (names sorted and joined by "_").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from deem_eval.data_root import inside
from deem_eval.errors import DataError, UserError
from deem_eval.io import field, read_json
from deem_eval.metrics.choice import group_accuracy
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .multiple_choice import TableTask

LAYOUT = ('mmvet/mm-vet.json ({"v1_0": {"imagename", "question", "answer", "capability": [...]}, ...}) '
          "and mmvet/images/")

GRADER_PROMPT = """Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
"""  # noqa: E501 - the official grader text, kept byte for byte


def grader_prompt(question: str, answer: str, prediction: str) -> str:
    """The official grading request for one answer."""
    truth = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    return GRADER_PROMPT + "\n" + " | ".join([question, truth, prediction, ""])


def parse_grade(verdict: str) -> float | None:
    """The verdict's first space-separated token as a score in [0, 1], or None."""
    token = verdict.split(" ")[0].strip()
    try:
        value = float(token)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


@register_task("mmvet")
class MMVet(TableTask):
    """MM-Vet, judge-graded, per capability and capability combination."""

    name = "mmvet"
    folder = "mmvet"
    expected = ("mm-vet.json", "images")
    source = "yuweihao/MM-Vet release mm-vet.zip (mm-vet.json + images/), or the lmms-lab/MMVet parquet"
    parquet_globs = ("data/*.parquet", "*.parquet")
    layout = LAYOUT + ", or mmvet/data/*.parquet with question_id, image, question, answer, capability"
    metrics = ("total", "cap/<capability>", "cap_int/<capabilities>")
    headline = "total"
    output_type = "generate"
    prompt_template = "{image}{question}"
    max_new_tokens = 256
    judge_mode: ClassVar[str] = "required"

    def missing(self) -> list[str]:
        if (self.data_dir / "mm-vet.json").is_file():
            return [e for e in self.expected if not (self.data_dir / e).exists()]
        return super().missing()

    def source_files(self):
        json_path = self.data_dir / "mm-vet.json"
        return [json_path] if json_path.is_file() else super().source_files()

    def samples(self) -> Iterator[Sample]:
        if not (self.data_dir / "mm-vet.json").is_file() and self.parquets():
            yield from self._parquet_samples()
            return
        path = self.data_dir / "mm-vet.json"
        doc = read_json(path, expected=LAYOUT)
        if not isinstance(doc, dict) or not doc:
            raise DataError(path, "is not a non-empty object of questions", expected=LAYOUT)
        for key, item in doc.items():
            if not isinstance(item, dict):
                raise DataError(path, f"{key}: not an object", expected=LAYOUT)
            where = f"{key}: "
            try:
                name = field(item, "imagename", path, None, str)
                question = field(item, "question", path, None, str)
                answer = field(item, "answer", path, None, str)
                caps = field(item, "capability", path, None, list)
            except DataError as exc:
                raise DataError(path, where + str(exc).split(": ", 1)[1]) from None
            if not caps or not all(isinstance(c, str) and c for c in caps):
                raise DataError(path, f"{where}capability must be a non-empty list of names", expected=LAYOUT)
            yield Sample(
                id=str(key), target=answer, question=question,
                image=ImageRef(key=f"mmvet/{name}", path=inside(self.data_dir / "images", name, f"{where}imagename", path)),
                meta={"capability": sorted(set(caps))},
            )

    def _parquet_samples(self) -> Iterator[Sample]:
        seen: set[str] = set()
        for path, row_no, where, row in self.table_rows(("question_id", "image", "question", "answer", "capability")):
            sid = str(row["question_id"] or "").strip()
            if not sid or sid in seen:
                raise DataError(path, f"{where}question_id {row['question_id']!r} is empty or repeated", expected=self.layout)
            seen.add(sid)
            caps = row["capability"]
            caps = caps.split(",") if isinstance(caps, str) else list(caps or [])
            caps = sorted({c.strip() for c in caps if c and c.strip()})
            if not caps or not isinstance(row["question"], str) or row["answer"] is None:
                raise DataError(path, f"{where}question, answer and capability must be given", expected=self.layout)
            yield Sample(id=sid, target=str(row["answer"]), question=row["question"],
                         image=self.row_image(row["image"], f"mmvet/{sid}", path, row_no), meta={"capability": caps})

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        """Ungraded until the judge's verdict arrives (``apply_verdict``)."""
        return {"score": None, "question": sample.question, "capability": sample.meta["capability"]}

    def judge_prompt(self, record: dict[str, Any]) -> str | None:
        return grader_prompt(record["question"], record["target"], record.get("prediction") or "")

    def apply_verdict(self, record: dict[str, Any], verdict: str) -> None:
        grade = parse_grade(verdict)
        record["score"] = 0.0 if grade is None else grade
        record["verdict_unreadable"] = grade is None

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        if record.get("score") is None:
            raise UserError("task mmvet is graded by a judge: pass --judge (see `deem-eval run --help`)")
        s = float(record["score"])
        caps = record["capability"]
        out = {"n": 1.0, "correct": s}
        for c in caps:
            out[f"n|cap/{c}"] = 1.0
            out[f"correct|cap/{c}"] = s
        combo = "_".join(caps)
        out[f"n|cap_int/{combo}"] = 1.0
        out[f"correct|cap_int/{combo}"] = s
        return out

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return group_accuracy(totals, overall="total")
