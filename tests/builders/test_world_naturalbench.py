"""The world's NaturalBench analogue: 2x2 groups from MMVP-style pairs in the release's parquet layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from deem_eval.builders.world.build import all_parts
from deem_eval.builders.world.layouts import naturalbench
from deem_eval.builders.world.layouts.mmvp import DETAILS

from deem_eval.registry import TASKS

from .part_helpers import build_parts
from .world_helpers import sidecar, tree_hashes


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("naturalbench-world")
    build_parts(out, naturalbench.build)
    return out


def _rows(root: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(root / naturalbench.PARQUET).to_pylist()


def test_release_layout_loads_through_the_task(root):
    rows = _rows(root)
    assert [r["Index"] for r in rows] == [0, 1, 2, 3]
    assert [r["Question_Type"] for r in rows] == ["yes_no", "multiple_choice"] * 2
    t = TASKS.get("naturalbench")(root)
    assert t.missing() == [] and t.count() == 16
    samples = list(t.samples())
    assert [s.target for s in samples[:8]] == ["yes", "no", "no", "yes", "A", "B", "B", "A"]
    assert all(s.image.load().size == (64, 64) for s in samples)
    records = [{**t.score(s, s.target), "target": s.target} for s in samples]  # the gold answers
    t.prepare(records)
    assert t.aggregate(records)["g_acc"] == 100.0


def test_the_two_images_differ_in_the_asked_detail(root):
    entries = sidecar(root, "naturalbench")
    assert len(entries) == 8
    for g, row in enumerate(_rows(root)):
        a, b = entries[2 * g], entries[2 * g + 1]
        assert a["detail"] == b["detail"] == DETAILS[g % len(DETAILS)] and a["value"] != b["value"]
        assert a["scene"]["objects"] != b["scene"]["objects"] and row["Image_0"]["bytes"] != row["Image_1"]["bytes"]
        if row["Question_Type"] == "yes_no":
            # Question_0 asks about image 0's value, Question_1 about image 1's
            assert row["Question_0"] == naturalbench.yes_no_question(a["detail"], _focal(a), a["value"])
            assert row["Question_1"] == naturalbench.yes_no_question(b["detail"], _focal(b), b["value"])
        else:
            assert row["Question_0"].endswith(f"\nA. {a['value']}\nB. {b['value']}")
            assert row["Question_1"].endswith(f"\nA. {b['value']}\nB. {a['value']}")


def _focal(entry: dict) -> str:
    return next(o["category"] for o in entry["scene"]["objects"] if o["group"] == 0)


def test_yes_no_questions():
    assert naturalbench.yes_no_question("orientation", "fish", "left") == "Is the fish facing left?"
    assert naturalbench.yes_no_question("orientation", "cup", "right") == "Is the handle of the cup on the right?"
    assert naturalbench.yes_no_question("state", "lamp", "on") == "Is the lamp on?"
    assert naturalbench.yes_no_question("count", "key", "1") == "Is there exactly one key in the image?"
    assert naturalbench.yes_no_question("count", "key", "3") == "Are there exactly three keys in the image?"


def test_deterministic_and_registered(root, tmp_path):
    build_parts(tmp_path / "again", naturalbench.build)
    assert tree_hashes(tmp_path / "again") == tree_hashes(root)
    assert "naturalbench" in [name for name, _ in all_parts()]
    assert naturalbench.SIZE["full"] * 4 == 400
