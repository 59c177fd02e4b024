"""Benchmark the RobustVQA builder: images/s and the share of time spent outside the CLIP forward pass.

Writes an ImageNet-V2-style tree of synthetic JPEGs and a random-weight open_clip model (no downloads),
then runs the real build. Example:

    python benchmarks/bench_build.py --images 512 --batch-size 64 --num-workers 2 --arch small
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ARCHS = {
    "tiny": {"embed_dim": 16,
             "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}},
    "small": {"embed_dim": 256,
              "vision_cfg": {"image_size": 224, "layers": 4, "width": 256, "head_width": 64, "patch_size": 32},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 256, "heads": 4, "layers": 4}},
}


def make_tree(root: Path, n_images: int, n_classes: int, size: tuple[int, int]) -> Path:
    """A V2-style tree (`<k>/<file>.jpeg`) of noisy photos at a realistic resolution."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n_images):
        folder = root / str(i % n_classes)
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, size=3)
        pixels = np.clip(base + rng.normal(0, 30, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:06d}.jpeg", quality=90)
    return root


def make_model(folder: Path, arch: str) -> str:
    """Random-weight open_clip model in the local-dir format (a built-in name uses its open_clip config)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    cfg = ARCHS.get(arch) or open_clip.get_model_config(arch)
    if cfg is None:
        raise SystemExit(f"unknown --arch {arch!r}")
    torch.manual_seed(0)
    model = open_clip.model.CLIP(**cfg)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    return f"local-dir:{folder}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--arch", default="small", help="tiny, small, or an open_clip model name (random weights)")
    parser.add_argument("--image-size", default="500x375", help="WxH of the synthetic JPEGs")
    args = parser.parse_args()

    from deem_eval.builders.robustvqa import run_build

    w, h = (int(x) for x in args.image_size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # time the text pass; leave the user cache alone
        tree = make_tree(tmp / "v2", args.images, args.classes, (w, h))
        names = {str(k): f"class number {k}" for k in range(args.classes)}
        (tmp / "names.json").write_text(json.dumps(names))
        model = make_model(tmp / "clip", args.arch)
        t0 = time.perf_counter()
        result = run_build(tmp / "out", None, None, tree, clip_model=model, classnames=tmp / "names.json",
                           batch_size=args.batch_size, templates_kind="openai", num_workers=args.num_workers,
                           progress=False)
        wall = time.perf_counter() - t0
    st = result.stats["imagenet_v2"]
    outside = 1.0 - st.forward_seconds / st.wall_seconds
    print(f"arch={args.arch} images={st.images} batch_size={args.batch_size} num_workers={args.num_workers}")
    print(f"feature extraction: {st.images / st.wall_seconds:.1f} images/s "
          f"({st.wall_seconds:.2f} s, CLIP forward {st.forward_seconds:.2f} s)")
    print(f"share of extraction time outside the CLIP forward: {100 * outside:.1f}%")
    print(f"whole build: {st.images / wall:.1f} images/s ({wall:.2f} s, text embeddings {result.text_seconds:.2f} s)")


if __name__ == "__main__":
    main()
