"""GQA-style compositional questions from the scene graphs: ``gqa/testdev_balanced_questions.json``.

Every answer is read off the scene (objects, their colours, counts and centres), as GQA's
questions are generated from Visual Genome scene graphs, and every question carries GQA's
``types``: relations left/right/above (``rel``: verify, query, choose), attributes (``attr``:
query, verify, choose, compare), existence and conjunctions (``obj``: verify, logical), the
category of a described object (``cat``: query) and counting (``obj``: query; an extension,
GQA itself asks no counting questions). Relations are asked only between single objects whose
centres are clearly apart, so each answer is unambiguous. All questions are balanced.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, COLOUR_NAMES, NEAR_COLOUR
from ..context import Context
from ..files import write_json
from ..language import article
from ..questions import exists_question, negatives

SIZE = {"small": 8, "full": 100}  # images; about 2.8 questions each
PER_IMAGE = 3
GAP = 10.0  # pixels between centres for a left/right/above relation
IMAGE_ID0 = 2300000


def _singles(scene: dict) -> list[dict]:
    return [o for o in scene["objects"] if S.count(scene, o["category"]) == 1]


def _q(question: str, answer: str, structural: str, semantic: str, detailed: str) -> dict:
    return {"question": question, "answer": answer, "structural": structural, "semantic": semantic,
            "detailed": detailed}


def _relation(a: dict, b: dict) -> str | None:
    """'left' / 'right' / 'above' / 'below' of ``a`` relative to ``b`` when clear, else None."""
    dx, dy = a["centre"][0] - b["centre"][0], a["centre"][1] - b["centre"][1]
    if abs(dx) >= GAP and abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    if abs(dy) >= GAP:
        return "above" if dy < 0 else "below"
    return None


def _rel_phrase(rel: str) -> str:
    return {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}[rel]


def candidates(scene: dict, rng: np.random.Generator) -> list[dict]:
    """Every question the scene supports (in a fixed order; the caller samples a few)."""
    out: list[dict] = []
    singles = _singles(scene)
    for a in singles:
        for b in singles:
            if a is b:
                continue
            rel = _relation(a, b)
            if rel is None:
                continue
            ca, cb = a["category"], b["category"]
            asked = rel if rng.random() < 0.5 else {"left": "right", "right": "left", "above": "below",
                                                     "below": "above"}[rel]
            out.append(_q(f"Is the {ca} {_rel_phrase(asked)} the {cb}?", "yes" if asked == rel else "no",
                          "verify", "rel", "relVerify"))
            if rel in ("left", "right"):
                out.append(_q(f"Is the {ca} to the left or to the right of the {cb}?", rel, "choose", "rel",
                              "chooseRel"))
                others = [o for o in scene["objects"] if o is not b and _relation(o, b) == rel]
                if len(others) == 1:
                    out.append(_q(f"What is {_rel_phrase(rel)} the {cb}?", ca, "query", "rel", "relS"))
    for a in singles:
        cat, colour = a["category"], a["colour"]
        out.append(_q(f"What color is the {cat}?", colour, "query", "attr", "directOf"))
        asked = colour if rng.random() < 0.5 else NEAR_COLOUR[colour]
        out.append(_q(f"Is the {cat} {asked}?", "yes" if asked == colour else "no", "verify", "attr", "verifyAttr"))
        other = str(rng.choice([c for c in COLOUR_NAMES if c != colour]))
        pair = (colour, other) if rng.random() < 0.5 else (other, colour)
        out.append(_q(f"Is the {cat} {pair[0]} or {pair[1]}?", colour, "choose", "attr", "chooseAttr"))
        if sum(o["colour"] == colour for o in scene["objects"]) == 1:
            out.append(_q(f"What is the {colour} object?", cat, "query", "cat", "categoryAttr"))
    for a in singles:
        for b in singles:
            if a["category"] < b["category"]:
                same = a["colour"] == b["colour"]
                out.append(_q(f"Do the {a['category']} and the {b['category']} have the same color?",
                              "yes" if same else "no", "compare", "attr", "sameColor"))
    present = S.categories(scene)
    absent = negatives(scene, "adversarial", 2, rng)
    cat = present[int(rng.integers(len(present)))]
    if rng.random() < 0.5:
        out.append(_q(exists_question(cat), "yes", "verify", "obj", "exist"))
    else:
        out.append(_q(exists_question(absent[0]), "no", "verify", "obj", "exist"))
    second = present[1] if len(present) > 1 and rng.random() < 0.5 else absent[1]
    both = second in present
    out.append(_q(f"Are there both {BY_NAME[cat].plural} and {BY_NAME[second].plural} in this picture?",
                  "yes" if both else "no", "logical", "obj", "existAndC"))
    either = cat if rng.random() < 0.5 else absent[1]
    out.append(_q(f"Is there {article(absent[0])} {absent[0]} or {article(either)} {either}?",
                  "yes" if either in present else "no", "logical", "obj", "existOrC"))
    out.append(_q(f"How many {BY_NAME[cat].plural} are there?", str(S.count(scene, cat)), "query", "obj", "count"))
    return out


def _entry(q: dict, image_id: str) -> dict:
    """One question in the release's field layout."""
    return {"imageId": image_id, "question": q["question"], "answer": q["answer"],
            "fullAnswer": f"The answer is {q['answer']}.", "isBalanced": True,
            "types": {"structural": q["structural"], "semantic": q["semantic"], "detailed": q["detailed"]},
            "groups": {"global": None, "local": q["detailed"]}, "semantic": [], "semanticStr": "",
            "annotations": {"answer": {}, "question": {}, "fullAnswer": {}}, "entailed": [], "equivalent": []}


def build(ctx: Context) -> dict:
    questions: dict[str, dict] = {}
    kinds: dict[str, int] = {}
    for i in range(SIZE[ctx.size]):
        rng = ctx.rng("gqa", i)
        sc = S.random_scene(rng, k_range=(2, 3), count_range=(1, 2) if rng.random() < 0.3 else (1, 1))
        image_id = f"n{IMAGE_ID0 + i}"
        pool = candidates(sc, ctx.rng("gqa-questions", i))
        # one question per semantic type at most, so relations are not crowded out by attributes
        by_type: dict[str, list[dict]] = {}
        for q in pool:
            by_type.setdefault(q["semantic"], []).append(q)
        types = sorted(by_type)
        qrng = ctx.rng("gqa-pick", i)
        picked = []
        for t in [types[int(k)] for k in qrng.permutation(len(types))[:PER_IMAGE]]:
            options = by_type[t]
            picked.append(options[int(qrng.integers(len(options)))])
        side = []
        for k, q in enumerate(picked):
            qid = f"{IMAGE_ID0 + i}{k:02d}"
            questions[qid] = _entry(q, image_id)
            kinds[q["structural"]] = kinds.get(q["structural"], 0) + 1
            side.append({"question_id": qid, **q})
        ctx.image("gqa", f"gqa/images/{image_id}.jpg", sc, questions=side)
    write_json(ctx.out / "gqa" / "testdev_balanced_questions.json", questions)
    return {"gqa": len(questions), **{f"gqa_{k}": v for k, v in sorted(kinds.items())}}


WORLD_PARTS = (("gqa", build),)
