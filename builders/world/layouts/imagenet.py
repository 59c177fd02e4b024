"""ImageNet-A/-R/-V2-style trees for the RobustVQA builder.

``imagenet/a/<wnid>/`` holds the adversarial domain, ``imagenet/r/<wnid>/`` the renditions and
``imagenet/v2/<k>/`` the resampled photos, with integer folders indexing the sorted wnid list.
``imagenet/classnames.json`` maps every folder name (wnid and index) to a readable class name,
ready for ``deem-eval build robustvqa --classnames``.
"""

from __future__ import annotations

import numpy as np

from .. import scene as S
from ..catalog import ADVERSARIAL_EFFECTS, BY_NAME, NAMES, RENDITION_STYLES, wnid
from ..context import Context
from ..files import write_json

README = """Synthetic ImageNet-A analogue (deem-eval synthetic world).

Each folder is named by a wnid-like class id; classnames.json in the parent folder maps it to a
class name. Images show the class object under clutter, occlusion, distractor objects, unusual
scale or unusual colour, the conditions that make ImageNet-A hard for classifiers trained on
ordinary photos.
"""


def main_group(rng: np.random.Generator, category: str, scale: float) -> dict:
    g = S.sample_attributes(rng, category, size="large")
    g.update(count=1, scale=scale)
    return g


def adversarial_scene(rng: np.random.Generator, category: str) -> dict:
    effects = [ADVERSARIAL_EFFECTS[int(i)] for i in sorted(rng.choice(len(ADVERSARIAL_EFFECTS), 2, replace=False))]
    scale = 1.4
    g = main_group(rng, category, scale)
    if "scale" in effects:
        g["scale"] = 0.45 if rng.random() < 0.5 else 2.0
    if "colour" in effects:
        hue = rng.integers(0, 256, 3)
        hue[int(rng.integers(3))] = 255
        g.update(colour="unusual", rgb=[int(v) for v in hue])
    groups = [g]
    if "distractors" in effects:
        others = [c for c in NAMES if c != category]
        for j in rng.choice(len(others), int(rng.integers(3, 6)), replace=False):
            og = S.sample_attributes(rng, others[int(j)], size="small")
            og["count"] = 1
            groups.append(og)
    sc = S.new_scene(rng, groups, BY_NAME[category].scene, domain="adversarial", margin=0.5)
    fx: dict = {"kinds": effects}
    if "clutter" in effects:
        fx["clutter"] = int(rng.integers(15, 35))
    if "occlusion" in effects and sc["objects"]:
        x, y, w, h = sc["objects"][0]["bbox"]
        occ = []
        for _ in range(int(rng.integers(1, 3))):
            ow, oh = w * rng.uniform(0.3, 0.5), h * rng.uniform(0.3, 0.6)
            ox, oy = x + rng.uniform(0, w - ow), y + rng.uniform(0, h - oh)
            occ.append({"bbox": [round(float(v), 2) for v in (ox, oy, ow, oh)],
                        "shape": "ellipse" if rng.random() < 0.5 else "rect",
                        "rgb": [int(v) for v in rng.integers(0, 256, 3)]})
        fx["occluders"] = occ
    sc["effects"] = fx
    return sc


def rendition_scene(rng: np.random.Generator, category: str, style: str) -> dict:
    g = main_group(rng, category, 1.5 if style == "pixel" else 1.3)
    return S.new_scene(rng, [g], BY_NAME[category].scene, domain="rendition", style=style)


def resampled_scene(rng: np.random.Generator, category: str) -> dict:
    """Photo domain with a mild shift: stronger colour jitter, other sizes, a little blur."""
    groups = [main_group(rng, category, float(rng.uniform(1.0, 1.5)))]
    if rng.random() < 0.3:
        _, cats = S.sample_categories(rng, 2, BY_NAME[category].scene)
        og = S.sample_attributes(rng, next(c for c in cats if c != category), size="small")
        og["count"] = 1
        groups.append(og)
    sc = S.new_scene(rng, groups, BY_NAME[category].scene, domain="resampled", jitter=22, bg_jitter=16)
    sc["effects"] = {"blur": round(float(rng.uniform(0.2, 0.6)), 2), "noise": 4.0}
    return sc


def build(ctx: Context) -> dict:
    per = ctx.cfg["imagenet_per_class"]
    root = ctx.out / "imagenet"
    counts = {"imagenet_a": 0, "imagenet_r": 0, "imagenet_v2": 0}
    for ci, cat in enumerate(NAMES):
        w = wnid(ci)
        for j in range(per):
            idx = ci * per + j
            ctx.image("imagenet_a", f"imagenet/a/{w}/{w}_{j:04d}.jpg", adversarial_scene(ctx.rng("imagenet-a", idx), cat),
                      label=cat)
            style = RENDITION_STYLES[idx % len(RENDITION_STYLES)]
            ctx.image("imagenet_r", f"imagenet/r/{w}/{style}_{j:04d}.jpg",
                      rendition_scene(ctx.rng("imagenet-r", idx), cat, style), label=cat)
            ctx.image("imagenet_v2", f"imagenet/v2/{ci}/{j:04d}.jpg", resampled_scene(ctx.rng("imagenet-v2", idx), cat),
                      label=cat)
            for k in counts:
                counts[k] += 1
    names = {wnid(i): c for i, c in enumerate(NAMES)}
    names.update({str(i): c for i, c in enumerate(NAMES)})
    write_json(root / "classnames.json", names, indent=1)
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "a" / "README.txt").write_text(README, encoding="utf-8")
    return counts
