"""RobustVQA: two yes/no questions per builder item, POPE prompt and parser."""

from __future__ import annotations

import json

import pytest

from deem_eval.errors import DataError
from deem_eval.registry import TASKS

from .util import FIXTURES, assert_fingerprints_track, score, task

A1, A2, A3 = (
    "imagenet_a/n01498041/0.000001.jpg",
    "imagenet_a/n01531178/0.000002.jpg",
    "imagenet_a/n01531178/0.000003.jpg",
)


def test_group():
    assert TASKS.groups()["robustvqa"] == ["rvqa_a", "rvqa_r", "rvqa_v"]


def test_samples_two_per_item():
    samples = list(task("rvqa_a").samples())
    assert [s.id for s in samples] == [
        f"{A1}|yes",
        f"{A1}|no",
        f"{A2}|yes",
        f"{A2}|no",
        f"{A3}|yes",
        f"{A3}|no",
    ]
    assert [s.target for s in samples] == ["yes", "no"] * 3
    assert samples[0].question == "Is a stingray the main object in this image?"
    assert samples[1].question == "Is an electric ray the main object in this image?"
    assert samples[0].image.key == A1 and samples[0].image is samples[1].image
    assert samples[0].image.path == (FIXTURES / "robustvqa" / A1).resolve()
    assert [s.id for s in task("rvqa_v").samples()] == [
        "imagenet_v2/1/7a3f.jpeg|yes",
        "imagenet_v2/1/7a3f.jpeg|no",
    ]


def test_score_by_hand(tmp_path):
    preds = {
        f"{A1}|yes": "Yes",  # TP
        f"{A1}|no": "No.",  # TN
        f"{A2}|yes": "no",  # FN
        f"{A2}|no": "yes",  # FP
        f"{A3}|yes": "Yes, it is.",  # TP
        f"{A3}|no": "It is not.",  # TN
    }
    result = score("rvqa_a", preds, tmp_path)
    # TP=2 TN=2 FP=1 FN=1
    assert result.metrics == pytest.approx(
        {
            "accuracy": 100 * 4 / 6,
            "precision": 100 * 2 / 3,
            "recall": 100 * 2 / 3,
            "f1": 100 * 2 / 3,
            "yes_ratio": 50.0,
        },
        abs=1e-4,
    )
    r = score(
        "rvqa_r",
        {"imagenet_r/n01443537/art_0.jpg|yes": "Yes", "imagenet_r/n01443537/art_0.jpg|no": "Yes"},
        tmp_path,
    )
    assert r.metrics["accuracy"] == 50.0 and r.metrics["yes_ratio"] == 100.0


def test_prompt_snapshot():
    t = task("rvqa_r")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "Based on the image, please answer the question. <image>Is a goldfish the main object in this image? "
        "Please answer yes or no."
    )
    assert t.request(s).answer_prefix == "The answer is"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("rvqa_a", "robustvqa", "robustvqa_test.json", tmp_path,
                              question_template="Is this {caption}?")


def _write(tmp_path, doc) -> None:
    (tmp_path / "robustvqa").mkdir(exist_ok=True)
    (tmp_path / "robustvqa/robustvqa_test.json").write_text(json.dumps(doc))


def test_missing_file(tmp_path):
    (tmp_path / "robustvqa").mkdir()
    with pytest.raises(DataError, match="robustvqa_test.json") as err:
        list(task("rvqa_a", tmp_path).samples())
    assert "imagenet_a" in str(err.value)  # the expected layout


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"imagenet_r": []}, "no key 'imagenet_a'"),
        (
            {"imagenet_a": [{"file_name": "../../escape.jpg", "gt_caption": "a", "error_caption": "b"}]},
            "outside",
        ),
        ({"imagenet_a": [{"file_name": "/etc/hosts", "gt_caption": "a", "error_caption": "b"}]}, "outside"),
        (
            {"imagenet_a": [{"file_name": "x.jpg", "gt_caption": "a"}]},
            r"imagenet_a\[0\] lacks .*error_caption",
        ),
        ({"imagenet_a": [{"file_name": "x.jpg", "gt_caption": "a", "error_caption": "b"}] * 2}, "duplicate"),
    ],
)
def test_bad_input(tmp_path, doc, fragment):
    _write(tmp_path, doc)
    with pytest.raises(DataError, match=fragment):
        list(task("rvqa_a", tmp_path).samples())


def test_malformed_json_names_line(tmp_path):
    (tmp_path / "robustvqa").mkdir()
    (tmp_path / "robustvqa/robustvqa_test.json").write_text(
        '{\n  "imagenet_a": [\n    {"file_name": }\n  ]\n}\n'
    )
    with pytest.raises(DataError) as err:
        list(task("rvqa_a", tmp_path).samples())
    assert err.value.line == 3


def test_rvqa_photo_is_a_diagnostic_outside_the_group(tmp_path):
    assert "rvqa_photo" in TASKS.names()
    assert "rvqa_photo" not in TASKS.groups()["robustvqa"]
    (tmp_path / "rvqa_photo").mkdir()
    doc = {"imagenet_v2": [{"file_name": "imagenet_v2/3/0000.jpg", "gt_caption": "a cup",
                            "error_caption": "a bowl"}]}
    (tmp_path / "rvqa_photo/robustvqa_test.json").write_text(json.dumps(doc))
    samples = list(task("rvqa_photo", tmp_path).samples())
    assert [(s.id, s.target, s.question) for s in samples] == [
        ("imagenet_v2/3/0000.jpg|yes", "yes", "Is a cup the main object in this image?"),
        ("imagenet_v2/3/0000.jpg|no", "no", "Is a bowl the main object in this image?"),
    ]
    assert samples[0].image.path == (tmp_path / "rvqa_photo/imagenet_v2/3/0000.jpg").resolve()
    # the same prompt as the group's tasks, so the two are read against each other
    assert task("rvqa_photo", tmp_path).prompt(samples[0]) == task("rvqa_v").prompt(
        next(iter(task("rvqa_v").samples()))).replace("a goldfish", "a cup")
