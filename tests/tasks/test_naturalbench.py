"""NaturalBench: the release's group rows and lmms-eval's flattened copy, the official answer
reading, and question / image / group accuracy over 2x2 groups."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.errors import DataError
from deem_eval.metrics.naturalbench import extract_answer
from deem_eval.scoring import score_file

from .util import FIXTURES, assert_fingerprints_track, finalize_loading_images, score, task, write_predictions

DATA = "naturalbench/data/train-00000-of-00001.parquet"
# Gold per group (q0_i0, q0_i1, q1_i0, q1_i1): groups 0 and 1 yes/no (yes, no, no, yes), group 2
# multiple choice (A, B, B, A).
PREDICTIONS = {
    "0_q0_i0": "Yes.",  # yes  right
    "0_q0_i1": "No, the dog is standing.",  # no   right
    "0_q1_i0": "no",  # no   right
    "0_q1_i1": "yes, it is standing",  # yes  right        group 0: all four right
    "1_q0_i0": "Yes",  # yes  right
    "1_q0_i1": "Yes",  # yes  wrong (gold no)
    "1_q1_i0": "There is no blue umbrella.",  # no   right
    "1_q1_i1": "Not sure",  # neither word: unparsable, wrong
    "2_q0_i0": "A",  # A    right
    "2_q0_i1": "B. A phone",  # B comes first: B right
    "2_q1_i0": "a phone, so B",  # the article "a" comes first: A (the official reading), wrong
    "2_q1_i1": "(A)",  # A    right
}
PARSED = ["yes", "no", "no", "yes", "yes", "yes", "no", None, "A", "B", "A", "A"]


def _by_hand() -> dict[str, float]:
    # questions right on both images: group 0 both, group 1 none (q0 fails on i1, q1 on i1),
    # group 2 q0 only -> 3 of 6. Images with both questions right: group 0 both, group 1 image 0,
    # group 2 image 1 -> 4 of 6. Groups all right: group 0 -> 1 of 3. Answers right: 4 + 2 + 3 = 9 of 12.
    return {"q_acc": 100 * 3 / 6, "i_acc": 100 * 4 / 6, "g_acc": 100 / 3, "accuracy": 100 * 9 / 12}


def test_samples():
    samples = list(task("naturalbench").samples())
    assert [s.id for s in samples] == list(PREDICTIONS)
    assert [s.target for s in samples] == ["yes", "no", "no", "yes"] * 2 + ["A", "B", "B", "A"]
    assert samples[0].options == ["Yes", "No"] and samples[8].options == ["A", "B"]
    # question 0 and question 1 about image 0 share one image (encoded once)
    assert samples[0].image.key == samples[2].image.key == "naturalbench/0/0"
    assert samples[1].image.key == samples[3].image.key == "naturalbench/0/1"
    assert samples[0].image.data == samples[2].image.data != samples[1].image.data
    assert samples[0].image.load().size == (16, 16)
    assert [s.meta["position"] for s in samples[:4]] == ["q0_i0", "q0_i1", "q1_i0", "q1_i1"]
    assert task("naturalbench").count() == 12


def test_score_by_hand(tmp_path):
    result = score("naturalbench", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == PARSED
    assert result.metrics == pytest.approx(_by_hand(), abs=1e-4)
    t = task("naturalbench")
    assert t.headline == "g_acc" and t.chance == 6.25


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("Yes.", "yes_no", "yes"),
        ("yes, it is", "yes_no", "yes"),
        ("YES", "yes_no", "yes"),
        ("No, yes.", "yes_no", "no"),  # the earlier word wins
        ("I would say yes, not no", "yes_no", "yes"),
        ("Not sure", "yes_no", None),  # "not" is no "no"
        ("Nobody knows; eyes closed", "yes_no", None),  # whole words only
        ("", "yes_no", None),
        ("B", "multiple_choice", "B"),
        ("(B)", "multiple_choice", "B"),
        ("b) a phone", "multiple_choice", "B"),
        ("The answer is B", "multiple_choice", "B"),
        ("A cup", "multiple_choice", "A"),
        ("a phone, so B", "multiple_choice", "A"),  # the article counts, as in the official script
        ("Option C", "multiple_choice", None),
    ],
)
def test_official_answer_reading(text, kind, expected):
    assert extract_answer(text, kind) == expected


def test_incomplete_group_is_left_out_of_group_metrics(tmp_path):
    preds = {k: v for k, v in PREDICTIONS.items() if k != "0_q1_i1"}
    result, missing, _ = score_file("naturalbench", write_predictions(tmp_path / "p.jsonl", preds), FIXTURES)
    assert missing == ["0_q1_i1"]
    # groups 1 and 2 remain: q 0 + 1 of 4, i 1 + 1 of 4, g 0 of 2; answers 3 + 2 + 3 = 8 of 11
    assert result.metrics == pytest.approx(
        {"q_acc": 25.0, "i_acc": 50.0, "g_acc": 0.0, "accuracy": 100 * 8 / 11}, abs=1e-4)


def test_bootstrap_resamples_whole_groups(tmp_path):
    result = score("naturalbench", PREDICTIONS, tmp_path)
    units = task("naturalbench").bootstrap_units(result.records)
    assert units == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    lo, hi = result.ci95["g_acc"]
    assert 0.0 <= lo <= result.metrics["g_acc"] <= hi <= 100.0
    # a resample is a multiset of whole groups, so g_acc can only take values k/3
    assert all(abs(v * 3 / 100 - round(v * 3 / 100)) < 1e-3 for v in (lo, hi))


def test_prompt_snapshot():
    t = task("naturalbench")
    samples = list(t.samples())
    assert t.prompt(samples[0]) == "<image>Is the dog sitting on the grass? Please answer Yes or No."
    assert t.prompt(samples[8]) == (
        "<image>What is the man holding? A. A cup B. A phone "
        "Please output the letter corresponding to the correct option."
    )
    assert t.request(samples[8]).options == ["A", "B"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("naturalbench", "naturalbench", "data/train-00000-of-00001.parquet", tmp_path,
                              prompt_template="{image}{question}\n{suffix}")


def _png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), rgb).save(buf, format="PNG")
    return buf.getvalue()


def _release_rows() -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(FIXTURES / DATA).to_pylist()


def _write(path, rows, schema=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.mark.parametrize("with_answer", [True, False])
def test_flattened_lmms_eval_copy(tmp_path, with_answer):
    flat = []
    for r in _release_rows():
        for k, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
            row = {"Index": 4 * r["Index"] + 2 * k + j, "Image": r[f"Image_{j}"], "Question": r[f"Question_{k}"],
                   "Question_Type": r["Question_Type"]}
            if with_answer:
                row["answer"] = r[f"Image_{j}_Question_{k}"]
            flat.append(row)
    _write(tmp_path / "naturalbench/data/test-00000-of-00001.parquet", flat)
    t = task("naturalbench", tmp_path)
    assert t.missing() == [] and t.count() == 12
    samples = list(t.samples())
    assert [s.id for s in samples] == [str(i) for i in range(12)]
    assert [s.target for s in samples] == [s.target for s in task("naturalbench").samples()]
    assert samples[0].image.key == samples[2].image.key
    preds = {str(i): p for i, p in enumerate(PREDICTIONS.values())}
    assert score("naturalbench", preds, tmp_path, root=tmp_path).metrics == pytest.approx(_by_hand(), abs=1e-4)


def test_early_revision_column_name(tmp_path):
    rows = [{("Question Type" if k == "Question_Type" else k): v for k, v in r.items()} for r in _release_rows()]
    _write(tmp_path / "naturalbench/data/train-00000-of-00001.parquet", rows)
    assert [s.target for s in task("naturalbench", tmp_path).samples()][8:] == ["A", "B", "B", "A"]


def test_corrupt_image_is_a_counted_sample_error(tmp_path):
    rows = _release_rows()
    rows[1]["Image_1"] = {"bytes": b"not an image", "path": None}
    _write(tmp_path / "naturalbench/data/train-00000-of-00001.parquet", rows)
    t = task("naturalbench", tmp_path)
    result = finalize_loading_images(t, list(PREDICTIONS.values()))
    # both questions about group 1's image 1 are errors; the group leaves q/i/g accuracy
    assert result.n_errors == 2
    assert [r["id"] for r in result.records if r["error"]] == ["1_q0_i1", "1_q1_i1"]
    # groups 0 and 2: q 2 + 1 of 4, i 2 + 1 of 4, g 1 of 2; answers 4 + 2 + 3 = 9 of 10
    assert result.metrics == pytest.approx({"q_acc": 75.0, "i_acc": 75.0, "g_acc": 50.0, "accuracy": 90.0}, abs=1e-4)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"Question_Type": "open_ended"}, "Question_Type 'open_ended' is unknown"),
        ({"Image_1_Question_0": "Maybe"}, "Image_1_Question_0 'Maybe' is not yes/no"),
        ({"Index": -3}, "Index -3 is not a non-negative integer"),
        ({"Index": 0}, "duplicate question 0_q0_i0"),
        ({"Question_1": ""}, "Question_1 '' is not a non-empty string"),
        ({"Image_0": {"bytes": None, "path": None}}, "Image_0 has neither bytes nor path"),
    ],
)
def test_malformed_row_names_file_and_row(tmp_path, change, fragment):
    rows = _release_rows()
    rows[1].update(change)
    _write(tmp_path / DATA, rows)
    with pytest.raises(DataError, match=fragment) as err:
        list(task("naturalbench", tmp_path).samples())
    assert "row 2" in str(err.value) and "train-00000-of-00001.parquet" in str(err.value)


def test_missing_column_and_cli_exit_2(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "Image_1_Question_1"} for r in _release_rows()]
    _write(tmp_path / DATA, rows)
    with pytest.raises(DataError, match="lacks column"):
        list(task("naturalbench", tmp_path).samples())
    preds = write_predictions(tmp_path / "p.jsonl", {"0_q0_i0": "Yes"})
    res = CliRunner().invoke(app, ["score", "--task", "naturalbench", "--predictions", str(preds),
                                   "--data-root", str(tmp_path)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    flat = " ".join(res.output.split())
    assert "train-00000-of-00001.parquet" in flat and "Image_1_Question_1" in flat


def test_missing_data_and_listing(tmp_path):
    (tmp_path / "naturalbench").mkdir()
    t = task("naturalbench", tmp_path)
    assert t.missing() == ["data/*.parquet"]
    with pytest.raises(DataError, match="holds no parquet files"):
        list(t.samples())
    res = CliRunner().invoke(app, ["tasks", "naturalbench", "--data-root", str(FIXTURES)], env={"COLUMNS": "300"})
    flat = " ".join(res.output.split())
    assert res.exit_code == 0 and "found" in flat
    for fragment in ("naturalbench/data/*.parquet", "BaiqiL/NaturalBench", "g_acc"):
        assert fragment in flat, res.output


def test_run_samples_file_rescores_identically(tmp_path):
    """A run's samples lines (id, prediction, error) are accepted by ``score`` as they are."""
    lines = [{"id": k, "prediction": v, "error": None} for k, v in PREDICTIONS.items()]
    path = tmp_path / "samples_naturalbench.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result, _, _ = score_file("naturalbench", path, FIXTURES)
    assert result.metrics == pytest.approx(_by_hand(), abs=1e-4)
