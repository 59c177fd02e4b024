"""``refcoco`` and ``refcoco_plus``: region captioning on RefCOCO / RefCOCO+ (UNC splits).

The refer toolkit's ``refcoco.zip`` / ``refcoco+.zip`` unpack to ``refcoco/`` and ``refcoco+/``,
each with ``refs(unc).p`` and ``instances.json``; COCO train2014 images go under ``images/`` of
each folder. The UNC splits are ``train``, ``val``, ``testA`` (refs to people) and ``testB``
(refs to other objects); ``val`` is evaluated unless ``--task-args refcoco.split=testA`` (or
``testB``) says otherwise. Loading, regions and scoring are those of ``refcocog``
(:class:`tasks.refcocog.ReferTask`): CIDEr-D headline, BLEU, METEOR and ROUGE_L beside it.
"""

from __future__ import annotations

import dataclasses

from deem_eval.registry import register_task
from deem_eval.task import TaskConfig

from .refcocog import ReferTask

UNC_SPLITS = ("train", "val", "testA", "testB")


@dataclasses.dataclass
class RefCocoConfig(TaskConfig):
    split: str = "val"  # UNC split to evaluate: train, val, testA (people), testB (objects)


@register_task("refcoco")
class RefCocoTask(ReferTask):
    """RefCOCO (UNC splits): describe the referred object."""

    name = "refcoco"
    folder = "refcoco"
    refs_file = "refs(unc).p"
    expected = (refs_file, "instances.json", "images")
    source = (
        "refcoco.zip from the refer toolkit (github.com/lichengunc/refer): refs(unc).p and instances.json; "
        "COCO train2014 images under images/ (cocodataset.org)"
    )
    Config = RefCocoConfig


@register_task("refcoco_plus")
class RefCocoPlusTask(RefCocoTask):
    """RefCOCO+ (UNC splits): expressions without absolute location words."""

    name = "refcoco_plus"
    folder = "refcoco+"
    source = (
        "refcoco+.zip from the refer toolkit (github.com/lichengunc/refer): refs(unc).p and instances.json "
        "in refcoco+/; COCO train2014 images under refcoco+/images/ (cocodataset.org)"
    )
