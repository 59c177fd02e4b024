"""NaturalBench: natural adversarial 2x2 groups (two images, two questions whose answers flip).

Data under ``<root>/naturalbench/`` as parquet files in the folder or in ``data/``, either

- the BaiqiL/NaturalBench release (``data/train-0000k-of-00003.parquet``): one row per group with
  ``Index``, ``Image_0``, ``Image_1`` ({bytes, path} structs), ``Question_0``, ``Question_1``,
  the answers ``Image_0_Question_0``, ``Image_1_Question_0``, ``Image_0_Question_1``,
  ``Image_1_Question_1`` ("Yes"/"No" or "A"/"B"), ``Question_Type`` (``yes_no`` or
  ``multiple_choice``; an early revision spells it ``Question Type``) and ``Source``; or
- the flattened copy lmms-eval reads (BaiqiL/NaturalBench-lmms-eval): one row per question with
  ``Index`` = 4 x group + position (q0-i0, q0-i1, q1-i0, q1-i1), ``Image``, ``Question``,
  ``Question_Type`` and, when present, ``answer``/``Answer``; without an answer column the
  released answer pattern of the position is the ground truth, as lmms-eval scores it.

Sample ids: ``{Index}_q{k}_i{j}`` for the release (question k on image j), the copy's own
``Index`` for the flattened copy. Prompt: the question and the official suffix ("Please answer
Yes or No." / "Please output the letter corresponding to the correct option."), joined by a
space as lmms-eval does. Scoring and metrics: ``deem_eval.metrics.naturalbench`` (headline
``g_acc``); groups with an errored or missing answer are left out of q/i/g accuracy, and the
bootstrap resamples whole groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from deem_eval.errors import DataError
from deem_eval.io import files_fingerprint
from deem_eval.metrics.naturalbench import (
    ANSWERS,
    METRIC_NAMES,
    MULTIPLE_CHOICE,
    PATTERN,
    POSITIONS,
    QUESTION_TYPES,
    YES_NO,
    extract_answer,
    group_stats,
    naturalbench_metrics,
)
from deem_eval.parquet import image_ref, parquet_footer, parquet_rows
from deem_eval.registry import register_task
from deem_eval.samples import IMAGE_TOKEN, Sample
from deem_eval.task import Task

from .pope import yes_no_label

SUFFIX = {
    YES_NO: "Please answer Yes or No.",
    MULTIPLE_CHOICE: "Please output the letter corresponding to the correct option.",
}
OPTIONS = {YES_NO: ["Yes", "No"], MULTIPLE_CHOICE: ["A", "B"]}
GROUP_COLUMNS = ("Index", "Image_0", "Image_1", "Question_0", "Question_1",
                 "Image_0_Question_0", "Image_1_Question_0", "Image_0_Question_1", "Image_1_Question_1")
FLAT_COLUMNS = ("Index", "Image", "Question")
TYPE_COLUMNS = ("Question_Type", "Question Type")
ANSWER_COLUMNS = ("answer", "Answer")
LAYOUT = (
    "naturalbench/data/*.parquet (or naturalbench/*.parquet): the BaiqiL/NaturalBench rows with "
    + ", ".join(GROUP_COLUMNS) + ", Question_Type, or the flattened lmms-eval copy with "
    + ", ".join(FLAT_COLUMNS) + ", Question_Type"
)


@register_task("naturalbench")
class NaturalBench(Task):
    """NaturalBench VQA, scored per question, image and group like the official script."""

    name = "naturalbench"
    folder = "naturalbench"
    expected = ("data/*.parquet",)
    source = "BaiqiL/NaturalBench on the Hugging Face Hub (data/train-*.parquet), or BaiqiL/NaturalBench-lmms-eval"
    metrics = METRIC_NAMES
    headline = "g_acc"
    chance = 100 / 16  # four independent coin flips
    chance_metrics = {"q_acc": 25.0, "i_acc": 25.0, "accuracy": 50.0}
    output_type = "options"
    prompt_template = "{image}{question} {suffix}"
    max_new_tokens = 16

    def parquet_files(self) -> list[Path]:
        if not self.data_dir.is_dir():
            return []
        return sorted(self.data_dir.glob("*.parquet")) + sorted(self.data_dir.glob("data/*.parquet"))

    def missing(self) -> list[str]:
        return [] if self.parquet_files() else list(self.expected)

    def data_fingerprint(self) -> str:
        return files_fingerprint(self.data_dir, self.parquet_files(), "naturalbench")

    def count(self) -> int:
        total = 0
        for p in self.parquet_files():
            names, rows = parquet_footer(p, LAYOUT)
            total += rows * (4 if "Image_0" in names else 1)
        return total

    # ---- samples -------------------------------------------------------------------------
    def samples(self) -> Iterator[Sample]:
        files = self.parquet_files()
        if not files:
            raise DataError(self.data_dir / "data", "holds no parquet files", expected=LAYOUT)
        seen: set[str] = set()
        for path in files:
            names, _ = parquet_footer(path, LAYOUT)
            type_col = next((c for c in TYPE_COLUMNS if c in names), TYPE_COLUMNS[0])
            if "Image_0" in names:
                yield from self._group_samples(path, type_col, seen)
            else:
                answer_col = next((c for c in ANSWER_COLUMNS if c in names), None)
                yield from self._flat_samples(path, type_col, answer_col, seen)

    def _group_samples(self, path: Path, type_col: str, seen: set[str]) -> Iterator[Sample]:
        for row_no, row in parquet_rows(path, (*GROUP_COLUMNS, type_col), LAYOUT, batch_size=8):
            index = _index(row["Index"], path, row_no)
            qtype = _question_type(row[type_col], path, row_no)
            images = [image_ref(row[f"Image_{j}"], f"naturalbench/{index}/{j}", path, row_no, f"Image_{j}",
                                self.data_dir) for j in (0, 1)]
            for k in (0, 1):
                question = _text(row[f"Question_{k}"], path, row_no, f"Question_{k}")
                for j in (0, 1):
                    column = f"Image_{j}_Question_{k}"
                    yield self._sample(
                        f"{index}_q{k}_i{j}", f"g{index}", f"q{k}_i{j}", qtype, question, images[j],
                        _gold(row[column], qtype, path, row_no, column), path, row_no, seen,
                    )

    def _flat_samples(self, path: Path, type_col: str, answer_col: str | None, seen: set[str]) -> Iterator[Sample]:
        columns = (*FLAT_COLUMNS, type_col, *([answer_col] if answer_col else []))
        for row_no, row in parquet_rows(path, columns, LAYOUT):
            index = _index(row["Index"], path, row_no)
            qtype = _question_type(row[type_col], path, row_no)
            group, pos = divmod(index, 4)
            gold = (_gold(row[answer_col], qtype, path, row_no, answer_col) if answer_col
                    else _gold(PATTERN[qtype][pos], qtype, path, row_no, "pattern"))
            image = image_ref(row["Image"], f"naturalbench/{group}/{POSITIONS[pos][-1]}", path, row_no, "Image",
                              self.data_dir)
            question = _text(row["Question"], path, row_no, "Question")
            yield self._sample(str(index), f"f{group}", POSITIONS[pos], qtype, question, image, gold, path, row_no,
                               seen)

    def _sample(self, sid: str, group: str, position: str, qtype: str, question: str, image: Any, gold: str,
                path: Path, row_no: int, seen: set[str]) -> Sample:
        if sid in seen:
            raise DataError(path, f"row {row_no}: duplicate question {sid}", expected="each Index once")
        seen.add(sid)
        return Sample(id=sid, target=gold, image=image, question=question, options=list(OPTIONS[qtype]),
                      meta={"group": group, "position": position, "type": qtype})

    # ---- prompting and scoring -----------------------------------------------------------
    def prompt(self, sample: Sample) -> str:
        return self.prompt_template.format(image=IMAGE_TOKEN, question=sample.question,
                                           suffix=SUFFIX[sample.meta["type"]])

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = extract_answer(prediction, sample.meta["type"])
        return {"score": float(parsed == sample.target), "parsed": parsed,
                "group": sample.meta["group"], "position": sample.meta["position"]}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Credit each complete group once, on its first record (so sums over records stay exact)."""
        for members in _groups(records).values():
            by_pos = {records[i]["position"]: records[i]["score"] == 1.0 for i in members}
            complete = len(members) == 4 and set(by_pos) == set(POSITIONS)
            for k, i in enumerate(members):
                for key in ("groups", "q_correct", "i_correct", "g_correct"):
                    records[i][key] = 0.0
                if complete and k == 0:
                    records[i].update(group_stats(by_pos))

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        return list(_groups(records).values())

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {"n": 1.0, "correct": float(record["score"]),
                **{k: record.get(k, 0.0) for k in ("groups", "q_correct", "i_correct", "g_correct")}}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return naturalbench_metrics(totals)


def _groups(records: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[rec["group"]].append(i)
    return dict(groups)


def _index(value: Any, path: Path, row_no: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise DataError(path, f"row {row_no}: Index {value!r} is not a non-negative integer")
    return int(value)


def _question_type(value: Any, path: Path, row_no: int) -> str:
    if value not in QUESTION_TYPES:
        raise DataError(path, f"row {row_no}: Question_Type {value!r} is unknown", expected=" or ".join(QUESTION_TYPES))
    return value


def _text(value: Any, path: Path, row_no: int, column: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(path, f"row {row_no}: {column} {value!r} is not a non-empty string")
    return value


def _gold(value: Any, qtype: str, path: Path, row_no: int, column: str) -> str:
    """"Yes"/"No" -> "yes"/"no"; "A"/"B" (also "(A)", "a") -> "A"/"B"; anything else is located."""
    if qtype == YES_NO:
        return yes_no_label(value, path, None, f"row {row_no}: {column}")
    letter = str(value).strip().strip("().").upper()
    if letter not in ANSWERS[MULTIPLE_CHOICE]:
        raise DataError(path, f"row {row_no}: {column} {value!r} is not A or B", expected='"A" or "B"')
    return letter
