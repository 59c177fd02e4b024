"""CV-Bench: counting and spatial relation (2D), depth order and relative distance (3D).

Written in the nyu-visionx/CV-Bench raw layout: ``cvbench/test_2d.jsonl`` + ``test_3d.jsonl``
(idx, type, task, question, choices, answer "(A)", prompt, filename, source, source_dataset,
source_filename, target_class, target_size, bbox) and PNG images under ``cvbench/img/``.

The three real sources have world analogues under the same names, so the official per-source
formula applies unchanged:

- ``ADE20K`` (scene parsing: many categories per image) -> cluttered photo scenes with three
  categories; Count and Relation questions.
- ``COCO`` (object-centric photos) -> sparse photo scenes with one or two categories; Count and
  Relation questions.
- ``Omni3D`` (3D boxes) -> scenes read with the world's depth rule: of two objects the larger one
  is the closer (Depth); Distance asks which of two objects lies nearer to a third in the picture
  plane, all three of one size so none is nearer the camera. ``bbox`` holds the objects' boxes
  (x0, y0, x1, y1) in the question's order.

The real benchmark marks the objects with coloured boxes; the world names objects of distinct
categories instead (one instance each), so the question is unambiguous without drawn boxes.
Every answer comes from the scene, which is kept in ``scenes/cvbench.jsonl``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME
from ..context import Context
from ..files import write_jsonl

SIZE = {"small": {"Count": 4, "Relation": 4, "Depth": 4, "Distance": 4},
        "full": {"Count": 96, "Relation": 96, "Depth": 64, "Distance": 48}}
SELECT = " Select from the following choices."
SOURCE_DATASET = {"ADE20K": "world photo scenes, cluttered (ADE20K analogue)",
                  "COCO": "world photo scenes, sparse (COCO analogue)",
                  "Omni3D": "world photo scenes, size as depth (Omni3D analogue)"}
MIN_GAP = 12.0  # px between centres along the asked axis (64 px images)


def prompt(question: str, choices: list[str]) -> str:
    return question + SELECT + "".join(f"\n({'ABCDEF'[i]}) {c}" for i, c in enumerate(choices))


def _single(rng: np.random.Generator, cats: list[str], sizes: list[str], stype: str) -> dict | None:
    groups = []
    for cat, size in zip(cats, sizes, strict=True):
        g = S.sample_attributes(rng, cat, size=size)
        g["count"] = 1
        groups.append(g)
    sc = S.new_scene(rng, groups, stype)
    return sc if [o["category"] for o in sc["objects"]] == cats else None


def _box(o: dict) -> list[float]:
    x, y, w, h = o["bbox"]
    return [x, y, round(x + w, 2), round(y + h, 2)]


def count_item(rng: np.random.Generator, source: str) -> tuple[dict, dict] | None:
    k = 3 if source == "ADE20K" else int(rng.integers(1, 3))
    stype, cats = S.sample_categories(rng, k)
    groups = []
    for i, cat in enumerate(cats):
        g = S.sample_attributes(rng, cat, size="small" if i == 0 else None)
        g["count"] = int(rng.integers(1, 5)) if i == 0 else int(rng.integers(1, 3))
        if g["size"] == "large":
            g["size"] = "medium"
        groups.append(g)
    sc = S.new_scene(rng, groups, stype)
    n = S.count(sc, cats[0])
    if n == 0:
        return None
    others = [int(v) for v in rng.permutation([v for v in range(6) if v != n])[:3]]
    choices = [str(v) for v in rng.permutation([n, *others])]
    q = f"How many {BY_NAME[cats[0]].plural} are in the image?"
    area = sum(o["bbox"][2] * o["bbox"][3] for o in sc["objects"] if o["category"] == cats[0])
    return sc, {"question": q, "choices": choices, "answer": str(n),
                "target_class": cats[0] if source == "COCO" else None,
                "target_size": int(round(area)) if source == "COCO" else None}


def relation_item(rng: np.random.Generator, source: str) -> tuple[dict, dict] | None:
    k = 3 if source == "ADE20K" else 2
    stype, cats = S.sample_categories(rng, k)
    sc = _single(rng, cats, ["medium"] * k, stype)
    if sc is None:
        return None
    (ax, ay), (bx, by) = (sc["objects"][i]["centre"] for i in (0, 1))
    dx, dy = ax - bx, ay - by
    if abs(dx) >= MIN_GAP and abs(dx) > 2 * abs(dy):
        choices, answer = ["left", "right"], "left" if dx < 0 else "right"
    elif abs(dy) >= MIN_GAP and abs(dy) > 2 * abs(dx):
        choices, answer = ["above", "below"], "above" if dy < 0 else "below"
    else:
        return None
    a, b = cats[0], cats[1]
    q = (f"Considering the relative positions of the {a} and the {b} in the image provided, "
         f"where is the {a} located with respect to the {b}?")
    return sc, {"question": q, "choices": choices, "answer": answer}


def depth_item(rng: np.random.Generator, source: str) -> tuple[dict, dict] | None:
    stype, cats = S.sample_categories(rng, 2)
    sizes = ["large", "small"] if rng.random() < 0.5 else ["small", "large"]
    sc = _single(rng, cats, sizes, stype)
    if sc is None:
        return None
    closer = cats[sizes.index("large")]
    q = (f"Which object is closer to the camera taking this photo, the {cats[0]} or the {cats[1]}?")
    return sc, {"question": q, "choices": list(cats), "answer": closer,
                "bbox": [_box(o) for o in sc["objects"]]}


def distance_item(rng: np.random.Generator, source: str) -> tuple[dict, dict] | None:
    stype, cats = S.sample_categories(rng, 3)
    sc = _single(rng, cats, ["small"] * 3, stype)
    if sc is None:
        return None
    anchor, b, c = (sc["objects"][i]["centre"] for i in range(3))
    db, dc = math.dist(anchor, b), math.dist(anchor, c)
    if min(db, dc) > 0.6 * max(db, dc):
        return None
    q = (f"Estimate the real-world distances between objects in this image. Which object is closer to "
         f"the {cats[0]}, the {cats[1]} or the {cats[2]}?")
    return sc, {"question": q, "choices": [cats[1], cats[2]], "answer": cats[1] if db < dc else cats[2],
                "bbox": [_box(o) for o in sc["objects"]]}


TASKS = (("Count", "2D", count_item), ("Relation", "2D", relation_item),
         ("Depth", "3D", depth_item), ("Distance", "3D", distance_item))


def build(ctx: Context) -> dict:
    rows: dict[str, list[dict]] = {"2D": [], "3D": []}
    sizes = SIZE[ctx.size]
    for task, kind, make in TASKS:
        for k in range(sizes[task]):
            source = "Omni3D" if kind == "3D" else ("ADE20K", "COCO")[k % 2]
            rng = ctx.rng(f"cvbench-{task.lower()}", k)
            for _ in range(200):
                made = make(rng, source)
                if made is not None:
                    break
            else:
                raise RuntimeError(f"could not compose a CV-Bench {task} scene")
            sc, item = made
            rows[kind].append({"task": task, "type": kind, "source": source, "scene": sc, **item})
    out: dict[str, list[dict]] = {"2D": [], "3D": []}
    idx = 0
    for kind in ("2D", "3D"):
        for r in rows[kind]:
            letter = "ABCDEF"[r["choices"].index(r["answer"])]
            name = f"img/{kind}/{r['task'].lower()}/{r['source'].lower()}_{idx}.png"
            ctx.image("cvbench", f"cvbench/{name}", r["scene"], idx=idx, task=r["task"], answer=r["answer"])
            out[kind].append({
                "idx": idx, "type": kind, "task": r["task"], "question": r["question"], "choices": r["choices"],
                "answer": f"({letter})", "prompt": prompt(r["question"], r["choices"]), "filename": name,
                "source": r["source"], "source_dataset": SOURCE_DATASET[r["source"]],
                "source_filename": f"scenes/cvbench.jsonl#{idx}", "target_class": r.get("target_class"),
                "target_size": r.get("target_size"), "bbox": r.get("bbox"),
            })  # fmt: skip
            idx += 1
    for kind in ("2D", "3D"):
        write_jsonl(ctx.out / "cvbench" / f"test_{kind.lower()}.jsonl", out[kind])
    return {"cvbench": idx, **{f"cvbench_{t.lower()}": sizes[t] for t, _, _ in TASKS}}


WORLD_PARTS = (("cvbench", build),)
