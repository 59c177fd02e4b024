"""``fid_lncoco``: text-to-image generation from Localized Narratives (COCO val), scored like ``fid_coco``.

Data under ``<root>/fid_lncoco/``: the Localized Narratives COCO val file, one narrative per line,
either the captions-only ``coco_val_captions.jsonl`` or the full
``coco_val_localized_narratives.jsonl`` (``{"dataset_id", "image_id", "annotator_id", "caption",
...}``, ``image_id`` a string), and the COCO reference images under ``images/`` named
``COCO_val2014_{image_id:012d}.jpg`` or ``{image_id:012d}.jpg`` (the 2017 name). An image
narrated by several annotators gives one sample, from its first line; the sample id is the
image id. Generation, extractor choice (FID with local Inception weights, else a labelled
Fréchet distance), CLIP score and the bootstrap are those of :mod:`tasks.fid`.
"""

from __future__ import annotations

from collections.abc import Iterator

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import field, files_fingerprint, iter_jsonl
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .fid import FidCocoTask

CAPTION_FILES = ("coco_val_captions.jsonl", "coco_val_localized_narratives.jsonl")
LINE_LAYOUT = 'one JSON object per line: {"dataset_id", "image_id": str, "annotator_id": int, "caption": str, ...}'


@register_task("fid_lncoco")
class FidLnCocoTask(FidCocoTask):
    """Narrative-conditioned image generation; FID (or a labelled Fréchet distance) to the COCO images."""

    name = "fid_lncoco"
    folder = "fid_lncoco"
    expected = ("coco_val_captions.jsonl", "images")
    source = (
        "google.github.io/localized-narratives: coco_val_captions.jsonl (or coco_val_localized_narratives.jsonl) "
        "+ the COCO val images (cocodataset.org) under images/"
    )

    @property
    def captions_path(self):
        for name in CAPTION_FILES:
            if (self.data_dir / name).is_file():
                return self.data_dir / name
        return self.data_dir / CAPTION_FILES[0]

    def missing(self) -> list[str]:
        out = [] if self.captions_path.is_file() else [" or ".join(CAPTION_FILES)]
        return out + ([] if (self.data_dir / "images").is_dir() else ["images"])

    def data_fingerprint(self) -> str:
        p = self.captions_path
        return files_fingerprint(self.data_dir, [p] if p.is_file() else [], salt=super().data_fingerprint())

    def samples(self) -> Iterator[Sample]:
        path = self.captions_path
        image_root = self.data_dir / "images"
        seen: set[str] = set()
        for line, obj in iter_jsonl(path, expected=LINE_LAYOUT):
            raw_id = field(obj, "image_id", path, line, (str, int))
            caption = field(obj, "caption", path, line, str)
            image_id = str(raw_id).strip()
            if not image_id.isdigit():
                raise DataError(path, f"image_id {raw_id!r} is not a COCO image id", line=line, expected=LINE_LAYOUT)
            if image_id in seen:
                continue
            text = " ".join(caption.split())
            if not text:
                raise DataError(path, "empty caption", line=line, expected=LINE_LAYOUT)
            seen.add(image_id)
            name = self._image_name(int(image_id))
            yield Sample(
                id=image_id,
                target=name,
                image=ImageRef(key=f"fid_lncoco/{name}", path=inside(image_root, name, "image", path, line)),
                question=text,
                meta={"annotator_id": obj.get("annotator_id"), "dataset_id": obj.get("dataset_id")},
            )
        if not seen:
            raise DataError(path, "holds no narratives", expected=LINE_LAYOUT)

    def _image_name(self, image_id: int) -> str:
        v2014 = f"COCO_val2014_{image_id:012d}.jpg"
        v2017 = f"{image_id:012d}.jpg"
        if not (self.data_dir / "images" / v2014).exists() and (self.data_dir / "images" / v2017).exists():
            return v2017
        return v2014
