"""CHAIR on the world's own categories, in the COCO 2014 annotation layout.

``chair/annotations/instances_val2014.json`` holds one instance per drawn object (COCO boxes
x, y, w, h) with the world's 24 categories, ``chair/annotations/captions_val2014.json`` five
varied reference captions per image (the same generator as the Karpathy layout), and
``chair/synonyms.txt`` the world's synonym list in the official ``synonyms.txt`` format: each
category's name, its plural-free synonyms from the catalog, minus any word the captions also use
for something else ("light" as in "light blue" would otherwise read as a lamp).
"""

from __future__ import annotations

from .. import scene as S
from ..catalog import CATEGORIES, COLOUR_NAMES, SCENE_TYPES, TEXTURE_ADJ
from ..context import Context
from ..files import write_json
from ..language import varied_captions

SIZE = {"small": 6, "full": 100}
IMAGE_ID0 = 600000
INFO = {"description": "chair (synthetic world)", "version": "1.0", "year": 2014}
LICENSES = [{"id": 1, "name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}]


def other_words() -> set[str]:
    """Words the captions use for colours, textures and backgrounds (never object names)."""
    words = set(COLOUR_NAMES) | {w for w in TEXTURE_ADJ.values() if w}
    for st in SCENE_TYPES:
        words.update(st.background_name.split())
    return words


def synonyms_text() -> str:
    taken = other_words()
    lines = []
    for c in CATEGORIES:
        names = [c.name] + [s for s in c.synonyms if s not in taken and s != c.name]
        lines.append(", ".join(names))
    return "\n".join(lines) + "\n"


def build(ctx: Context) -> dict:
    cat_ids = {c.name: i + 1 for i, c in enumerate(CATEGORIES)}
    images, instances, captions = [], [], []
    for i in range(SIZE[ctx.size]):
        sc = S.random_scene(ctx.rng("chair", i), k_range=(1, 3), count_range=(1, 3))
        image_id = IMAGE_ID0 + i
        name = f"COCO_val2014_{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": name, "height": S.IMAGE_SIZE, "width": S.IMAGE_SIZE,
                       "license": 1})
        for o in sc["objects"]:
            x, y, w, h = o["bbox"]  # already COCO's x, y, w, h
            instances.append({"id": len(instances) + 1, "image_id": image_id, "category_id": cat_ids[o["category"]],
                              "bbox": [x, y, w, h], "area": round(w * h, 2), "iscrowd": 0})
        for raw in varied_captions(sc, ctx.rng("chair-captions", i)):
            captions.append({"id": len(captions) + 1, "image_id": image_id, "caption": raw})
        ctx.image("chair", f"chair/val2014/{name}", sc, image_id=image_id)
    categories = [{"id": cat_ids[c.name], "name": c.name, "supercategory": c.scene} for c in CATEGORIES]
    out = ctx.out / "chair"
    write_json(out / "annotations" / "instances_val2014.json", {
        "info": INFO, "licenses": LICENSES, "images": images, "annotations": instances, "categories": categories})
    write_json(out / "annotations" / "captions_val2014.json", {
        "info": INFO, "licenses": LICENSES, "images": images, "annotations": captions})
    (out / "synonyms.txt").write_text(synonyms_text(), encoding="utf-8")
    return {"chair_images": len(images), "chair_instances": len(instances)}


WORLD_PARTS = (("chair", build),)
