"""The built-in synthetic perception world (design section 8).

Procedurally drawn scenes with checked attributes (category, colour, size, orientation, count,
position, texture, background) in four domains (photo, rendition, adversarial, resampled),
written in the real layouts of the benchmarks plus training corpora under ``train/``.
"""

from __future__ import annotations

from pathlib import Path

GENERATOR_VERSION = "3"


def build_world(out: Path, size: str = "full", seed: int = 0, progress: bool = True) -> dict:
    """Write the world under ``out`` (and ``out/world.json``); returns counts per part."""
    from .build import build_world as _build

    return _build(Path(out), size=size, seed=seed, progress=progress, version=GENERATOR_VERSION)


def ensure_world(size: str = "full", seed: int = 0) -> Path:
    """The default data root: ``cache_dir()/world-{size}-s{seed}-v{GENERATOR_VERSION}``, built once."""
    from .cache import ensure

    return ensure(size, seed, GENERATOR_VERSION, build_world)


def default_world_path(size: str = "full", seed: int = 0) -> Path:
    """Where ``ensure_world`` keeps the world (it may not be built yet)."""
    from .cache import world_dir

    return world_dir(size, seed, GENERATOR_VERSION)


__all__ = ["GENERATOR_VERSION", "build_world", "default_world_path", "ensure_world"]
