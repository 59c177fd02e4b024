"""The world's MMBench-style TSV (with circular copies) and SEED-Bench-style questions."""

from __future__ import annotations

import csv

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.build import all_parts
from deem_eval.builders.world.layouts.mmbench import SIZE

from deem_eval.registry import TASKS

from .world_helpers import sidecar, small_world


def _answer_text(sample) -> str:
    return sample.meta["choices"][sample.target]


def test_parts_are_registered():
    names = [n for n, _ in all_parts()]
    assert "mmbench" in names and "seedbench" in names


def test_tsv_has_released_shape_and_circular_copies():
    root = small_world(0)
    with (root / "mmbench/MMBench_DEV_EN.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert list(rows[0]) == ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image",
                             "source", "l2-category", "comment", "split"]
    n = SIZE["small"]["mmbench"]
    originals = [r for r in rows if int(r["index"]) < 1_000_000]
    assert [int(r["index"]) for r in originals] == list(range(n))
    copies = [r for r in rows if int(r["index"]) >= 1_000_000]
    assert all(r["image"] == str(int(r["index"]) % 1_000_000) for r in copies)  # VLMEvalKit's space saving
    assert len(rows) == sum(sum(bool(r[c]) for c in "ABCD") for r in originals)  # one row per shift
    assert {len([c for c in "ABCD" if r[c]]) for r in originals} == {2, 3, 4}


def test_task_reads_it_and_every_shift_keeps_the_answer():
    root = small_world(0)
    samples = list(TASKS.get("mmbench")(root).samples())
    by_group: dict[int, list] = {}
    for s in samples:
        by_group.setdefault(s.meta["group"], []).append(s)
    assert len(by_group) == SIZE["small"]["mmbench"]
    for group in by_group.values():
        assert len(group) == group[0].meta["n_rot"] == len(group[0].meta["choices"])
        assert len({_answer_text(s) for s in group}) == 1  # the answer text moves with its letter
        assert len({s.target for s in group}) == len(group)  # ... to every letter once
    assert samples[0].image.load().size == (64, 64)


def test_answers_are_read_off_the_scene():
    root = small_world(0)
    firsts = [s for s in TASKS.get("mmbench")(root).samples() if s.meta["rotation"] == 0]
    for row, s in zip(sidecar(root, "mmbench"), firsts, strict=True):
        sc, kind, answer = row["scene"], row["kind"], _answer_text(s)
        assert s.target == row["answer"]
        if kind == "scene":
            assert answer == sc["scene_type"]
        elif kind == "topic":
            present = S.categories(sc)
            assert answer in present and not set(s.meta["choices"].values()) - {answer} & set(present)
        elif kind == "colour":
            cat = next(c for c in S.categories(sc) if c in s.question)
            assert answer == next(o["colour"] for o in sc["objects"] if o["category"] == cat)
        elif kind == "count":
            cat = next(c for c in S.categories(sc) if c in s.question)
            assert answer == str(S.count(sc, cat))
        elif kind == "left_of":
            xs = {o["category"]: o["centre"][0] for o in sc["objects"]}
            other = next(t for t in s.meta["choices"].values() if t != answer)
            assert xs[answer] < xs[other]


def test_seedbench_part_reads_as_seedbench_img():
    root = small_world(0)
    samples = list(TASKS.get("seedbench_img")(root).samples())
    assert len(samples) == SIZE["small"]["seedbench"]
    assert all(len(s.meta["choices"]) == 4 for s in samples)
    assert {s.meta["dimension"] for s in samples} == {
        "Scene Understanding", "Instance Identity", "Instance Attributes", "Instance Location",
        "Instances Counting", "Spatial Relation"}
    assert samples[0].image.load().size == (64, 64)


def test_mmstar_part_reads_as_mmstar():
    root = small_world(0)
    samples = list(TASKS.get("mmstar")(root).samples())
    assert len(samples) == SIZE["small"]["mmstar"]
    assert all(len(s.meta["choices"]) == 4 and "\nOptions: A: " in s.question for s in samples)
    for row, s in zip(sidecar(root, "mmstar"), samples, strict=True):
        assert s.target == row["answer"]
        if row["kind"] == "scene":
            assert s.meta["choices"][s.target] == row["scene"]["scene_type"]
    assert {s.meta["category"] for s in samples} == {"coarse perception", "fine-grained perception",
                                                    "instance reasoning"}
