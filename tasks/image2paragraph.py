"""``image2paragraph``: Stanford image paragraphs (Krause et al. 2017), test split, COCO caption metrics.

Data under ``<root>/image2paragraph/``: ``paragraphs_v1.json`` (a list of ``{"image_id", "paragraph",
"url"}``), ``test_split.json`` (the list of test image ids) and the Visual Genome images under
``images/``, either as ``images/{VG_100K or VG_100K_2}/{id}.jpg`` (the folders the ``url`` names)
or flat as ``images/{id}.jpg``. Sample id: the image id. The whole paragraph is one caption:
its single reference is the human paragraph, tokenised once with the candidates by the PTB
tokenizer, then BLEU-1..4, METEOR, ROUGE_L and CIDEr-D (headline) as in ``coco_caption``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.metrics.captions import require_java
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .captions import CaptionTask

PARAGRAPHS_LAYOUT = 'paragraphs_v1.json = [{"image_id": int, "paragraph": str, "url": str}]'
SPLIT_LAYOUT = "test_split.json = [image_id, ...]"


@register_task("image2paragraph")
class Image2ParagraphTask(CaptionTask):
    """Stanford paragraphs test: one paragraph per image, scored against the human paragraph."""

    name = "image2paragraph"
    folder = "image2paragraph"
    expected = ("paragraphs_v1.json", "test_split.json", "images")
    source = (
        "cs.stanford.edu/people/ranjaykrishna/im2p: paragraphs_v1.json, test_split.json; "
        "Visual Genome images (visualgenome.org) under images/"
    )
    prompt_template = "{image}Describe this image in one paragraph."
    max_new_tokens = 100

    def samples(self) -> Iterator[Sample]:
        require_java()
        split_path = self.data_dir / "test_split.json"
        split = read_json(split_path, expected=SPLIT_LAYOUT)
        if not isinstance(split, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in split):
            raise DataError(split_path, "is not a list of integer image ids", expected=SPLIT_LAYOUT)
        path = self.data_dir / "paragraphs_v1.json"
        doc = read_json(path, expected=PARAGRAPHS_LAYOUT)
        if not isinstance(doc, list):
            raise DataError(path, "is not a list of paragraphs", expected=PARAGRAPHS_LAYOUT)
        wanted = set(split)
        seen: set[int] = set()
        for i, item in enumerate(doc):
            where = f"entry {i}"
            image_id = item.get("image_id") if isinstance(item, dict) else None
            if not isinstance(image_id, int) or isinstance(image_id, bool):
                raise DataError(path, f"{where}: 'image_id' must be an integer", expected=PARAGRAPHS_LAYOUT)
            if image_id not in wanted:
                continue
            paragraph = item.get("paragraph")
            if not isinstance(paragraph, str) or not paragraph.strip():
                raise DataError(path, f"{where}: 'paragraph' must be a non-empty string", expected=PARAGRAPHS_LAYOUT)
            if image_id in seen:
                raise DataError(path, f"{where}: a second paragraph for image {image_id}")
            seen.add(image_id)
            rel = self._image_name(item, image_id)
            yield Sample(
                id=str(image_id),
                target=[paragraph],
                image=ImageRef(key=f"image2paragraph/{rel}", path=inside(self.data_dir / "images", rel, "image", path)),
                meta={"url": item.get("url")},
            )
        absent = [i for i in split if i not in seen]
        if absent:
            raise DataError(split_path, f"image {absent[0]} of the test split has no paragraph in {path.name} "
                            f"({len(absent)} without)", expected=PARAGRAPHS_LAYOUT)

    def _image_name(self, item: dict, image_id: int) -> str:
        """``VG_100K_2/{id}.jpg`` when the url's folder exists under images/, else ``{id}.jpg``."""
        url = item.get("url")
        if isinstance(url, str) and url:
            parts = PurePosixPath(url).parts
            if len(parts) >= 2 and (self.data_dir / "images" / parts[-2]).is_dir():
                return f"{parts[-2]}/{parts[-1]}"
        return f"{image_id}.jpg"
