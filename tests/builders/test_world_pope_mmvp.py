"""POPE and MMVP layouts: answers and negatives checked against the scene sidecar."""

from __future__ import annotations

import csv
import re

from deem_eval.builders.world import scene as S

from .world_helpers import jsonl, sidecar, small_world

Q = re.compile(r"^Is there an? (\w+) in the image\?$")


def _pope(rule):
    root = small_world(0)
    rows = jsonl(root / "pope" / f"coco_pope_{rule}.json")
    present = {e["image"].split("/")[-1]: {o["category"] for o in e["scene"]["objects"]}
               for e in sidecar(root, "pope")}
    return root, rows, present


def test_pope_files_answers_and_absent_negatives():
    for rule in ("random", "popular", "adversarial"):
        root, rows, present = _pope(rule)
        assert [r["question_id"] for r in rows] == list(range(1, len(rows) + 1))
        assert set(rows[0]) == {"question_id", "image", "text", "label"}
        per_image: dict[str, list] = {}
        for r in rows:
            cat = Q.match(r["text"]).group(1)
            assert (cat in present[r["image"]]) == (r["label"] == "yes"), r
            assert (root / "pope" / "images" / r["image"]).is_file()
            per_image.setdefault(r["image"], []).append(r["label"])
        assert all(labels.count("yes") == 3 and labels.count("no") == 3 for labels in per_image.values())


def test_pope_popular_and_adversarial_follow_their_rule():
    freq, _ = S.world_statistics()
    differs = 0
    for rule in ("popular", "adversarial"):
        _, rows, present = _pope(rule)
        _, random_rows, _ = _pope("random")
        for image, cats in present.items():
            absent = [c for c in freq if c not in cats]
            if rule == "popular":
                expected = sorted(absent, key=lambda c: (-freq[c], c))[:3]
            else:
                expected = sorted(absent, key=lambda c: (-sum(S.cooccurrence(c, p) for p in cats), c))[:3]
            got = [Q.match(r["text"]).group(1) for r in rows if r["image"] == image and r["label"] == "no"]
            rnd = [Q.match(r["text"]).group(1) for r in random_rows if r["image"] == image and r["label"] == "no"]
            assert sorted(got) == sorted(expected)
            differs += sorted(got) != sorted(rnd)
    assert differs > 0
    # the co-occurrence structure: categories of one scene type co-occur more than across types
    assert S.cooccurrence("fish", "boat") > S.cooccurrence("fish", "lamp")


def _focal_value(scene, detail, question, category):
    objs = [o for o in scene["objects"] if o["category"] == category]
    o = objs[0]
    if detail == "count":
        return str(len(objs))
    if detail == "position":
        return S.horizontal(o["centre"][0])
    return {"orientation": o["orientation"], "colour": o["colour"], "state": o["state"]}[detail]


def test_mmvp_pairs_differ_in_exactly_the_stated_detail():
    root = small_world(0)
    with open(root / "mmvp" / "Questions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Index", "Question", "Options", "Correct Answer"]
    side = {e["index"]: e for e in sidecar(root, "mmvp")}
    assert len(rows) % 2 == 0 and [int(r["Index"]) for r in rows] == list(range(1, len(rows) + 1))
    for a, b in zip(rows[0::2], rows[1::2], strict=True):
        assert a["Question"] == b["Question"] and a["Options"] == b["Options"]
        assert a["Correct Answer"] != b["Correct Answer"]
        opts = re.fullmatch(r"\(a\) (.+) \(b\) (.+)", a["Options"]).groups()
        ea, eb = side[int(a["Index"])], side[int(b["Index"])]
        detail = ea["detail"]
        assert detail == eb["detail"]
        sa, sb = ea["scene"], eb["scene"]
        cat = sa["objects"][0]["category"]
        for row, sc in ((a, sa), (b, sb)):
            value = _focal_value(sc, detail, row["Question"], cat)
            assert opts["(a)(b)".index(row["Correct Answer"]) // 3] == value
            assert (root / "mmvp" / "MMVP Images" / f"{row['Index']}.jpg").is_file()
        keys = ("category", "colour", "size", "orientation", "state", "texture")
        oa = [tuple(o[k] for k in keys) for o in sa["objects"]]
        ob = [tuple(o[k] for k in keys) for o in sb["objects"]]
        if detail == "count":
            assert abs(len(oa) - len(ob)) == 1 and set(oa) == set(ob)
        else:
            assert len(oa) == len(ob)
            changed = {k for x, y in zip(sa["objects"], sb["objects"], strict=True) for k in keys if x[k] != y[k]}
            if detail == "position":
                assert changed == set()
                assert {S.horizontal(sa["objects"][0]["centre"][0]), S.horizontal(sb["objects"][0]["centre"][0])} == {
                    "left", "right"}
            else:
                assert changed == {detail}
            others = [(x, y) for x, y in zip(sa["objects"], sb["objects"], strict=True) if x["group"] != 0]
            assert all(x == y for x, y in others)
        assert sa["background"] == sb["background"] and sa["seed"] == sb["seed"]
