"""The DEEM model package: configs and presets, the model, generation, checkpoints, training.

Heavy libraries (torch, transformers, diffusers, open_clip) are imported only when a model is
built, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path

from .config import DeemConfig, MiningConfig, get_preset, list_presets

BUNDLED = ("deem-tiny", "deem-tiny-nocsr", "mining-vit")
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


def bundled_checkpoint(name: str) -> Path:
    """Directory of a bundled checkpoint (it may not have been built yet)."""
    return CHECKPOINT_DIR / name


__all__ = ["BUNDLED", "CHECKPOINT_DIR", "DeemConfig", "MiningConfig", "bundled_checkpoint", "get_preset",
           "list_presets"]
