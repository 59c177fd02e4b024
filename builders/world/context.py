"""What every layout writer shares: the output folder, seeds, sizes and the queue of images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import scene as S

# Items per part. ``full`` is the size used to train and to report; ``small`` is for tests.
# full: POPE 300 images (1,800 questions per file), MMVP 300 rows, VQAv2 1,500 questions on 500
# images, OK-VQA 300, VizWiz 300, Karpathy 950 images (500 test), RefCOCOg 400 images (~900 refs,
# ~220 val), FID 500 images x 5 captions, ImageNet-A/-R/-V2 600 images each (24 classes x 25),
# training 10,000 images; 15,350 images in all.
SIZES: dict[str, dict] = {
    "small": {"pope": 12, "mmvp_pairs": 10, "vqav2": 16, "okvqa": 10, "vizwiz": 12,
              "coco": {"train": 4, "restval": 2, "val": 6, "test": 10}, "refcocog": 16, "fid": 10,
              "imagenet_per_class": 2, "train": 300},
    "full": {"pope": 300, "mmvp_pairs": 150, "vqav2": 500, "okvqa": 300, "vizwiz": 300,
             "coco": {"train": 100, "restval": 100, "val": 250, "test": 500}, "refcocog": 400, "fid": 500,
             "imagenet_per_class": 25, "train": 10000},
}


@dataclass
class Context:
    """Build state: layouts queue images (path + scene) and write their text files directly."""

    out: Path
    seed: int
    size: str
    jobs: list[tuple[str, dict]] = field(default_factory=list)
    sidecars: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def cfg(self) -> dict:
        return SIZES[self.size]

    def rng(self, part: str, index: int) -> np.random.Generator:
        return S.rng_for(self.seed, part, index)

    def image(self, part: str, relpath: str, scene: dict, **extra) -> str:
        """Queue ``scene`` to be drawn at ``out/relpath`` and record it in the part's sidecar."""
        self.jobs.append((relpath, scene))
        self.sidecars.setdefault(part, []).append({"image": relpath, "scene": scene, **extra})
        return relpath
