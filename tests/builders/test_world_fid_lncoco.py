"""The world's Localized Narratives analogue: long narratives, one image with two annotators."""

from __future__ import annotations

import json

from deem_eval.builders.world.layouts import fid_lncoco as layout

from deem_eval.registry import TASKS

from .part_helpers import build_parts


def test_narratives_read_as_localized_narratives(tmp_path):
    build_parts(tmp_path, layout.build)
    lines = [json.loads(x) for x in (tmp_path / "fid_lncoco/coco_val_captions.jsonl").read_text().splitlines()]
    assert set(lines[0]) == {"dataset_id", "image_id", "annotator_id", "caption"}
    assert len(lines) == layout.SIZE["small"] + 1 and lines[0]["image_id"] == lines[1]["image_id"]
    samples = list(TASKS.get("fid_lncoco")(tmp_path).samples())
    assert len(samples) == layout.SIZE["small"] and samples[0].question == lines[0]["caption"]
    assert all(s.image.path.is_file() and s.question.startswith("In this image I can see") for s in samples)
