"""CHAIR: object hallucination in detailed image descriptions, on COCO val2014.

Data under ``<root>/chair/``: the COCO 2014 annotations ``annotations/instances_val2014.json``
(``categories: [{id, name}]``, ``annotations: [{image_id, category_id}]``) and
``annotations/captions_val2014.json`` (``images: [{id, file_name}]``, ``annotations: [{image_id,
caption}]``), and the images ``val2014/COCO_val2014_{id:012d}.jpg``. The evaluated images are those
of the captions file, by ascending id; ``--task-args chair.max_images=500`` keeps the first N
(CHAIR is usually reported on 500 val2014 images). An optional ``synonyms.txt`` in the same
format as the official ``data/synonyms.txt`` replaces the built-in COCO list (the built-in world
uses this for its own categories).

Ground truth of an image: its instance categories plus every category its reference captions
mention (read with the same rules as the model's caption). The model is asked for a detailed
description; metrics (percent, see ``deem_eval.metrics.chair``): ``CHAIR_s`` (headline, lower is
better), ``CHAIR_i`` (lower is better) and ``recall``. Each record's ``score`` is its caption's
CHAIR_i; ``mentioned`` and ``hallucinated`` list what was read from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.chair import (
    COUNT_KEYS,
    METRIC_NAMES,
    Vocabulary,
    caption_counts,
    caption_objects,
    chair_metrics,
    coco_vocabulary,
    parse_synonyms,
)
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample
from deem_eval.task import Task, TaskConfig

INSTANCES = "annotations/instances_val2014.json"
CAPTIONS = "annotations/captions_val2014.json"
INSTANCES_LAYOUT = "COCO instances: {categories: [{id, name}], annotations: [{image_id, category_id}]}"
CAPTIONS_LAYOUT = "COCO captions: {images: [{id, file_name}], annotations: [{image_id, caption}]}"


@dataclasses.dataclass
class ChairConfig(TaskConfig):
    max_images: int = 0  # evaluate the first N images by id (0: all of the captions file)
    max_new_tokens: int = 64  # length of the description (CHAIR grows with it)


def _list(doc: Any, key: str, path: Path, layout: str) -> list[Any]:
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise DataError(path, f"no list under {key!r}", expected=layout)
    return items


def _int(value: Any, path: Path, where: str, layout: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(path, f"{where} is not an integer", expected=layout)
    return value


@register_task("chair")
class Chair(Task):
    """CHAIR_s / CHAIR_i / recall of generated descriptions against COCO objects."""

    name = "chair"
    folder = "chair"
    expected = (INSTANCES, CAPTIONS, "val2014")
    source = ("cocodataset.org: annotations_trainval2014.zip (instances_val2014.json, captions_val2014.json) "
              "and val2014.zip; rules and synonyms of LisaAnne/Hallucination utils/chair.py")
    metrics = METRIC_NAMES
    headline = "CHAIR_s"
    output_type = "generate"
    prompt_template = "{image}Please describe this image in detail."
    Config = ChairConfig

    def __init__(self, data_root: Path, config: TaskConfig | None = None):
        super().__init__(data_root, config)
        self.max_new_tokens = self.config.max_new_tokens

    def vocabulary(self) -> Vocabulary:
        path = self.data_dir / "synonyms.txt"
        if not path.exists():
            return coco_vocabulary()
        try:
            groups = parse_synonyms(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(path, "not UTF-8 text") from exc
        if not groups:
            raise DataError(path, "holds no categories", expected="lines of 'category, synonym, ...'")
        return Vocabulary.from_synonyms(groups)

    def data_fingerprint(self) -> str:
        h = hashlib.sha256(super().data_fingerprint().encode())
        syn = self.data_dir / "synonyms.txt"
        if syn.is_file():
            h.update(syn.read_bytes())
        h.update(str(self.config.max_images).encode())
        return h.hexdigest()[:16]

    def samples(self) -> Iterator[Sample]:
        vocab = self.vocabulary()
        gt = self._instance_objects(vocab)
        c_path = self.data_dir / CAPTIONS
        doc = read_json(c_path, expected=CAPTIONS_LAYOUT)
        files: dict[int, str] = {}
        for i, im in enumerate(_list(doc, "images", c_path, CAPTIONS_LAYOUT)):
            where = f"images[{i}]"
            image_id = _int(im.get("id") if isinstance(im, dict) else None, c_path, f"{where} id", CAPTIONS_LAYOUT)
            if not isinstance(im.get("file_name"), str) or not im["file_name"]:
                raise DataError(c_path, f"{where} has no file_name", expected=CAPTIONS_LAYOUT)
            if image_id in files:
                raise DataError(c_path, f"{where}: duplicate image id {image_id}")
            files[image_id] = im["file_name"]
        if not files:
            raise DataError(c_path, "lists no images", expected=CAPTIONS_LAYOUT)
        for i, ann in enumerate(_list(doc, "annotations", c_path, CAPTIONS_LAYOUT)):
            where = f"annotations[{i}]"
            image_id = _int(ann.get("image_id") if isinstance(ann, dict) else None, c_path, f"{where} image_id",
                            CAPTIONS_LAYOUT)
            if not isinstance(ann.get("caption"), str):
                raise DataError(c_path, f"{where} has no string caption", expected=CAPTIONS_LAYOUT)
            if image_id not in files:
                raise DataError(c_path, f"{where}: image_id {image_id} is not in 'images'")
            gt[image_id].update(n for _, n in caption_objects(ann["caption"], vocab))
        ids = sorted(files)
        if self.config.max_images > 0:
            ids = ids[: self.config.max_images]
        for image_id in ids:
            name = files[image_id]
            yield Sample(id=str(image_id), target=sorted(gt[image_id]),
                         image=ImageRef(key=name, path=inside(self.data_dir / "val2014", name, "file_name", c_path)),
                         meta={"vocabulary": vocab})

    def _instance_objects(self, vocab: Vocabulary) -> defaultdict[int, set[str]]:
        path = self.data_dir / INSTANCES
        doc = read_json(path, expected=INSTANCES_LAYOUT)
        names: dict[int, str] = {}
        for i, cat in enumerate(_list(doc, "categories", path, INSTANCES_LAYOUT)):
            cat_id = _int(cat.get("id") if isinstance(cat, dict) else None, path, f"categories[{i}] id",
                          INSTANCES_LAYOUT)
            name = cat.get("name")
            if name not in vocab.node:
                raise DataError(path, f"categories[{i}] name {name!r} is not in the synonym list",
                                expected="a COCO category name (or a synonyms.txt naming it)")
            names[cat_id] = vocab.node[name]
        objects: defaultdict[int, set[str]] = defaultdict(set)
        for i, ann in enumerate(_list(doc, "annotations", path, INSTANCES_LAYOUT)):
            where = f"annotations[{i}]"
            if not isinstance(ann, dict):
                raise DataError(path, f"{where} is not an object", expected=INSTANCES_LAYOUT)
            image_id = _int(ann.get("image_id"), path, f"{where} image_id", INSTANCES_LAYOUT)
            cat_id = _int(ann.get("category_id"), path, f"{where} category_id", INSTANCES_LAYOUT)
            if cat_id not in names:
                raise DataError(path, f"{where}: category_id {cat_id} is not in 'categories'")
            objects[image_id].add(names[cat_id])
        return objects

    # ---- scoring -------------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        counts = caption_counts(prediction, sample.target, sample.meta["vocabulary"])
        chair_i = 100 * counts["hallucinated_mentions"] / counts["mentions"] if counts["mentions"] else 0.0
        return {"score": chair_i, **counts}

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {k: float(record[k]) for k in COUNT_KEYS}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return chair_metrics(totals)
