"""SEED-Bench image dimensions: SEED-Bench.json + images, the lmms-lab parquet, accuracy per dimension."""

from __future__ import annotations

import json

import pytest

from deem_eval.errors import DataError

from .listing import assert_listed, assert_score_exits_2
from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task

# gold: 101669 A (Scene Understanding), 101670 C and 101671 B (Instances Counting),
# 101672 D (Text Understanding), 101673 B (Instance Attributes; corrupt picture)
PREDICTIONS = {
    "101669": "A beach",  # the option's text (starting with the article): A, right
    "101670": "C",  # right
    "101671": "Two",  # the text of option A: wrong
    "101672": "the answer is d",  # right
    "101673": "b",  # right
}


def test_samples_are_the_image_questions():
    samples = list(task("seedbench_img").samples())
    assert [s.id for s in samples] == ["101669", "101670", "101671", "101672", "101673"]  # the video one is left out
    assert [s.target for s in samples] == list("ACBDB")
    assert samples[1].image.key == samples[2].image.key == "seedbench/4207_3032111493.jpg"
    assert samples[1].meta["dimension"] == "Instances Counting"


def test_score_by_hand(tmp_path):
    result = score("seedbench_img", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == ["A", "C", "A", "D", "B"]
    assert result.metrics == pytest.approx({
        "accuracy": 100 * 4 / 5,  # all correct / all questions, like eval.py
        "dimension/scene_understanding": 100.0,
        "dimension/instances_counting": 50.0,
        "dimension/text_understanding": 100.0,
        "dimension/instance_attributes": 100.0,
    })


def test_corrupt_image_is_a_counted_error():
    t = task("seedbench_img")
    result = finalize_loading_images(t, [PREDICTIONS[s.id] for s in t.samples()])
    assert result.n_errors == 1 and "corrupt_1.jpg" in result.records[-1]["error"]
    assert result.metrics["accuracy"] == pytest.approx(75.0)


def test_dimension_names_come_from_the_file(tmp_path):
    root = copy_fixture("seedbench", tmp_path)
    path = root / "seedbench/SEED-Bench.json"
    doc = json.loads(path.read_text())
    doc["question_type"] = {"Counting (renamed)": 5}
    path.write_text(json.dumps(doc))
    assert [s.meta["dimension"] for s in task("seedbench_img", root).samples()][1] == "Counting (renamed)"


def test_parquet_copy_is_read_alike(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    doc = json.loads((FIXTURES / "seedbench/SEED-Bench.json").read_text())
    rows = []
    for q in doc["questions"]:
        img = FIXTURES / "seedbench/SEED-Bench-image" / q["data_id"]
        pictures = [{"bytes": img.read_bytes(), "path": None}] if q["data_type"] == "image" else []
        rows.append({**{k: q[k] for k in q if k != "segment"}, "question_type_id": q["question_type_id"],
                     "image": pictures, "segment": None})
    (tmp_path / "seedbench/data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "seedbench/data/test-00000-of-00001.parquet")
    got = list(task("seedbench_img", tmp_path).samples())
    want = list(task("seedbench_img").samples())
    assert [(s.id, s.target, s.meta) for s in got] == [(s.id, s.target, s.meta) for s in want]
    assert got[0].image.load().size == (8, 8)


def test_prompt_snapshot():
    t = task("seedbench_img")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "<image>What is the setting of the image?\n"
        "A. A beach\nB. A forest\nC. A city street\nD. A kitchen\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert t.request(s).options == ["A", "B", "C", "D"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("seedbench_img", "seedbench", "SEED-Bench.json", tmp_path,
                              prompt_template="{image}{question}\n{options}")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("question_type_id", 13, "questions\\[1\\]: question_type_id 13 names no evaluation dimension"),
        ("question_type_id", "five", "questions\\[1\\]: question_type_id 'five' is not an integer"),
        ("answer", "E", "questions\\[1\\]: answer 'E' is not one of the options"),
        ("data_id", "../../secret.jpg", "points outside"),
        ("question_id", "101669", "questions\\[1\\]: id '101669' is empty or repeated"),
    ],
)
def test_bad_input_is_located(tmp_path, key, value, fragment):
    root = copy_fixture("seedbench", tmp_path)
    path = root / "seedbench/SEED-Bench.json"
    doc = json.loads(path.read_text())
    doc["questions"][1][key] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=fragment) as err:
        list(task("seedbench_img", root).samples())
    assert "SEED-Bench.json" in str(err.value)


def test_missing_key_malformed_json_and_listing(tmp_path):
    root = copy_fixture("seedbench", tmp_path)
    path = root / "seedbench/SEED-Bench.json"
    doc = json.loads(path.read_text())
    del doc["questions"][0]["choice_d"]
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="questions\\[0\\]: missing key 'choice_d'"):
        list(task("seedbench_img", root).samples())
    path.write_text('{"questions": [\n{"answer": }')
    with pytest.raises(DataError, match="not valid JSON") as err:
        list(task("seedbench_img", root).samples())
    assert err.value.line == 2
    assert_score_exits_2("seedbench_img", root, tmp_path, "SEED-Bench.json", "not valid JSON")
    assert_listed("seedbench_img", "seedbench/SEED-Bench.json", "seedbench/SEED-Bench-image", "AILab-CVC/SEED-Bench")


def test_vlmevalkit_tsv_is_read_alike(tmp_path):
    import base64

    import pandas as pd

    doc = json.loads((FIXTURES / "seedbench/SEED-Bench.json").read_text())
    names = {v: k for k, v in doc["question_type"].items()}
    rows = [{"index": q["question_id"], "question": q["question"],
             **{c: q[f"choice_{c.lower()}"] for c in "ABCD"}, "answer": q["answer"],
             "category": names[q["question_type_id"]],
             "image": base64.b64encode((FIXTURES / "seedbench/SEED-Bench-image" / q["data_id"]).read_bytes()).decode()}
            for q in doc["questions"] if q["data_type"] == "image"]
    (tmp_path / "seedbench").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "seedbench/SEEDBench_IMG.tsv", sep="\t", index=False)
    got = list(task("seedbench_img", tmp_path).samples())
    want = list(task("seedbench_img").samples())
    assert [(s.id, s.target, s.meta) for s in got] == [(s.id, s.target, s.meta) for s in want]
    result = finalize_loading_images(task("seedbench_img", tmp_path), [PREDICTIONS[s.id] for s in got])
    assert result.n_errors == 1 and result.metrics["accuracy"] == pytest.approx(75.0)
