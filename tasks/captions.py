"""Caption tasks scored with the COCO caption metrics; ``coco_caption`` on the Karpathy test split.

Scoring is corpus-level: ``prepare`` tokenises every reference and prediction once, runs the
pycocoevalcap scorers once, and stores per-item values on each record (``score`` is the
item's CIDEr-D ×100). Reported metrics are the scorers' corpus values ×100.

Confidence intervals resample images. CIDEr and ROUGE_L are means of per-image values and
BLEU-1..4 are recomputed exactly from resampled n-gram statistics; CIDEr's document
frequencies stay those of the full evaluated set (they are not recomputed per resample).
METEOR's corpus value is the Java scorer's aggregate, which cannot be recombined from its
outputs, so its interval is a bootstrap of the mean per-image METEOR.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.bootstrap import safe_div
from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.captions import (
    BLEU_STAT_KEYS,
    METRIC_NAMES,
    bleu_from_stats,
    require_java,
    score_captions,
)
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task, TaskConfig

_ITEM_KEYS = ("cider", "meteor", "rouge_l")


class CaptionTask(Task):
    """Base for tasks whose target is a list of reference captions and whose output is one caption."""

    metrics = METRIC_NAMES
    headline = "CIDEr"
    output_type = "generate"
    max_new_tokens = 30

    def __init__(self, data_root: Path, config: TaskConfig | None = None):
        super().__init__(data_root, config)
        self._corpus: dict[str, float] = {}
        self._corpus_ids: tuple[str, ...] = ()

    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        """Caption metrics are corpus-level: per-item values are filled in by ``prepare``."""
        return {"score": None}

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Score all records in one pass (one PTB tokenisation, one run of each scorer)."""
        self._corpus, self._corpus_ids = {}, ()
        if not records:
            return
        refs = [list(r["_sample"].target) for r in records]
        preds = [r.get("prediction") or "" for r in records]
        result = score_captions(refs, preds)
        for rec, item in zip(records, result.items, strict=True):
            rec["_caption_stats"] = item
            rec["cider"] = round(100 * item["cider"], 4)
            rec["meteor"] = round(100 * item["meteor"], 4)
            rec["rouge_l"] = round(100 * item["rouge_l"], 4)
            rec["bleu_4"] = round(100 * item["bleu_4"], 4)
            rec["score"] = rec["cider"]
        self._corpus = {k: 100 * v for k, v in result.corpus.items()}
        self._corpus_ids = tuple(str(r["id"]) for r in records)

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        item = record["_caption_stats"]
        out = {"n": 1.0}
        out.update({k: item[k] for k in _ITEM_KEYS})
        out.update({k: item[k] for k in BLEU_STAT_KEYS})
        return out

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: 100 * v for k, v in bleu_from_stats(totals).items()}
        out["METEOR"] = 100 * safe_div(totals["meteor"], totals["n"])
        out["ROUGE_L"] = 100 * safe_div(totals["rouge_l"], totals["n"])
        out["CIDEr"] = 100 * safe_div(totals["cider"], totals["n"])
        return out

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """The scorers' own corpus values (METEOR's aggregate differs from the mean of items)."""
        metrics = super().aggregate(records)
        if self._corpus and self._corpus_ids == tuple(str(r["id"]) for r in records):
            metrics.update(self._corpus)
        return {k: metrics[k] for k in METRIC_NAMES}


def reference_sentences(obj: dict[str, Any], key: str, path: Path, where: str) -> list[str]:
    """The ``key`` strings of ``obj["sentences"]`` (Karpathy ``raw``, RefCOCOg ``sent``), checked."""
    sents = obj.get("sentences")
    if not isinstance(sents, list) or not sents:
        raise DataError(path, f"{where}: 'sentences' must be a non-empty list", expected="sentences: [{raw, ...}]")
    out = []
    for j, s in enumerate(sents):
        if not isinstance(s, dict) or not isinstance(s.get(key), str):
            raise DataError(path, f"{where}: sentences[{j}] has no string {key!r}", expected=f"sentences: [{{{key}, ...}}]")
        out.append(s[key])
    return out


@dataclasses.dataclass
class CocoCaptionConfig(TaskConfig):
    split: str = "test"  # Karpathy split to evaluate (train, restval, val, test)


@register_task("coco_caption")
class CocoCaptionTask(CaptionTask):
    """COCO captions on the Karpathy split; references are each image's ``raw`` sentences."""

    name = "coco_caption"
    folder = "coco_caption"
    expected = ("dataset_coco.json", "images")
    source = (
        "Karpathy split file dataset_coco.json (cs.stanford.edu/people/karpathy/deepimagesent) "
        "+ COCO 2014 train/val images under images/{filepath}/ (cocodataset.org)"
    )
    prompt_template = "{image}Describe this image in one sentence."
    Config = CocoCaptionConfig

    LAYOUT = (
        'coco_caption/dataset_coco.json = {"images": [{"filepath", "filename", "cocoid", "split", '
        '"sentences": [{"raw", ...}]}]} with images at coco_caption/images/{filepath}/{filename}'
    )

    def samples(self) -> Iterator[Sample]:
        require_java()  # fail before any generation, not after it
        path = self.data_dir / "dataset_coco.json"
        doc = read_json(path, expected=self.LAYOUT)
        images = doc.get("images") if isinstance(doc, dict) else None
        if not isinstance(images, list):
            raise DataError(path, "no 'images' list at the top level", expected=self.LAYOUT)
        split = self.config.split
        seen: set[str] = set()
        image_root = self.data_dir / "images"
        splits: set[str] = set()
        for i, img in enumerate(images):
            where = f"images[{i}]"
            if not isinstance(img, dict):
                raise DataError(path, f"{where} is not an object", expected=self.LAYOUT)
            splits.add(str(img.get("split")))
            if img.get("split") != split:
                continue
            cocoid, filepath, filename = img.get("cocoid"), img.get("filepath"), img.get("filename")
            if not isinstance(cocoid, int) or isinstance(cocoid, bool):
                raise DataError(path, f"{where}: 'cocoid' must be an integer", expected=self.LAYOUT)
            if not isinstance(filepath, str) or not isinstance(filename, str) or not filename:
                raise DataError(path, f"{where}: 'filepath' and 'filename' must be strings", expected=self.LAYOUT)
            sid = str(cocoid)
            if sid in seen:
                raise DataError(path, f"{where}: duplicate cocoid {cocoid}")
            seen.add(sid)
            rel = f"{filepath}/{filename}" if filepath else filename
            image_path = inside(image_root, rel, "image path", path)
            yield Sample(
                id=sid,
                target=reference_sentences(img, "raw", path, where),
                image=ImageRef(key=f"coco_caption/{rel}", path=image_path),
                meta={"imgid": img.get("imgid")},
            )
        if not seen:
            raise DataError(path, f"no images in split {split!r} (splits present: {', '.join(sorted(splits)) or 'none'})",
                            expected=self.LAYOUT)
