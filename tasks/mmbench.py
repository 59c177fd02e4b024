"""MMBench (dev, English) with CircularEval (arXiv 2307.06281).

Data under ``<root>/mmbench/``, either copy:

- a TSV as VLMEvalKit and the MMBench release ship it (``MMBench_DEV_EN.tsv``, or
  ``MMBench_DEV_EN_V11.tsv``, ``mmbench_dev_en_20231003.tsv``, ``mmbench_dev_20230712.tsv``):
  columns ``index``, ``question``, ``hint``, ``A``-``D``, ``answer``, ``category``,
  ``l2-category``, ``image`` (base64), and ``source``, ``comment``, ``split``;
- the Hugging Face parquet (``lmms-lab/MMBench`` ``en/dev-*.parquet``, or ``lmms-lab/MMBench_EN``
  ``data/dev-*.parquet``): the same columns (``L2-category`` in some copies), ``image`` a struct.

CircularEval: a question with n options is asked n times, its options shifted one place each
time, and counts as right only if every shift is answered right. The released dev file (4,329
rows for 1,164 questions) already holds the shifted copies: a copy's ``index`` is the original's
plus k x 1,000,000 and its ``image`` cell may hold the original's index instead of the picture. A
file without any copies gets them made here (shift k: letter i shows option (i + k) mod n; the
answer moves with its text; ids follow the same index + k x 1e6 rule).
``--task-args mmbench.circular=false`` asks only the original rows (vanilla accuracy).

Sample id: the row's ``index``. Prompt as LLaVA's MMBench script: the hint (if any) and the question
on separate lines, the options "A. ..." one per line, then "Answer with the option's letter from
the given choices directly." All shifts of a question share one image key, so the image is encoded
once. ``--scoring logits`` ranks the option letters.

Answer matching as VLMEvalKit's: the rule-based reader first (``deem_eval.metrics.choice``); a
question with a shift the rules read as wrong is wrong; shifts the rules cannot read are given to
the judge (``--judge``) with VLMEvalKit's choice-matching prompt, and count as wrong without one
(VLMEvalKit's ``exact_matching``). A verdict naming no option (its "Z") is wrong.

Metrics (percent): ``accuracy`` = CircularEval accuracy over questions (headline),
``category/<name>`` and ``l2/<name>`` per category and l2-category, and ``accuracy_vanilla`` =
accuracy on the original rows alone. A question with an errored or missing shift is left out of the
circular numbers. The bootstrap resamples questions (all shifts together).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from deem_eval.bootstrap import safe_div
from deem_eval.errors import DataError
from deem_eval.metrics.choice import (
    choice_judge_prompt,
    choices_from_row,
    group_accuracy,
    group_stats,
    judge_choice,
    rotate,
)
from deem_eval.registry import register_task
from deem_eval.samples import Sample
from deem_eval.task import TaskConfig

from .multiple_choice import LetterChoiceTask, TableTask, checked_answer, checked_choices

COPY_STRIDE = 1_000_000
COLUMNS = ("index", "question", "A", "B", "answer", "category", "image")
OPTIONAL = ("hint", "C", "D", "E", "l2-category", "L2-category")
TSV_NAMES = ("MMBench_DEV_EN.tsv", "MMBench_DEV_EN_V11.tsv", "mmbench_dev_en_20231003.tsv", "mmbench_dev_20230712.tsv")


@dataclasses.dataclass
class MMBenchConfig(TaskConfig):
    circular: bool = True  # CircularEval; false asks the original rows only


@register_task("mmbench")
class MMBench(TableTask, LetterChoiceTask):
    """MMBench dev (en), CircularEval, per category and l2-category."""

    name = "mmbench"
    folder = "mmbench"
    expected = ("MMBench_DEV_EN.tsv",)
    tsv_names = TSV_NAMES
    parquet_globs = ("en/dev-*.parquet", "data/dev-*.parquet")
    source = ("MMBench_DEV_EN.tsv from VLMEvalKit / open-compass MMBench, or the lmms-lab/MMBench "
              "(en) parquet from the Hugging Face Hub")
    layout = ("mmbench/MMBench_DEV_EN.tsv (columns " + ", ".join(COLUMNS[:-1]) + ", hint, l2-category, image "
              "as base64) or mmbench/en/dev-*.parquet")
    metrics = ("accuracy", "accuracy_vanilla", "category/<category>", "l2/<l2-category>")
    headline = "accuracy"
    group_kinds = ("category", "l2")
    judge_mode: ClassVar[str] = "optional"
    Config = MMBenchConfig

    # ---- data ---------------------------------------------------------------------------------
    def _questions(self) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
        """Rows read and checked: the originals in file order and every group's rows by index."""
        originals: list[dict[str, Any]] = []
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        seen: set[int] = set()
        for path, row_no, where, row in self.table_rows(COLUMNS, OPTIONAL):
            try:
                index = int(str(row["index"]).strip())
            except ValueError:
                raise DataError(path, f"{where}index {row['index']!r} is not an integer", expected=self.layout) from None
            if index < 0 or index in seen:
                raise DataError(path, f"{where}index {index} is negative or repeated", expected=self.layout)
            seen.add(index)
            choices = checked_choices(choices_from_row(row, "ABCDE"), path, where)
            hint = row.get("hint")
            l2 = row.get("l2-category") or row.get("L2-category")
            q = {
                "index": index, "group": index % COPY_STRIDE, "choices": choices, "path": path, "where": where, "row": row_no,
                "answer": checked_answer(row["answer"], choices, path, where),
                "question": str(row["question"] or "").strip(), "hint": str(hint).strip() if hint else None,
                "category": row["category"], "l2": l2, "image": row["image"],
            }
            groups[q["group"]].append(q)
            if index < COPY_STRIDE:
                originals.append(q)
        if not seen:
            raise DataError(self.source_files()[0], "holds no questions", expected=self.layout)
        known = {q["group"] for q in originals}
        for g, rows in groups.items():
            if g not in known:
                q = rows[0]
                raise DataError(q["path"], f"{q['where']}index {q['index']} is a circular copy of {g}, "
                                "which is not in the file", expected="the original row of every copy")
            rows.sort(key=lambda r: r["index"])
        return originals, groups

    def _image(self, q: dict[str, Any], original: dict[str, Any]):
        key = f"mmbench/{q['group']}"
        cell = q["image"]
        if q["index"] != original["index"] and isinstance(cell, str) and len(cell) <= 64:  # a copy's reference
            if cell.strip() != str(original["index"]) or not isinstance(original["image"], str):
                raise DataError(q["path"], f"{q['where']}image refers to {cell!r}, not to its original "
                                f"row {original['index']}", expected="base64 image text or the original's index")
            cell = original["image"]
        return self.row_image(cell, key, q["path"], q["row"])

    def samples(self) -> Iterator[Sample]:
        originals, groups = self._questions()
        has_copies = any(len(rows) > 1 for rows in groups.values())
        for orig in originals:
            if not self.config.circular:
                rows = [orig]
            elif has_copies:
                rows = groups[orig["group"]]
            else:
                rows = [orig] + [self._shifted(orig, k) for k in range(1, len(orig["choices"]))]
            for rotation, q in enumerate(rows):
                question = f"{q['hint']}\n{q['question']}" if q["hint"] else q["question"]
                yield Sample(
                    id=str(q["index"]), target=q["answer"], image=self._image(q, orig), question=question,
                    options=list(q["choices"]),
                    meta={"choices": q["choices"], "category": q["category"], "l2": q["l2"],
                          "group": q["group"], "rotation": rotation, "n_rot": len(rows), "raw_question": q["question"]},
                )

    @staticmethod
    def _shifted(orig: dict[str, Any], k: int) -> dict[str, Any]:
        choices, answer = rotate(orig["choices"], orig["answer"], k)
        return {**orig, "index": orig["index"] + k * COPY_STRIDE, "choices": choices, "answer": answer}

    # ---- scoring -------------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        out = super().score(sample, prediction)
        m = sample.meta
        out.update(group=m["group"], rotation=m["rotation"], n_rot=m["n_rot"], choices=m["choices"],
                   question=m["raw_question"])
        return out

    def judge_prompt(self, record: dict[str, Any]) -> str | None:
        """Only shifts the rules could not read go to the judge."""
        if record.get("parsed") is not None:
            return None
        return choice_judge_prompt(record["question"], record["choices"], record.get("prediction") or "")

    def apply_verdict(self, record: dict[str, Any], verdict: str) -> None:
        letter = judge_choice(verdict, record["choices"])
        record["parsed"] = letter
        record["score"] = float(letter == record["target"])

    def _credit(self, records: Sequence[dict[str, Any]]) -> None:
        """Credit each complete question once, on its first shift (sums over records stay exact)."""
        for members in _groups(records).values():
            complete = len(members) == records[members[0]]["n_rot"]
            right = complete and all(records[i]["score"] == 1.0 for i in members)
            for k, i in enumerate(members):
                records[i]["circular_n"] = float(complete and k == 0)
                records[i]["circular_correct"] = float(right and k == 0)

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Runs after the judge (``finalize``), so judged shifts count."""
        self._credit(records)

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        return list(_groups(records).values())

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        n = record.get("circular_n", 0.0)
        right = safe_div(record.get("circular_correct", 0.0), n) if n else 0.0
        out = group_stats(right, {"category": record.get("category"), "l2": record.get("l2")}, weight=n)
        first = float(record["rotation"] == 0)
        out["vanilla_n"] = first
        out["vanilla_correct"] = first * record["score"]
        return out

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out = group_accuracy(totals)
        out["accuracy_vanilla"] = 100 * safe_div(totals.get("vanilla_correct", 0.0), totals.get("vanilla_n", 0.0))
        return out


def _groups(records: Sequence[dict[str, Any]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[rec["group"]].append(i)
    return dict(groups)

