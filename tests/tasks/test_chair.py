"""CHAIR task: COCO instances + captions as ground truth, hand-scored descriptions."""

from __future__ import annotations

import json

import pytest

from deem_eval.errors import DataError, UserError

from .listing import assert_cli_scores, assert_listed, assert_score_exits_2
from .util import (
    FIXTURES,
    assert_fingerprints_track,
    copy_fixture,
    finalize_loading_images,
    score,
    task,
)

PREDS = {
    # gt 139: person, dining table, chair (instances) + tv (a reference caption)
    "139": "A woman sitting at a dining table with two chairs and a cat.",  # 4 mentions, cat hallucinated
    # gt 285: bear
    "285": "A baby bear and a teddy bear in the grass.",  # bear, teddy bear (hallucinated)
    # gt 632: bed, book (the captions' "bookcase" is not a COCO word)
    "632": "A bed with books on it under a window.",  # bed, book: clean
}
EXPECTED = {
    "CHAIR_s": 100 * 2 / 3,  # 139 and 285 hallucinate
    "CHAIR_i": 100 * (1 + 1 + 0) / (4 + 2 + 2),
    "recall": 100 * (3 + 1 + 2) / (4 + 1 + 2),
}


def test_samples_and_ground_truth():
    samples = list(task("chair").samples())
    assert [s.id for s in samples] == ["139", "285", "632"]
    assert samples[0].target == ["chair", "dining table", "person", "tv"]
    assert samples[1].target == ["bear"] and samples[2].target == ["bed", "book"]
    assert samples[0].image.path == (FIXTURES / "chair/val2014/COCO_val2014_000000000139.jpg").resolve()
    assert [s.id for s in task("chair", max_images=2).samples()] == ["139", "285"]


def test_score_by_hand(tmp_path):
    result = score("chair", PREDS, tmp_path)
    assert result.n == 3 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    assert [r["hallucinated"] for r in result.records] == [["cat"], ["teddy bear"], []]
    assert [r["score"] for r in result.records] == pytest.approx([25.0, 50.0, 0.0])
    assert set(result.ci95) == set(EXPECTED)


def test_score_through_cli(tmp_path):
    assert_cli_scores("chair", PREDS, EXPECTED, tmp_path)


def test_prompt_snapshot():
    t = task("chair", max_new_tokens=128)
    s = next(iter(t.samples()))
    assert t.prompt(s) == "<image>Please describe this image in detail."
    assert t.request(s).max_new_tokens == 128 and t.output_type == "generate"
    assert t.prompt_fingerprint() != task("chair").prompt_fingerprint()


def test_fingerprints(tmp_path):
    assert_fingerprints_track("chair", "chair", "annotations/captions_val2014.json", tmp_path,
                              prompt_template="{image}Describe the image.")


def test_synonyms_file_replaces_the_coco_list(tmp_path):
    root = copy_fixture("chair", tmp_path)
    (root / "chair/synonyms.txt").write_text(
        "person, woman\nbear\nchair\nbed\ndining table, table\nbook\ntv\ncat, kitty\n")
    result = score("chair", {"139": "A kitty and a woman.", "285": "A puppy.", "632": "A bed."}, tmp_path, root=root)
    # "puppy" is no longer an object word: 139 has kitty (hallucinated) + woman; 285 none; 632 bed
    assert result.metrics == pytest.approx({"CHAIR_s": 100 / 3, "CHAIR_i": 100 * 1 / 3, "recall": 100 * 2 / 7}, abs=1e-4)


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("chair", tmp_path)
    (root / "chair/val2014/COCO_val2014_000000000285.jpg").write_bytes(b"GIF89a")
    result = finalize_loading_images(task("chair", root), list(PREDS.values()))
    assert result.n == 3 and result.n_errors == 1 and result.records[1]["id"] == "285"
    assert result.metrics["CHAIR_s"] == 50.0


def test_missing_files(tmp_path):
    (tmp_path / "chair").mkdir()
    assert task("chair", tmp_path).missing() == list(task("chair").expected)
    with pytest.raises(UserError, match="instances_val2014.json"):
        score("chair", {}, tmp_path, root=tmp_path)


@pytest.mark.parametrize(("name", "edit", "fragment"), [
    ("instances", lambda d: d["categories"][0].update(name="alien"), "'alien' is not in the synonym list"),
    ("instances", lambda d: d["annotations"][0].update(category_id=999), "category_id 999"),
    ("instances", lambda d: d["annotations"][1].pop("image_id"), "annotations\\[1\\] image_id"),
    ("captions", lambda d: d["annotations"][2].update(image_id=7), "image_id 7 is not in 'images'"),
    ("captions", lambda d: d["images"][0].update(file_name="../../../x.jpg"), "outside"),
    ("captions", lambda d: d["images"].append(dict(d["images"][0])), "duplicate image id 139"),
])
def test_bad_annotations_are_located(tmp_path, name, edit, fragment):
    root = copy_fixture("chair", tmp_path)
    path = root / f"chair/annotations/{name}_val2014.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=fragment) as err:
        list(task("chair", root).samples())
    assert path.name in str(err.value)


def test_listed_with_expected_files_and_source():
    assert_listed("chair", "chair/annotations/instances_val2014.json", "chair/val2014", "LisaAnne/Hallucination")


def test_bad_file_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("chair", tmp_path)
    (root / "chair/annotations/instances_val2014.json").write_text('{"categories": [{"id": 1, "name": "alien"}]}')
    assert_score_exits_2("chair", root, tmp_path, "instances_val2014.json", "'alien'")
