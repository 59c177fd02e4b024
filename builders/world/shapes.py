"""Procedural outlines of every category as polygons in unit coordinates.

Each category is a list of parts ``(role, points)`` in a [-1, 1] box with y pointing down,
drawn facing right. Roles: ``body`` (object colour, takes the fill texture), ``dark`` (a darker
shade of the object colour) or a fixed RGB colour. Polygons double as the object's mask.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

Point = tuple[float, float]
Part = tuple[object, tuple[Point, ...]]

DARK = "dark"
BODY = "body"
INK = (30, 30, 30)
TRUNK = (120, 75, 35)
GLOW = (255, 226, 80)
GLASS = (200, 230, 245)
CREAM = (240, 230, 205)


def ellipse(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 360.0, n: int = 18):
    """Points on an elliptic arc from angle a0 to a1 (degrees)."""
    pts = []
    for i in range(n + 1 if a1 - a0 < 360 else n):
        a = math.radians(a0 + (a1 - a0) * i / n)
        pts.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return tuple(pts)


def rect(x0: float, y0: float, x1: float, y1: float):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _arc_band(cx, cy, r_out, r_in, a0, a1, n=14):
    outer = ellipse(cx, cy, r_out, r_out, a0, a1, n)
    inner = ellipse(cx, cy, r_in, r_in, a0, a1, n)
    return outer + tuple(reversed(inner))


def _star(r_out=1.0, r_in=0.42):
    pts = []
    for i in range(10):
        a = math.radians(-90 + 36 * i)
        r = r_out if i % 2 == 0 else r_in
        pts.append((r * math.cos(a), r * math.sin(a) + 0.08))
    return tuple(pts)


def _crescent():
    outer = ellipse(0, 0, 1, 1, 50, 310, 22)
    r = math.hypot(math.cos(math.radians(50)) - 0.45, math.sin(math.radians(50)))
    t = math.degrees(math.atan2(math.sin(math.radians(50)), math.cos(math.radians(50)) - 0.45))
    inner = ellipse(0.45, 0, r, r, 360 - t, t, 18)
    return outer + inner


def _leaf():
    """A teardrop: round base on the left, sharp tip on the right (so its direction reads at 64 px)."""
    return ellipse(-0.2, 0, 0.55, 0.55, 50, 310, 16) + ((1.0, 0.0),)


def _parts(name: str, state: str | None) -> list[Part]:
    if name == "ball":
        return [(BODY, ellipse(0, 0, 1, 1)), (DARK, _arc_band(0, 0, 1.0, 0.8, 200, 340, 8))]
    if name == "box":
        parts = [(BODY, rect(-0.9, -0.45, 0.9, 0.95))]
        if state == "open":
            parts += [(INK, rect(-0.8, -0.45, 0.8, -0.25)),
                      (DARK, ((-0.9, -0.5), (-0.75, -0.55), (0.35, -1.0), (0.15, -1.0)))]
        else:
            parts.append((DARK, rect(-1.0, -0.75, 1.0, -0.45)))
        return parts
    if name == "star":
        return [(BODY, _star())]
    if name == "arrow":
        return [(BODY, ((-1, -0.25), (0.1, -0.25), (0.1, -0.8), (1, 0), (0.1, 0.8), (0.1, 0.25), (-1, 0.25)))]
    if name == "key":
        return [(BODY, ellipse(-0.6, 0, 0.4, 0.4)), (BODY, rect(-0.3, -0.13, 1.0, 0.13)),
                (BODY, rect(0.55, 0.1, 0.72, 0.42)), (BODY, rect(0.82, 0.1, 0.98, 0.34)),
                (INK, ellipse(-0.62, 0, 0.15, 0.15, n=10))]
    if name == "boot":
        return [(BODY, rect(-0.7, -1.0, 0.1, 0.4)),
                (BODY, ((-0.7, 0.3), (0.55, 0.3), (1.0, 0.6), (1.0, 0.95), (-0.7, 0.95))),
                (DARK, rect(-0.7, 0.8, 1.0, 1.0)), (DARK, rect(-0.75, -1.0, 0.15, -0.85))]
    if name == "fish":
        return [(BODY, ellipse(0.15, 0, 0.68, 0.45)), (DARK, ((-0.42, 0), (-1, -0.5), (-0.92, 0), (-1, 0.5))),
                (INK, ellipse(0.5, -0.1, 0.09, 0.09, n=8))]
    if name == "bird":
        return [(BODY, ellipse(-0.15, 0.15, 0.62, 0.42)), (BODY, ellipse(0.45, -0.3, 0.3, 0.3)),
                (DARK, ((-0.55, 0.05), (0.15, 0.05), (-0.45, -0.55))),
                (DARK, ((-0.65, 0.05), (-1.0, -0.25), (-0.95, 0.3))),
                (GLOW, ((0.72, -0.38), (1.0, -0.27), (0.72, -0.16))), (INK, ellipse(0.52, -0.35, 0.07, 0.07, n=8))]
    if name == "car":
        return [(BODY, ((-1, -0.1), (0.55, -0.1), (1, 0.1), (1, 0.45), (-1, 0.45))),
                (BODY, ((-0.75, -0.1), (-0.6, -0.6), (0.05, -0.6), (0.45, -0.1))),
                (GLASS, ((-0.6, -0.15), (-0.5, -0.5), (0.0, -0.5), (0.3, -0.15))),
                (GLOW, rect(0.86, 0.05, 1.0, 0.2)),
                (INK, ellipse(-0.55, 0.45, 0.26, 0.26, n=12)), (INK, ellipse(0.55, 0.45, 0.26, 0.26, n=12))]
    if name == "house":
        return [(BODY, rect(-0.8, -0.15, 0.8, 1.0)), (DARK, ((-1, -0.1), (0, -1), (1, -0.1))),
                (INK, rect(-0.18, 0.45, 0.18, 1.0)), (GLASS, rect(0.35, 0.1, 0.62, 0.35))]
    if name == "umbrella":
        if state == "closed":
            return [(BODY, ((0, -0.9), (0.25, 0.35), (-0.25, 0.35))), (INK, rect(-0.05, -1.0, 0.05, 0.8)),
                    (INK, _arc_band(0.18, 0.8, 0.22, 0.1, 0, 180, 8))]
        return [(BODY, ellipse(0, 0.0, 1, 0.85, 180, 360, 18)), (INK, rect(-0.05, 0.0, 0.05, 0.8)),
                (INK, _arc_band(0.18, 0.8, 0.22, 0.1, 0, 180, 8))]
    if name == "lamp":
        parts = []
        if state == "on":
            parts.append((GLOW, ((-0.75, -0.25), (0.75, -0.25), (1.0, 0.65), (-1.0, 0.65))))
        parts += [(INK, rect(-0.06, -0.25, 0.06, 0.85)), (INK, rect(-0.5, 0.82, 0.5, 1.0)),
                  (BODY, ((-0.45, -1.0), (0.45, -1.0), (0.8, -0.25), (-0.8, -0.25)))]
        return parts
    if name == "bell":
        return [(BODY, ((-0.2, -0.85), (0.2, -0.85), (0.5, -0.5), (0.6, 0.4), (0.95, 0.65), (-0.95, 0.65),
                        (-0.6, 0.4), (-0.5, -0.5))),
                (DARK, ellipse(0, 0.82, 0.2, 0.18, n=10)), (DARK, ellipse(0, -0.9, 0.14, 0.12, n=10))]
    if name == "cup":
        return [(BODY, rect(-0.85, -0.75, 0.4, 0.95)), (BODY, _arc_band(0.4, 0.1, 0.55, 0.3, -80, 80, 10)),
                (DARK, rect(-0.85, -0.75, 0.4, -0.6))]
    if name == "flower":
        parts: list[Part] = [(GREENISH, rect(-0.07, 0.25, 0.07, 1.0))]
        for i in range(5):
            a = math.radians(-90 + 72 * i)
            parts.append((BODY, ellipse(0.42 * math.cos(a), -0.3 + 0.42 * math.sin(a), 0.33, 0.33, n=12)))
        parts.append((GLOW, ellipse(0, -0.3, 0.24, 0.24, n=12)))
        return parts
    if name == "tree":
        return [(TRUNK, rect(-0.15, 0.2, 0.15, 1.0)), (BODY, ellipse(0, -0.3, 0.8, 0.7)),
                (DARK, ellipse(0.25, -0.15, 0.2, 0.18, n=10))]
    if name == "mushroom":
        return [(CREAM, rect(-0.28, -0.15, 0.28, 0.9)), (BODY, ellipse(0, -0.1, 1, 0.8, 180, 360, 18)),
                (CREAM, ellipse(-0.45, -0.45, 0.14, 0.14, n=8)), (CREAM, ellipse(0.3, -0.6, 0.14, 0.14, n=8))]
    if name == "leaf":
        return [(DARK, rect(-1.0, -0.08, -0.6, 0.08)), (BODY, _leaf()), (DARK, rect(-0.6, -0.04, 0.75, 0.04))]
    if name == "anchor":
        return [(BODY, rect(-0.1, -0.7, 0.1, 0.85)), (BODY, rect(-0.5, -0.55, 0.5, -0.4)),
                (BODY, _arc_band(0, 0.2, 0.75, 0.55, 20, 160, 12)), (DARK, _arc_band(0, -0.82, 0.2, 0.1, 0, 360, 12))]
    if name == "shell":
        fan = ((0, 0.85),) + ellipse(0, 0.35, 1.0, 1.25, 205, 335, 16)
        ribs = [(DARK, ((0, 0.85), (-0.08 + 0.45 * k, -0.75), (0.08 + 0.45 * k, -0.75))) for k in (-1, 0, 1)]
        return [(BODY, fan), *ribs]
    if name == "boat":
        return [(BODY, ((-1, 0.3), (1, 0.3), (0.55, 0.85), (-0.85, 0.85))), (INK, rect(-0.12, -1.0, -0.02, 0.3)),
                (CREAM, ((-0.02, -0.95), (-0.02, 0.2), (0.8, 0.2)))]
    if name == "kite":
        return [(BODY, ((0, -1), (0.65, -0.25), (0, 0.55), (-0.65, -0.25))), (DARK, rect(-0.03, -1, 0.03, 0.55)),
                (DARK, rect(-0.65, -0.28, 0.65, -0.22)),
                (INK, ((0, 0.55), (0.12, 0.75), (-0.05, 0.78))), (INK, ((0.1, 0.8), (0.25, 1.0), (0.05, 0.98)))]
    if name == "moon":
        return [(BODY, _crescent())]
    if name == "hammer":
        return [(TRUNK, rect(-1.0, -0.1, 0.4, 0.1)), (BODY, ((0.35, -0.6), (0.75, -0.6), (0.75, 0.6), (0.35, 0.6))),
                (BODY, ((0.75, -0.3), (1.0, -0.45), (1.0, 0.45), (0.75, 0.3)))]
    raise KeyError(name)


GREENISH = (60, 140, 60)


def _transform(pts, orientation: str | None):
    out = []
    for x, y in pts:
        if orientation == "left":
            x = -x
        elif orientation == "up":
            x, y = y, -x
        elif orientation == "down":
            x, y = -y, x
        out.append((x, y))
    return tuple(out)


@lru_cache(maxsize=512)
def unit_parts(name: str, orientation: str | None, state: str | None) -> tuple[Part, ...]:
    """The category's parts in unit coordinates, oriented, normalised so the longer side spans 2."""
    parts = [(role, _transform(pts, orientation)) for role, pts in _parts(name, state)]
    xs = [p[0] for _, pts in parts for p in pts]
    ys = [p[1] for _, pts in parts for p in pts]
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return tuple((role, tuple(((x - cx) / half, (y - cy) / half) for x, y in pts)) for role, pts in parts)


