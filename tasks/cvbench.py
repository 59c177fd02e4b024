"""CV-Bench (Cambrian-1's vision-centric benchmark): 2D counting and spatial relation, 3D depth
order and relative distance, as multiple choice.

Data under ``<root>/cvbench/``, as the nyu-visionx/CV-Bench dataset repository ships it, either

- the raw annotations ``test_2d.jsonl`` + ``test_3d.jsonl`` (or the first release's single
  ``test.jsonl``) with the images in ``img/`` named by each row's ``filename``
  (``img/2D/count/coco_287.png``); or
- the parquet files ``test_2d.parquet`` + ``test_3d.parquet`` (or ``test.parquet``) that
  ``load_dataset("nyu-visionx/CV-Bench")`` and lmms-eval read, images embedded as {bytes, path}.

JSON Lines are used when present, else parquet. Rows carry ``idx``, ``type`` (2D/3D), ``task``
(Count, Relation, Depth, Distance), ``question``, ``choices``, ``answer`` like ``(C)``, ``prompt``
(the question with its lettered choices), ``source`` (ADE20K, COCO, Omni3D) and more fields
that scoring does not need. Sample id: ``idx``.

Prompt: the row's ``prompt`` followed by "Answer with the option's letter from the given choices
directly." as in the Cambrian evaluation. Responses are read with
``deem_eval.metrics.options.extract_option`` ("(B)", "B", "b) left", or the choice's text); an
unparsable response is wrong. Metrics: ``deem_eval.metrics.cvbench`` (headline ``overall``, the
dataset card's combined accuracy).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import field, files_fingerprint, iter_jsonl
from deem_eval.metrics.cvbench import METRIC_NAMES, SOURCES, cvbench_metrics, cvbench_stats
from deem_eval.metrics.options import extract_option
from deem_eval.parquet import image_ref, parquet_footer, parquet_rows
from deem_eval.registry import register_task
from deem_eval.samples import IMAGE_TOKEN, ImageRef, Sample
from deem_eval.task import Task

SPLIT_FILES = ("test_2d", "test_3d")
SINGLE_FILE = "test"
IMAGE_FOLDER = "img"
COLUMNS = ("idx", "type", "task", "question", "choices", "answer", "prompt", "source")
ANSWER = re.compile(r"^\s*\(?\s*([A-Za-z])\s*\)?\s*$")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ROW = (
    "idx, type (2D/3D), task, question, choices (a list), answer like '(A)', prompt, "
    "source (ADE20K, COCO or Omni3D)"
)


@register_task("cvbench")
class CVBench(Task):
    """CV-Bench multiple choice, scored per source and combined like the dataset card."""

    name = "cvbench"
    folder = "cvbench"
    expected = ("test_2d.jsonl", "test_3d.jsonl", IMAGE_FOLDER)
    source = (
        "nyu-visionx/CV-Bench on the Hugging Face Hub (test_2d/test_3d .jsonl + img/, "
        "or test_2d.parquet + test_3d.parquet / test.parquet)"
    )
    metrics = METRIC_NAMES
    headline = "overall"
    output_type = "options"
    prompt_template = "{image}{prompt}\nAnswer with the option's letter from the given choices directly."
    max_new_tokens = 16
    layout = (
        "cvbench/test_2d.jsonl + cvbench/test_3d.jsonl (or test.jsonl) with the images in cvbench/img/, "
        "or cvbench/test_2d.parquet + test_3d.parquet (or test.parquet)"
    )

    # ---- which files ---------------------------------------------------------------------
    def _files(self, ext: str) -> list[Path]:
        split = [self.data_dir / f"{s}.{ext}" for s in SPLIT_FILES]
        if any(p.is_file() for p in split):
            return [p for p in split if p.is_file()]
        single = self.data_dir / f"{SINGLE_FILE}.{ext}"
        return [single] if single.is_file() else []

    def _layout(self) -> tuple[str, list[Path]]:
        jsonl = self._files("jsonl")
        if jsonl:
            return "jsonl", jsonl
        parquet = self._files("parquet")
        return ("parquet", parquet) if parquet else ("none", [])

    def missing(self) -> list[str]:
        kind, files = self._layout()
        if kind == "parquet":
            return []
        if kind == "jsonl":
            return [] if (self.data_dir / IMAGE_FOLDER).is_dir() else [IMAGE_FOLDER]
        return super().missing()

    def data_fingerprint(self) -> str:
        kind, files = self._layout()
        img = self.data_dir / IMAGE_FOLDER
        if kind == "jsonl" and img.is_dir():
            files = [*files, *sorted(f for f in img.rglob("*") if f.is_file())]
        return files_fingerprint(self.data_dir, files, kind)

    def count(self) -> int:
        kind, files = self._layout()
        if kind == "parquet":
            return sum(parquet_footer(p, self.layout)[1] for p in files)
        return super().count()

    # ---- samples -------------------------------------------------------------------------
    def samples(self) -> Iterator[Sample]:
        kind, files = self._layout()
        if kind == "none":
            raise DataError(self.data_dir / "test_2d.jsonl", "not found", expected=self.layout)
        seen: set[str] = set()
        for path in files:
            rows = self._jsonl_rows(path) if kind == "jsonl" else self._parquet_rows(path)
            for where, row, image in rows:
                yield self._sample(path, where, row, image, seen)

    def _jsonl_rows(self, path: Path) -> Iterator[tuple[dict, dict[str, Any], ImageRef]]:
        for line, obj in iter_jsonl(path, expected="JSON Lines with " + ROW + ", filename"):
            name = field(obj, "filename", path, line, str)
            ref = ImageRef(key=name, path=inside(self.data_dir, name, "filename", path, line))
            yield {"line": line}, obj, ref

    def _parquet_rows(self, path: Path) -> Iterator[tuple[dict, dict[str, Any], ImageRef]]:
        for row_no, row in parquet_rows(path, (*COLUMNS, "image"), self.layout, optional=("filename",)):
            key = str(row.get("filename") or f"{path.stem}/{row['idx']}")
            yield {"row": row_no}, row, image_ref(row["image"], key, path, row_no, "image", self.data_dir)

    def _sample(self, path: Path, where: dict, row: dict[str, Any], image: ImageRef, seen: set[str]) -> Sample:
        line = where.get("line")
        prefix = f"row {where['row']}: " if "row" in where else ""

        def fail(msg: str, expected: str | None = None) -> DataError:
            return DataError(path, prefix + msg, line=line, expected=expected)

        for key in COLUMNS:
            if key not in row:
                raise fail(f"missing key {key!r}", expected=ROW)
        idx = row["idx"]
        if isinstance(idx, bool) or not isinstance(idx, int | str) or not str(idx).strip():
            raise fail(f"idx {idx!r} is not an integer or string")
        sid = str(idx).strip()
        if sid in seen:
            raise fail(f"duplicate idx {sid}")
        seen.add(sid)
        source = row["source"]
        if source not in SOURCES:
            raise fail(f"source {source!r} is unknown", expected=" or ".join(SOURCES))
        if row["type"] not in ("2D", "3D"):
            raise fail(f"type {row['type']!r} is not 2D or 3D")
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) < 2 or len(choices) > len(LETTERS):
            raise fail(f"choices {choices!r} is not a list of 2 or more answers")
        m = ANSWER.match(str(row["answer"]))
        letter = m.group(1).upper() if m else ""
        if not m or LETTERS.index(letter) >= len(choices):
            raise fail(f"answer {row['answer']!r} is not one of the {len(choices)} choices", expected="like '(A)'")
        for key in ("question", "prompt", "task"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise fail(f"{key} {row[key]!r} is not a non-empty string")
        letters = LETTERS[: len(choices)]
        return Sample(
            id=sid,
            target=f"({letter})",
            image=image,
            question=row["question"],
            options=[f"({c})" for c in letters],
            meta={
                "prompt": row["prompt"],
                "options": [(c.lower(), str(t)) for c, t in zip(letters, choices, strict=True)],
                "source": source,
                "task": row["task"],
                "type": row["type"],
            },
        )

    # ---- prompting and scoring -----------------------------------------------------------
    def prompt(self, sample: Sample) -> str:
        return self.prompt_template.format(image=IMAGE_TOKEN, prompt=sample.meta["prompt"])

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        letter = extract_option(prediction, sample.meta["options"])
        parsed = f"({letter.upper()})" if letter else None
        return {
            "score": float(parsed == sample.target),
            "parsed": parsed,
            "source": sample.meta["source"],
            "task": sample.meta["task"],
        }

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return cvbench_stats(record["source"], record["task"], record["score"] == 1.0)

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return cvbench_metrics(totals)
