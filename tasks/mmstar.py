"""MMStar: 1,500 vision-indispensable multiple-choice questions over 6 core capabilities and 18
axes (arXiv 2403.20330).

Data under ``<root>/mmstar/``, either copy:

- the Hugging Face parquet (``Lin-Chen/MMStar`` ``mmstar.parquet`` or ``lmms-lab/MMStar``
  ``data/val-*.parquet``): columns ``index``, ``question`` (the options are written inside it,
  "Options: A: ..., B: ..."), ``image`` ({bytes, path}), ``answer`` (a letter), ``category`` (the
  core capability), ``l2_category`` (the axis), ``meta_info``;
- VLMEvalKit's ``MMStar.tsv`` (the same columns, the image as base64 text, options also in
  columns ``A``-``D``).

Sample id: ``index``. The prompt is the question followed by lmms-eval's instruction "Answer with
the option's letter from the given choices directly."

Metrics (percent): ``accuracy`` over all questions (headline), ``category/<capability>`` and
``l2/<axis>``. Responses are read with the shared rule-based reader (no judge); an unreadable
response is wrong. (lmms-eval's own MMStar filter compares only the response's first character,
which takes the article in "a dog ..." for option A; the reader here does not.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deem_eval.errors import DataError
from deem_eval.metrics.choice import choices_from_row
from deem_eval.registry import register_task
from deem_eval.samples import Sample

from .multiple_choice import LETTER_INSTRUCTION, LetterChoiceTask, TableTask, checked_answer, checked_choices

COLUMNS = ("index", "question", "answer", "category", "l2_category", "image")
_INLINE = re.compile(r"(?:^|,\s*|\n\s*)([A-F])[:.]\s*(.*?)(?=,\s*[A-F][:.]\s|\n\s*[A-F][:.]\s|$)", re.S)


def inline_choices(question: str) -> dict[str, str]:
    """Options written in the question after "Options:" ("A: cat, B: dog") as {"A": "cat", ...}."""
    _, sep, tail = question.rpartition("Options:")
    if not sep:
        return {}
    return {m.group(1): m.group(2).strip().rstrip(",").strip() for m in _INLINE.finditer(tail.strip())}


@register_task("mmstar")
class MMStar(TableTask, LetterChoiceTask):
    """MMStar multiple choice, per core capability and axis."""

    name = "mmstar"
    folder = "mmstar"
    expected = ("mmstar.parquet",)
    tsv_names = ("MMStar.tsv",)
    parquet_globs = ("*.parquet", "data/*.parquet")
    source = "Lin-Chen/MMStar or lmms-lab/MMStar parquet (Hugging Face Hub), or VLMEvalKit's MMStar.tsv"
    layout = "mmstar/*.parquet or mmstar/data/*.parquet with columns " + ", ".join(COLUMNS) + ", or mmstar/MMStar.tsv"
    metrics = ("accuracy", "category/<core capability>", "l2/<axis>")
    headline = "accuracy"
    prompt_template = "{image}{question}\n" + LETTER_INSTRUCTION
    group_kinds = ("category", "l2")

    def prompt(self, sample: Sample) -> str:
        from deem_eval.samples import IMAGE_TOKEN

        return self.prompt_template.format(image=IMAGE_TOKEN, question=sample.question)

    def samples(self) -> Iterator[Sample]:
        seen: set[str] = set()
        for path, row_no, where, row in self.table_rows(COLUMNS, optional=("A", "B", "C", "D")):
            sid = str(row["index"]).strip()
            if not sid or sid in seen:
                raise DataError(path, f"{where}index {row['index']!r} is empty or repeated", expected=self.layout)
            seen.add(sid)
            question = str(row["question"] or "").strip()
            choices = choices_from_row(row, "ABCD") or inline_choices(question)
            checked_choices(choices, path, where)
            yield Sample(
                id=sid,
                target=checked_answer(row["answer"], choices, path, where),
                image=self.row_image(row["image"], f"mmstar/{sid}", path, row_no),
                question=question,
                options=list(choices),
                meta={"choices": choices, "category": row["category"], "l2": row["l2_category"]},
            )
        if not seen:
            raise DataError(self.source_files()[0], "holds no questions", expected=self.layout)
