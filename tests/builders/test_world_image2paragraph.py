"""The world's Stanford-paragraphs analogue: paragraphs_v1.json, split files, VG_100K images."""

from __future__ import annotations

import json

from deem_eval.builders.world.layouts import image2paragraph as layout

from deem_eval.registry import TASKS

from .part_helpers import build_parts


def test_paragraphs_and_splits(tmp_path):
    build_parts(tmp_path, layout.build)
    paras = json.loads((tmp_path / "image2paragraph/paragraphs_v1.json").read_text())
    assert set(paras[0]) == {"url", "image_id", "paragraph"}
    test = json.loads((tmp_path / "image2paragraph/test_split.json").read_text())
    assert len(test) == layout.SIZE["small"]["test"]
    samples = list(TASKS.get("image2paragraph")(tmp_path).samples())
    assert [int(s.id) for s in samples] == test
    assert all(s.image.path.parent.name == "VG_100K" and s.image.path.is_file() for s in samples)
    text = samples[0].target[0]
    assert text.startswith("This picture shows ") and text.count(". ") >= 2 and "background" in text
