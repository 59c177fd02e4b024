"""MMVP: image pairs that differ in exactly one detail, with one two-option question per image.

Rows (1, 2), (3, 4), ... share the question and options; the two images answer it differently.
Details cycle through orientation, count, colour, position and state. Images are JPEG files
``MMVP Images/N.jpg`` as in the released benchmark.
"""

from __future__ import annotations

import copy
import csv

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, CATEGORIES, COLOUR_NAMES, COLOURS, NEAR_COLOUR
from ..context import Context
from ..questions import orientation_question, state_question

DETAILS = ("orientation", "count", "colour", "position", "state")


def _focal_category(rng: np.random.Generator, detail: str) -> str:
    if detail == "orientation":
        pool = [c.name for c in CATEGORIES if c.orientations]
    elif detail == "state":
        pool = [c.name for c in CATEGORIES if c.states]
    else:
        pool = [c.name for c in CATEGORIES]
    return pool[int(rng.integers(len(pool)))]


def _rebuild(sc: dict, idx: int, **changes) -> None:
    o = sc["objects"][idx]
    g = {**o, **changes}
    new = S.make_object(g, o["group"], o["centre"][0], o["centre"][1], o["extent"], g["rgb"])
    new["count"] = o["count"]
    sc["objects"][idx] = new


def _free(sc: dict, margin: float = 1.5) -> bool:
    boxes = [o["bbox"] for o in sc["objects"]]
    return not any(S.overlaps(b, boxes[:i], margin) for i, b in enumerate(boxes))


def make_pair(rng: np.random.Generator, detail: str):
    """Returns (scene_a, scene_b, question, options, value_a, value_b) or None if placement failed."""
    cat = _focal_category(rng, detail)
    stype = BY_NAME[cat].scene
    g = S.sample_attributes(rng, cat, size="large" if detail != "count" else "medium")
    g["texture"] = "solid" if rng.random() < 0.7 else g["texture"]
    g["count"] = int(rng.integers(1, 4)) if detail == "count" else 1
    groups = [g]
    if rng.random() < 0.5:
        _, others = S.sample_categories(rng, 2, stype)
        other = next(c for c in others if c != cat)
        og = S.sample_attributes(rng, other, size="small")
        og["count"] = 1
        groups.append(og)
    a = S.new_scene(rng, groups, stype)
    if not a["objects"] or a["objects"][0]["category"] != cat or a["objects"][0]["count"] != g["count"]:
        return None
    b = copy.deepcopy(a)
    focal = [i for i, o in enumerate(a["objects"]) if o["group"] == 0]
    o = a["objects"][focal[0]]
    if detail == "orientation":
        opts = ("up", "down") if o["orientation"] in ("up", "down") else ("left", "right")
        flip = opts[1] if o["orientation"] == opts[0] else opts[0]
        for i in focal:
            _rebuild(b, i, orientation=flip)
        question, values = orientation_question(cat, opts), (o["orientation"], flip)
        options = opts
    elif detail == "state":
        question, options = state_question(cat)
        flip = options[1] if o["state"] == options[0] else options[0]
        for i in focal:
            _rebuild(b, i, state=flip)
        values = (o["state"], flip)
    elif detail == "colour":
        new = NEAR_COLOUR[o["colour"]] if rng.random() < 0.5 else str(rng.choice(
            [c for c in COLOUR_NAMES if c != o["colour"]]))
        if new not in COLOURS:
            new = "blue" if o["colour"] != "blue" else "red"
        for i in focal:
            _rebuild(b, i, colour=new, rgb=list(COLOURS[new]))
        options = tuple(sorted((o["colour"], new)))
        question, values = f"What is the color of the {cat}?", (o["colour"], new)
    elif detail == "position":
        x = o["centre"][0]
        if abs(x - 32) < 12:
            return None
        for i in focal:
            b["objects"][i] = copy.deepcopy(o)
            b["objects"][i]["centre"] = [round(64 - x, 2), o["centre"][1]]
            _rebuild(b, i)
        options = ("left", "right")
        question = f"Is the {cat} on the left or the right side of the image?"
        values = (S.horizontal(x), S.horizontal(64 - x))
    else:  # count
        n = len(focal)
        extra = None
        w_b, h_b = o["bbox"][2], o["bbox"][3]
        for _ in range(100):
            cx = float(rng.uniform(w_b / 2 + 1, 63 - w_b / 2))
            cy = float(rng.uniform(h_b / 2 + 1, 63 - h_b / 2))
            cand = S.make_object(o, 0, cx, cy, o["extent"], o["rgb"])
            if not S.overlaps(cand["bbox"], [ob["bbox"] for ob in b["objects"]], 2.0):
                extra = cand
                break
        if extra is None:
            return None
        b["objects"].insert(focal[-1] + 1, extra)
        for ob in b["objects"]:
            if ob["group"] == 0:
                ob["count"] = n + 1
        options = (str(n), str(n + 1))
        plural = BY_NAME[cat].plural
        question, values = f"How many {plural} are there in the image?", (str(n), str(n + 1))
    if not _free(b) or values[0] == values[1]:
        return None
    return a, b, question, options, values


def build(ctx: Context) -> dict:
    rows = []
    for p in range(ctx.cfg["mmvp_pairs"]):
        detail = DETAILS[p % len(DETAILS)]
        rng = ctx.rng("mmvp", p)
        made = None
        for _ in range(500):
            made = make_pair(rng, detail)
            if made is not None:
                break
        else:
            raise RuntimeError(f"could not compose an MMVP pair differing in {detail}")
        a, b, question, options, values = made
        pair = [(a, values[0]), (b, values[1])]
        if rng.random() < 0.5:
            pair.reverse()
        opt_text = f"(a) {options[0]} (b) {options[1]}"
        for sc, value in pair:
            index = len(rows) + 1
            letter = "(a)" if value == options[0] else "(b)"
            ctx.image("mmvp", f"mmvp/MMVP Images/{index}.jpg", sc, index=index, detail=detail, value=value,
                      question=question, answer=letter)
            rows.append({"Index": index, "Question": question, "Options": opt_text, "Correct Answer": letter})
    path = ctx.out / "mmvp" / "Questions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["Index", "Question", "Options", "Correct Answer"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return {"mmvp": len(rows)}
