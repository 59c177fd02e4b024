"""Scene sampling: which categories appear together, their attributes and where they sit.

A scene is a plain dict (it is written verbatim to the ``scenes/*.jsonl`` sidecars), so every
question derived from it can be checked later. Objects in one *group* share category and
attributes (``count`` is the group size); positions are tight boxes in 64 px image coordinates.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, combinations

import numpy as np

from . import shapes
from .catalog import (
    BY_NAME,
    COLOUR_NAMES,
    COLOURS,
    NAMES,
    SCENE_BY_NAME,
    SCENE_TYPES,
    SIZES,
    TEXTURE_WEIGHTS,
    TEXTURES,
)

IMAGE_SIZE = 64
IN_SCENE_P = 0.85  # chance that an extra category comes from the scene's own type


@lru_cache(maxsize=256)
def _part_code(part: str) -> int:
    return int.from_bytes(hashlib.sha256(part.encode()).digest()[:4], "little")


def rng_for(seed: int, part: str, index: int) -> np.random.Generator:
    """A generator for one item: independent of the order in which parts and items are built."""
    return np.random.default_rng([seed, _part_code(part), index])


def _pick(rng: np.random.Generator, items, weights=None):
    if weights is None:
        return items[int(rng.integers(len(items)))]
    cum = list(accumulate(weights))
    return items[min(bisect_right(cum, rng.random() * cum[-1]), len(items) - 1)]


def sample_scene_type(rng: np.random.Generator) -> str:
    return _pick(rng, [s.name for s in SCENE_TYPES], [s.weight for s in SCENE_TYPES])


def sample_categories(rng: np.random.Generator, k: int, scene_type: str | None = None) -> tuple[str, list[str]]:
    """k distinct categories: mostly from the scene type (skewed within it), sometimes from anywhere."""
    stype = scene_type or sample_scene_type(rng)
    st = SCENE_BY_NAME[stype]
    chosen: list[str] = []
    while len(chosen) < k:
        if not chosen or rng.random() < IN_SCENE_P:
            pool = [m for m in st.members if m not in chosen]
            weights = [w for m, w in zip(st.members, st.member_weights, strict=True) if m not in chosen]
            if pool:
                chosen.append(_pick(rng, pool, weights))
                continue
        other = _pick(rng, [s for s in SCENE_TYPES if s.name != stype], [s.weight for s in SCENE_TYPES if s.name != stype])
        pool = [m for m in other.members if m not in chosen]
        if pool:
            chosen.append(_pick(rng, pool, [w for m, w in zip(other.members, other.member_weights, strict=True)
                                              if m not in chosen]))
    return stype, chosen


@lru_cache(maxsize=1)
def world_statistics(n: int = 8000) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Category frequency and pairwise co-occurrence over the world's scene distribution.

    Estimated from a fixed-seed sample of category sets (1-4 categories, like the scenes), so it
    does not depend on the build size or seed; POPE's popular/adversarial negatives use it.
    """
    rng = np.random.default_rng(12345)
    freq = dict.fromkeys(NAMES, 0.0)
    co: dict[tuple[str, str], float] = {}
    for _ in range(n):
        _, cats = sample_categories(rng, int(rng.integers(1, 5)))
        for c in cats:
            freq[c] += 1.0 / n
        for a, b in combinations(sorted(cats), 2):
            co[(a, b)] = co.get((a, b), 0.0) + 1.0 / n
    return freq, co


def cooccurrence(a: str, b: str) -> float:
    _, co = world_statistics()
    return co.get((min(a, b), max(a, b)), 0.0)


def sample_attributes(rng: np.random.Generator, category: str, size: str | None = None) -> dict:
    """Colour, size, orientation, state and texture of one group (photo-domain priors)."""
    cat = BY_NAME[category]
    return {
        "category": category,
        "colour": _pick(rng, COLOUR_NAMES),
        "size": size or _pick(rng, list(SIZES), [0.35, 0.4, 0.25]),
        "orientation": _pick(rng, cat.orientations) if cat.orientations else None,
        "state": _pick(rng, cat.states) if cat.states else None,
        "texture": _pick(rng, TEXTURES, TEXTURE_WEIGHTS),
    }


def shade(rgb, rng: np.random.Generator, jitter: int) -> list[int]:
    """The drawn colour: the named colour with a small per-object variation."""
    deltas = rng.integers(-jitter, jitter + 1, size=3) if jitter else (0, 0, 0)
    return [min(255, max(0, int(v) + int(d))) for v, d in zip(rgb, deltas, strict=True)]


def overlaps(box, boxes, margin):
    x, y, w, h = box
    return any(x < bx + bw + margin and bx < x + w + margin and y < by + bh + margin and by < y + h + margin
               for bx, by, bw, bh in boxes)


