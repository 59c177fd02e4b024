"""RobustVQA: rvqa_a, rvqa_r, rvqa_v (group ``robustvqa``), yes/no questions on ImageNet-A/-R/-V2.

Data: ``<root>/robustvqa/robustvqa_test.json`` as written by ``deem-eval build robustvqa``:
``{"imagenet_a": [{"file_name", "gt_caption", "error_caption"}, ...], "imagenet_r": [...],
"imagenet_v2": [...]}`` with ``file_name`` relative to ``robustvqa/`` (paths leaving that
folder are rejected).

Each item yields two questions, "Is {caption} the main object in this image?": about
``gt_caption`` (answer yes, id ``"{file_name}|yes"``) and about ``error_caption`` (the CLIP
hard negative, answer no, id ``"{file_name}|no"``). Prompt, answer prefix and parser are the
POPE ones. Metrics (percent): accuracy (headline), plus precision, recall, f1 and yes_ratio.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import ClassVar

from deem_eval.data_root import inside
from deem_eval.errors import DataError
from deem_eval.io import read_json
from deem_eval.registry import register_task
from deem_eval.samples import ImageRef, Sample

from .pope import NO, YES, YesNoTask

QUESTION_TEMPLATE = "Is {caption} the main object in this image?"
ITEM_KEYS = ("file_name", "gt_caption", "error_caption")
LAYOUT = (
    "robustvqa/robustvqa_test.json with keys imagenet_a, imagenet_r, imagenet_v2, each a list of "
    '{"file_name", "gt_caption", "error_caption"} (file_name relative to robustvqa/)'
)


class RobustVQATask(YesNoTask):
    split_key: ClassVar[str] = ""
    folder = "robustvqa"
    expected = ("robustvqa_test.json",)
    source = "built locally from ImageNet-A, ImageNet-R and ImageNet-V2 with `deem-eval build robustvqa`"
    question_template: ClassVar[str] = QUESTION_TEMPLATE

    def prompt_fingerprint(self) -> str:
        blob = f"{super().prompt_fingerprint()}|{self.question_template}"
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def samples(self) -> Iterator[Sample]:
        path = self.data_dir / "robustvqa_test.json"
        doc = read_json(path, expected=LAYOUT)
        if not isinstance(doc, dict) or self.split_key not in doc:
            raise DataError(path, f"no key {self.split_key!r}", expected=LAYOUT)
        items = doc[self.split_key]
        if not isinstance(items, list) or not items:
            what = "an empty list" if isinstance(items, list) else f"{type(items).__name__}, not a list"
            raise DataError(path, f"{self.split_key!r} is {what}", expected=LAYOUT)
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"{self.split_key}[{i}]"
            if not isinstance(item, dict):
                raise DataError(path, f"{where} is {type(item).__name__}, not an object", expected=LAYOUT)
            for key in ITEM_KEYS:
                if not isinstance(item.get(key), str) or not item[key]:
                    raise DataError(path, f"{where} lacks a non-empty string {key!r}", expected=LAYOUT)
            name = item["file_name"]
            if name in seen:
                raise DataError(path, f"{where}: duplicate file_name {name!r}")
            seen.add(name)
            image = ImageRef(key=name, path=inside(self.data_dir, name, f"{where} file_name", path))
            for caption, answer in ((item["gt_caption"], YES), (item["error_caption"], NO)):
                yield Sample(
                    id=f"{name}|{answer}",
                    target=answer,
                    image=image,
                    question=self.question_template.format(caption=caption),
                    options=[YES, NO],
                    meta={"caption": caption},
                )


@register_task("rvqa_a", group="robustvqa")
class RobustVQAA(RobustVQATask):
    """RobustVQA on ImageNet-A (natural adversarial images)."""

    name = "rvqa_a"
    split_key = "imagenet_a"


@register_task("rvqa_r", group="robustvqa")
class RobustVQAR(RobustVQATask):
    """RobustVQA on ImageNet-R (renditions: art, cartoons, sketches, ...)."""

    name = "rvqa_r"
    split_key = "imagenet_r"


@register_task("rvqa_v", group="robustvqa")
class RobustVQAV(RobustVQATask):
    """RobustVQA on ImageNet-V2 (a re-collected ImageNet test set)."""

    name = "rvqa_v"
    split_key = "imagenet_v2"


@register_task("rvqa_photo")
class RobustVQAPhoto(RobustVQATask):
    """World-only diagnostic: the RobustVQA questions on fresh photo-domain (unshifted) images.

    ``<root>/rvqa_photo/robustvqa_test.json`` is the same builder's output on the world's
    ``imagenet/photo`` tree, which has the ImageNet-V2 layout, so its items sit under the
    ``imagenet_v2`` key. Not in the ``robustvqa`` group: it is the in-domain reference that
    RVQA-A/-R/-V are read against (robustness = the drop from this split to a shifted one).
    """

    name = "rvqa_photo"
    folder = "rvqa_photo"
    split_key = "imagenet_v2"
    source = "built-in world only: `deem-eval` builds it from the world's imagenet/photo tree"
