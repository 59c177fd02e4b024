"""A photo-domain ImageNet-style tree: the in-domain reference for the RobustVQA analogues.

``imagenet/photo/<k>/<j>.jpg`` lays fresh photo-domain images out like ImageNet-V2 (integer
folders indexing the sorted wnid list, the names in ``imagenet/classnames.json``). The scenes
are composed like the resampled (V2) domain — one large main object, sometimes a small second
one — but drawn in the training photo domain without V2's colour jitter, blur and noise, so
the drop from this split to RVQA-V/-A/-R is the domain shift alone. None of these images is a
training image (their own random stream). ``deem-eval``'s default data root turns the tree into
the ``rvqa_photo`` diagnostic split with the RobustVQA builder.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, NAMES
from ..context import Context

SIZE = {"small": 2, "full": 25}
"""Images per class (24 classes), as many as each of the A / R / V2 trees."""
PART = "imagenet_photo"
FOLDER = "imagenet/photo"


def photo_scene(rng: np.random.Generator, category: str) -> dict:
    """The V2 composition in the unshifted photo domain."""
    g = S.sample_attributes(rng, category, size="large")
    g.update(count=1, scale=float(rng.uniform(1.0, 1.5)))
    groups = [g]
    if rng.random() < 0.3:
        _, cats = S.sample_categories(rng, 2, BY_NAME[category].scene)
        og = S.sample_attributes(rng, next(c for c in cats if c != category), size="small")
        og["count"] = 1
        groups.append(og)
    return S.new_scene(rng, groups, BY_NAME[category].scene, domain="photo")


def build(ctx: Context) -> dict:
    per = SIZE[ctx.size]
    for ci, cat in enumerate(NAMES):
        for j in range(per):
            idx = ci * per + j
            ctx.image(PART, f"{FOLDER}/{ci}/{j:04d}.jpg", photo_scene(ctx.rng(PART, idx), cat), label=cat)
    return {PART: per * len(NAMES)}


WORLD_PARTS = ((PART, build),)
