"""The world's MME-style pairs: the real folder layout, one yes and one no per image, answers
that follow from the scene."""

from __future__ import annotations

import re

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.context import Context
from deem_eval.builders.world.layouts import mme as layout

from deem_eval.registry import TASKS


def _build(tmp_path):
    ctx = Context(tmp_path, 0, "small")
    counts = layout.build(ctx)
    return ctx, counts


def test_layout_reads_as_mme_with_one_yes_and_one_no_per_image(tmp_path):
    ctx, counts = _build(tmp_path)
    n = layout.SIZE["small"]
    assert counts == {f"mme_{s}": 2 * n for s in layout.SUBTASKS}
    samples = list(TASKS.get("mme")(tmp_path).samples())
    assert len(samples) == 8 * n
    assert [s.meta["subtask"] for s in samples[::2 * n]] == list(layout.SUBTASKS)
    assert [s.target for s in samples] == ["yes", "no"] * (4 * n)
    assert all(s.image.path.is_relative_to(tmp_path / layout.ROOT) for s in samples)
    assert [j[0] for j in ctx.jobs] == [f"{layout.ROOT}/{s.image.key}" for s in samples[::2]]


def test_answers_follow_from_the_scene(tmp_path):
    ctx, _ = _build(tmp_path)
    scenes = {rel.split("/", 2)[2]: sc for rel, sc in ctx.jobs}
    words = {"one": 1, "two": 2, "three": 3, "four": 4}
    for s in TASKS.get("mme")(tmp_path).samples():
        sc, q, yes = scenes[s.image.key], s.question, s.target == "yes"
        sub = s.meta["subtask"]
        if sub == "existence":
            cat = re.fullmatch(r"Is there an? (\w+) in this image\?", q).group(1)
            assert (cat in S.categories(sc)) == yes
        elif sub == "count":
            m = re.fullmatch(r"(?:Is|Are) there (\w+) (\w+) in this image\?", q)
            cat = next(c for c in S.categories(sc) if m.group(2) in (c, S.BY_NAME[c].plural))
            assert (S.count(sc, cat) == words[m.group(1)]) == yes
        elif sub == "color":
            cat, colour = re.fullmatch(r"Is the (\w+) (\w+)\?", q).groups()
            assert (next(o for o in sc["objects"] if o["category"] == cat)["colour"] == colour) == yes
        else:
            cat, side = re.fullmatch(r"Is the (\w+) on the (\w+) of the image\?", q).groups()
            obj = next(o for o in sc["objects"] if o["category"] == cat)
            assert (S.horizontal(obj["centre"][0]) == side) == yes


def test_same_seed_same_text(tmp_path):
    _build(tmp_path / "a")
    _build(tmp_path / "b")
    for f in sorted((tmp_path / "a").rglob("*.txt")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
