"""MME-style yes/no pairs: existence, count, position and color, two questions per image.

Written like the released ``MME_Benchmark_release_version/<subtask>/`` folders of these four
subtasks: ``<stem>.jpg`` beside ``<stem>.txt`` holding two ``question<TAB>Yes|No`` lines, the
first answered Yes and the second No (as in the release), both about the same detail, so acc+
(both right) rewards a model that reads the detail rather than one that leans to one answer.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, COUNT_WORDS, NEAR_COLOUR
from ..context import Context
from ..language import article
from ..questions import negatives

SUBTASKS = ("existence", "count", "position", "color")
SIZE = {"small": 3, "full": 40}  # images per subtask (two questions each)
ROOT = "mme/MME_Benchmark_release_version"
SUFFIX = " Please answer yes or no."
IMAGE_ID0 = 500000


def _count_phrase(category: str, n: int) -> str:
    if n == 1:
        return f"Is there one {category}"
    return f"Are there {COUNT_WORDS[n]} {BY_NAME[category].plural}"


def _single(scene: dict) -> list[str]:
    """Categories drawn exactly once (their colour and place are unambiguous)."""
    return [c for c in S.categories(scene) if S.count(scene, c) == 1]


def pair(subtask: str, rng: np.random.Generator) -> tuple[dict, str, str]:
    """(scene, yes question, no question) for one image of ``subtask``."""
    for _ in range(50):
        sc = S.random_scene(rng, k_range=(1, 3), count_range=(1, 3) if subtask == "count" else (1, 2))
        cats = S.categories(sc)
        if subtask == "existence":
            cat = cats[int(rng.integers(len(cats)))]
            neg = negatives(sc, "random", 1, rng)[0]
            return sc, f"Is there {article(cat)} {cat} in this image?", f"Is there {article(neg)} {neg} in this image?"
        if subtask == "count":
            cat = cats[int(rng.integers(len(cats)))]
            n = S.count(sc, cat)
            wrong = n + 1 if n == 1 or rng.random() < 0.5 else n - 1
            return sc, f"{_count_phrase(cat, n)} in this image?", f"{_count_phrase(cat, wrong)} in this image?"
        single = _single(sc)
        if not single:
            continue
        cat = single[int(rng.integers(len(single)))]
        obj = next(o for o in sc["objects"] if o["category"] == cat)
        if subtask == "color":
            return sc, f"Is the {cat} {obj['colour']}?", f"Is the {cat} {NEAR_COLOUR[obj['colour']]}?"
        side = S.horizontal(obj["centre"][0])
        if side != "center":
            other = "right" if side == "left" else "left"
            return sc, f"Is the {cat} on the {side} of the image?", f"Is the {cat} on the {other} of the image?"
    raise RuntimeError(f"could not place an MME {subtask} scene")


def build(ctx: Context) -> dict:
    n = SIZE[ctx.size]
    counts = {}
    for s_idx, sub in enumerate(SUBTASKS):
        for i in range(n):
            sc, yes_q, no_q = pair(sub, ctx.rng(f"mme-{sub}", i))
            stem = f"{IMAGE_ID0 + 1000 * s_idx + i:012d}"
            ctx.image("mme", f"{ROOT}/{sub}/{stem}.jpg", sc, subtask=sub)
            text = f"{yes_q}{SUFFIX}\tYes\n{no_q}{SUFFIX}\tNo\n"
            path = ctx.out / ROOT / sub / f"{stem}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        counts[f"mme_{sub}"] = 2 * n
    return counts


WORLD_PARTS = (("mme", build),)