def extent(name: str, orientation: str | None, state: str | None) -> tuple[float, float]:
    """Width and height of the unit shape (the longer side is 2)."""
    parts = unit_parts(name, orientation, state)
    xs = [p[0] for _, pts in parts for p in pts]
    ys = [p[1] for _, pts in parts for p in pts]
    return max(xs) - min(xs), max(ys) - min(ys)


@lru_cache(maxsize=512)
def packed(name: str, orientation: str | None, state: str | None):
    """(roles, points array (N, 2), split offsets) of the unit parts, for vectorised placement."""
    parts = unit_parts(name, orientation, state)
    roles = tuple(role for role, _ in parts)
    pts = np.array([p for _, ps in parts for p in ps], dtype=float)
    offsets = tuple(np.cumsum([len(ps) for _, ps in parts])[:-1].tolist())
    return roles, pts, offsets


def place_array(name: str, orientation: str | None, state: str | None, cx: float, cy: float, size: float):
    """Roles, pixel points (N, 2) and split offsets for an object centred at (cx, cy)."""
    roles, pts, offsets = packed(name, orientation, state)
    return roles, pts * (size / 2) + np.array([cx, cy]), offsets


def place(name: str, orientation: str | None, state: str | None, cx: float, cy: float, size: float):
    """Parts in pixel coordinates for an object centred at (cx, cy) whose longer side is ``size``."""
    roles, pts, offsets = place_array(name, orientation, state, cx, cy, size)
    flat = [tuple(p) for p in pts.tolist()]
    bounds = [0, *offsets, len(flat)]
    return [(role, flat[a:b]) for role, a, b in zip(roles, bounds[:-1], bounds[1:], strict=True)]
