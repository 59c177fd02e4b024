"""gqa on a testdev-balanced question dict (and its lmms-lab parquet copy): LLaVA's answer conversion."""

from __future__ import annotations

import io
import json

import pytest

from deem_eval.errors import DataError

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task

PREDICTIONS = {
    "20968287": "Yes.",  # -> "yes": right (verify, rel)
    "20968288": "the left one",  # gold "left": wrong (query, rel)
    "201640614": "White",  # -> "white": right (query, attr)
    "201640615": "no",  # right (logical, obj)
    "202218649": "blue.",  # gold "red": wrong (choose, attr)
    "05451384": "A dog.",  # -> "a dog", gold "dog": wrong, articles are kept (query, cat)
}


def test_samples_skip_unbalanced_questions():
    samples = list(task("gqa").samples())
    assert [s.id for s in samples] == list(PREDICTIONS)  # 202218650 has isBalanced false
    s = samples[0]
    assert s.question == "Is the man to the left of the car?" and s.target == "yes"
    assert s.meta["structural"] == "verify" and s.meta["semantic"] == "rel"
    assert s.image.key == "gqa/n161313.jpg" and samples[1].image.key == s.image.key


def test_prompt_snapshot():
    t = task("gqa")
    s = next(iter(t.samples()))
    assert t.prompt(s) == "<image>Is the man to the left of the car?\nAnswer the question using a single word or phrase."


def test_fingerprints(tmp_path):
    assert_fingerprints_track("gqa", "gqa", "testdev_balanced_questions.json", tmp_path,
                              prompt_template="{image}Q: {question} A:")


def expected_metrics() -> dict[str, float]:
    # right: 20968287, 201640614, 201640615 -> 3 of 6
    return {
        "accuracy": 50.0,
        "binary": 100 * 2 / 3,  # verify right, logical right, choose wrong
        "open": 100 * 1 / 3,  # the three query questions: only "White" is right
        "structural_verify": 100.0, "structural_query": 100 / 3, "structural_logical": 100.0, "structural_choose": 0.0,
        "semantic_rel": 50.0, "semantic_attr": 50.0, "semantic_obj": 100.0, "semantic_cat": 0.0,
    }


def test_score_by_hand(tmp_path):
    result = score("gqa", PREDICTIONS, tmp_path)
    assert [r["score"] for r in result.records] == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert result.metrics == pytest.approx(expected_metrics(), abs=1e-4)
    assert result.records[0]["parsed"] == "yes"


def write_hf_copy(root, questions: dict) -> None:
    """The lmms-lab/GQA layout: instructions and images as two parquet configs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "gqa/testdev_balanced_instructions").mkdir(parents=True)
    (root / "gqa/testdev_balanced_images").mkdir(parents=True)
    rows = [{"id": qid, **{k: v for k, v in q.items() if k not in ("annotations", "semantic")}}
            for qid, q in questions.items()]
    pq.write_table(pa.Table.from_pylist(rows), root / "gqa/testdev_balanced_instructions/testdev-00000-of-00001.parquet")
    images = []
    for name in sorted({q["imageId"] for q in questions.values()}):
        images.append({"id": name, "image": {"bytes": (FIXTURES / f"gqa/images/{name}.jpg").read_bytes(),
                                             "path": f"{name}.jpg"}})
    pq.write_table(pa.Table.from_pylist(images), root / "gqa/testdev_balanced_images/testdev-00000-of-00001.parquet")


def test_hugging_face_parquet_copy_scores_the_same(tmp_path):
    root = tmp_path / "hf"
    write_hf_copy(root, json.loads((FIXTURES / "gqa/testdev_balanced_questions.json").read_text()))
    t = task("gqa", root=root)
    assert t.uses_parquet() and t.missing() == []
    samples = list(t.samples())
    assert [s.id for s in samples] == list(PREDICTIONS)
    from PIL import Image

    assert Image.open(io.BytesIO(samples[0].image.data)).size == (16, 12)
    result = score("gqa", PREDICTIONS, tmp_path, root=root)
    assert result.metrics == pytest.approx(expected_metrics(), abs=1e-4)


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("gqa", tmp_path)
    (root / "gqa/images/n335856.jpg").write_bytes(b"\xff\xd8 truncated")
    t = task("gqa", root=root)
    result = finalize_loading_images(t, [PREDICTIONS[s.id] for s in t.samples()])
    assert result.n == 6 and result.n_errors == 2
    assert result.metrics["accuracy"] == pytest.approx(25.0)  # 1 of the 4 others


def test_bad_input_is_located(tmp_path):
    root = copy_fixture("gqa", tmp_path)
    path = root / "gqa/testdev_balanced_questions.json"
    doc = json.loads(path.read_text())
    del doc["201640614"]["types"]["semantic"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="question 201640614: 'types' needs string 'structural' and 'semantic'"):
        list(task("gqa", root=root).samples())
    path.write_text('{"1": {"imageId": "n1",')
    with pytest.raises(DataError, match="not valid JSON"):
        list(task("gqa", root=root).samples())
