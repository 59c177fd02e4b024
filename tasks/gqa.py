"""``gqa``: GQA testdev-balanced, compositional questions scored like LLaVA's GQA evaluation.

Data under ``<root>/gqa/``, either layout:

- the GQA release: ``testdev_balanced_questions.json``, a dict question id -> ``{imageId,
  question, answer, fullAnswer, isBalanced, types: {structural, semantic, detailed}, groups,
  semantic, semanticStr, annotations, entailed, equivalent}``, with the images at
  ``images/{imageId}.jpg``;
- the Hugging Face copy lmms-eval reads (lmms-lab/GQA): ``testdev_balanced_instructions/*.parquet``
  (the same fields as columns, the question id in ``id``) and ``testdev_balanced_images/*.parquet``
  (``id``, ``image`` = {bytes, path}). Used when the JSON file is absent.

Only balanced questions count (``isBalanced``), as in GQA's ``eval.py``. Sample id: the
question id. Scoring: :mod:`deem_eval.metrics.gqa` (exact match after ``rstrip(".").lower()``;
accuracy overall, binary/open, per structural and per semantic type).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import files_fingerprint, read_json
from deem_eval.metrics.gqa import (
    SEMANTIC,
    STRUCTURAL,
    gqa_metrics,
    is_correct,
    normalise_prediction,
    question_stats,
)
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task

QUESTIONS = "testdev_balanced_questions.json"
INSTRUCTIONS_DIR, IMAGES_DIR = "testdev_balanced_instructions", "testdev_balanced_images"
LAYOUT = (
    f"gqa/{QUESTIONS} = {{question id: {{imageId, question, answer, isBalanced, types: {{structural, semantic, "
    "detailed}, ...}}}} with images at gqa/images/{imageId}.jpg, or the lmms-lab/GQA parquet folders "
    f"gqa/{INSTRUCTIONS_DIR}/ and gqa/{IMAGES_DIR}/"
)
PARQUET_COLUMNS = ("id", "imageId", "question", "answer", "isBalanced", "types")


@register_task("gqa")
class GQATask(Task):
    """GQA testdev-balanced: exact match after LLaVA's answer conversion, per question type."""

    name = "gqa"
    folder = "gqa"
    expected = (QUESTIONS, "images")
    source = (
        "gqadataset.org questions1.2 testdev_balanced_questions.json + the GQA images under images/, "
        "or the lmms-lab/GQA parquet files (testdev_balanced_instructions/, testdev_balanced_images/)"
    )
    metrics = ("accuracy", "binary", "open", *(f"structural_{t}" for t in STRUCTURAL),
               *(f"semantic_{t}" for t in SEMANTIC))
    headline = "accuracy"
    output_type = "generate"
    prompt_template = "{image}{question}\nAnswer the question using a single word or phrase."
    max_new_tokens = 16

    # ---- which layout ---------------------------------------------------------------------
    def _parquet(self, sub: str) -> list[Path]:
        d = self.data_dir / sub
        return sorted(d.glob("*.parquet")) if d.is_dir() else []

    def uses_parquet(self) -> bool:
        return not (self.data_dir / QUESTIONS).exists() and bool(self._parquet(INSTRUCTIONS_DIR))

    def missing(self) -> list[str]:
        if not self.uses_parquet():
            return super().missing()
        return [] if self._parquet(IMAGES_DIR) else [f"{IMAGES_DIR}/*.parquet"]

    def data_fingerprint(self) -> str:
        if not self.uses_parquet():
            return super().data_fingerprint()
        return files_fingerprint(self.data_dir, self._parquet(INSTRUCTIONS_DIR) + self._parquet(IMAGES_DIR),
                                 "gqa-parquet")

    # ---- samples ----------------------------------------------------------------------------
    def samples(self) -> Iterator[Sample]:
        if self.uses_parquet():
            yield from self._parquet_samples()
            return
        path = self.data_dir / QUESTIONS
        doc = read_json(path, expected=LAYOUT)
        if not isinstance(doc, dict):
            raise DataError(path, "is not an object keyed by question id", expected=LAYOUT)
        n = 0
        for qid, q in doc.items():
            sample = self._sample(str(qid), q, path, f"question {qid}", None)
            if sample is not None:
                n += 1
                yield sample
        if n == 0:
            raise DataError(path, "holds no balanced questions", expected=LAYOUT)

    def _sample(self, qid: str, q: Any, path: Path, where: str, image: ImageRef | None) -> Sample | None:
        if not isinstance(q, dict):
            raise DataError(path, f"{where} is not an object", expected=LAYOUT)
        for key in ("imageId", "question", "answer"):
            if not isinstance(q.get(key), str):
                raise DataError(path, f"{where}: {key!r} must be a string", expected=LAYOUT)
        types = q.get("types")
        if not isinstance(types, dict) or not all(isinstance(types.get(k), str) for k in ("structural", "semantic")):
            raise DataError(path, f"{where}: 'types' needs string 'structural' and 'semantic'", expected=LAYOUT)
        if not isinstance(q.get("isBalanced"), bool):
            raise DataError(path, f"{where}: 'isBalanced' must be true or false", expected=LAYOUT)
        if not q["isBalanced"]:
            return None
        if image is None:
            name = f"{q['imageId']}.jpg"
            image = ImageRef(key=f"gqa/{name}", path=inside(self.data_dir / "images", name, "image", path))
        return Sample(
            id=qid, target=q["answer"], image=image, question=q["question"],
            meta={"structural": types["structural"], "semantic": types["semantic"],
                  "detailed": types.get("detailed"), "imageId": q["imageId"]},
        )

    def _parquet_samples(self) -> Iterator[Sample]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        images: dict[str, bytes] = {}
        for path in self._parquet(IMAGES_DIR):
            try:
                table = pq.read_table(path, columns=["id", "image"])
            except (pa.ArrowException, KeyError) as exc:
                raise DataError(path, f"not a readable parquet file with columns id, image ({exc})",
                                expected=LAYOUT) from exc
            for row in table.to_pylist():
                data = (row["image"] or {}).get("bytes")
                if data:
                    images[str(row["id"])] = data
        seen: set[str] = set()
        for path in self._parquet(INSTRUCTIONS_DIR):
            try:
                pf = pq.ParquetFile(path)
                absent = [c for c in PARQUET_COLUMNS if c not in pf.schema_arrow.names]
                if absent:
                    raise DataError(path, f"lacks column(s) {', '.join(absent)}", expected=LAYOUT)
                row_no = 0
                for batch in pf.iter_batches(batch_size=256, columns=list(PARQUET_COLUMNS)):
                    for row in batch.to_pylist():
                        row_no += 1
                        qid = str(row["id"])
                        if qid in seen:
                            raise DataError(path, f"row {row_no}: duplicate id {qid}")
                        seen.add(qid)
                        image_id = str(row["imageId"])
                        data = images.get(image_id)
                        if data is None:
                            raise DataError(path, f"row {row_no}: no image {image_id!r} in {IMAGES_DIR}/",
                                            expected=LAYOUT)
                        sample = self._sample(qid, row, path, f"row {row_no}",
                                              ImageRef(key=f"gqa/{image_id}", data=data))
                        if sample is not None:
                            yield sample
            except pa.ArrowException as exc:
                raise DataError(path, f"not a readable parquet file ({exc})", expected=LAYOUT) from exc
        if not seen:
            raise DataError(self.data_dir / INSTRUCTIONS_DIR, "holds no questions", expected=LAYOUT)

    # ---- scoring ------------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        correct = is_correct(prediction, sample.target)
        return {"score": float(correct), "parsed": normalise_prediction(prediction),
                "structural": sample.meta["structural"], "semantic": sample.meta["semantic"]}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return question_stats(bool(record["score"]), record["structural"], record["semantic"])

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return gqa_metrics(totals)
