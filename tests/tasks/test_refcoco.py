"""refcoco / refcoco_plus on refs(unc).p pickles: the UNC splits and refcocog's loading and scoring."""

from __future__ import annotations

import pickle

import pytest

from deem_eval.errors import DataError, UserError
from deem_eval.registry import TASKS
from deem_eval.safe_pickle import load_plain

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, score, task

BETA2 = 1.2**2


def test_unc_splits_select_refs():
    assert [s.id for s in task("refcoco").samples()] == ["4"]  # val by default
    assert [s.id for s in task("refcoco", split="testA").samples()] == ["0", "1"]
    assert [s.id for s in task("refcoco", split="testB").samples()] == ["2", "3"]
    s = next(iter(task("refcoco", split="testA").samples()))
    assert s.target == ["woman in white on left", "left lady"]
    assert s.image.key == "refcoco/COCO_train2014_000000581857.jpg"
    assert s.region.bbox == (2.0, 3.0, 10.0, 18.0) and s.meta["category_id"] == 1
    plus = list(task("refcoco_plus").samples())
    assert [p.id for p in plus] == ["0"] and plus[0].image.key == "refcoco+/COCO_train2014_000000581857.jpg"
    with pytest.raises(DataError, match=r"no refs in split 'test' \(splits present: testA, testB, train, val\)"):
        list(task("refcoco", split="test").samples())


def test_fixture_is_the_released_pickle_layout():
    ref = load_plain(FIXTURES / "refcoco/refs(unc).p")[1]
    assert set(ref) == {"sent_ids", "file_name", "ann_id", "ref_id", "image_id", "split", "sentences", "category_id"}
    assert ref["file_name"] == "COCO_train2014_000000581857_1241543.jpg"


def test_prompt_snapshot_and_shared_implementation(tmp_path):
    t = task("refcoco")
    assert t.prompt(next(iter(t.samples()))) == "<image>Describe the object in the marked region."
    assert TASKS.get("refcoco_plus").headline == "CIDEr" and TASKS.get("refcoco").folder == "refcoco"
    assert TASKS.get("refcoco_plus").folder == "refcoco+" and TASKS.get("refcoco").expected[0] == "refs(unc).p"
    assert_fingerprints_track("refcoco", "refcoco", "instances.json", tmp_path,
                              prompt_template="{image}What is in the box?")


def rouge_f(p: float, r: float) -> float:
    return (1 + BETA2) * p * r / (r + BETA2 * p) if p and r else 0.0


def test_metrics_by_hand_on_testA(tmp_path):
    result = score("refcoco", {"0": "the lady", "1": "man in blue shirt on right"}, tmp_path,
                   task_args={"split": "testA"})
    # "the lady": 1 of 2 unigrams matches; closest reference "left lady" (2 words)
    # the second is one of its references: 6 of 6; lengths 8 = closest references 8, no brevity penalty
    assert result.metrics["Bleu_1"] == pytest.approx(100 * 7 / 8, abs=1e-4)
    # ROUGE_L: LCS("the lady", "left lady") = 1 -> p = r = 1/2; the second is exact
    assert result.metrics["ROUGE_L"] == pytest.approx(100 * (rouge_f(0.5, 0.5) + 1.0) / 2, abs=1e-4)
    assert result.records[1]["cider"] > result.records[0]["cider"]
    assert result.n == 2 and result.n_errors == 0


def test_hostile_pickle_is_refused(tmp_path):
    root = copy_fixture("refcoco+", tmp_path)

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    (root / "refcoco+/refs(unc).p").write_bytes(pickle.dumps([Payload()], protocol=2))
    with pytest.raises(DataError, match="tried to construct"):
        list(task("refcoco_plus", root=root).samples())
    (root / "refcoco+/instances.json").unlink()
    from deem_eval.scoring import score_file

    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "0", "prediction": "x"}\n')
    with pytest.raises(UserError, match=r"missing: instances.json"):
        score_file("refcoco_plus", preds, root)


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    from .util import finalize_loading_images

    root = copy_fixture("refcoco", tmp_path)
    (root / "refcoco/images/COCO_train2014_000000581563.jpg").write_bytes(b"GIF89a")
    t = task("refcoco", root=root, split="testB")
    result = finalize_loading_images(t, ["red cup", "bottle"])
    assert result.n == 2 and result.n_errors == 2 and result.metrics == {}
