"""Rendering a scene dict to a 64 px RGB image, in the look of its domain and style.

Drawing happens at 4x and is box-filtered down, so edges are anti-aliased and small details
(an eye, a handle, a lid) stay legible at the model's 64 px input. All randomness comes from
the scene's own ``seed``; the result depends on nothing else.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import shapes

SS = 4  # supersampling factor
PAPER = (246, 243, 236)


def _dark(rgb, f=0.6):
    return tuple(int(v * f) for v in rgb)


def _accent(rgb):
    """A contrasting shade for texture marks: lighter on dark colours, darker on light ones."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return tuple(int(v + (255 - v) * 0.65) for v in rgb) if lum < 110 else tuple(int(v * 0.45) for v in rgb)


def _pattern(texture: str, x0: int, y0: int, w: int, h: int, period: int) -> np.ndarray:
    yy, xx = np.mgrid[y0:y0 + h, x0:x0 + w]
    if texture == "striped":
        return ((xx + yy) // (period // 2)) % 2 == 0
    if texture == "dotted":
        cx = (xx % period) - period / 2
        cy = (yy % period) - period / 2
        return cx * cx + cy * cy <= (period * 0.27) ** 2
    if texture == "checkered":
        return ((xx // (period // 2)) + (yy // (period // 2))) % 2 == 0
    if texture == "hatch":
        return ((xx - yy) % period) < max(1, period // 4)
    if texture == "waves":
        return ((yy + (np.sin(xx / period * 2.1) * period * 0.4)).astype(int) // (period // 2)) % 2 == 0
    raise ValueError(texture)


def _paint_pattern(canvas: Image.Image, polys, texture: str, colour, period: int) -> None:
    """Fill the union of ``polys`` with ``colour`` wherever the texture pattern is set."""
    xs = [p[0] for pts in polys for p in pts]
    ys = [p[1] for pts in polys for p in pts]
    x0, y0 = max(0, int(min(xs)) - 1), max(0, int(min(ys)) - 1)
    x1, y1 = min(canvas.width, int(max(xs)) + 2), min(canvas.height, int(max(ys)) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    md = ImageDraw.Draw(mask)
    for pts in polys:
        md.polygon([(x - x0, y - y0) for x, y in pts], fill=255)
    pat = _pattern(texture, x0, y0, x1 - x0, y1 - y0, period)
    m = np.asarray(mask) * pat
    canvas.paste(tuple(colour), (x0, y0, x1, y1), Image.fromarray(m.astype(np.uint8)))


def _background(scene: dict, rng: np.random.Generator) -> Image.Image:
    n = 64 * SS
    style = scene["style"]
    bg = scene["background"]
    if style in ("outline", "sketch"):
        return Image.new("RGB", (n, n), PAPER)
    top, bottom = np.array(bg["rgb"], float), np.array(bg.get("rgb2", bg["rgb"]), float)
    t = np.linspace(0, 1, n)[:, None]
    column = np.ascontiguousarray((top * (1 - t) + bottom * t).astype(np.uint8)[:, None, :])
    img = Image.fromarray(column).resize((n, n), Image.Resampling.NEAREST)
    if style == "texture":
        colour = tuple(int(v) for v in rng.integers(60, 200, 3))
        tex = str(rng.choice(["waves", "hatch", "checkered", "dotted"]))
        _paint_pattern(img, [[(0, 0), (n, 0), (n, n), (0, n)]], tex, colour, 6 * SS)
    return img


def _clutter(draw: ImageDraw.ImageDraw, rng: np.random.Generator, n: int) -> None:
    size = 64 * SS
    for _ in range(n):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = rng.uniform(0, size, 2)
        if rng.random() < 0.6:
            dx, dy = rng.uniform(-18, 18, 2) * SS
            draw.line([(x, y), (x + dx, y + dy)], fill=colour, width=int(rng.integers(1, 3)) * SS)
        else:
            r = rng.uniform(2, 6) * SS
            draw.ellipse([x - r, y - r, x + r, y + r], outline=colour, width=SS)


def _draw_object(canvas: Image.Image, draw: ImageDraw.ImageDraw, obj: dict, style: str,
                 rng: np.random.Generator, bg_rgb) -> None:
    cx, cy = obj["centre"]
    parts = shapes.place(obj["category"], obj["orientation"], obj["state"], cx * SS, cy * SS, obj["extent"] * SS)
    body = tuple(obj["rgb"])
    if style == "outline":
        for _, pts in parts:
            draw.line([*pts, pts[0]], fill=(20, 20, 20), width=int(1.5 * SS), joint="curve")
        return
    if style == "sketch":
        grey = int(rng.integers(60, 110))
        for role, pts in parts:
            if role == shapes.BODY:
                _paint_pattern(canvas, [pts], "hatch", (grey + 60,) * 3, 3 * SS)
            for _ in range(2):
                jit = [(x + rng.normal(0, 0.5 * SS), y + rng.normal(0, 0.5 * SS)) for x, y in pts]
                draw.line([*jit, jit[0]], fill=(grey, grey, grey), width=SS // 2 + 1)
        return
    if style == "photo":
        shadow = _dark(bg_rgb, 0.78)
        off = 1.2 * SS
        for _, pts in parts:
            draw.polygon([(x + off, y + off) for x, y in pts], fill=shadow)
    bodies = []
    for role, pts in parts:
        colour = body if role == shapes.BODY else _dark(body) if role == shapes.DARK else role
        draw.polygon(pts, fill=colour)
        if role == shapes.BODY:
            bodies.append(pts)
    texture = obj["texture"]
    if style == "texture":
        texture = "checkered" if texture == "solid" else texture
        _paint_pattern(canvas, bodies, texture, tuple(int(v) for v in rng.integers(0, 256, 3)), 4 * SS)
    elif texture != "solid" and style == "photo":
        _paint_pattern(canvas, bodies, texture, _accent(body), 4 * SS)
    edge = _dark(body, 0.45)
    for pts in bodies:
        draw.line([*pts, pts[0]], fill=edge, width=SS if style == "photo" else 2 * SS, joint="curve")


def render(scene: dict) -> Image.Image:
    """Draw the scene; returns a 64x64 RGB image."""
    rng = np.random.default_rng(scene["seed"])
    style = scene["style"]
    fx = scene.get("effects", {})
    canvas = _background(scene, rng)
    draw = ImageDraw.Draw(canvas)
    if fx.get("clutter"):
        _clutter(draw, rng, int(fx["clutter"]))
    obj_style = "flat" if style == "pixel" else style
    for obj in scene["objects"]:
        _draw_object(canvas, draw, obj, obj_style, rng, scene["background"]["rgb"])
    for occ in fx.get("occluders", []):
        x, y, w, h = (v * SS for v in occ["bbox"])
        shape = draw.ellipse if occ["shape"] == "ellipse" else draw.rectangle
        shape([x, y, x + w, y + h], fill=tuple(occ["rgb"]))
    img = canvas.reduce(SS)
    if style == "pixel":
        small = img.resize((16, 16), Image.Resampling.BOX)
        small = small.quantize(colors=12, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
        return small.resize((64, 64), Image.Resampling.NEAREST)
    if fx.get("blur"):
        img = img.filter(ImageFilter.GaussianBlur(float(fx["blur"])))
    noise = float(fx.get("noise", 3.0 if style == "photo" else 0.0))
    bright = float(fx.get("brightness", 1.0))
    if noise or bright != 1.0:
        arr = np.asarray(img, dtype=np.float32) * bright
        if noise:
            arr = arr + rng.normal(0, noise, arr.shape)
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    return img
