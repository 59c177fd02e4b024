"""MMStar: the Hugging Face parquet (options inside the question) and VLMEvalKit's TSV."""

from __future__ import annotations

import base64

import pytest

from deem_eval.errors import DataError
from deem_eval.io_tables import Base64Image

from .listing import assert_listed, assert_score_exits_2
from .util import FIXTURES, assert_fingerprints_track, finalize_loading_images, score, task

PARQUET = "mmstar/mmstar.parquet"
# gold: 0 B, 1 C, 2 D, 3 A, 4 A (row 4's picture is corrupt)
PREDICTIONS = {
    "0": "dog",  # the option's text: B, right
    "1": "(c)",  # right
    "2": "a",  # option A alone: wrong
    "3": "A tree is the largest",  # the article is no option and no option text matches: wrong
    "4": "A",  # right
}


def _rows():
    import pyarrow.parquet as pq

    return pq.read_table(FIXTURES / PARQUET).to_pylist()


def _write(root, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "mmstar").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), root / PARQUET)
    return root


def test_samples():
    samples = list(task("mmstar").samples())
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4"]
    assert samples[2].meta["choices"] == {
        "A": "the ball is in the box", "B": "the ball is on the box",
        "C": "the ball is under the box", "D": "the ball is beside the box"}
    assert [s.target for s in samples] == list("BCDAA")
    assert samples[1].meta["category"] == "fine-grained perception" and samples[1].meta["l2"] == "object counting"


def test_score_by_hand(tmp_path):
    result = score("mmstar", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == ["B", "C", "A", None, "A"]
    assert result.metrics == pytest.approx({
        "accuracy": 100 * 3 / 5,
        "category/coarse_perception": 100.0,  # rows 0, 4
        "category/fine_grained_perception": 100.0,  # row 1
        "category/instance_reasoning": 0.0,  # rows 2, 3
        "l2/image_scene_and_topic": 100.0,
        "l2/object_counting": 100.0,
        "l2/cross_instance_relation_reasoning": 0.0,
        "l2/single_instance_reasoning": 0.0,
    })


def test_corrupt_image_is_a_counted_error():
    t = task("mmstar")
    result = finalize_loading_images(t, [PREDICTIONS[s.id] for s in t.samples()])
    assert result.n_errors == 1 and result.records[4]["error"].startswith("cannot decode image mmstar/4")
    assert result.metrics["accuracy"] == pytest.approx(100 * 2 / 4)


def test_vlmevalkit_tsv_is_read_alike(tmp_path):
    import pandas as pd

    rows = _rows()
    frame = pd.DataFrame([{
        "index": r["index"], "question": r["question"], "answer": r["answer"], "category": r["category"],
        "l2_category": r["l2_category"], "image": base64.b64encode(r["image"]["bytes"]).decode(),
        **dict(zip("ABCD", [c.split(": ", 1)[1] for c in r["question"].split("Options: ")[1].split(", ")], strict=True)),
    } for r in rows if r["index"] != 2])  # row 2's options hold commas
    (tmp_path / "mmstar").mkdir()
    frame.to_csv(tmp_path / "mmstar/MMStar.tsv", sep="\t", index=False)
    got = list(task("mmstar", tmp_path).samples())
    want = [s for s in task("mmstar").samples() if s.id != "2"]
    assert [(s.id, s.target, s.meta["choices"]) for s in got] == [(s.id, s.target, s.meta["choices"]) for s in want]
    assert isinstance(got[0].image, Base64Image) and got[0].image.load().getpixel((0, 0)) == (120, 80, 40)


def test_prompt_snapshot():
    t = task("mmstar")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "<image>Which animal is in the image?\nOptions: A: cat, B: dog, C: horse, D: bird\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert t.request(s).options == ["A", "B", "C", "D"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("mmstar", "mmstar", "mmstar.parquet", tmp_path, prompt_template="{image}{question}")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r.update(answer="E") if r["index"] == 1 else None, "row 2: answer 'E' is not one of the options"),
        (lambda r: r.update(index=0), "row 2: index 0 is empty or repeated"),
        (lambda r: r.update(question="How many?") if r["index"] == 3 else None, "row 4: options \\(none\\)"),
        (lambda r: r.pop("l2_category"), "lacks column\\(s\\) l2_category"),
        (lambda r: r.update(image=None) if r["index"] == 0 else None, "row 1: no image"),
    ],
)
def test_bad_input_is_located(tmp_path, change, fragment):
    rows = _rows()
    for r in rows:
        change(r)
    root = _write(tmp_path, rows)
    with pytest.raises(DataError, match=fragment) as err:
        list(task("mmstar", root).samples())
    assert "mmstar.parquet" in str(err.value)


def test_listing_and_missing(tmp_path):
    (tmp_path / "mmstar").mkdir()
    assert task("mmstar", tmp_path).missing() == ["mmstar.parquet"]
    (tmp_path / "mmstar/mmstar.parquet").write_bytes(b"not parquet")
    assert_score_exits_2("mmstar", tmp_path, tmp_path, "mmstar.parquet", "not a readable parquet file")
    assert_listed("mmstar", "mmstar/mmstar.parquet", "Lin-Chen/MMStar")
