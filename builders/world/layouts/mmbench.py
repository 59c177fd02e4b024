"""MMBench-style and SEED-Bench-style multiple choice over the world's scenes.

``mmbench/MMBench_DEV_EN.tsv`` is written like VLMEvalKit's file: the original rows (index 0..n-1,
image as base64 JPEG) and their circular copies (index + k x 1,000,000, options shifted k places,
image cell = the original's index), with categories and l2-categories named like MMBench's where
one fits (scene, object identity, colour, side, facing, counting, left-of). Questions have 2, 3 or 4
options. ``seedbench/SEED-Bench.json`` + ``SEED-Bench-image/`` holds 4-option questions on the
SEED-Bench image dimensions (scene, identity, attributes, location, counting, spatial relation), and
``mmstar/mmstar.parquet`` the same kinds of question MMStar-style (options inside the question,
core capability and axis columns).
Every answer is computed from the scene; distractors never fit it.
"""

from __future__ import annotations

import base64
import csv
import io

import numpy as np

from .. import scene as S
from ..catalog import BY_NAME, COLOUR_NAMES, NAMES, SCENE_TYPES
from ..context import Context
from ..draw import render
from ..files import JPEG_QUALITY, write_json
from ..questions import which_way_question

SIZE = {"small": {"mmbench": 14, "seedbench": 12, "mmstar": 12},
        "full": {"mmbench": 150, "seedbench": 200, "mmstar": 150}}
COPY_STRIDE = 1_000_000
CP, FPS, FPC = "coarse_perception", "finegrained_perception (instance-level)", "finegrained_perception (cross-instance)"
MMBENCH_KINDS = ("scene", "topic", "colour", "side", "facing", "count", "left_of")
SEED_KINDS = ("scene", "topic", "colour", "location", "count", "relation")
SEED_DIMENSION = {"scene": 1, "topic": 2, "colour": 3, "location": 4, "count": 5, "relation": 6}
CATEGORY = {"scene": ("image_scene", CP), "topic": ("image_topic", CP), "colour": ("attribute_recognition", FPS),
            "side": ("object_localization", FPS), "facing": ("orientation", FPS),
            "count": ("object_counting", FPC), "left_of": ("spatial_relationship", FPC)}
MMSTAR_CATEGORY = {"scene": ("coarse perception", "image scene and topic"),
                   "topic": ("coarse perception", "image scene and topic"),
                   "colour": ("fine-grained perception", "recognition"),
                   "count": ("fine-grained perception", "object counting"),
                   "location": ("fine-grained perception", "localization"),
                   "relation": ("instance reasoning", "cross-instance relation reasoning")}
SEED_TYPES = {"Scene Understanding": 1, "Instance Identity": 2, "Instance Attributes": 3, "Instance Location": 4,
              "Instances Counting": 5, "Spatial Relation": 6, "Instance Interaction": 7, "Visual Reasoning": 8,
              "Text Understanding": 9}


def _singles(sc: dict) -> list[str]:
    """Categories pictured exactly once."""
    return [c for c in S.categories(sc) if S.count(sc, c) == 1]


def _others(rng: np.random.Generator, pool: list[str], right: str, k: int) -> list[str]:
    rest = [x for x in pool if x != right]
    return [rest[int(i)] for i in rng.choice(len(rest), size=k, replace=False)]


def _where(sc: dict, cat: str) -> tuple[float, float]:
    return S.group_centre(sc, next(o["group"] for o in sc["objects"] if o["category"] == cat))


