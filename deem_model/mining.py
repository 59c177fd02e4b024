"""The RobustVQA mining model saved in open_clip's own ``local-dir:`` format.

``open_clip.create_model_and_transforms("local-dir:PATH")`` reads ``open_clip_config.json``
(``model_cfg`` + ``preprocess_cfg``) and ``open_clip_model.safetensors`` from PATH, and
``open_clip.get_tokenizer("local-dir:PATH")`` gives the standard BPE tokenizer with the
config's context length, so the RobustVQA builder can use this model like any open_clip model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deem_eval.errors import UserError

from .checkpoint import load_weights, save_weights
from .config import MiningConfig, save_config

OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"


def save_open_clip(model: Any, cfg: MiningConfig, directory: str | Path) -> str:
    """Write config + safetensors weights; returns the weights' sha256."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    size = int(cfg.model_cfg["vision_cfg"]["image_size"])
    blob = {"model_cfg": cfg.model_cfg,
            "preprocess_cfg": {"mean": list(cfg.mean), "std": list(cfg.std), "interpolation": "bicubic",
                               "resize_mode": "shortest", "size": size}}
    (directory / OPEN_CLIP_CONFIG).write_text(json.dumps(blob, indent=2, sort_keys=True) + "\n")
    save_config(cfg, directory / "config.json")
    return save_weights(model, directory / OPEN_CLIP_WEIGHTS)


def load_open_clip_weights(model: Any, directory: str | Path) -> str:
    return load_weights(model, Path(directory) / OPEN_CLIP_WEIGHTS)


def load_mining_model(directory: str | Path, device: str = "cpu") -> tuple[Any, Any, Any]:
    """(model, preprocess, tokenizer) through open_clip's own local-dir loader."""
    import open_clip

    directory = Path(directory)
    if not (directory / OPEN_CLIP_CONFIG).is_file():
        raise UserError(f"{directory}: {OPEN_CLIP_CONFIG} not found (not an open_clip model directory)")
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{directory}", device=device)
    tokenizer = open_clip.get_tokenizer(f"local-dir:{directory}")
    return model.eval(), preprocess, tokenizer
