"""AMBER-style discriminative questions on the world's scenes, in AMBER's released layout.

``amber/data/query/query_discriminative.json`` (``{id, image, query}``) and its per-dimension
files ``query_discriminative-{existence,attribute,relation}.json``, ``amber/data/annotations.json``
(``{id, type, truth}``, listed in id order so that AMBER's own ``inference.py``, which looks an id
up at position id - 1, reads it too) and the images ``amber/image/AMBER_{n}.jpg``. Per image, a yes
and a no question for existence (a present and an absent category), attribute state (the object's
colour and a near colour, like AMBER's "Is the grass green?"), attribute number (the true count
and a wrong one) and, when two groups stand clearly apart, relation (is one to the left of the other).
The world has no actions, so AMBER's action sub-dimension is absent.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, COUNT_WORDS, NEAR_COLOUR
from ..context import Context
from ..files import write_json
from ..language import article, noun
from ..questions import negatives

SIZE = {"small": 4, "full": 50}
ROOT = "amber"
MIN_GAP = 12.0  # pixels between two groups' centres for a left/right relation question
DIMENSION_FILES = {"existence": ("discriminative-hallucination",),
                   "attribute": ("discriminative-attribute-state", "discriminative-attribute-number"),
                   "relation": ("relation",)}


def _number(category: str, n: int) -> str:
    if n == 1:
        return f"Is there one {category} in this image?"
    return f"Are there {COUNT_WORDS[n]} {BY_NAME[category].plural} in this image?"


def questions(scene: dict, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """(type, query, truth) pairs, each yes question followed by its no question."""
    cats = S.categories(scene)
    out = []
    cat = cats[int(rng.integers(len(cats)))]
    neg = negatives(scene, "adversarial" if rng.random() < 0.5 else "random", 1, rng)[0]
    out += [("discriminative-hallucination", f"Is there {article(cat)} {cat} in this image?", "yes"),
            ("discriminative-hallucination", f"Is there {article(neg)} {neg} in this image?", "no")]
    single = [c for c in cats if S.count(scene, c) == 1]
    if single:
        c = single[int(rng.integers(len(single)))]
        colour = next(o for o in scene["objects"] if o["category"] == c)["colour"]
        out += [("discriminative-attribute-state", f"Is the {c} {colour} in this image?", "yes"),
                ("discriminative-attribute-state", f"Is the {c} {NEAR_COLOUR[colour]} in this image?", "no")]
    c = cats[int(rng.integers(len(cats)))]
    n = S.count(scene, c)
    wrong = n + 1 if n == 1 or rng.random() < 0.5 else n - 1
    out += [("discriminative-attribute-number", _number(c, n), "yes"),
            ("discriminative-attribute-number", _number(c, wrong), "no")]
    xs = {c: S.group_centre(scene, next(o["group"] for o in scene["objects"] if o["category"] == c))[0]
          for c in cats}
    apart = [(a, b) for a in cats for b in cats if xs[b] - xs[a] >= MIN_GAP]
    if apart:
        a, b = apart[int(rng.integers(len(apart)))]
        out += [("relation", _left_of(scene, a, b), "yes"), ("relation", _left_of(scene, b, a), "no")]
    return out


def _left_of(scene: dict, a: str, b: str) -> str:
    """'Is the cup to the left of the fish in this image?' ('Are the cups ...' for a group)."""
    na, nb = S.count(scene, a), S.count(scene, b)
    verb = "Is" if na == 1 else "Are"
    return f"{verb} the {noun(a, na)} to the left of the {noun(b, nb)} in this image?"


def build(ctx: Context) -> dict:
    queries, annotations = [], []
    for i in range(SIZE[ctx.size]):
        rng = ctx.rng("amber", i)
        sc = S.random_scene(rng, k_range=(2, 3), count_range=(1, 2))
        name = f"AMBER_{i + 1}.jpg"
        ctx.image("amber", f"{ROOT}/image/{name}", sc)
        for kind, query, truth in questions(sc, ctx.rng("amber-questions", i)):
            qid = len(queries) + 1
            queries.append({"id": qid, "image": name, "query": query})
            annotations.append({"id": qid, "type": kind, "truth": truth})
    data = ctx.out / ROOT / "data"
    write_json(data / "query" / "query_discriminative.json", queries, indent=4)
    kinds = {a["id"]: a["type"] for a in annotations}
    for dim, types in DIMENSION_FILES.items():
        write_json(data / "query" / f"query_discriminative-{dim}.json",
                   [q for q in queries if kinds[q["id"]] in types], indent=4)
    write_json(data / "annotations.json", annotations, indent=4)
    return {"amber_images": SIZE[ctx.size], "amber_questions": len(queries)}


WORLD_PARTS = (("amber", build),)
