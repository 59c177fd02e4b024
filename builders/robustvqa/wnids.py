"""Packaged ImageNet facts: the 1000 wnids in class-index order and the A / R subsets."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

SPLITS = ("imagenet_a", "imagenet_r", "imagenet_v2")
"""Split keys, in output order; also the keys of robustvqa_test.json and the output folder names."""


@lru_cache(maxsize=1)
def _facts() -> dict:
    text = resources.files("deem_eval").joinpath("data/imagenet_wnids.json").read_text(encoding="utf-8")
    facts = json.loads(text)
    wnids = facts["all_wnids"]
    if len(wnids) != 1000 or wnids != sorted(wnids) or len(set(wnids)) != 1000:
        raise RuntimeError("packaged imagenet_wnids.json is damaged: expected 1000 sorted unique wnids")
    return facts


def all_wnids() -> list[str]:
    """The 1000 ImageNet-1k wnids; position = class index (the ImageNet-V2 folder name)."""
    return list(_facts()["all_wnids"])


def split_wnids(split: str) -> list[str]:
    """The label space of a split from the packaged facts: 200 wnids for A and R, all 1000 for V2."""
    if split == "imagenet_a":
        return list(_facts()["imagenet_a_wnids"])
    if split == "imagenet_r":
        return list(_facts()["imagenet_r_wnids"])
    if split == "imagenet_v2":
        return all_wnids()
    raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


@lru_cache(maxsize=1)
def wnid_index() -> dict[str, int]:
    """Map wnid → ImageNet-1k class index."""
    return {w: i for i, w in enumerate(_facts()["all_wnids"])}
