"""The world is a pure function of (size, seed): same seed, byte-identical files."""

from __future__ import annotations

import json

import deem_eval.builders.world as world
from deem_eval.builders.world import build_world

from .world_helpers import small_world, tree_hashes


def test_same_seed_gives_byte_identical_tree(tmp_path, monkeypatch):
    """The second build goes through ensure_world (the default data root) to cover that path too."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = small_world(0)
    again = world.ensure_world("small", seed=0)
    assert again.parent == tmp_path / "xdg" / "deem-eval"
    a, b = tree_hashes(first), tree_hashes(again)
    assert sorted(a) == sorted(b)
    differing = [k for k in a if a[k] != b[k]]
    assert differing == []
    meta = json.loads((again / "world.json").read_text())
    assert meta["generator_version"] == world.GENERATOR_VERSION and meta["size"] == "small" and meta["seed"] == 0
    assert meta["counts"]["images"] == sum(1 for k in a if k.endswith((".png", ".jpg"))) - 1  # minus the sheet


def test_other_seed_gives_other_images(tmp_path):
    other = tmp_path / "other"
    build_world(other, size="small", seed=1, progress=False)
    a, b = tree_hashes(small_world(0)), tree_hashes(other)
    pope = [k for k in a if k.startswith("pope/images/")]
    assert pope and all(a[k] != b[k] for k in pope)
