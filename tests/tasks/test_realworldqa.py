"""RealWorldQA: the Hugging Face parquet, lmms-eval's flexible-extract exact match."""

from __future__ import annotations

import pytest
from deem_eval.tasks.realworldqa import flexible_extract

from deem_eval.errors import DataError

from .listing import assert_listed, assert_score_exits_2
from .util import FIXTURES, assert_fingerprints_track, finalize_loading_images, score, task

PARQUET = "realworldqa/data/test-00000-of-00001.parquet"
# gold: 0 B, 1 A, 2 "3" (open), 3 C, 4 "Red" (open), 5 B (corrupt picture)
PREDICTIONS = {
    "0": "B.",  # right
    "1": "Yes",  # the text of option A: right
    "2": "three",  # a number word becomes "3": right
    "3": "I think C",  # not the letter alone: wrong under exact match
    "4": "red",  # case is ignored: right
    "5": "(B)",  # punctuation is removed: right
}
Q = "Which is closer?\n\nA. The bicycle\nB. The bench\nC. The lamp post\n\nPlease answer directly."


@pytest.mark.parametrize(
    ("response", "read"),
    [("B", "B"), ("(C)", "C"), ("The lamp post", "C"), ("the lamp post", "the lamp post"),
     ("Option B", "Option B"), ("Five", "5"), ("five cars", "five cars"), ("It is the bench!", "It is the bench")],
)
def test_flexible_extract(response, read):
    assert flexible_extract(response, Q) == read


def test_score_by_hand(tmp_path):
    result = score("realworldqa", PREDICTIONS, tmp_path)
    assert [r["score"] for r in result.records] == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert result.metrics == pytest.approx({
        "accuracy": 100 * 5 / 6,
        "type/multiple_choice": 100 * 3 / 4,  # rows 0, 1, 3, 5
        "type/open": 100.0,  # rows 2, 4
    })


def test_corrupt_image_is_a_counted_error():
    t = task("realworldqa")
    result = finalize_loading_images(t, [PREDICTIONS[s.id] for s in t.samples()])
    assert result.n_errors == 1 and result.records[5]["error"].startswith("cannot decode image realworldqa/5")
    assert result.metrics["accuracy"] == pytest.approx(80.0)


def test_prompt_snapshot():
    t = task("realworldqa")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "<image>In which direction is the front wheel of the car on the right side facing?\n\n"
        "A. Left\nB. Straight\nC. Right\n\n"
        "Please answer directly with only the letter of the correct option and nothing else."
    )
    assert t.output_type == "generate" and t.max_new_tokens == 16


def test_fingerprints(tmp_path):
    assert_fingerprints_track("realworldqa", "realworldqa", "data/test-00000-of-00001.parquet", tmp_path,
                              prompt_template="{image}Question: {question}")


def _rows():
    import pyarrow.parquet as pq

    return pq.read_table(FIXTURES / PARQUET).to_pylist()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda rows: rows[2].update(answer=""), "row 3: answer is empty"),
        (lambda rows: rows[1].update(question=" "), "row 2: question is empty"),
        (lambda rows: rows[0].update(image={"bytes": None, "path": None}), "row 1: image has neither bytes nor path"),
        (lambda rows: [r.pop("answer") for r in rows], "lacks column\\(s\\) answer"),
    ],
)
def test_bad_input_is_located(tmp_path, change, fragment):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows()
    change(rows)
    (tmp_path / "realworldqa/data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / PARQUET)
    with pytest.raises(DataError, match=fragment) as err:
        list(task("realworldqa", tmp_path).samples())
    assert "test-00000-of-00001.parquet" in str(err.value)


def test_listing_and_missing(tmp_path):
    (tmp_path / "realworldqa").mkdir()
    assert task("realworldqa", tmp_path).missing() == ["data"]
    (tmp_path / "realworldqa/broken.parquet").write_bytes(b"PAR1 nonsense")
    assert_score_exits_2("realworldqa", tmp_path, tmp_path, "broken.parquet", "not a readable parquet file")
    assert_listed("realworldqa", "realworldqa/data", "xai-org/RealworldQA")
