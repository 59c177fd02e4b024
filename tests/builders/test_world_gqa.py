"""The world's GQA analogue: the release's question dict, answers that follow from the scene."""

from __future__ import annotations

import json
import re

from deem_eval.builders.world.layouts import gqa as layout

from deem_eval.metrics.gqa import SEMANTIC, STRUCTURAL
from deem_eval.registry import TASKS

from .part_helpers import build_parts


def test_questions_read_as_gqa_and_answers_follow_from_the_scene(tmp_path):
    counts = build_parts(tmp_path, layout.build)
    doc = json.loads((tmp_path / "gqa/testdev_balanced_questions.json").read_text())
    assert counts["gqa"] == len(doc) > layout.SIZE["small"]
    entry = next(iter(doc.values()))
    assert {"imageId", "question", "answer", "fullAnswer", "isBalanced", "types", "groups", "semantic"} <= set(entry)
    samples = list(TASKS.get("gqa")(tmp_path).samples())
    assert len(samples) == len(doc) and all((tmp_path / "gqa/images" / f"{s.meta['imageId']}.jpg").is_file()
                                            for s in samples)
    scenes = {json.loads(line)["image"]: json.loads(line)["scene"]
              for line in (tmp_path / "scenes/gqa.jsonl").read_text().splitlines()}
    for s in samples:
        objs = scenes[f"gqa/images/{s.meta['imageId']}.jpg"]["objects"]
        by_cat = {o["category"]: o for o in objs}
        if m := re.fullmatch(r"What color is the (\w+)\?", s.question):
            assert s.target == by_cat[m.group(1)]["colour"]
        elif m := re.fullmatch(r"How many \w+ are there\?", s.question):
            assert int(s.target) >= 1
        elif m := re.fullmatch(r"Is the (\w+) to the (left|right) of the (\w+)\?", s.question):
            a, b = by_cat[m.group(1)]["centre"][0], by_cat[m.group(3)]["centre"][0]
            assert (s.target == "yes") == ((a < b) if m.group(2) == "left" else (a > b))
        elif m := re.fullmatch(r"Is there an? (\w+) in the image\?", s.question):
            assert (s.target == "yes") == (m.group(1) in by_cat)
    assert {s.meta["structural"] for s in samples} <= set(STRUCTURAL)
    assert {s.meta["semantic"] for s in samples} <= set(SEMANTIC)
