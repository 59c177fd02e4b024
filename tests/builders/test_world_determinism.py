"""The world is a pure function of (size, seed): same seed, byte-identical files."""

from __future__ import annotations

import json

from deem_eval.builders.world import GENERATOR_VERSION, build_world

from .world_helpers import small_world, tree_hashes


def test_same_seed_gives_byte_identical_tree(tmp_path):
    first = small_world(0)
    again = tmp_path / "again"
    counts = build_world(again, size="small", seed=0, progress=False)
    a, b = tree_hashes(first), tree_hashes(again)
    assert sorted(a) == sorted(b)
    differing = [k for k in a if a[k] != b[k]]
    assert differing == []
    meta = json.loads((again / "world.json").read_text())
    assert meta == {"generator_version": GENERATOR_VERSION, "size": "small", "seed": 0, "counts": counts}


def test_other_seed_gives_other_images(tmp_path):
    other = tmp_path / "other"
    build_world(other, size="small", seed=1, progress=False)
    a, b = tree_hashes(small_world(0)), tree_hashes(other)
    pope = [k for k in a if k.startswith("pope/images/")]
    assert pope and all(a[k] != b[k] for k in pope)