def make_question(sc: dict, kind: str, rng: np.random.Generator) -> dict | None:
    """{question, options (answer first), hint} for one kind, or None if the scene cannot ask it."""
    cats, singles = S.categories(sc), _singles(sc)
    hint = None
    if kind == "scene":
        right = sc["scene_type"]
        q, opts = "Which place does this picture most likely show?", [right] + _others(
            rng, [s.name for s in SCENE_TYPES], right, 3)
    elif kind == "topic":
        right = cats[int(rng.integers(len(cats)))]
        absent = [c for c in NAMES if c not in cats]
        q, opts = "Which of these objects is in the image?", [right] + _others(rng, absent, right, 3)
    elif kind == "colour":
        cat = cats[int(rng.integers(len(cats)))]
        colour = next(o["colour"] for o in sc["objects"] if o["category"] == cat)
        n = S.count(sc, cat)
        q = f"What color is the {cat}?" if n == 1 else f"What color are the {BY_NAME[cat].plural}?"
        opts = [colour] + _others(rng, list(COLOUR_NAMES), colour, 3)
    elif kind == "count":
        cat = cats[int(rng.integers(len(cats)))]
        n = S.count(sc, cat)
        if n > 4:
            return None
        q = f"How many {BY_NAME[cat].plural} are there in the image?"
        opts = [str(n)] + [str(k) for k in (1, 2, 3, 4) if k != n]
    elif kind in ("side", "location"):
        if not singles:
            return None
        cat = singles[int(rng.integers(len(singles)))]
        x, y = _where(sc, cat)
        if kind == "side":
            side = {"left": "left", "center": "middle", "right": "right"}[S.horizontal(x)]
            q, opts = f"Which side of the image is the {cat} on?", [side] + [s for s in ("left", "middle", "right") if s != side]
            hint = "Sides are as the viewer sees the image."
        else:
            h, v = S.horizontal(x), S.vertical(y)
            if h == "center" and v == "middle":
                return None
            right = f"{v} {h}".replace("middle center", "center").replace("middle ", "").replace(" center", "")
            pool = ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
            q, opts = f"Where is the {cat} in the image?", [right] + _others(rng, pool, right, 3)
    elif kind == "facing":
        with_way = [c for c in singles if next(o for o in sc["objects"] if o["category"] == c)["orientation"]]
        if not with_way:
            return None
        cat = with_way[int(rng.integers(len(with_way)))]
        way = next(o for o in sc["objects"] if o["category"] == cat)["orientation"]
        q, opts = which_way_question(cat), [way] + [w for w in BY_NAME[cat].orientations if w != way]
    elif kind in ("left_of", "relation"):
        if len(singles) < 2:
            return None
        a, b = (singles[int(i)] for i in rng.choice(len(singles), size=2, replace=False))
        (xa, ya), (xb, yb) = _where(sc, a), _where(sc, b)
        if kind == "left_of":
            if abs(xa - xb) < 8:
                return None
            q, opts = "Which object is further to the left?", [a if xa < xb else b, b if xa < xb else a]
            hint = "Left and right are as the viewer sees the image."
        else:
            dx, dy = xa - xb, ya - yb
            if max(abs(dx), abs(dy)) < 8 or abs(abs(dx) - abs(dy)) < 4:
                return None
            rel = ("left of" if dx < 0 else "right of") if abs(dx) > abs(dy) else ("above" if dy < 0 else "below")
            q = f"Where is the {a} relative to the {b}?"
            opts = [f"{r} the {b}" for r in [rel] + [r for r in ("left of", "right of", "above", "below") if r != rel]]
    else:
        raise ValueError(kind)
    return {"question": q, "options": opts, "hint": hint}


def _scene_and_question(ctx: Context, part: str, i: int, kinds: tuple[str, ...]) -> tuple[dict, dict, str]:
    kind = kinds[i % len(kinds)]
    rng = ctx.rng(part, i)
    single = kind in ("side", "location", "facing", "left_of", "relation")  # needs objects pictured once
    k_range = (2, 3) if kind in ("left_of", "relation") else (1, 3)
    for _ in range(200):
        sc = S.random_scene(rng, k_range=k_range, count_range=(1, 1) if single else (1, 3))
        q = make_question(sc, kind, rng)
        if q is not None:
            order = rng.permutation(len(q["options"]))
            q["choices"] = {"ABCD"[j]: q["options"][int(k)] for j, k in enumerate(order)}
            q["answer"] = "ABCD"[int(np.flatnonzero(order == 0)[0])]
            return sc, q, kind
    raise RuntimeError(f"could not make a {kind} question for {part} item {i}")


