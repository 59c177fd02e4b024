"""Training corpora: photo domain only, disjoint from every evaluation image, answers checked."""

from __future__ import annotations

import hashlib
import re

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.catalog import COLOUR_NAMES, COUNT_WORDS, NAMES

from .world_helpers import jsonl, sidecar, small_world

EVAL_PARTS = ("pope", "mmvp", "vqav2", "okvqa", "vizwiz", "coco_caption", "refcocog", "fid_coco",
              "imagenet_a", "imagenet_r", "imagenet_v2")


def test_no_evaluation_image_in_training():
    root = small_world(0)
    train = sidecar(root, "train")
    assert {e["scene"]["domain"] for e in train} == {"photo"}
    train_scenes = {S.scene_hash(e["scene"]) for e in train}
    train_bytes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "train" / "images").glob("*.png")}
    assert len(train_scenes) == len(train) == len(train_bytes)
    for part in EVAL_PARTS:
        rows = sidecar(root, part)
        assert rows, part
        assert not train_scenes & {S.scene_hash(e["scene"]) for e in rows}, part
        assert not train_bytes & {hashlib.sha256((root / e["image"]).read_bytes()).hexdigest() for e in rows}, part


def test_alt_text_names_only_categories():
    root = small_world(0)
    rows = jsonl(root / "train" / "captions.jsonl")
    scenes = {e["image"].removeprefix("train/"): e["scene"] for e in sidecar(root, "train")}
    banned = set(COLOUR_NAMES) | set(COUNT_WORDS.values()) | {"left", "right", "up", "down", "facing", "striped"}
    for r in rows:
        words = set(re.findall(r"[a-z]+", r["caption"].lower()))
        assert not words & banned, r
        assert {c for c in NAMES if c in words} == set(S.categories(scenes[r["image"]])), r
        assert (root / "train" / r["image"]).is_file()


def test_instructions_are_balanced_and_correct():
    root = small_world(0)
    scenes = {e["image"].removeprefix("train/"): e["scene"] for e in sidecar(root, "train")}
    rows = jsonl(root / "train" / "instruct.jsonl")
    exist = [r for r in rows if r["question"].startswith("Is there")]
    yes = sum(r["answer"] == "yes" for r in exist)
    assert 0.35 < yes / len(exist) < 0.65
    for r in exist:
        cat = re.fullmatch(r"Is there an? (\w+) in the image\?", r["question"]).group(1)
        assert (cat in S.categories(scenes[r["image"]])) == (r["answer"] == "yes")
    options = [r for r in rows if "(a)" in r["question"]]
    assert options and all(r["answer"] in ("(a)", "(b)") for r in options)
    for r in [r for r in rows if r["question"].startswith("How many") and "(a)" not in r["question"]]:
        plural = r["question"].split()[2]
        cat = next(c for c in S.categories(scenes[r["image"]]) if S.BY_NAME[c].plural == plural)
        assert r["answer"] == str(S.count(scenes[r["image"]], cat))


def test_existence_asks_every_present_category_and_as_many_absent():
    root = small_world(0)
    scenes = {e["image"].removeprefix("train/"): e["scene"] for e in sidecar(root, "train")}
    asked: dict[str, dict[str, list[str]]] = {}
    for r in jsonl(root / "train" / "instruct.jsonl"):
        m = re.fullmatch(r"Is there an? (\w+) in the image\?", r["question"])
        if m:
            asked.setdefault(r["image"], {"yes": [], "no": []})[r["answer"]].append(m.group(1))
    assert set(asked) == set(scenes)
    for image, ans in asked.items():
        present = S.categories(scenes[image])
        assert sorted(ans["yes"]) == sorted(present)
        assert len(ans["no"]) == len(set(ans["no"])) == len(present) and not set(ans["no"]) & set(present)
    # each category is answered "no" about as often as "yes" (small world: a few hundred questions)
    for cat in {c for ans in asked.values() for c in ans["yes"] + ans["no"]}:
        yes = sum(ans["yes"].count(cat) for ans in asked.values())
        no = sum(ans["no"].count(cat) for ans in asked.values())
        assert 0.2 < no / (yes + no) < 0.8, (cat, yes, no)


def test_region_and_detailed_corpora():
    root = small_world(0)
    scenes = {e["image"].removeprefix("train/"): e["scene"] for e in sidecar(root, "train")}
    for r in jsonl(root / "train" / "region.jsonl"):
        obj = next(o for o in scenes[r["image"]]["objects"] if o["bbox"] == r["bbox"])
        assert r["polygon"] == obj["polygons"]
        assert obj["category"] in r["answer"] and obj["colour"] in r["answer"]
    docs = jsonl(root / "train" / "interleaved.jsonl")
    t2i = jsonl(root / "train" / "t2i.jsonl")
    assert len(docs) == len(t2i) == len(scenes)
    for d in docs:
        for o in scenes[d["image"]]["objects"]:
            assert o["colour"] in d["text"] and (o["orientation"] is None or o["orientation"] in d["text"])
