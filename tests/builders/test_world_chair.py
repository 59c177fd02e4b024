"""The world's CHAIR layout: COCO annotation files whose objects are the drawn ones, and a synonym
list under which the world's own reference captions hallucinate nothing."""

from __future__ import annotations

import json

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.context import Context
from deem_eval.builders.world.layouts import chair as layout

from deem_eval.metrics.chair import caption_counts
from deem_eval.registry import TASKS


def _build(tmp_path):
    ctx = Context(tmp_path, 0, "small")
    return ctx, layout.build(ctx)


def test_instances_are_the_drawn_objects(tmp_path):
    ctx, counts = _build(tmp_path)
    inst = json.loads((tmp_path / "chair/annotations/instances_val2014.json").read_text())
    names = {c["id"]: c["name"] for c in inst["categories"]}
    assert len(names) == 24 and counts["chair_images"] == layout.SIZE["small"]
    by_image: dict[int, set[str]] = {}
    for a in inst["annotations"]:
        by_image.setdefault(a["image_id"], set()).add(names[a["category_id"]])
        assert a["bbox"][2] > 0 and a["bbox"][3] > 0
    for rel, sc in ctx.jobs:
        image_id = int(rel.rsplit("_", 1)[1].split(".")[0])
        assert by_image[image_id] == set(S.categories(sc))


def test_reference_captions_score_zero_chair_under_the_world_synonyms(tmp_path):
    _build(tmp_path)
    t = TASKS.get("chair")(tmp_path)
    vocab = t.vocabulary()
    assert "light" not in vocab.node and vocab.node["mug"] == "cup"  # "light blue" is a colour here
    samples = {s.id: s for s in t.samples()}
    caps = json.loads((tmp_path / "chair/annotations/captions_val2014.json").read_text())["annotations"]
    assert len(caps) == 5 * len(samples)
    mentions = 0
    for c in caps:
        counts = caption_counts(c["caption"], samples[str(c["image_id"])].target, vocab)
        assert counts["hallucinated_mentions"] == 0, c["caption"]
        mentions += counts["mentions"]
    assert mentions >= len(caps)  # every reference names at least one object


def test_same_seed_same_bytes(tmp_path):
    _build(tmp_path / "a")
    _build(tmp_path / "b")
    for f in sorted((tmp_path / "a" / "chair").rglob("*.*")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
