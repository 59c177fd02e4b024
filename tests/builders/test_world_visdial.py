"""The world's VisDial analogue: v1.0 val JSON with 100 options per round and dense relevance."""

from __future__ import annotations

import json

from deem_eval.builders.world.layouts import visdial as layout

from deem_eval.registry import TASKS

from .part_helpers import build_parts


def test_dialogs_read_as_visdial_with_100_options_and_dense_relevance(tmp_path):
    counts = build_parts(tmp_path, layout.build)
    doc = json.loads((tmp_path / "visdial/visdial_1.0_val.json").read_text())
    assert set(doc["data"]) == {"questions", "answers", "dialogs"} and counts["visdial_dialogs"] == layout.SIZE["small"]
    assert not any(q.endswith("?") for q in doc["data"]["questions"])
    samples = list(TASKS.get("visdial")(tmp_path).samples())
    assert len(samples) == counts["visdial_rounds"]
    assert all(len(s.options) == 100 and s.options[s.target["gt_index"]] == s.target["answer"] for s in samples)
    dense = [s for s in samples if s.target["gt_relevance"] is not None]
    assert len(dense) == layout.DENSE_PER_DIALOG * layout.SIZE["small"]
    for s in dense:
        rel = s.target["gt_relevance"]
        assert rel[s.target["gt_index"]] == 1.0 and 2 <= sum(r > 0 for r in rel) <= 3


def test_answers_follow_from_the_scene(tmp_path):
    build_parts(tmp_path, layout.build)
    side = [json.loads(line) for line in (tmp_path / "scenes/visdial.jsonl").read_text().splitlines()]
    for entry in side:
        cats = {o["category"] for o in entry["scene"]["objects"]}
        for turn in entry["turns"]:
            q, a = turn["question"], turn["answer"]
            if q.startswith("is there "):
                assert (a == "yes") == (q.split()[-1] in cats)
            if q.startswith("how many "):
                assert int(a) >= 1
