"""MMVP: pairs of images that CLIP sees as alike but that differ in one visual detail.

Data: ``<root>/mmvp/Questions.csv`` (columns ``Index``, ``Question``, ``Options`` such as
``(a) Open (b) Closed``, ``Correct Answer`` such as ``(a)``) and ``<root>/mmvp/MMVP Images/``
holding ``{Index}.jpg`` (other image extensions in any case, e.g. ``7.JPG`` or ``7.png``, are
found too; two candidates for one index are an error naming both). Rows (1, 2), (3, 4), ... form
the pairs. Sample id: ``Index``.

Metrics (percent): ``accuracy`` per question and ``pair_accuracy`` (headline, the number the
MMVP paper reports): a pair counts only when both of its questions are right. Pairs with an
errored or missing member are left out of ``pair_accuracy``. Responses are read with
``deem_eval.metrics.options.extract_option``; an unparsable response is wrong.

Label errata: in the released 300-row file the answers of rows 99/100 and 279/280 are
swapped. When the file has exactly the 300 rows 1..300, those two pairs' answers are swapped
back by default; ``--task-args mmvp.original_labels=true`` scores against the file as is.
Files of any other size (e.g. the built-in world's) are always used as is.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import iter_csv
from deem_eval.metrics.options import extract_option, paired_accuracy_metrics, parse_options
from deem_eval.registry import register_task
from deem_eval.samples import IMAGE_TOKEN, ImageRef, Sample
from deem_eval.task import Task, TaskConfig

COLUMNS = ("Index", "Question", "Options", "Correct Answer")
IMAGE_FOLDER = "MMVP Images"
RELEASED_ROWS = 300
ERRATA_SWAPS = ((99, 100), (279, 280))
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")


@dataclasses.dataclass
class MMVPConfig(TaskConfig):
    original_labels: bool = False  # score against the released labels, errata included


@register_task("mmvp")
class MMVP(Task):
    """MMVP multiple choice, scored per question and per pair."""

    name = "mmvp"
    folder = "mmvp"
    expected = ("Questions.csv", IMAGE_FOLDER)
    source = "MMVP/MMVP on the Hugging Face Hub (Questions.csv and 'MMVP Images/')"
    metrics = ("accuracy", "pair_accuracy")
    headline = "pair_accuracy"
    chance = 25.0  # two independent guesses between two options, both right
    chance_metrics = {"accuracy": 50.0}
    output_type = "options"
    prompt_template = (
        "{image}{question}\n{options}\nAnswer with the option's letter from the given choices directly."
    )
    max_new_tokens = 16
    Config = MMVPConfig

    def prompt(self, sample: Sample) -> str:
        return self.prompt_template.format(
            image=IMAGE_TOKEN, question=sample.question, options=sample.meta["options_text"]
        )

    def _rows(self) -> list[dict[str, Any]]:
        path = self.data_dir / "Questions.csv"
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        for line, row in iter_csv(path, COLUMNS):
            try:
                index = int(row["Index"])
            except ValueError:
                raise DataError(path, f"Index {row['Index']!r} is not an integer", line=line) from None
            if index < 1 or index in seen:
                raise DataError(path, f"Index {index} is repeated or below 1", line=line)
            seen.add(index)
            options = parse_options(row["Options"])
            if len(options) < 2:
                raise DataError(
                    path,
                    f"cannot read options from {row['Options']!r}",
                    line=line,
                    expected="like '(a) Open (b) Closed'",
                )
            answer = parse_options(row["Correct Answer"])
            letter = answer[0][0] if answer else row["Correct Answer"].strip("() .").lower()
            if letter not in {k for k, _ in options}:
                raise DataError(
                    path, f"Correct Answer {row['Correct Answer']!r} is not one of the options", line=line
                )
            rows.append(
                {
                    "index": index,
                    "question": row["Question"],
                    "options": options,
                    "options_text": row["Options"],
                    "answer": letter,
                    "line": line,
                }
            )
        if not rows:
            raise DataError(path, "holds no questions", expected="CSV with columns " + ", ".join(COLUMNS))
        return rows

    def _apply_errata(self, rows: list[dict[str, Any]]) -> None:
        if self.config.original_labels or sorted(r["index"] for r in rows) != list(
            range(1, RELEASED_ROWS + 1)
        ):
            return
        by_index = {r["index"]: r for r in rows}
        for i, j in ERRATA_SWAPS:
            by_index[i]["answer"], by_index[j]["answer"] = by_index[j]["answer"], by_index[i]["answer"]

    def _image_names(self) -> dict[int, str]:
        """Index -> file name in the image folder; ``{Index}.jpg`` wins over other spellings."""
        folder = self.data_dir / IMAGE_FOLDER
        found: dict[int, list[str]] = defaultdict(list)
        if folder.is_dir():
            for f in folder.iterdir():
                stem, dot, ext = f.name.rpartition(".")
                if dot and stem.isdigit() and ext.lower() in IMAGE_EXTENSIONS:
                    found[int(stem)].append(f.name)
        names = {}
        for index, cands in found.items():
            if f"{index}.jpg" in cands:
                names[index] = f"{index}.jpg"
            elif len(cands) == 1:
                names[index] = cands[0]
            else:
                raise DataError(folder, f"several images for Index {index}: {sorted(cands)}",
                                expected=f"one image per Index, e.g. {index}.jpg")
        return names

    def samples(self) -> Iterator[Sample]:
        rows = self._rows()
        self._apply_errata(rows)
        csv_path = self.data_dir / "Questions.csv"
        names = self._image_names()
        for r in rows:
            name = names.get(r["index"], f"{r['index']}.jpg")  # a missing image is a per-sample error
            yield Sample(
                id=str(r["index"]),
                target=f"({r['answer']})",
                image=ImageRef(
                    key=name,
                    path=inside(self.data_dir, f"{IMAGE_FOLDER}/{name}", "image", csv_path, r["line"]),
                ),
                question=r["question"],
                options=[f"({k})" for k, _ in r["options"]],
                meta={
                    "pair": (r["index"] - 1) // 2,
                    "options": r["options"],
                    "options_text": r["options_text"],
                },
            )

    # ---- scoring -------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        letter = extract_option(prediction, sample.meta["options"])
        parsed = f"({letter})" if letter else None
        return {"score": float(parsed == sample.target), "parsed": parsed, "pair": sample.meta["pair"]}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Credit each complete pair once, on its first record (so sums over records stay exact)."""
        for members in _pairs(records).values():
            complete = len(members) == 2
            for k, i in enumerate(members):
                first = complete and k == 0
                records[i]["pair_n"] = float(first)
                records[i]["pair_correct"] = float(first and all(records[m]["score"] == 1.0 for m in members))

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        return list(_pairs(records).values())

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {
            "n": 1.0,
            "correct": float(record["score"]),
            "pairs": record.get("pair_n", 0.0),
            "pairs_correct": record.get("pair_correct", 0.0),
        }

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return paired_accuracy_metrics(totals)


def _pairs(records: Sequence[dict[str, Any]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[rec["pair"]].append(i)
    return dict(groups)
