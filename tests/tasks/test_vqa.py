"""VQAv2 / OK-VQA / VizWiz on the questions/annotations layout, official VQA accuracy."""

from __future__ import annotations

import json

import pytest

from deem_eval.errors import DataError

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task


def test_samples():
    samples = list(task("vqav2").samples())
    assert [s.id for s in samples] == ["9000", "25001", "42002"]
    s = samples[1]
    assert s.question == "How many giraffes are there?"
    assert s.target == ["2", "two", "3", "3", "3", "3", "4", "4", "4", "4"]
    assert s.meta["answer_type"] == "number" and s.meta["question_type"] == "how many"
    assert s.image.key == "COCO_val2014_000000000025.jpg"
    assert s.image.path == (FIXTURES / "vqav2/images/COCO_val2014_000000000025.jpg").resolve()


def test_score_by_hand(tmp_path):
    result = score("vqav2", {"9000": "yes!", "25001": "Two", "42002": "the red one"}, tmp_path)
    # yes!: 8 of 10 "yes" after normalisation -> 1.0
    # Two -> "2": answers "2" and "two" -> 2 matches -> (2 * 1/3 + 8 * 2/3) / 10 = 0.6
    # the red one -> "red 1": 3 matches -> (3 * 2/3 + 7 * 1) / 10 = 0.9
    assert [r["score"] for r in result.records] == pytest.approx([1.0, 0.6, 0.9])
    assert result.metrics == pytest.approx(
        {
            "accuracy": 100 * 2.5 / 3,
            "accuracy_yes_no": 100.0,
            "accuracy_number": 60.0,
            "accuracy_other": 90.0,
        },
        abs=1e-4,
    )
    assert set(result.ci95) == set(result.metrics)


def test_vizwiz_image_names_and_unanswerable(tmp_path):
    samples = list(task("vizwiz").samples())
    assert [s.image.key for s in samples] == ["VizWiz_val_00000000.jpg", "VizWiz_val_00000001.jpg"]
    result = score("vizwiz", {"0": "unanswerable", "1": "a mug"}, tmp_path)
    # "unanswerable": ten identical answers, exact match -> 1.0
    # "a mug" -> "mug": 1 match -> 9 subsets with 1/3, one with 0 -> 0.3
    assert result.metrics == pytest.approx(
        {"accuracy": 65.0, "accuracy_other": 30.0, "accuracy_unanswerable": 100.0}, abs=1e-4
    )


def test_okvqa_same_layout(tmp_path):
    root = tmp_path / "root"
    (root / "okvqa").mkdir(parents=True)
    for name in ("questions.json", "annotations.json", "images"):
        (root / "okvqa" / name).symlink_to(FIXTURES / "vqav2" / name)
    result = score("okvqa", {"9000": "no", "25001": "4", "42002": "blue"}, tmp_path, root=root)
    # no: 2 matches -> 0.6; 4: 4 matches -> 1.0; blue: 2 matches -> 0.6
    assert result.metrics["accuracy"] == pytest.approx(100 * 2.2 / 3, abs=1e-4)


def test_prompt_snapshot():
    t = task("vqav2")
    s = next(iter(t.samples()))
    assert (
        t.prompt(s) == "<image>Is the plate on the table?\nAnswer the question using a single word or phrase."
    )
    assert t.output_type == "generate" and t.request(s).options is None


def test_fingerprints(tmp_path):
    assert_fingerprints_track("vqav2", "vqav2", "annotations.json", tmp_path,
                              prompt_template="{image}Question: {question} Short answer:")


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    (root / "vqav2/images/COCO_val2014_000000000025.jpg").write_bytes(b"not an image")
    t = task("vqav2", root)
    result = finalize_loading_images(t, ["yes", "2", "red"])
    assert result.n_errors == 1 and result.records[1]["id"] == "25001" and result.records[1]["error"]
    assert "accuracy_number" not in result.metrics
    assert result.metrics["accuracy"] == pytest.approx(100.0)


def test_missing_file(tmp_path):
    (tmp_path / "vqav2").mkdir()
    with pytest.raises(DataError, match="questions.json") as err:
        list(task("vqav2", tmp_path).samples())
    assert "question_id" in str(err.value)
    assert task("vqav2", tmp_path).missing() == ["questions.json", "annotations.json", "images"]


def _edit(tmp_path, which, fn):
    root = copy_fixture("vqav2", tmp_path)
    path = root / "vqav2" / which
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))
    return root


@pytest.mark.parametrize(
    ("which", "edit", "fragment"),
    [
        ("annotations.json", lambda d: d["annotations"].pop(), "no annotation for question_id 42002"),
        ("annotations.json", lambda d: d["annotations"][0].update(answers=[]), "no answers"),
        ("questions.json", lambda d: d["questions"][0].update(image="../../x.jpg"), "outside"),
        ("questions.json", lambda d: d["questions"][0].update(image_id="9"), "image_id"),
        ("questions.json", lambda d: d["questions"].append(dict(d["questions"][0])), "duplicate"),
        ("questions.json", lambda d: d.pop("questions"), "no list under 'questions'"),
    ],
)
def test_bad_input(tmp_path, which, edit, fragment):
    root = _edit(tmp_path, which, edit)
    with pytest.raises(DataError, match=fragment):
        list(task("vqav2", root).samples())


def test_malformed_json_names_line(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    path = root / "vqav2/questions.json"
    path.write_text(path.read_text().replace('"question_id": 25001}', '"question_id": 25001'))
    with pytest.raises(DataError) as err:
        list(task("vqav2", root).samples())
    assert err.value.line == 5 and "questions.json" in str(err.value)
