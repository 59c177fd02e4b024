"""POPE (object hallucination): pope_random, pope_popular, pope_adversarial (group ``pope``).

Data under ``<root>/pope/``, either layout:

- the RUCAIBox files ``coco_pope_{random,popular,adversarial}.json`` — JSON Lines despite the
  extension: ``{"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": "Is there
  a snowboard in the image?", "label": "yes"}`` — with the COCO val2014 images in ``images/``;
- the Hugging Face POPE parquet files (``pope/*.parquet`` or ``pope/data/*.parquet``; columns
  ``question_id`` (string), ``question``, ``answer``, ``image_source``, ``image`` = {bytes,
  path}, ``category`` = the split name). Used when the JSON-Lines file of the split is absent.

Sample id: ``question_id`` as a string. Image key: the image file name (``image_source`` for
parquet), so each image is encoded once although POPE asks six questions about it.

Metrics (percent, positive class = yes): accuracy (headline), precision, recall, f1 and
yes_ratio = the share of *predicted* yes. Answers are parsed with the official POPE rule
(``deem_eval.metrics.yesno.parse_yes_no``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import field, files_fingerprint, iter_jsonl
from deem_eval.metrics.yesno import METRIC_NAMES, NO, YES, confusion, parse_yes_no, yes_no_metrics
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task

YES_NO_PROMPT = "Based on the image, please answer the question. {image}{question} Please answer yes or no."
YES_NO_PREFIX = "The answer is"
PARQUET_COLUMNS = ("question_id", "question", "answer", "image_source", "image", "category")


def yes_no_label(value: Any, path: Path, line: int | None, key: str) -> str:
    """A ground-truth label normalised to "yes"/"no"; anything else is a located DataError."""
    label = str(value).strip().lower()
    if label not in (YES, NO):
        raise DataError(path, f"{key} {value!r} is not yes/no", line=line, expected='"yes" or "no"')
    return label


class YesNoTask(Task):
    """Yes/no questions with the paper's evaluation prompt and the official POPE parser."""

    output_type = "yesno"
    prompt_template = YES_NO_PROMPT
    answer_prefix = YES_NO_PREFIX
    max_new_tokens = 16
    metrics = METRIC_NAMES
    headline = "accuracy"
    chance = 50.0  # a coin flip; POPE and RobustVQA ask as many yes as no questions

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        parsed = parse_yes_no(prediction)
        return {"score": float(parsed == sample.target), "parsed": parsed}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return confusion(record["parsed"], record["target"])

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return yes_no_metrics(totals)


class PopeTask(YesNoTask):
    split: ClassVar[str] = ""
    folder = "pope"
    source = (
        "RUCAIBox/POPE output/coco/coco_pope_*.json + COCO val2014 images (cocodataset.org), "
        "or the lmms-lab/POPE parquet files from the Hugging Face Hub"
    )

    @property
    def jsonl_path(self) -> Path:
        return self.data_dir / f"coco_pope_{self.split}.json"

    @property
    def layout(self) -> str:
        return (
            f"pope/coco_pope_{self.split}.json (JSON Lines with question_id, image, text, label) and "
            "the images in pope/images/, or Hugging Face POPE parquet files in pope/ or pope/data/"
        )

    def parquet_files(self) -> list[Path]:
        if not self.data_dir.is_dir():
            return []
        return sorted(self.data_dir.glob("*.parquet")) + sorted(self.data_dir.glob("data/*.parquet"))

    def uses_parquet(self) -> bool:
        return not self.jsonl_path.exists() and bool(self.parquet_files())

    def missing(self) -> list[str]:
        return [] if self.uses_parquet() else super().missing()

    def data_fingerprint(self) -> str:
        if not self.uses_parquet():
            return super().data_fingerprint()
        return files_fingerprint(self.data_dir, self.parquet_files(), self.split)

    def samples(self) -> Iterator[Sample]:
        if self.uses_parquet():
            yield from self._parquet_samples()
            return
        if not self.jsonl_path.exists():
            raise DataError(self.jsonl_path, "not found", expected=self.layout)
        yield from self._jsonl_samples()

    def _jsonl_samples(self) -> Iterator[Sample]:
        path, images = self.jsonl_path, self.data_dir / "images"
        seen: set[str] = set()
        for line, obj in iter_jsonl(path, expected="JSON Lines with question_id, image, text, label"):
            qid = str(field(obj, "question_id", path, line, (int, str)))
            if qid in seen:
                raise DataError(path, f"duplicate question_id {qid}", line=line)
            seen.add(qid)
            name = field(obj, "image", path, line, str)
            yield Sample(
                id=qid,
                target=yes_no_label(field(obj, "label", path, line, str), path, line, "label"),
                image=ImageRef(key=name, path=inside(images, name, "image", path, line)),
                question=field(obj, "text", path, line, str),
                options=[YES, NO],
            )
        if not seen:
            raise DataError(path, "holds no questions", expected="JSON Lines with question_id, image, text, label")

    def _parquet_samples(self) -> Iterator[Sample]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        seen: set[str] = set()
        for path in self.parquet_files():
            try:
                yield from self._parquet_file_samples(pq.ParquetFile(path), path, seen)
            except pa.ArrowException as exc:
                raise DataError(path, f"not a readable parquet file ({exc})", expected=self.layout) from exc

    def _parquet_file_samples(self, pf: Any, path: Path, seen: set[str]) -> Iterator[Sample]:
        last_key, last_bytes = None, None
        absent = [c for c in PARQUET_COLUMNS if c not in pf.schema_arrow.names]
        if absent:
            raise DataError(path, f"lacks column(s) {', '.join(absent)}", expected=self.layout)
        row_no = 0
        for batch in pf.iter_batches(batch_size=64, columns=list(PARQUET_COLUMNS)):
            for row in batch.to_pylist():
                row_no += 1
                if row["category"] != self.split:
                    continue
                where = f"row {row_no}: "
                qid = str(row["question_id"])
                if qid in seen:
                    raise DataError(path, f"{where}duplicate question_id {qid} in split {self.split}")
                seen.add(qid)
                key = str(row["image_source"])
                image = row["image"] or {}
                if image.get("bytes"):
                    # Consecutive questions about one image share one bytes object (flat memory).
                    if key != last_key:
                        last_key, last_bytes = key, image["bytes"]
                    ref = ImageRef(key=key, data=last_bytes)
                elif image.get("path"):
                    ref = ImageRef(
                        key=key, path=inside(self.data_dir / "images", image["path"], "image path", path)
                    )
                else:
                    raise DataError(
                        path, f"{where}image has neither bytes nor path", expected=self.layout
                    )
                yield Sample(
                    id=qid,
                    target=yes_no_label(row["answer"], path, None, f"{where}answer"),
                    image=ref,
                    question=str(row["question"]),
                    options=[YES, NO],
                )


@register_task("pope_random", group="pope")
class PopeRandom(PopeTask):
    """POPE, negatives sampled at random."""

    name = "pope_random"
    split = "random"
    expected = ("coco_pope_random.json", "images")


@register_task("pope_popular", group="pope")
class PopePopular(PopeTask):
    """POPE, negatives among the most frequent COCO objects."""

    name = "pope_popular"
    split = "popular"
    expected = ("coco_pope_popular.json", "images")


@register_task("pope_adversarial", group="pope")
class PopeAdversarial(PopeTask):
    """POPE, negatives among objects that co-occur with the image's objects."""

    name = "pope_adversarial"
    split = "adversarial"
    expected = ("coco_pope_adversarial.json", "images")
