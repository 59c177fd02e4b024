"""Caption layouts: Karpathy ``coco_caption/dataset_coco.json`` and ``fid_coco/captions.json``.

Five differently worded captions per image (terse to detailed), like COCO's annotators.
"""

from __future__ import annotations

from .. import scene as S
from ..context import Context
from ..files import write_json
from ..language import tokens, varied_captions

SPLITS = ("train", "restval", "val", "test")
COCOID0 = 300000
FID_ID0 = 400000


def build_coco(ctx: Context) -> dict:
    images, imgid, sentid = [], 0, 0
    for split in SPLITS:
        for i in range(ctx.cfg["coco"][split]):
            rng = ctx.rng(f"coco-{split}", i)
            sc = S.random_scene(rng, k_range=(1, 3), count_range=(1, 3))
            cocoid = COCOID0 + imgid
            folder = "train2014" if split == "train" else "val2014"
            filename = f"COCO_{folder}_{cocoid:012d}.jpg"
            sents = []
            for raw in varied_captions(sc, ctx.rng(f"coco-captions-{split}", i)):
                sents.append({"raw": raw, "tokens": tokens(raw), "imgid": imgid, "sentid": sentid})
                sentid += 1
            images.append({"filepath": folder, "filename": filename, "imgid": imgid, "split": split,
                           "cocoid": cocoid, "sentences": sents, "sentids": [s["sentid"] for s in sents]})
            ctx.image("coco_caption", f"coco_caption/images/{folder}/{filename}", sc, cocoid=cocoid, split=split)
            imgid += 1
    write_json(ctx.out / "coco_caption" / "dataset_coco.json", {"images": images, "dataset": "coco"})
    return {"coco_caption_images": len(images),
            "coco_caption_test": sum(im["split"] == "test" for im in images)}


def build_fid(ctx: Context) -> dict:
    images, annotations = [], []
    for i in range(ctx.cfg["fid"]):
        rng = ctx.rng("fid", i)
        sc = S.random_scene(rng, k_range=(1, 3), count_range=(1, 3))
        image_id = FID_ID0 + i
        name = f"COCO_val2014_{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": name, "height": 64, "width": 64, "license": 1})
        for raw in varied_captions(sc, ctx.rng("fid-captions", i)):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": raw})
        ctx.image("fid_coco", f"fid_coco/images/{name}", sc, image_id=image_id)
    write_json(ctx.out / "fid_coco" / "captions.json", {
        "info": {"description": "fid_coco (synthetic world)", "version": "1.0"},
        "licenses": [{"id": 1, "name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}],
        "images": images, "annotations": annotations})
    return {"fid_coco_images": len(images), "fid_coco_captions": len(annotations)}
