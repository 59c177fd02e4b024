"""The default data root: the built-in synthetic world plus its RobustVQA split.

The world's ImageNet-style trees become a RobustVQA folder by the same builder users run
on real ImageNet-A/-R/-V2, mined with the bundled tiny CLIP ViT (the analogue of CLIP-ViT-L).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def mining_clip_dir() -> Path:
    """The bundled mining CLIP (trained contrastively on the world by `make checkpoints`)."""
    import deem_model

    return Path(deem_model.__file__).resolve().parent / "checkpoints" / "mining-vit"


def ensure_robustvqa(root: Path, quiet: bool = False) -> Path | None:
    """Build ``root/robustvqa`` from ``root/imagenet`` once; None when the mining model is absent."""
    out = root / "robustvqa"
    if (out / "robustvqa_test.json").is_file():
        return out
    clip_dir = mining_clip_dir()
    if not (clip_dir / "open_clip_config.json").is_file():
        return None
    from .builders.robustvqa import build_robustvqa

    tmp = root / f".robustvqa.partial-{os.getpid()}"
    trees = root / "imagenet"
    build_robustvqa(
        tmp, trees / "a", trees / "r", trees / "v2",
        clip_model=f"local-dir:{clip_dir}", clip_pretrained=None,
        classnames=trees / "classnames.json", keep="all", templates="simple", progress=not quiet,
    )
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"deem-eval: built the world's RobustVQA split at {out}", file=sys.stderr)
    return out


def default_data_root(size: str = "full") -> Path:
    from .builders.world import ensure_world

    root = ensure_world(size)
    ensure_robustvqa(root)
    return root
