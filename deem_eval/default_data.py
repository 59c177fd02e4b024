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


def _build_once(root: Path, name: str, quiet: bool, **inputs: Path) -> Path | None:
    """Run the RobustVQA builder on the world's trees into ``root/name`` once (atomic rename)."""
    out = root / name
    if (out / "robustvqa_test.json").is_file():
        return out
    clip_dir = mining_clip_dir()
    if not (clip_dir / "open_clip_config.json").is_file():
        return None
    if not all(p.is_dir() for p in inputs.values()):  # a world of an older generator
        return None
    from .builders.robustvqa import build_robustvqa

    tmp = root / f".{name}.partial-{os.getpid()}"
    trees = root / "imagenet"
    build_robustvqa(
        tmp, inputs.get("imagenet_a"), inputs.get("imagenet_r"), inputs.get("imagenet_v2"),
        clip_model=f"local-dir:{clip_dir}", clip_pretrained=None,
        classnames=trees / "classnames.json", keep="all", templates="simple", progress=not quiet,
    )
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"deem-eval: built the world's {name} split at {out}", file=sys.stderr)
    return out


def ensure_robustvqa(root: Path, quiet: bool = False) -> Path | None:
    """Build ``root/robustvqa`` from ``root/imagenet`` once; None when the mining model is absent."""
    trees = root / "imagenet"
    return _build_once(root, "robustvqa", quiet, imagenet_a=trees / "a", imagenet_r=trees / "r",
                       imagenet_v2=trees / "v2")


def ensure_rvqa_photo(root: Path, quiet: bool = False) -> Path | None:
    """Build ``root/rvqa_photo`` from the photo-domain tree ``root/imagenet/photo`` once.

    The tree has the ImageNet-V2 layout (integer class folders), so the builder reads it as its
    ``imagenet_v2`` input and the split's items sit under that key; the mining model and the
    templates are the ones of the RobustVQA split, so the two differ only in the images.
    """
    return _build_once(root, "rvqa_photo", quiet, imagenet_v2=root / "imagenet" / "photo")


def default_data_root(size: str = "full") -> Path:
    from .builders.world import ensure_world

    root = ensure_world(size)
    ensure_robustvqa(root)
    ensure_rvqa_photo(root)
    return root
