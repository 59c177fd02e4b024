"""AMBER discriminative: the official inference.py metrics, positive class = no."""

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

# id -> (prediction, truth, reading)
TRICKY = {
    "1005": ("Yes", "yes", "yes"),  # existence, right
    "1006": ("No.", "no", "no"),  # existence, right "no"
    "1007": ("No, it is cloudy.", "yes", "no"),  # state, a wrong "no"
    "1008": ("yes", "no", "yes"),  # state, wrong
    "1009": ("No", "no", "no"),  # number, right "no"
    "1010": ("Yes and no", "yes", "unknown"),  # action, wrong
    "13557": ("Maybe", "no", "unknown"),  # relation, wrong and not a "no" answer
    "13558": ("Yes, he is.", "yes", "yes"),  # relation, right
}


def f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


# all: 4/8 right; truth no = 4 (1006 1008 1009 13557); answered no = 3 (1006 1007 1009); right no = 2
EXPECTED = {
    "accuracy": 50.0, "precision": 100 * 2 / 3, "recall": 50.0, "f1": 100 * f1(2 / 3, 1 / 2),  # = 400/7
    "existence_accuracy": 100.0, "existence_precision": 100.0, "existence_recall": 100.0, "existence_f1": 100.0,
    # attribute: right 1009 only; truth no 1008 1009; answered no 1007 1009; right no 1009
    "attribute_accuracy": 25.0, "attribute_precision": 50.0, "attribute_recall": 50.0, "attribute_f1": 50.0,
    # relation: right 13558; truth no 13557; no "no" answers -> precision 0/0 = 0
    "relation_accuracy": 50.0, "relation_precision": 0.0, "relation_recall": 0.0, "relation_f1": 0.0,
    "state_accuracy": 0.0, "state_precision": 0.0, "state_recall": 0.0, "state_f1": 0.0,
    "number_accuracy": 100.0, "number_precision": 100.0, "number_recall": 100.0, "number_f1": 100.0,
    "action_accuracy": 0.0, "action_precision": 0.0, "action_recall": 0.0, "action_f1": 0.0,
}


def test_samples():
    samples = list(task("amber_disc").samples())
    assert [s.id for s in samples] == list(TRICKY)
    assert [s.target for s in samples] == [t for _, t, _ in TRICKY.values()]
    assert samples[0].image.path == (FIXTURES / "amber/image/AMBER_1.jpg").resolve()
    assert [s.meta["dimension"] for s in samples[:3]] == ["existence", "existence", "attribute"]
    assert len({s.image.key for s in samples}) == 2


def test_score_tricky_answers(tmp_path):
    result = score("amber_disc", {k: v[0] for k, v in TRICKY.items()}, tmp_path)
    assert result.n == 8 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    assert result.metrics["f1"] == pytest.approx(400 / 7, abs=1e-4)
    assert [r["parsed"] for r in result.records] == [v[2] for v in TRICKY.values()]
    assert set(result.ci95) == set(EXPECTED)


def test_score_through_cli(tmp_path):
    assert_cli_scores("amber_disc", {k: v[0] for k, v in TRICKY.items()}, EXPECTED, tmp_path)


def test_one_dimension_file(tmp_path):
    result = score("amber_disc", {"13557": "No", "13558": "No"}, tmp_path,
                   task_args={"query": "query_discriminative-relation.json"})
    # truth no, yes; both answered no: right 1; precision 1/2, recall 1/1
    assert result.metrics["relation_accuracy"] == 50.0 and result.metrics["precision"] == 50.0
    assert result.metrics["recall"] == 100.0 and result.metrics["f1"] == pytest.approx(100 * f1(0.5, 1.0))
    assert "existence_accuracy" not in result.metrics


def test_prompt_snapshot():
    t = task("amber_disc")
    s = next(iter(t.samples()))
    assert t.prompt(s) == ("Based on the image, please answer the question. <image>Is there a tree in this image? "
                           "Please answer yes or no.")
    assert t.request(s).answer_prefix == "The answer is" and t.request(s).image_key == "AMBER_1.jpg"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("amber_disc", "amber", "data/query/query_discriminative.json", tmp_path,
                              prompt_template="{image}{question}")


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("amber", tmp_path)
    (root / "amber/image/AMBER_2.jpg").write_bytes(b"")
    result = finalize_loading_images(task("amber_disc", root), [v[0] for v in TRICKY.values()])
    assert result.n == 8 and result.n_errors == 4
    assert [r["id"] for r in result.records if r["error"]] == ["1009", "1010", "13557", "13558"]
    assert result.metrics["accuracy"] == 50.0 and result.metrics["existence_accuracy"] == 100.0


def test_missing_files(tmp_path):
    (tmp_path / "amber").mkdir()
    assert task("amber_disc", tmp_path).missing() == [
        "data/query/query_discriminative.json", "data/annotations.json", "image"]
    with pytest.raises(UserError, match="query_discriminative.json"):
        score("amber_disc", {}, tmp_path, root=tmp_path)


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda q, a: a.pop(), "no annotation for id 13558"),
    (lambda q, a: a[2].update(truth="maybe"), "item 2 truth"),
    (lambda q, a: a[1].update(type="generative"), "not a discriminative one"),
    (lambda q, a: q[0].update(image="../../x.jpg"), "outside"),
    (lambda q, a: q[1].pop("query"), "item 1 lacks"),
    (lambda q, a: q.append(dict(q[0])), "duplicate id 1005"),
])
def test_bad_input_is_located(tmp_path, edit, fragment):
    root = copy_fixture("amber", tmp_path)
    qp, ap = root / "amber/data/query/query_discriminative.json", root / "amber/data/annotations.json"
    q, a = json.loads(qp.read_text()), json.loads(ap.read_text())
    edit(q, a)
    qp.write_text(json.dumps(q))
    ap.write_text(json.dumps(a))
    with pytest.raises(DataError, match=fragment):
        list(task("amber_disc", root).samples())


def test_listed_with_expected_files_and_source():
    assert_listed("amber_disc", "amber/data/annotations.json", "amber/image", "junyangwang0410/AMBER")


def test_bad_file_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("amber", tmp_path)
    (root / "amber/data/annotations.json").write_text('[{"id": 1005, "type": "relation", "truth": "maybe"}]')
    assert_score_exits_2("amber_disc", root, tmp_path, "annotations.json", "item 0 truth")
