"""POPE: three JSON-Lines files (random / popular / adversarial negatives) over the same images.

Each image has at least three categories; it gets three yes questions (present categories) and
three no questions (absent categories chosen by the file's rule), alternating yes/no like the
released files. ``question_id`` restarts at 1 in each file.
"""

from __future__ import annotations

from .. import scene as S
from ..context import Context
from ..files import write_jsonl
from ..questions import exists_question, negatives

RULES = ("random", "popular", "adversarial")
IMAGE_ID0 = 100000


def pope_scene(ctx: Context, i: int) -> dict:
    rng = ctx.rng("pope", i)
    for _ in range(20):
        sc = S.random_scene(rng, k_range=(3, 4), count_range=(1, 2))
        if len(S.categories(sc)) >= 3:
            return sc
    raise RuntimeError("could not place a POPE scene with three categories")


def build(ctx: Context) -> dict:
    rows = {r: [] for r in RULES}
    for i in range(ctx.cfg["pope"]):
        sc = pope_scene(ctx, i)
        name = f"COCO_val2014_{IMAGE_ID0 + i:012d}.jpg"
        ctx.image("pope", f"pope/images/{name}", sc)
        qrng = ctx.rng("pope-questions", i)
        present = S.categories(sc)
        yes = [present[int(j)] for j in qrng.permutation(len(present))[:3]]
        for rule in RULES:
            no = negatives(sc, rule, 3, ctx.rng(f"pope-{rule}", i))
            for y, n in zip(yes, no, strict=True):
                for cat, label in ((y, "yes"), (n, "no")):
                    rows[rule].append({"question_id": len(rows[rule]) + 1, "image": name,
                                       "text": exists_question(cat), "label": label})
    for rule in RULES:
        write_jsonl(ctx.out / "pope" / f"coco_pope_{rule}.json", rows[rule])
    return {"pope_images": ctx.cfg["pope"], **{f"pope_{r}": len(rows[r]) for r in RULES}}
