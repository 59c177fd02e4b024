"""Localized-Narratives layout for text-to-image: ``fid_lncoco/coco_val_captions.jsonl`` + images.

Narratives are long and spoken in style, like the released ones ("In this image I can see
..."): every group of objects with its attributes and place, then the background. One image
has a second narrative by another annotator, as real images sometimes do (the task keeps the
first). Reference images are named like COCO val2014 files.
"""

from __future__ import annotations

from .. import scene as S
from ..context import Context
from ..files import write_jsonl
from ..language import group_phrase, join

SIZE = {"small": 8, "full": 80}
IMAGE_ID0 = 2500000


def narrative(scene: dict) -> str:
    groups = [group_phrase(scene, g) for g in S.groups(scene)]
    first, rest = groups[0], groups[1:]
    text = f"In this image I can see {first}."
    if rest:
        text += f" I can also see {join(rest)}."
    return text + f" The background is {scene['background']['name']}."


def build(ctx: Context) -> dict:
    rows = []
    for i in range(SIZE[ctx.size]):
        sc = S.random_scene(ctx.rng("fid_lncoco", i), k_range=(1, 3), count_range=(1, 3))
        image_id = IMAGE_ID0 + i
        rows.append({"dataset_id": "mscoco_val2017", "image_id": str(image_id), "annotator_id": 1 + i % 7,
                     "caption": narrative(sc)})
        if i == 0:
            rows.append({"dataset_id": "mscoco_val2017", "image_id": str(image_id), "annotator_id": 99,
                         "caption": f"Here we can see {join([group_phrase(sc, g, position=False) for g in S.groups(sc)])}."})
        ctx.image("fid_lncoco", f"fid_lncoco/images/COCO_val2014_{image_id:012d}.jpg", sc, image_id=image_id)
    write_jsonl(ctx.out / "fid_lncoco" / "coco_val_captions.jsonl", rows)
    return {"fid_lncoco": SIZE[ctx.size]}


WORLD_PARTS = (("fid_lncoco", build),)
