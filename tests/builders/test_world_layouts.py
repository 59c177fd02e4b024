"""VQA, caption, RefCOCOg, FID and ImageNet-tree layouts checked against the scene sidecar."""

from __future__ import annotations

import json
import re

from deem_eval.builders.world import scene as S
from deem_eval.builders.world.catalog import BY_NAME, COLOUR_NAMES, NAMES, wnid
from deem_eval.builders.world.layouts.refcocog import matches

from deem_eval.safe_pickle import load_plain

from .world_helpers import sidecar, small_world


def _expected(scene: dict, question: str) -> str:
    """Answer a VQA question from the scene alone, by reading the question text."""
    objs = scene["objects"]
    by_cat = {c: [o for o in objs if o["category"] == c] for c in S.categories(scene)}
    if m := re.fullmatch(r"Is there an? (\w+) in the image\?", question):
        return "yes" if m.group(1) in by_cat else "no"
    if m := re.fullmatch(r"How many (\w+) are there\?", question):
        cat = next(c.name for c in BY_NAME.values() if c.plural == m.group(1))
        return str(len(by_cat[cat]))
    if m := re.fullmatch(r"What color (?:is|are) the (\w+)\?", question):
        cat = next(c.name for c in BY_NAME.values() if m.group(1) in (c.name, c.plural))
        return by_cat[cat][0]["colour"]
    if m := re.fullmatch(r"Is the (\w+) (\w+)\?", question):
        return "yes" if by_cat[m.group(1)][0]["colour"] == m.group(2) else "no"
    if m := re.fullmatch(r"What is the (\w+) object\?", question):
        (hit,) = {o["category"] for o in objs if o["colour"] == m.group(1)}
        return hit
    if m := re.fullmatch(r"Which side of the picture is the (\w+) on\?", question):
        return S.horizontal(by_cat[m.group(1)][0]["centre"][0])
    if m := re.fullmatch(r"Which (?:way is the|side is the \w+ of the) (\w+) .*", question):
        return by_cat[m.group(1)][0]["orientation"]
    raise AssertionError(f"unrecognised question {question!r}")


def test_vqav2_answers_match_the_scene_and_the_schema():
    root = small_world(0)
    qs = json.loads((root / "vqav2" / "questions.json").read_text())
    anns = {a["question_id"]: a for a in json.loads((root / "vqav2" / "annotations.json").read_text())["annotations"]}
    assert {"info", "task_type", "data_type", "data_subtype", "license", "questions"} <= set(qs)
    scenes = {int(e["image"][-16:-4]): e["scene"] for e in sidecar(root, "vqav2")}
    types = set()
    for q in qs["questions"]:
        a = anns[q["question_id"]]
        assert a["image_id"] == q["image_id"] and len(a["answers"]) == 10
        assert [x["answer_id"] for x in sorted(a["answers"], key=lambda x: x["answer_id"])] == list(range(1, 11))
        expected = _expected(scenes[q["image_id"]], q["question"])
        assert a["multiple_choice_answer"] == expected
        assert sum(x["answer"] == expected for x in a["answers"]) >= 4
        assert (root / "vqav2" / "images" / f"COCO_val2014_{q['image_id']:012d}.jpg").is_file()
        types.add(a["answer_type"])
    assert types == {"yes/no", "number", "other"}


def test_okvqa_and_vizwiz_layouts():
    root = small_world(0)
    for name in ("okvqa", "vizwiz"):
        qs = json.loads((root / name / "questions.json").read_text())["questions"]
        anns = json.loads((root / name / "annotations.json").read_text())["annotations"]
        assert len(qs) == len(anns) > 0
        for e, a in zip(sidecar(root, name), anns, strict=True):
            obj = e["scene"]["objects"][0]
            if name == "okvqa":
                assert a["multiple_choice_answer"] == BY_NAME[obj["category"]].knowledge_a[0]
            elif e["questions"][0]["kind"] == "unanswerable":
                assert a["multiple_choice_answer"] == "unanswerable" and e["scene"]["effects"]["blur"] >= 3
            elif e["questions"][0]["kind"] == "what":
                assert a["multiple_choice_answer"] == obj["category"]
    kinds = {e["questions"][0]["kind"] for e in sidecar(root, "vizwiz")}
    assert "unanswerable" in kinds


