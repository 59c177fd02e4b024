"""Small ImageNet-A / -R / -V2 trees in the real layouts and a tiny open_clip model, for builder tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from deem_eval.builders.robustvqa.wnids import split_wnids
from PIL import Image

A_WNIDS = split_wnids("imagenet_a")[:3]
R_WNIDS = split_wnids("imagenet_r")[:2]
V2_FOLDERS = ["0", "1", "10", "2"]
TINY_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def write_image(path: Path, seed: int, fmt: str = "JPEG") -> None:
    """A deterministic noisy picture whose content differs by seed."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    pixels = np.clip(base + rng.normal(0, 40, size=(40, 48, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt)


def make_trees(root: Path, corrupt: bool = True) -> dict[str, Path]:
    """A (3 classes × 3 images, README.txt, one corrupt file), R (2 × 2 PNG) and V2 (folders 0,1,10,2 × 2)."""
    a, r, v2 = root / "imagenet-a", root / "imagenet-r", root / "imagenetv2-matched-frequency"
    seed = 0
    for wnid in A_WNIDS:
        for k in range(3):
            seed += 1
            write_image(a / wnid / f"{k}_{wnid}.jpg", seed)
    (a / "README.txt").write_text("ImageNet-A: 200 classes\n")
    if corrupt:
        (a / A_WNIDS[1] / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    for wnid in R_WNIDS:
        for k in range(2):
            seed += 1
            write_image(r / wnid / f"art_{k}.png", seed, fmt="PNG")
    for folder in V2_FOLDERS:
        for _ in range(2):
            seed += 1
            write_image(v2 / folder / f"{seed:040x}.jpeg", seed)
    return {"imagenet_a": a, "imagenet_r": r, "imagenet_v2": v2}


FIXED_NAMES = {
    A_WNIDS[0]: "red fox toy",
    A_WNIDS[1]: "blue kettle",
    A_WNIDS[2]: "green lamp",
    R_WNIDS[0]: "paper boat",
    R_WNIDS[1]: "stone owl",
    "0": "tench fish",
    "1": "golden fish",
    "2": "great white shark",
    "10": "brambling bird",
}


def write_classnames(path: Path) -> Path:
    path.write_text(json.dumps(FIXED_NAMES, indent=1))
    return path


def make_tiny_clip(folder: Path, seed: int = 0) -> str:
    """Random-weight open_clip ViT saved in the local-dir format; returns the `local-dir:` model name."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**TINY_CFG)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    config = {"model_cfg": TINY_CFG, "preprocess_cfg": {"mean": [0.5] * 3, "std": [0.5] * 3}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    return f"local-dir:{folder}"


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative posix path → bytes), for byte-identity checks."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
