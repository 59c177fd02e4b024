"""RefCOCOg (umd split): ``refs(umd).p`` + COCO-format ``instances.json``.

Every image holds two or three objects of the same category that differ in colour (and other
attributes), so a referring expression needs attributes to pick one out. The pickle holds only
plain dicts, lists, strings and numbers (protocol 2), like the released file; the ref's
``file_name`` carries the annotation id suffix as in the original.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from .. import scene as S
from ..catalog import BY_NAME, CATEGORIES, COLOUR_NAMES, NAMES
from ..context import Context
from ..files import write_json
from ..language import orientation_phrase, state_word, tokens

IMAGE_ID0 = 500000
SPLIT_OF = {0: "train", 1: "val", 2: "test", 3: "train"}


def area(polygons: list[list[float]]) -> int:
    """Pixel area of the union of the polygons at 64 px (what a COCO mask would count)."""
    canvas = Image.new("L", (64, 64), 0)
    d = ImageDraw.Draw(canvas)
    for p in polygons:
        d.polygon([(p[i], p[i + 1]) for i in range(0, len(p), 2)], fill=1)
    return int(np.asarray(canvas).sum())


def matches(obj: dict, attrs: dict, objects: list[dict]) -> bool:
    """Does ``obj`` satisfy the attribute set of an expression (within ``objects``)?

    ``attrs`` holds the category and attribute values; ``rank`` is leftmost/rightmost among the
    objects of that category."""
    peers = [o for o in objects if o["category"] == obj["category"]]
    for key, value in attrs.items():
        if key == "rank":
            xs = sorted(o["centre"][0] for o in peers)
            target = xs[0] if value == "leftmost" else xs[-1]
            if obj["centre"][0] != target:
                return False
        elif obj.get(key) != value:
            return False
    return True


def _phrase(obj: dict, attrs: dict) -> str:
    cat = obj["category"]
    words = ["the"]
    for key in ("size", "state", "colour", "texture"):
        if key in attrs:
            words.append(state_word(cat, attrs[key]) if key == "state" else attrs[key])
    words.append(cat)
    if "orientation" in attrs:
        words.append(orientation_phrase(cat, attrs["orientation"]))
    if "rank" in attrs:
        words.append("on the left" if attrs["rank"] == "leftmost" else "on the right")
    return " ".join(words)


def expressions(obj: dict, objects: list[dict], rng: np.random.Generator, location: bool = True) -> list[dict]:
    """Two or three unambiguous descriptions of ``obj``: [{raw, attrs}] (``location=False``: no
    left/right words, as RefCOCO+ asks)."""
    peers = [o for o in objects if o["category"] == obj["category"]]
    cands: list[dict] = [{"colour": obj["colour"]}]
    xs = sorted(o["centre"][0] for o in peers)
    if len(xs) >= 2 and xs[1] - xs[0] >= 6 and obj["centre"][0] == xs[0]:
        cands.append({"rank": "leftmost"})
    if len(xs) >= 2 and xs[-1] - xs[-2] >= 6 and obj["centre"][0] == xs[-1]:
        cands.append({"rank": "rightmost"})
    if obj["orientation"]:
        cands.append({"colour": obj["colour"], "orientation": obj["orientation"]})
    for key in ("size", "texture", "state", "orientation"):
        if obj.get(key) and obj[key] != "solid":
            cands.append({key: obj[key]})
    cands = [{"category": obj["category"], **c} for c in cands if location or "rank" not in c]
    unique = [c for c in cands if sum(matches(o, c, objects) for o in objects) == 1 and matches(obj, c, objects)]
    first, rest = unique[0], unique[1:]
    picked = [first] + [rest[int(i)] for i in rng.permutation(len(rest))[: int(rng.integers(1, 3))]]
    return [{"raw": _phrase(obj, c), "attrs": c} for c in picked]


def ref_scene(rng: np.random.Generator, category: str | None = None) -> dict:
    """Two or three objects of one category (``category``, else a random one) in distinct colours."""
    cat = CATEGORIES[int(rng.integers(len(CATEGORIES)))] if category is None else BY_NAME[category]
    m = 3 if rng.random() < 0.25 else 2
    colours = [COLOUR_NAMES[int(i)] for i in rng.choice(len(COLOUR_NAMES), size=m, replace=False)]
    groups = []
    for c in colours:
        g = S.sample_attributes(rng, cat.name)
        g.update(colour=c, count=1)
        groups.append(g)
    if rng.random() < 0.6:
        _, cats = S.sample_categories(rng, 2, cat.scene)
        other = next(x for x in cats if x != cat.name)
        g = S.sample_attributes(rng, other)
        g["count"] = 1
        groups.append(g)
    return S.new_scene(rng, groups, cat.scene)


def build(ctx: Context) -> dict:
    def scene(i: int) -> tuple[dict, str]:
        rng = ctx.rng("refcocog", i)
        sc = ref_scene(rng)
        while sum(o["category"] == sc["objects"][0]["category"] for o in sc["objects"]) < 2:
            sc = ref_scene(rng)
        return sc, SPLIT_OF[i % 4]

    return write_refer(ctx, "refcocog", "refcocog", "refs(umd).p", ctx.cfg["refcocog"], scene, IMAGE_ID0)


def write_refer(ctx: Context, part: str, folder: str, refs_name: str, n: int,
                scene: Callable[[int], tuple[dict, str]], image_id0: int, location: bool = True) -> dict:
    """Write a refer-toolkit folder: ``refs_name`` (pickled refs) and ``instances.json``.

    ``scene(i)`` gives image i's scene (its first object's category is the referred one, drawn
    at least twice) and split; every object of that category becomes a ref."""
    refs, images, anns = [], [], []
    sent_id = 0
    for i in range(n):
        sc, split = scene(i)
        image_id = image_id0 + i
        name = f"COCO_train2014_{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": name, "height": 64, "width": 64, "license": 1})
        side = []
        target_cat = sc["objects"][0]["category"]
        for obj in sc["objects"]:
            ann_id = len(anns) + 1
            anns.append({"id": ann_id, "image_id": image_id, "category_id": NAMES.index(obj["category"]) + 1,
                         "bbox": obj["bbox"], "segmentation": obj["polygons"], "area": area(obj["polygons"]),
                         "iscrowd": 0})
            if obj["category"] != target_cat:
                continue
            sents = []
            for e in expressions(obj, sc["objects"], ctx.rng(f"{part}-sent-{ann_id}", i), location):
                sents.append({"raw": e["raw"], "sent": e["raw"].lower(), "sent_id": sent_id, "tokens": tokens(e["raw"]),
                              "attrs": e["attrs"]})
                sent_id += 1
            ref = {"ref_id": len(refs), "ann_id": ann_id, "image_id": image_id,
                   "category_id": NAMES.index(obj["category"]) + 1, "split": split,
                   "sent_ids": [s["sent_id"] for s in sents], "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
                   "sentences": [{k: s[k] for k in ("raw", "sent", "sent_id", "tokens")} for s in sents]}
            refs.append(ref)
            side.append({"ref_id": ref["ref_id"], "object": sc["objects"].index(obj),
                         "sentences": [{"sent": s["sent"], "attrs": s["attrs"]} for s in sents]})
        ctx.image(part, f"{folder}/images/{name}", sc, image_id=image_id, split=split, refs=side)
    out = ctx.out / folder
    out.mkdir(parents=True, exist_ok=True)
    with open(out / refs_name, "wb") as f:
        pickle.dump(refs, f, protocol=2)
    cats = [{"id": i + 1, "name": c.name, "supercategory": c.scene} for i, c in enumerate(CATEGORIES)]
    write_json(out / "instances.json", {"info": {"description": f"{folder} (synthetic world)"},
                                        "licenses": [{"id": 1, "name": "CC BY 4.0"}],
                                        "images": images, "annotations": anns, "categories": cats})
    return {f"{part}_refs": len(refs), f"{part}_val": sum(r["split"] == "val" for r in refs)}
