"""refcocog on a 3-ref UMD pickle + COCO instances: regions, scoring, the untrusted pickle."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from deem_eval.errors import DataError, UserError
from deem_eval.registry import TASKS
from deem_eval.safe_pickle import load_plain
from deem_eval.samples import Region

from .util import FIXTURES, copy_fixture, score, task

PREDICTIONS = {"50": "The brown dog on the left.", "51": "a black cat", "52": "a green bottle"}
BETA2 = 1.2**2


def rouge_f(p: float, r: float) -> float:
    return (1 + BETA2) * p * r / (r + BETA2 * p) if p and r else 0.0


def test_fixture_pickle_is_the_real_refs_layout():
    refs = load_plain(FIXTURES / "refcocog/refs(umd).p")
    assert [r["ref_id"] for r in refs] == [50, 51, 52, 53]
    assert refs[0] == {
        "image_id": 201, "split": "val", "file_name": "COCO_train2014_000000000201_3001.jpg",
        "category_id": 18, "ann_id": 3001, "sent_ids": [700, 701], "ref_id": 50,
        "sentences": [
            {"tokens": ["the", "brown", "dog", "on", "the", "left"], "raw": "The brown dog on the left.",
             "sent_id": 700, "sent": "the brown dog on the left"},
            {"tokens": ["a", "brown", "dog"], "raw": "A brown dog", "sent_id": 701, "sent": "a brown dog"},
        ],
    }


def test_samples_carry_sent_references_and_the_region():
    samples = list(task("refcocog").samples())
    assert [s.id for s in samples] == ["50", "51", "52"]  # ref 53 is in the train split
    s = samples[1]
    assert s.target == ["a white cat sitting on the right", "the cat"]
    assert s.image.key == "refcocog/COCO_train2014_000000000201.jpg"
    assert s.region.bbox == (18.0, 4.0, 12.0, 16.0)
    assert s.region.polygons == [[18.0, 4.0, 30.0, 4.0, 24.0, 20.0]]
    assert s.meta["ann_id"] == 3002 and s.meta["category_id"] == 17
    assert samples[0].image.key == samples[1].image.key  # two refs on one image
    mask = s.region.mask(32, 24)  # what a mask-aware adapter receives: the triangle, inside the box
    assert mask.shape == (24, 32) and mask[10, 24] == 1 and mask[19, 19] == 0 and mask[:, :18].sum() == 0


def test_prompt_snapshot_and_fingerprints():
    t = task("refcocog")
    assert t.prompt(next(iter(t.samples()))) == "<image>Describe the object in the marked region."
    assert TASKS.get("refcocog").headline == "CIDEr"
    assert t.prompt_fingerprint() and t.data_fingerprint()


def test_render_region_draws_the_box_on_a_copy():
    from PIL import Image

    t = task("refcocog")
    image = Image.new("RGB", (40, 30), (0, 0, 255))
    out = t.render_region(image, Region(bbox=(10, 5, 20, 15), polygons=[[10, 5, 30, 5, 20, 20]]))
    px = np.asarray(out)
    assert out.size == image.size and np.asarray(image)[5, 10].tolist() == [0, 0, 255]
    for x, y in [(10, 5), (30, 5), (10, 20), (30, 20), (20, 5), (10, 12)]:  # corners and edges
        assert px[y, x].tolist() == [255, 0, 0], (x, y)
    assert px[12, 20].tolist() == [0, 0, 255]  # the inside stays visible
    assert px[0, 0].tolist() == [0, 0, 255]


def test_metrics_by_hand(tmp_path):
    result = score("refcocog", PREDICTIONS, tmp_path)
    assert result.n == 3 and result.n_errors == 0
    # lengths 6+3+3 = 12, closest refs 6+2+4 = 12 (no brevity penalty), matches 6+2+1 = 9
    assert result.metrics["Bleu_1"] == pytest.approx(100 * 9 / 12, abs=1e-4)
    rouge = [1.0, rouge_f(max(2 / 3, 1 / 3), max(2 / 7, 1 / 2)), rouge_f(1 / 3, 1 / 6)]
    assert result.metrics["ROUGE_L"] == pytest.approx(100 * sum(rouge) / 3, abs=1e-4)
    cider = [r["cider"] for r in result.records]
    assert cider[0] > cider[1] > 0 and result.metrics["CIDEr"] == pytest.approx(sum(cider) / 3, abs=1e-3)
    assert result.records[0]["meteor"] == pytest.approx(100.0)
    assert {"METEOR", "CIDEr"} <= set(result.ci95)


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_is_rejected_and_not_executed(tmp_path):
    root = copy_fixture("refcocog", tmp_path)
    marker = tmp_path / "pwned"
    refs = load_plain(root / "refcocog/refs(umd).p")
    refs[1]["sentences"] = _Payload(str(marker))
    (root / "refcocog/refs(umd).p").write_bytes(pickle.dumps(refs, protocol=2))
    with pytest.raises(DataError) as err:
        list(task("refcocog", root=root).samples())
    assert not marker.exists()
    assert "refs(umd).p" in str(err.value) and "tried to construct" in str(err.value)


def test_missing_files_name_the_file_and_layout(tmp_path):
    root = copy_fixture("refcocog", tmp_path)
    (root / "refcocog/instances.json").unlink()
    with pytest.raises(DataError) as err:
        list(task("refcocog", root=root).samples())
    assert "instances.json" in str(err.value) and "annotations" in str(err.value)
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "50", "prediction": "x"}) + "\n")
    from deem_eval.scoring import score_file

    with pytest.raises(UserError, match=r"missing: instances.json"):
        score_file("refcocog", preds, root)


def test_unknown_annotation_and_escaping_image_are_rejected(tmp_path):
    root = copy_fixture("refcocog", tmp_path)
    inst = root / "refcocog/instances.json"
    doc = json.loads(inst.read_text())
    doc["annotations"] = [a for a in doc["annotations"] if a["id"] != 3003]
    inst.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="no annotation with id 3003"):
        list(task("refcocog", root=root).samples())
    doc = json.loads((FIXTURES / "refcocog/instances.json").read_text())
    doc["images"][1]["file_name"] = "../../../etc/passwd"
    inst.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="points outside"):
        list(task("refcocog", root=root).samples())
