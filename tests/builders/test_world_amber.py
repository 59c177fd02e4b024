"""The world's AMBER-style questions: AMBER's layout, a yes and a no per question kind, truths
that follow from the scene."""

from __future__ import annotations

import json
import re

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.catalog import BY_NAME
from deem_eval.builders.world.context import Context
from deem_eval.builders.world.layouts import amber as layout

from deem_eval.registry import TASKS

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}


def _category(word: str) -> str:
    return next(c for c, cat in BY_NAME.items() if word in (c, cat.plural))


def test_layout_reads_as_amber_and_truths_follow_from_the_scene(tmp_path):
    ctx = Context(tmp_path, 0, "small")
    counts = layout.build(ctx)
    scenes = {rel.rsplit("/", 1)[1]: sc for rel, sc in ctx.jobs}
    samples = list(TASKS.get("amber_disc")(tmp_path).samples())
    assert len(samples) == counts["amber_questions"] and len(scenes) == layout.SIZE["small"]
    assert [s.target for s in samples] == ["yes", "no"] * (len(samples) // 2)
    for s in samples:
        sc, q, yes = scenes[s.image.key], s.question, s.target == "yes"
        dim, sub = s.meta["dimension"], s.meta["sub"]
        if dim == "existence":
            assert (_category(re.fullmatch(r"Is there an? (\w+) in this image\?", q).group(1))
                    in S.categories(sc)) == yes
        elif sub == "state":
            cat, colour = re.fullmatch(r"Is the (\w+) (\w+) in this image\?", q).groups()
            assert (next(o for o in sc["objects"] if o["category"] == cat)["colour"] == colour) == yes
        elif sub == "number":
            n, word = re.fullmatch(r"(?:Is|Are) there (\w+) (\w+) in this image\?", q).groups()
            assert (S.count(sc, _category(word)) == WORDS[n]) == yes
        else:
            a, b = (_category(w) for w in re.fullmatch(r"(?:Is|Are) the (\w+) to the left of the (\w+) in "
                                                        r"this image\?", q).groups())
            xa, xb = (S.group_centre(sc, next(o["group"] for o in sc["objects"] if o["category"] == c))[0]
                      for c in (a, b))
            assert (xa < xb) == yes
    data = tmp_path / "amber/data"
    per_dim = [json.loads((data / f"query/query_discriminative-{d}.json").read_text()) for d in layout.DIMENSION_FILES]
    assert sorted(q["id"] for f in per_dim for q in f) == [int(s.id) for s in samples]
    annotations = json.loads((data / "annotations.json").read_text())
    assert [a["id"] for a in annotations] == list(range(1, len(annotations) + 1))  # official lookup: id - 1