def test_karpathy_captions_and_fid_captions():
    root = small_world(0)
    data = json.loads((root / "coco_caption" / "dataset_coco.json").read_text())
    scenes = {e["cocoid"]: e["scene"] for e in sidecar(root, "coco_caption")}
    assert {im["split"] for im in data["images"]} == {"train", "restval", "val", "test"}
    for im in data["images"]:
        assert len(im["sentences"]) == 5 and len({s["raw"] for s in im["sentences"]}) == 5
        assert im["sentids"] == [s["sentid"] for s in im["sentences"]]
        assert (root / "coco_caption" / "images" / im["filepath"] / im["filename"]).is_file()
        present = set(S.categories(scenes[im["cocoid"]]))
        for s in im["sentences"]:
            assert s["tokens"] == re.findall(r"[a-z0-9]+", s["raw"].lower()) and s["imgid"] == im["imgid"]
            named = {c for c in NAMES if c in s["tokens"] or BY_NAME[c].plural in s["tokens"]}
            assert named and named <= present, (s["raw"], present)
    fid = json.loads((root / "fid_coco" / "captions.json").read_text())
    assert len(fid["annotations"]) == 5 * len(fid["images"])
    assert all((root / "fid_coco" / "images" / im["file_name"]).is_file() for im in fid["images"])


def test_refcocog_refs_are_unambiguous_and_match_instances():
    root = small_world(0)
    refs = load_plain(root / "refcocog" / "refs(umd).p")
    inst = json.loads((root / "refcocog" / "instances.json").read_text())
    anns = {a["id"]: a for a in inst["annotations"]}
    images = {im["id"]: im for im in inst["images"]}
    side = {r["ref_id"]: (e["scene"], r) for e in sidecar(root, "refcocog") for r in e["refs"]}
    assert {r["split"] for r in refs} == {"train", "val", "test"}
    for ref in refs:
        ann = anns[ref["ann_id"]]
        scene, info = side[ref["ref_id"]]
        target = scene["objects"][info["object"]]
        assert ann["bbox"] == target["bbox"] and ann["segmentation"] == target["polygons"]
        assert ann["category_id"] == ref["category_id"] == NAMES.index(target["category"]) + 1
        assert 0 < ann["area"] <= (ann["bbox"][2] + 2) * (ann["bbox"][3] + 2)
        assert (root / "refcocog" / "images" / images[ref["image_id"]]["file_name"]).is_file()
        assert sum(o["category"] == target["category"] for o in scene["objects"]) >= 2
        assert len(ref["sentences"]) >= 2 and ref["sent_ids"] == [s["sent_id"] for s in ref["sentences"]]
        for sent, meta in zip(ref["sentences"], info["sentences"], strict=True):
            assert sent["sent"] == meta["sent"]
            hits = [o for o in scene["objects"] if matches(o, meta["attrs"], scene["objects"])]
            assert hits == [target], (sent["sent"], meta["attrs"])
            if "colour" in meta["attrs"]:
                assert target["colour"] in sent["tokens"]


def test_imagenet_trees_and_classnames():
    root = small_world(0) / "imagenet"
    names = json.loads((root / "classnames.json").read_text())
    assert len(NAMES) >= 20
    for i, cat in enumerate(NAMES):
        assert names[wnid(i)] == names[str(i)] == cat
        for sub in (f"a/{wnid(i)}", f"r/{wnid(i)}", f"v2/{i}"):
            assert len(list((root / sub).glob("*.jpg"))) == 2
    assert (root / "a" / "README.txt").is_file()
    assert sorted(p.name for p in (root / "a").iterdir() if p.is_dir()) == [wnid(i) for i in range(len(NAMES))]
    labels = {e["image"]: (e["label"], e["scene"]) for part in ("imagenet_a", "imagenet_r", "imagenet_v2")
              for e in sidecar(small_world(0), part)}
    for path, (label, scene) in labels.items():
        folder = path.split("/")[2]
        assert names[folder] == label == scene["objects"][0]["category"]
    domains = {scene["domain"] for _, scene in labels.values()}
    styles = {scene["style"] for _, scene in labels.values()}
    assert domains == {"adversarial", "rendition", "resampled"}
    assert {"outline", "sketch", "texture", "pixel"} <= styles


def test_colour_vocabulary_is_rich_enough():
    assert len(COLOUR_NAMES) >= 8