def _jpeg(sc: dict) -> bytes:
    buf = io.BytesIO()
    render(sc).save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False)
    return buf.getvalue()


def _jpeg_b64(sc: dict) -> str:
    return base64.b64encode(_jpeg(sc)).decode("ascii")


COLUMNS = ("index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
           "l2-category", "comment", "split")


def build_mmbench(ctx: Context) -> dict:
    originals, copies = [], []
    for i in range(SIZE[ctx.size]["mmbench"]):
        sc, q, kind = _scene_and_question(ctx, "mmbench", i, MMBENCH_KINDS)
        category, l2 = CATEGORY[kind]
        letters = list(q["choices"])
        texts = [q["choices"][c] for c in letters]
        n = len(letters)
        for k in range(n):
            row = {"index": i + k * COPY_STRIDE, "question": q["question"], "hint": q["hint"] or "",
                   **{c: (texts[(j + k) % n] if j < n else "") for j, c in enumerate("ABCD")},
                   "answer": letters[(letters.index(q["answer"]) - k) % n], "category": category,
                   "image": _jpeg_b64(sc) if k == 0 else str(i), "source": "deem world",
                   "l2-category": l2, "comment": "", "split": "dev"}
            (originals if k == 0 else copies).append(row)
        ctx.sidecars.setdefault("mmbench", []).append({"image": f"mmbench/MMBench_DEV_EN.tsv#{i}", "scene": sc,
                                                       "kind": kind, "answer": q["answer"]})
    path = ctx.out / "mmbench" / "MMBench_DEV_EN.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(sorted(originals + copies, key=lambda r: r["index"]))
    return {"mmbench": len(originals), "mmbench_rows": len(originals) + len(copies)}


def build_seedbench(ctx: Context) -> dict:
    questions = []
    for i in range(SIZE[ctx.size]["seedbench"]):
        sc, q, kind = _scene_and_question(ctx, "seedbench", i, SEED_KINDS)
        data_id = f"{500000 + i}_{i:06d}.jpg"
        ctx.image("seedbench", f"seedbench/SEED-Bench-image/{data_id}", sc, kind=kind)
        questions.append({"answer": q["answer"], **{f"choice_{c.lower()}": t for c, t in q["choices"].items()},
                          "data_id": data_id, "data_type": "image", "question": q["question"],
                          "question_id": str(900000 + i), "question_type_id": SEED_DIMENSION[kind]})
    write_json(ctx.out / "seedbench" / "SEED-Bench.json", {"questions": questions, "question_type": SEED_TYPES},
               indent=1)
    return {"seedbench": len(questions)}


def build_mmstar(ctx: Context) -> dict:
    """``mmstar/mmstar.parquet`` like Lin-Chen/MMStar: the options written inside the question."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for i in range(SIZE[ctx.size]["mmstar"]):
        sc, q, kind = _scene_and_question(ctx, "mmstar", i, SEED_KINDS)
        options = ", ".join(f"{c}: {t}" for c, t in q["choices"].items())
        category, l2 = MMSTAR_CATEGORY[kind]
        rows.append({"index": i, "question": f"{q['question']}\nOptions: {options}",
                     "image": {"bytes": _jpeg(sc), "path": None}, "answer": q["answer"], "category": category,
                     "l2_category": l2, "meta_info": {"source": "deem world", "split": "val",
                                                      "image_path": f"images/{i}.jpg"}})
        ctx.sidecars.setdefault("mmstar", []).append({"image": f"mmstar/mmstar.parquet#{i}", "scene": sc,
                                                      "kind": kind, "answer": q["answer"]})
    path = ctx.out / "mmstar" / "mmstar.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return {"mmstar": len(rows)}


WORLD_PARTS = (("mmbench", build_mmbench), ("seedbench", build_seedbench), ("mmstar", build_mmstar))
