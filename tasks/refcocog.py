"""``refcocog``: region captioning on RefCOCOg (UMD split), scored with the COCO caption metrics.

:class:`ReferTask` reads any dataset of the refer toolkit (``refs(<split_by>).p`` + COCO
``instances.json``); ``refcocog`` and ``tasks/refcoco.py``'s ``refcoco`` / ``refcoco_plus``
differ only in folder, pickle name and splits. Each ref names one COCO annotation; the model describes that object and its caption is
scored against the ref's ``sent`` strings. The region travels on ``Sample.region`` (the
annotation's box and polygons): adapters with mask support receive it as a binary mask
(``Request.mask``); for the others the runner calls :meth:`RefCocogTask.render_region` to
draw the box on the image. The refs pickle is untrusted and is read with the restricted
unpickler of :mod:`deem_eval.safe_pickle`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.captions import require_java
from deem_eval.registry import register_task
from deem_eval.safe_pickle import load_plain
from deem_eval.samples import ImageRef, Region, Sample
from deem_eval.task import TaskConfig

from .captions import CaptionTask, reference_sentences

REFS_LAYOUT = (
    "a pickled list of refs {ref_id, ann_id, image_id, category_id, split, sentences: [{raw, sent, ...}]}"
)
INSTANCES_LAYOUT = (
    'instances.json in COCO format: {"images": [{id, file_name, ...}], '
    '"annotations": [{id, image_id, bbox: [x, y, w, h], segmentation: [[x1, y1, ...]], ...}]}'
)
BOX_COLOUR = (255, 0, 0)


@dataclasses.dataclass
class RefCocogConfig(TaskConfig):
    split: str = "val"  # UMD split to evaluate (train, val, test)


def _int(obj: dict[str, Any], key: str, path: Path, where: str, expected: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(path, f"{where}: {key!r} must be an integer", expected=expected)
    return value


class ReferTask(CaptionTask):
    """A refer-toolkit dataset: describe the referred object; BLEU, METEOR, ROUGE_L, CIDEr-D against ``sent``."""

    refs_file: ClassVar[str] = ""  # refs(umd).p, refs(unc).p, ...
    prompt_template = "{image}Describe the object in the marked region."

    def samples(self) -> Iterator[Sample]:
        require_java()
        refs_path = self.data_dir / self.refs_file
        inst_path = self.data_dir / "instances.json"
        refs = load_plain(refs_path)
        if not isinstance(refs, list):
            raise DataError(refs_path, f"holds a {type(refs).__name__}, not a list of refs", expected=REFS_LAYOUT)
        images, anns = self._instances(inst_path)
        image_root = self.data_dir / "images"
        seen: set[str] = set()
        splits: set[str] = set()
        for i, ref in enumerate(refs):
            where = f"ref #{i}"
            if not isinstance(ref, dict):
                raise DataError(refs_path, f"{where} is not a dict", expected=REFS_LAYOUT)
            splits.add(str(ref.get("split")))
            if ref.get("split") != self.config.split:
                continue
            ref_id = _int(ref, "ref_id", refs_path, where, REFS_LAYOUT)
            ann_id = _int(ref, "ann_id", refs_path, where, REFS_LAYOUT)
            image_id = _int(ref, "image_id", refs_path, where, REFS_LAYOUT)
            sid = str(ref_id)
            if sid in seen:
                raise DataError(refs_path, f"{where}: duplicate ref_id {ref_id}")
            seen.add(sid)
            ann = anns.get(ann_id)
            if ann is None:
                raise DataError(inst_path, f"no annotation with id {ann_id} (named by ref_id {ref_id})",
                                expected=INSTANCES_LAYOUT)
            if ann["image_id"] != image_id:
                raise DataError(refs_path, f"{where}: image_id {image_id} but annotation {ann_id} is on image "
                                f"{ann['image_id']}")
            file_name = images.get(image_id)
            if file_name is None:
                raise DataError(inst_path, f"no image with id {image_id} (named by ref_id {ref_id})",
                                expected=INSTANCES_LAYOUT)
            yield Sample(
                id=sid,
                target=reference_sentences(ref, "sent", refs_path, where),
                image=ImageRef(key=f"{self.folder}/{file_name}", path=inside(image_root, file_name, "image", inst_path)),
                region=self._region(ann, inst_path),
                meta={"ann_id": ann_id, "image_id": image_id, "category_id": ref.get("category_id")},
            )
        if not seen:
            present = ", ".join(sorted(splits)) or "none"
            raise DataError(refs_path, f"no refs in split {self.config.split!r} (splits present: {present})",
                            expected=REFS_LAYOUT)

    @staticmethod
    def _instances(path: Path) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
        """image id -> file name, annotation id -> annotation, with the fields used checked."""
        doc = read_json(path, expected=INSTANCES_LAYOUT)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
                or not isinstance(doc.get("annotations"), list):
            raise DataError(path, "needs top-level 'images' and 'annotations' lists", expected=INSTANCES_LAYOUT)
        images: dict[int, str] = {}
        for i, img in enumerate(doc["images"]):
            where = f"images[{i}]"
            if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
                raise DataError(path, f"{where} lacks a string 'file_name'", expected=INSTANCES_LAYOUT)
            images[_int(img, "id", path, where, INSTANCES_LAYOUT)] = img["file_name"]
        anns: dict[int, dict[str, Any]] = {}
        for i, ann in enumerate(doc["annotations"]):
            where = f"annotations[{i}]"
            if not isinstance(ann, dict):
                raise DataError(path, f"{where} is not an object", expected=INSTANCES_LAYOUT)
            _int(ann, "image_id", path, where, INSTANCES_LAYOUT)
            anns[_int(ann, "id", path, where, INSTANCES_LAYOUT)] = ann
        return images, anns

    @staticmethod
    def _region(ann: dict[str, Any], path: Path) -> Region:
        """The annotation's box and polygons (an RLE segmentation leaves the box as the mask)."""
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DataError(path, f"annotation {ann.get('id')}: 'bbox' must be [x, y, w, h]", expected=INSTANCES_LAYOUT)
        seg = ann.get("segmentation")
        polygons: list[list[float]] = []
        if isinstance(seg, list):
            for poly in seg:
                if not (isinstance(poly, list) and all(isinstance(v, (int, float)) for v in poly)):
                    raise DataError(path, f"annotation {ann.get('id')}: polygons must be lists of numbers",
                                    expected=INSTANCES_LAYOUT)
                polygons.append([float(v) for v in poly])
        return Region(bbox=(float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])), polygons=polygons)

    def render_region(self, image: Any, region: Region) -> Any:
        """A copy of ``image`` with the region's box drawn as a red outline (for adapters without masks)."""
        from PIL import ImageDraw

        out = image.convert("RGB").copy()
        x, y, w, h = region.bbox
        width = max(2, round(0.005 * max(out.size)))
        right, bottom = min(x + w, out.width - 1), min(y + h, out.height - 1)
        ImageDraw.Draw(out).rectangle([x, y, max(x, right), max(y, bottom)], outline=BOX_COLOUR, width=width)
        return out


@register_task("refcocog")
class RefCocogTask(ReferTask):
    """RefCOCOg val (UMD split)."""

    name = "refcocog"
    folder = "refcocog"
    refs_file = "refs(umd).p"
    expected = (refs_file, "instances.json", "images")
    source = (
        "refcocog.zip from the refer toolkit (github.com/lichengunc/refer): refs(umd).p and "
        "instances.json; COCO train2014 images under images/ (cocodataset.org)"
    )
    Config = RefCocogConfig
