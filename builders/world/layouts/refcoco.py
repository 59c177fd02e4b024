"""RefCOCO and RefCOCO+ (UNC splits): ``refcoco/refs(unc).p`` and ``refcoco+/refs(unc).p`` + instances.

Written by refcocog's refer-toolkit writer, with the UNC split names. As RefCOCO's testA holds
images of several people and testB images of several other objects, testA images here refer
to animals (the world's people analogue) and testB images to the other categories; val and
train mix both. RefCOCO+ expressions avoid location words (no "on the left"), as its
annotators were told to.
"""

from __future__ import annotations

from ..catalog import CATEGORIES
from ..context import Context
from .refcocog import ref_scene, write_refer

SIZE = {"small": 10, "full": 100}  # images per dataset (two or three refs each)
SPLITS = ("val", "val", "testA", "testB", "train")
ANIMALS = tuple(c.name for c in CATEGORIES if c.kind == "animal")
OBJECTS = tuple(c.name for c in CATEGORIES if c.kind != "animal")


def _scene_fn(ctx: Context, part: str):
    def scene(i: int) -> tuple[dict, str]:
        rng = ctx.rng(part, i)
        split = SPLITS[i % len(SPLITS)]
        animal = split == "testA" or (split != "testB" and rng.random() < 0.5)
        pool = ANIMALS if animal else OBJECTS
        category = pool[int(rng.integers(len(pool)))]
        sc = ref_scene(rng, category)
        while sum(o["category"] == category for o in sc["objects"]) < 2 or sc["objects"][0]["category"] != category:
            sc = ref_scene(rng, category)
        return sc, split

    return scene


def build_refcoco(ctx: Context) -> dict:
    return write_refer(ctx, "refcoco", "refcoco", "refs(unc).p", SIZE[ctx.size], _scene_fn(ctx, "refcoco"), 2700000)


def build_refcoco_plus(ctx: Context) -> dict:
    return write_refer(ctx, "refcoco_plus", "refcoco+", "refs(unc).p", SIZE[ctx.size],
                       _scene_fn(ctx, "refcoco_plus"), 2800000, location=False)


WORLD_PARTS = (("refcoco", build_refcoco), ("refcoco_plus", build_refcoco_plus))
