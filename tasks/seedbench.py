"""SEED-Bench (v1), image part: 4-option questions over 9 evaluation dimensions (arXiv 2307.16125).

Data under ``<root>/seedbench/``, any of:

- the original release: ``SEED-Bench.json`` (``{"questions": [{"question_id", "question",
  "choice_a", ..., "choice_d", "answer", "data_id", "data_type", "question_type_id"}, ...],
  "question_type": {"Scene Understanding": 1, ...}}``) with the images ``SEED-Bench-image/{data_id}``;
  only questions with ``data_type`` "image" (dimensions 1-9) are asked;
- the ``lmms-lab/SEED-Bench`` parquet files (``data/test-*.parquet``, the same fields, ``image`` a
  list of image structs), again filtered to ``data_type`` "image";
- VLMEvalKit's ``SEEDBench_IMG.tsv`` (``index``, ``question``, ``A``-``D``, ``answer``,
  ``category`` = the dimension's name, ``image`` as base64).

Sample id: ``question_id`` (``index`` for the TSV). Prompt as lmms-eval's: the question, the four
options "A. ..." on their own lines, "Answer with the option's letter from the given choices
directly." ``--scoring logits`` ranks the four option letters.

Metrics (percent), as the official ``eval.py``: ``accuracy`` = all correct / all questions
(headline) and ``dimension/<name>`` per evaluation dimension. Dimension names come from the JSON's
``question_type`` map when it has one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import field, read_json
from deem_eval.metrics.choice import choices_from_row, is_missing
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .multiple_choice import LetterChoiceTask, TableTask, checked_answer, checked_choices

DIMENSIONS = {
    1: "Scene Understanding", 2: "Instance Identity", 3: "Instance Attributes", 4: "Instance Location",
    5: "Instances Counting", 6: "Spatial Relation", 7: "Instance Interaction", 8: "Visual Reasoning",
    9: "Text Understanding",
}
JSON_NAME = "SEED-Bench.json"
IMAGE_DIR = "SEED-Bench-image"
FIELDS = ("question_id", "question", "choice_a", "choice_b", "choice_c", "choice_d", "answer",
          "data_id", "data_type", "question_type_id")
TSV_COLUMNS = ("index", "question", "A", "B", "C", "D", "answer", "category", "image")


@register_task("seedbench_img")
class SeedBenchImage(TableTask, LetterChoiceTask):
    """SEED-Bench image dimensions 1-9, accuracy per dimension and overall."""

    name = "seedbench_img"
    folder = "seedbench"
    expected = (JSON_NAME, IMAGE_DIR)
    tsv_names = ("SEEDBench_IMG.tsv",)
    parquet_globs = ("data/*.parquet", "*.parquet")
    source = ("AILab-CVC/SEED-Bench (SEED-Bench.json + SEED-Bench-image.zip), the lmms-lab/SEED-Bench "
              "parquet, or VLMEvalKit's SEEDBench_IMG.tsv")
    layout = (f"seedbench/{JSON_NAME} + seedbench/{IMAGE_DIR}/, seedbench/data/*.parquet with columns "
              + ", ".join(FIELDS) + ", image; or seedbench/SEEDBench_IMG.tsv")
    metrics = ("accuracy", "dimension/<evaluation dimension>")
    group_kinds = ("dimension",)

    @property
    def json_path(self) -> Path:
        return self.data_dir / JSON_NAME

    def source_files(self) -> list[Path]:
        if self.json_path.is_file():
            return [self.json_path]
        return super().source_files()

    def missing(self) -> list[str]:
        if self.json_path.is_file():  # the original release: the JSON and its image folder
            return [e for e in self.expected if not (self.data_dir / e).exists()]
        return super().missing()

    def samples(self) -> Iterator[Sample]:
        if self.json_path.is_file():
            yield from self._json_samples()
        elif self.tsv_path() is not None:
            yield from self._tsv_samples()
        else:
            yield from self._parquet_samples()

    # ---- the three layouts -------------------------------------------------------------------
    def _json_samples(self) -> Iterator[Sample]:
        path = self.json_path
        doc = read_json(path, expected=self.layout)
        if not isinstance(doc, dict) or not isinstance(doc.get("questions"), list):
            raise DataError(path, "has no 'questions' list", expected=self.layout)
        names = dict(DIMENSIONS)
        if isinstance(doc.get("question_type"), dict):
            names.update({v: k for k, v in doc["question_type"].items() if isinstance(v, int)})
        seen: set[str] = set()
        for i, q in enumerate(doc["questions"], 1):
            where = f"questions[{i - 1}]: "
            if not isinstance(q, dict):
                raise DataError(path, f"{where}not an object", expected=self.layout)
            for key in FIELDS:
                if key not in q:
                    raise DataError(path, f"{where}missing key {key!r}", expected=self.layout)
            if q["data_type"] != "image":
                continue
            data_id = field(q, "data_id", path, None, str)
            image = ImageRef(key=f"seedbench/{data_id}",
                             path=inside(self.data_dir / IMAGE_DIR, data_id, f"{where}data_id", path))
            yield self._sample(q, image, names, path, where, seen)
        if not seen:
            raise DataError(path, "holds no image questions", expected=self.layout)

    def _parquet_samples(self) -> Iterator[Sample]:
        seen: set[str] = set()
        for path, row_no, where, row in self.table_rows(FIELDS + ("image",)):
            if row["data_type"] != "image":
                continue
            image = self.row_image(row["image"], f"seedbench/{row['data_id']}", path, row_no)
            yield self._sample(row, image, DIMENSIONS, path, where, seen)
        if not seen:
            raise DataError(self.parquets()[0], "holds no image questions", expected=self.layout)

    def _tsv_samples(self) -> Iterator[Sample]:
        seen: set[str] = set()
        for path, row_no, where, row in self.table_rows(TSV_COLUMNS):
            choices = checked_choices(choices_from_row(row, "ABCD"), path, where)
            sid = self._new_id(row["index"], seen, path, where)
            yield Sample(
                id=sid, target=checked_answer(row["answer"], choices, path, where),
                image=self.row_image(row["image"], f"seedbench/{sid}", path, row_no),
                question=str(row["question"] or "").strip(), options=list(choices),
                meta={"choices": choices, "dimension": row["category"]},
            )
        if not seen:
            raise DataError(self.source_files()[0], "holds no questions", expected=self.layout)

    def _sample(self, q: dict[str, Any], image: ImageRef, names: dict[int, str], path: Path, where: str,
                seen: set[str]) -> Sample:
        choices = {c: str(q[f"choice_{c.lower()}"]).strip() for c in "ABCD" if not is_missing(q[f"choice_{c.lower()}"])}
        checked_choices(choices, path, where)
        try:
            dim = int(q["question_type_id"])
        except (TypeError, ValueError):
            raise DataError(path, f"{where}question_type_id {q['question_type_id']!r} is not an integer",
                            expected="1-9 for image questions") from None
        if dim not in names:
            raise DataError(path, f"{where}question_type_id {dim} names no evaluation dimension",
                            expected="1-9 for image questions")
        return Sample(
            id=self._new_id(q["question_id"], seen, path, where),
            target=checked_answer(q["answer"], choices, path, where),
            image=image, question=str(q["question"]).strip(), options=list(choices),
            meta={"choices": choices, "dimension": names[dim]},
        )

    @staticmethod
    def _new_id(value: Any, seen: set[str], path: Path, where: str) -> str:
        sid = "" if value is None else str(value).strip()
        if not sid or sid in seen:
            raise DataError(path, f"{where}id {value!r} is empty or repeated")
        seen.add(sid)
        return sid