def place_groups(rng: np.random.Generator, groups: list[dict], *, jitter: int = 8, margin: float = 2.0,
                 size_scale: float = 1.0, fixed: dict | None = None) -> list[dict]:
    """Place every instance of every group without overlap; returns the object list.

    A group is attributes plus ``count``. If an instance cannot be placed after shrinking, the
    group's count is reduced (and recorded), so the scene always describes what is drawn.
    ``fixed`` maps (group, instance) to a centre to reuse (for image pairs that differ in one detail).
    """
    objects: list[dict] = []
    boxes: list[tuple[float, float, float, float]] = []
    for gi, g in enumerate(groups):
        lo, hi = SIZES[g["size"]]
        px = float(rng.integers(lo, hi + 1)) * g.get("scale", size_scale)
        w_u, h_u = shapes.extent(g["category"], g["orientation"], g["state"])
        rgb = shade(g.get("rgb") or COLOURS[g["colour"]], rng, jitter)
        placed = 0
        for inst in range(g["count"]):
            centre = (fixed or {}).get((gi, inst))
            size = px
            box = None
            for attempt in range(3):
                if attempt:
                    size *= 0.85
                w, h = w_u * size / 2, h_u * size / 2
                us = rng.random((40, 2))
                cands = [centre] if centre is not None and attempt == 0 else []
                cands += [(w / 2 + 1 + u * (IMAGE_SIZE - w - 2), h / 2 + 1 + v * (IMAGE_SIZE - h - 2))
                          for u, v in us.tolist()]
                for cx, cy in cands:
                    cand = (cx - w / 2, cy - h / 2, w, h)
                    if not overlaps(cand, boxes, margin):
                        box = cand
                        break
                if box is not None:
                    break
            if box is None:
                continue
            boxes.append(box)
            objects.append(make_object(g, gi, cx, cy, size, rgb))
            placed += 1
        g["count"] = placed
    for o in objects:
        o["count"] = groups[o["group"]]["count"]
    return [o for o in objects if o["count"] > 0]


def make_object(g: dict, group: int, cx: float, cy: float, size: float, rgb) -> dict:
    _, pts, offsets = shapes.place_array(g["category"], g["orientation"], g["state"], cx, cy, size)
    (x0, y0), (x1, y1) = np.maximum(pts.min(0), 0.0), np.minimum(pts.max(0), float(IMAGE_SIZE))
    x0, y0, x1, y1 = (round(float(v), 2) for v in (x0, y0, x1, y1))
    flat = np.round(pts, 1).ravel().tolist()
    bounds = [0, *[2 * o for o in offsets], len(flat)]
    return {
        "category": g["category"], "colour": g["colour"], "size": g["size"], "orientation": g["orientation"],
        "state": g["state"], "texture": g["texture"], "group": group, "rgb": list(rgb),
        "centre": [round(cx, 2), round(cy, 2)], "extent": round(size, 2),
        "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
        "polygons": [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
    }


def background(rng: np.random.Generator, scene_type: str, jitter: int = 6) -> dict:
    """The scene type's background most of the time, another one sometimes (so it is no shortcut)."""
    st = SCENE_BY_NAME[scene_type]
    if rng.random() < 0.2:
        st = _pick(rng, SCENE_TYPES)
    top = shade(st.background, rng, jitter)
    bottom = [max(0, v - int(d)) for v, d in zip(top, rng.integers(8, 28, size=3), strict=True)]
    return {"name": st.background_name, "rgb": top, "rgb2": bottom}


def new_scene(rng: np.random.Generator, groups: list[dict], scene_type: str, *, domain: str = "photo",
              style: str = "photo", jitter: int = 8, bg_jitter: int = 6, **place_kw) -> dict:
    """Assemble a scene dict from attribute groups (each with ``count``)."""
    bg = background(rng, scene_type, bg_jitter)
    objects = place_groups(rng, groups, jitter=jitter, **place_kw)
    return {"domain": domain, "style": style, "scene_type": scene_type, "background": bg,
            "objects": objects, "effects": {}, "seed": int(rng.integers(2**31)),
            "width": IMAGE_SIZE, "height": IMAGE_SIZE}


def random_scene(rng: np.random.Generator, k_range=(1, 3), count_range=(1, 3), **kw) -> dict:
    """A photo-domain scene with k categories, each group of 1..n instances."""
    k = int(rng.integers(k_range[0], k_range[1] + 1))
    stype, cats = sample_categories(rng, k)
    groups = []
    for c in cats:
        g = sample_attributes(rng, c)
        g["count"] = int(rng.integers(count_range[0], count_range[1] + 1))
        if g["count"] >= 3 and g["size"] == "large":
            g["size"] = "medium"
        groups.append(g)
    return new_scene(rng, groups, stype, **kw)


def scene_hash(scene: dict) -> str:
    """Content hash of a scene (what is drawn and how), for train/eval disjointness checks."""
    keep = {k: scene[k] for k in ("domain", "style", "background", "objects", "effects", "seed")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


# ---- facts derived from a scene (used by the question generators and by tests) ----

def categories(scene: dict) -> list[str]:
    """Categories present, in order of first appearance."""
    seen: list[str] = []
    for o in scene["objects"]:
        if o["category"] not in seen:
            seen.append(o["category"])
    return seen


def count(scene: dict, category: str) -> int:
    return sum(o["category"] == category for o in scene["objects"])


def group_objects(scene: dict, group: int) -> list[dict]:
    return [o for o in scene["objects"] if o["group"] == group]


def groups(scene: dict) -> list[int]:
    out: list[int] = []
    for o in scene["objects"]:
        if o["group"] not in out:
            out.append(o["group"])
    return out


def horizontal(x: float) -> str:
    return "left" if x < IMAGE_SIZE / 3 else "right" if x > 2 * IMAGE_SIZE / 3 else "center"


def vertical(y: float) -> str:
    return "top" if y < IMAGE_SIZE / 3 else "bottom" if y > 2 * IMAGE_SIZE / 3 else "middle"


def group_centre(scene: dict, group: int) -> tuple[float, float]:
    objs = group_objects(scene, group)
    return (sum(o["centre"][0] for o in objs) / len(objs), sum(o["centre"][1] for o in objs) / len(objs))
