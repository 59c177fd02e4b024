"""The photo-domain ImageNet-style tree and the rvqa_photo split built from it."""

from __future__ import annotations

import json
import shutil

from deem_eval.builders.world.build import all_parts
from deem_eval.builders.world.catalog import NAMES

from deem_eval.default_data import ensure_rvqa_photo
from deem_eval.registry import TASKS

from .world_helpers import sidecar, small_world


def test_photo_tree_is_a_world_part_in_the_v2_layout():
    assert "imagenet_photo" in [name for name, _ in all_parts()]
    root = small_world(0)
    rows = sidecar(root, "imagenet_photo")
    assert len(rows) == 2 * len(NAMES)  # small: two images per class
    for r in rows:
        folder = r["image"].split("/")[2]
        assert r["image"].startswith("imagenet/photo/") and (root / r["image"]).is_file()
        assert NAMES[int(folder)] == r["label"] == r["scene"]["objects"][0]["category"]
        assert r["scene"]["domain"] == "photo" and r["scene"]["effects"] == {}
    # fresh images: none is drawn from the same scene as a V2 or training image
    others = {json.dumps(r["scene"], sort_keys=True) for part in ("imagenet_v2", "train") for r in sidecar(root, part)}
    assert not others & {json.dumps(r["scene"], sort_keys=True) for r in rows}


def test_rvqa_photo_split_from_the_builder(tmp_path):
    world = small_world(0)
    root = tmp_path / "root"
    shutil.copytree(world / "imagenet", root / "imagenet")
    out = ensure_rvqa_photo(root, quiet=True)
    assert out == root / "rvqa_photo"
    doc = json.loads((out / "robustvqa_test.json").read_text())
    assert list(doc) == ["imagenet_v2"] and len(doc["imagenet_v2"]) == 2 * len(NAMES)
    for item in doc["imagenet_v2"]:
        assert (out / item["file_name"]).is_file() and item["gt_caption"] != item["error_caption"]
    samples = list(TASKS.get("rvqa_photo")(root).samples())
    assert len(samples) == 4 * len(NAMES) and {s.target for s in samples} == {"yes", "no"}
    assert ensure_rvqa_photo(root, quiet=True) == out  # built once


def test_rvqa_photo_absent_without_the_tree(tmp_path):
    (tmp_path / "imagenet").mkdir()
    assert ensure_rvqa_photo(tmp_path, quiet=True) is None
