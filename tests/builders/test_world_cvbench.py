"""The world's CV-Bench analogue: the raw CV-Bench layout, answers checked against the scenes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from deem_eval.builders.world.build import all_parts
from deem_eval.builders.world.catalog import BY_NAME
from deem_eval.builders.world.layouts import cvbench

from deem_eval.registry import TASKS

from .part_helpers import build_parts
from .world_helpers import jsonl, sidecar, tree_hashes


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cvbench-world")
    build_parts(out, cvbench.build)
    return out


def _rows(root: Path) -> list[dict]:
    return jsonl(root / "cvbench/test_2d.jsonl") + jsonl(root / "cvbench/test_3d.jsonl")


def test_layout_loads_through_the_task(root):
    rows = _rows(root)
    assert [r["idx"] for r in rows] == list(range(16))
    assert {k for r in rows for k in r} == {"idx", "type", "task", "question", "choices", "answer", "prompt",
                                           "filename", "source", "source_dataset", "source_filename",
                                           "target_class", "target_size", "bbox"}
    t = TASKS.get("cvbench")(root)
    assert t.missing() == []
    samples = list(t.samples())
    assert len(samples) == 16 and all(s.image.load().size == (64, 64) for s in samples)
    assert [(r["task"], r["source"]) for r in rows[:4]] == [("Count", "ADE20K"), ("Count", "COCO")] * 2
    assert {r["source"] for r in rows if r["type"] == "3D"} == {"Omni3D"}
    # the gold answers through the scorer give 100 everywhere
    records = [{**t.score(s, s.target), "target": s.target} for s in samples]
    assert t.aggregate(records)["overall"] == 100.0


def test_answers_follow_the_scenes(root):
    scenes = {e["idx"]: e["scene"] for e in sidecar(root, "cvbench")}
    for r in _rows(root):
        sc, answer = scenes[r["idx"]], r["choices"]["ABCD".index(r["answer"][1])]
        objs = sc["objects"]
        if r["task"] == "Count":
            cat = objs[0]["category"]  # the counted group is placed first
            assert f"How many {BY_NAME[cat].plural} are" in r["question"]
            assert str(sum(o["category"] == cat for o in objs)) == answer and len(set(r["choices"])) == 4
        elif r["task"] == "Relation":
            (ax, ay), (bx, by) = objs[0]["centre"], objs[1]["centre"]
            expected = {"left": ax < bx, "right": ax > bx, "above": ay < by, "below": ay > by}
            assert expected[answer] and max(abs(ax - bx), abs(ay - by)) >= cvbench.MIN_GAP
        elif r["task"] == "Depth":
            larger = max(objs, key=lambda o: o["extent"])
            assert larger["category"] == answer and len(objs) == 2 and len(r["bbox"]) == 2
        else:
            anchor = objs[0]["centre"]
            near = min(objs[1:], key=lambda o: math.dist(anchor, o["centre"]))
            assert near["category"] == answer and len({o["size"] for o in objs}) == 1


def test_deterministic_and_registered(root, tmp_path):
    build_parts(tmp_path / "again", cvbench.build)
    assert tree_hashes(tmp_path / "again") == tree_hashes(root)
    assert "cvbench" in [name for name, _ in all_parts()]
    assert sum(cvbench.SIZE["full"].values()) == 304
