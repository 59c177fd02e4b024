"""A tiny synthetic corpus in the world's train/ layout, and tiny random DEEM models built on it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (230, 210, 30)}
SHAPES = ("circle", "square")


def _draw(path: Path, shape: str, colour: str, box: tuple[int, int, int, int]) -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (64, 64), (240, 240, 240))
    d = ImageDraw.Draw(im)
    x, y, w, h = box
    if shape == "circle":
        d.ellipse([x, y, x + w - 1, y + h - 1], fill=COLOURS[colour])
    else:
        d.rectangle([x, y, x + w - 1, y + h - 1], fill=COLOURS[colour])
    im.save(path)


def write_world_train(root: Path, n: int = 24, seed: int = 0) -> Path:
    """Write ``root/train`` with n images and every corpus file; returns ``root``."""
    rng = random.Random(seed)
    train = root / "train"
    (train / "images").mkdir(parents=True, exist_ok=True)
    files = {k: [] for k in ("captions", "interleaved", "instruct", "region", "t2i")}
    for i in range(n):
        shape, colour = SHAPES[i % 2], list(COLOURS)[(i // 2) % 4]
        box = (rng.randint(2, 30), rng.randint(2, 30), rng.randint(16, 30), rng.randint(16, 30))
        rel = f"images/{i:05d}.png"
        _draw(train / rel, shape, colour, box)
        files["captions"].append({"image": rel, "caption": f"a {shape}"})
        files["t2i"].append({"image": rel, "caption": f"a {colour} {shape}"})
        files["interleaved"].append({"image": rel, "text": f"A picture of a {colour} {shape} on a grey background."})
        other = SHAPES[(i + 1) % 2]
        q_shape = shape if i % 4 < 2 else other
        files["instruct"].append({"image": rel, "question": f"Is there a {q_shape} in the image?",
                                  "answer": "yes" if q_shape == shape else "no"})
        x, y, w, h = box
        files["region"].append({"image": rel, "bbox": [x, y, w, h],
                                "polygon": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                                "question": "What is in the highlighted region?", "answer": f"a {colour} {shape}"})
    for name, rows in files.items():
        with (train / f"{name}.jsonl").open("w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    return root


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory) -> Path:
    return write_world_train(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session")
def tokenizer(world_dir):
    from deem_model.build import build_tokenizer
    from deem_model.config import get_preset

    return build_tokenizer(get_preset("micro"), world_dir)


@pytest.fixture
def make_model(tokenizer):
    """A fresh, seeded, randomly initialised micro model (a factory: tests may mutate it)."""

    def make(seed: int = 0, **overrides):
        import torch

        from deem_model.build import build_model
        from deem_model.config import get_preset

        cfg = get_preset("micro")
        for k, v in overrides.items():
            setattr(cfg, k, v)
        torch.manual_seed(seed)
        return build_model(cfg, tokenizer=tokenizer)

    return make
