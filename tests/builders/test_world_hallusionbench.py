"""The world's HallusionBench-style sets: the release's field names, answers that flip between the
original and the edited figure, the edit visible in the scenes."""

from __future__ import annotations

import json

from deem_eval.builders.world.context import Context
from deem_eval.builders.world.layouts import hallusionbench as layout

from deem_eval.registry import TASKS


def test_sets_read_as_hallusionbench_with_flipping_answers(tmp_path):
    ctx = Context(tmp_path, 0, "small")
    counts = layout.build(ctx)
    n = layout.SIZE["small"]
    assert counts == {"hallusionbench_sets": n, "hallusionbench_questions": 4 * n}
    items = json.loads((tmp_path / "hallusionbench/HallusionBench.json").read_text())
    assert set(items[0]) == {"category", "subcategory", "visual_input", "set_id", "figure_id", "sample_note",
                             "question_id", "question", "gt_answer_details", "gt_answer", "filename"}
    assert all(isinstance(v, str) for it in items for v in it.values())
    samples = list(TASKS.get("hallusionbench")(tmp_path).samples())
    assert len(samples) == 4 * n
    by_id = {s.id: s for s in samples}
    for s in samples:
        other_fig = s.id.split("_")
        other_fig[3] = "1" if other_fig[3] == "0" else "0"
        assert by_id["_".join(other_fig)].target != s.target  # the edit flips the answer
        assert by_id["_".join(other_fig)].question == s.question
    value = {row["image"].split("/", 1)[1]: row["value"] for row in ctx.sidecars["hallusionbench"]}
    for s in samples[::4]:  # figure 0 of each set: its first question is the one that holds
        edited = s.image.key.replace("_0.png", "_1.png")
        assert s.target == "yes" and value[s.image.key] != value[edited]
