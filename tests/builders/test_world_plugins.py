"""Every evaluation layout of the world loads through its task plugin, sample for sample."""

from __future__ import annotations

import json

from deem_eval.registry import TASKS

from .world_helpers import jsonl, small_world


def _n(task: str) -> int:
    return sum(1 for _ in TASKS.get(task)(small_world(0)).samples())


def test_layouts_load_through_the_task_plugins():
    root = small_world(0)
    for rule in ("random", "popular", "adversarial"):
        assert _n(f"pope_{rule}") == len(jsonl(root / "pope" / f"coco_pope_{rule}.json")) > 0
    assert _n("mmvp") == 20
    for name in ("vqav2", "okvqa", "vizwiz"):
        assert _n(name) == len(json.loads((root / name / "questions.json").read_text())["questions"]) > 0
    karpathy = json.loads((root / "coco_caption" / "dataset_coco.json").read_text())["images"]
    assert _n("coco_caption") == sum(im["split"] == "test" for im in karpathy) > 0
    assert _n("refcocog") == json.loads((root / "world.json").read_text())["counts"]["refcocog_val"] > 0
    assert _n("fid_coco") > 0


def test_plugin_samples_carry_the_sidecar_answers():
    root = small_world(0)
    samples = list(TASKS.get("pope_adversarial")(root).samples())
    rows = {str(r["question_id"]): r["label"] for r in jsonl(root / "pope" / "coco_pope_adversarial.json")}
    assert {s.id: s.target for s in samples} == rows
    for s in samples[:12]:
        assert s.image.load().size == (64, 64)
