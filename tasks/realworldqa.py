"""RealWorldQA (xAI): real-world spatial questions, most multiple choice, some open (a number or a word).

Data: the Hugging Face parquet files (``xai-org/RealworldQA`` or ``lmms-lab/RealWorldQA``) under
``<root>/realworldqa/`` or ``<root>/realworldqa/data/``, columns ``image`` ({bytes, path}),
``question`` and ``answer``. The question text already carries the options ("A. ...") and the
answer-format instruction, so the prompt is the image and the question as is. Sample id: the
row's position over the files in name order, from 0.

Scoring is lmms-eval's ``flexible-extract`` exact match, the number the benchmark reports:

1. a response that is exactly a number word "zero" ... "ten" (any case) becomes its digits;
2. punctuation is removed (``[^\\w\\s]``) and the response stripped;
3. the options are read from the question's ``X. text`` lines and lettered A, B, ... in order; if
   an option's text occurs in the cleaned response (the first occurrence wins), the response
   becomes that letter;
4. the result, lower-cased, stripped, without a trailing ".", must equal the lower-cased answer.

So "B", "b", "(B)", "B." and an option's own text are right, while "I think B" or "Option B" are
not: this benchmark asks for the letter alone. Metrics (percent): ``accuracy`` (headline) and
``type/multiple_choice`` / ``type/open`` by question kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from deem_eval.errors import DataError
from deem_eval.metrics.choice import group_accuracy, group_stats
from deem_eval.registry import register_task
from deem_eval.samples import Sample

from .multiple_choice import TableTask

COLUMNS = ("image", "question", "answer")
NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
                "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_OPTION_LINE = re.compile(r"\b([A-Z])\.\s+([^\n]*)")


def option_texts(question: str) -> dict[str, str]:
    """Option text -> letter, lettered A, B, ... in the order the question lists them."""
    out: dict[str, str] = {}
    for i, (_, text) in enumerate(_OPTION_LINE.findall(question)):
        out[text.strip()] = chr(ord("A") + i)
    return out


def flexible_extract(response: str, question: str) -> str:
    """Steps 1-3 of the module docstring: number words, punctuation, option text -> letter."""
    said = NUMBER_WORDS.get(response.lower(), response)
    cleaned = re.sub(r"[^\w\s]", "", said).strip()
    texts = option_texts(question)
    if texts:
        found = re.search("|".join(re.escape(t) for t in texts), cleaned)
        if found and found.group() in texts:
            return texts[found.group()]
    return cleaned


def exact_match(response: str, answer: str, question: str) -> bool:
    return flexible_extract(response, question).lower().strip().rstrip(".") == answer.lower().strip()


@register_task("realworldqa")
class RealWorldQA(TableTask):
    """RealWorldQA, exact match after lmms-eval's flexible extraction."""

    name = "realworldqa"
    folder = "realworldqa"
    expected = ("data",)
    parquet_globs = ("*.parquet", "data/*.parquet")
    source = "xai-org/RealworldQA or lmms-lab/RealWorldQA parquet files (Hugging Face Hub)"
    layout = "realworldqa/*.parquet or realworldqa/data/*.parquet with columns image, question, answer"
    metrics = ("accuracy", "type/multiple_choice", "type/open")
    headline = "accuracy"
    output_type = "generate"
    prompt_template = "{image}{question}"
    max_new_tokens = 16

    def samples(self) -> Iterator[Sample]:
        n = 0
        for path, row_no, where, row in self.table_rows(COLUMNS):
            question, answer = row["question"], row["answer"]
            if not isinstance(question, str) or not question.strip():
                raise DataError(path, f"{where}question is empty or not text", expected=self.layout)
            if answer is None or not str(answer).strip():
                raise DataError(path, f"{where}answer is empty", expected=self.layout)
            sid = str(n)
            n += 1
            yield Sample(
                id=sid, target=str(answer).strip(), question=question.strip(),
                image=self.row_image(row["image"], f"realworldqa/{sid}", path, row_no),
                meta={"type": "multiple_choice" if option_texts(question) else "open"},
            )
        if n == 0:
            raise DataError(self.source_files()[0], "holds no questions", expected=self.layout)

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = flexible_extract(prediction, sample.question)
        right = exact_match(prediction, sample.target, sample.question)
        return {"score": float(right), "parsed": parsed, "type": sample.meta["type"]}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return group_stats(record["score"], {"type": record["type"]})

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return group_accuracy(totals)
