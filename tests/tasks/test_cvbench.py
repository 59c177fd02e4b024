"""CV-Bench: test_2d/test_3d JSON Lines + img/, the HF parquet files, per-source and combined accuracy."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.errors import DataError

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task

# idx -> prediction; the fixture's gold, source and task, and the hand-parsed letter.
PREDICTIONS = {
    "0": "(C)",  # (C) ADE20K Count     -> (C) right
    "1": "D",  # (D) COCO Count         -> (D) right
    "2": "a) left",  # (A) ADE20K Relation -> (A) right
    "3": "above",  # (B) COCO Relation   -> the choice text "above" = (A) wrong
    "7": "(B) 2",  # (B) COCO Count      -> (B) right
    "4": "lamp or chair? chair",  # (A) Omni3D Depth -> names both choices, no letter: unparsable, wrong
    "5": "Answer: A",  # (B) Omni3D Depth -> (A) wrong
    "6": "a door is closer",  # (B) Omni3D Distance -> the article is no (a); text "door" = (B) right
}
ORDER = ["0", "1", "2", "3", "7", "4", "5", "6"]  # test_2d.jsonl, then test_3d.jsonl


def _by_hand() -> dict[str, float]:
    ade, coco, omni = 2 / 2, 2 / 3, 1 / 3  # right: ADE20K 0, 2; COCO 1, 7 of 1, 3, 7; Omni3D 6 of 4, 5, 6
    two_d = (ade + coco) / 2  # 5/6: the mean of the two 2D sources, not 4 of 5 2D questions
    return {
        "overall": 100 * (two_d + omni) / 2,  # 100 * 7/12 = 58.33
        "accuracy_2d": 100 * two_d,
        "accuracy_3d": 100 * omni,
        "accuracy_ade20k": 100 * ade,
        "accuracy_coco": 100 * coco,
        "accuracy_omni3d": 100 * omni,
        "accuracy_count": 100 * 3 / 3,  # 0, 1, 7
        "accuracy_relation": 100 * 1 / 2,  # 2 right, 3 wrong
        "accuracy_depth": 0.0,  # 4, 5 wrong
        "accuracy_distance": 100.0,  # 6
        "accuracy": 100 * 5 / 8,
    }


def test_samples():
    samples = list(task("cvbench").samples())
    assert [s.id for s in samples] == ORDER
    s = samples[0]
    assert s.target == "(C)" and s.options == ["(A)", "(B)", "(C)", "(D)"]
    assert s.image.key == "img/2D/count/ade20k_0.png"
    assert s.image.path == (FIXTURES / "cvbench/img/2D/count/ade20k_0.png").resolve()
    assert s.image.load().size == (16, 16)
    assert [x.meta["source"] for x in samples] == ["ADE20K", "COCO", "ADE20K", "COCO", "COCO", "Omni3D", "Omni3D",
                                                   "Omni3D"]
    assert samples[-1].options == ["(A)", "(B)"] and samples[-1].meta["task"] == "Distance"


def test_score_by_hand(tmp_path):
    result = score("cvbench", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == ["(C)", "(D)", "(A)", "(A)", "(B)", None, "(A)", "(B)"]
    assert result.metrics == pytest.approx(_by_hand(), abs=1e-4)
    assert result.metrics["overall"] == pytest.approx(58.3333, abs=1e-4)
    assert task("cvbench").headline == "overall"
    lo, hi = result.ci95["overall"]
    assert 0.0 <= lo <= result.metrics["overall"] <= hi <= 100.0


@pytest.mark.parametrize(
    ("idx", "prediction", "parsed"),
    [
        ("3", "(B)", "(B)"),
        ("3", "B", "(B)"),
        ("3", "b) below", "(B)"),
        ("3", "below", "(B)"),
        ("3", "The answer is (B).", "(B)"),
        ("3", "b", "(B)"),
        ("3", "a bench is below", "(B)"),  # the article is no (a); "below" is the choice's text
        ("2", "A. left", "(A)"),
        ("0", "1", "(C)"),  # a count given as the choice's text
        ("0", "I think 2 or 3", None),  # two choices named, no letter
        ("0", "(E)", None),  # not one of the four choices
        ("0", "", None),
    ],
)
def test_tricky_answers(idx, prediction, parsed):
    t = task("cvbench")
    sample = next(s for s in t.samples() if s.id == idx)
    got = t.score(sample, prediction)
    assert got["parsed"] == parsed
    assert got["score"] == float(parsed == sample.target)


def test_only_3d_questions_score_the_3d_accuracy(tmp_path):
    root = copy_fixture("cvbench", tmp_path)
    (root / "cvbench/test_2d.jsonl").unlink()
    result = score("cvbench", {k: PREDICTIONS[k] for k in ("4", "5", "6")}, tmp_path, root=root)
    # No 2D source present: the means run over what is there instead of counting 2D as 0.
    assert result.metrics["overall"] == pytest.approx(100 / 3, abs=1e-4) and result.metrics["accuracy_2d"] == 0.0


def test_prompt_snapshot():
    t = task("cvbench")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "<image>How many chairs are in the image? Select from the following choices.\n"
        "(A) 3\n(B) 2\n(C) 1\n(D) 0\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert t.request(s).options == ["(A)", "(B)", "(C)", "(D)"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("cvbench", "cvbench", "test_2d.jsonl", tmp_path,
                              prompt_template="{image}{prompt}\nAnswer with a letter.")
    root = copy_fixture("cvbench", tmp_path / "img")
    before = task("cvbench", root).data_fingerprint()
    (root / "cvbench/img/2D/count/coco_99.png").write_bytes(b"x")
    assert task("cvbench", root).data_fingerprint() != before


def _rows() -> list[dict]:
    out = []
    for name in ("test_2d.jsonl", "test_3d.jsonl"):
        out += [json.loads(line) for line in (FIXTURES / "cvbench" / name).read_text().splitlines()]
    return out


def _write_parquet(path, rows) -> None:
    """The HF schema: the jsonl fields plus ``image`` = {bytes, path}."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = [{**r, "image": {"bytes": (FIXTURES / "cvbench" / r["filename"]).read_bytes(), "path": None}}
             for r in rows]
    image_t = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([
        ("idx", pa.int64()), ("type", pa.string()), ("task", pa.string()), ("image", image_t),
        ("question", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.string()),
        ("prompt", pa.string()), ("filename", pa.string()), ("source", pa.string()),
        ("source_dataset", pa.string()), ("source_filename", pa.string()), ("target_class", pa.string()),
        ("target_size", pa.int64()), ("bbox", pa.list_(pa.list_(pa.float64()))),
    ])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(table, schema=schema), path)


@pytest.mark.parametrize("split", [True, False])
def test_hf_parquet_layout_scores_the_same(tmp_path, split):
    rows = _rows()
    folder = tmp_path / "cvbench"
    if split:
        _write_parquet(folder / "test_2d.parquet", [r for r in rows if r["type"] == "2D"])
        _write_parquet(folder / "test_3d.parquet", [r for r in rows if r["type"] == "3D"])
    else:
        _write_parquet(folder / "test.parquet", rows)
    t = task("cvbench", tmp_path)
    assert t.missing() == [] and t.count() == 8 and t.data_fingerprint()
    samples = list(t.samples())
    assert {s.id: s.target for s in samples} == {s.id: s.target for s in task("cvbench").samples()}
    assert samples[0].image.data and samples[0].image.load().size == (16, 16)
    (tmp_path / "preds").mkdir()
    result = score("cvbench", PREDICTIONS, tmp_path / "preds", root=tmp_path)
    assert result.metrics == pytest.approx(_by_hand(), abs=1e-4)


def test_first_release_single_jsonl(tmp_path):
    root = copy_fixture("cvbench", tmp_path)
    folder = root / "cvbench"
    (folder / "test.jsonl").write_text((folder / "test_2d.jsonl").read_text() + (folder / "test_3d.jsonl").read_text())
    (folder / "test_2d.jsonl").unlink()
    (folder / "test_3d.jsonl").unlink()
    assert task("cvbench", root).missing() == []
    assert [s.id for s in task("cvbench", root).samples()] == ORDER


def test_corrupt_image_is_a_counted_sample_error(tmp_path):
    root = copy_fixture("cvbench", tmp_path)
    (root / "cvbench/img/2D/count/coco_1.png").write_bytes(b"not a png")
    t = task("cvbench", root)
    result = finalize_loading_images(t, [PREDICTIONS[i] for i in ORDER])
    assert result.n_errors == 1
    bad = next(r for r in result.records if r["id"] == "1")
    assert bad["error"] and "coco_1.png" in bad["error"] and bad["score"] is None
    # COCO now 1 of 2 (3 wrong, 7 right); ADE20K 2/2, Omni3D 1/3
    assert result.metrics["accuracy_coco"] == pytest.approx(50.0)
    assert result.metrics["overall"] == pytest.approx(100 * ((1 + 0.5) / 2 + 1 / 3) / 2, abs=1e-4)


def test_missing_data_and_listing(tmp_path):
    (tmp_path / "cvbench").mkdir()
    t = task("cvbench", tmp_path)
    assert t.missing() == ["test_2d.jsonl", "test_3d.jsonl", "img"]
    with pytest.raises(DataError, match="test_2d.jsonl") as err:
        list(t.samples())
    assert "parquet" in str(err.value)
    res = CliRunner().invoke(app, ["tasks", "cvbench", "--data-root", str(FIXTURES)], env={"COLUMNS": "300"})
    flat = " ".join(res.output.split())
    assert res.exit_code == 0 and "found" in flat
    for fragment in ("cvbench/test_2d.jsonl", "cvbench/img", "nyu-visionx/CV-Bench", "overall"):
        assert fragment in flat, res.output


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"answer": "(E)"}, "is not one of the 4 choices"),
        ({"answer": "C"}, None),  # a bare letter is accepted
        ({"source": "SUNRGBD"}, "source 'SUNRGBD' is unknown"),
        ({"type": "4D"}, "is not 2D or 3D"),
        ({"choices": "3, 2, 1, 0"}, "is not a list"),
        ({"idx": 1}, "duplicate idx 1"),
        ({"filename": "../../etc/passwd"}, "points outside"),
        ({"prompt": None}, "prompt None"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, change, fragment):
    root = copy_fixture("cvbench", tmp_path)
    path = root / "cvbench/test_2d.jsonl"
    lines = path.read_text().splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), **change})
    path.write_text("\n".join(lines) + "\n")
    if fragment is None:
        assert next(iter(task("cvbench", root).samples())).target == "(C)"
        return
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as err:
        list(task("cvbench", root).samples())
    assert err.value.line == (2 if change.get("idx") == 1 else 1) and "test_2d.jsonl" in str(err.value)


def test_bad_input_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("cvbench", tmp_path)
    (root / "cvbench/test_3d.jsonl").write_text('{"idx": 4, "type": "3D"\n')
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "0", "prediction": "C"}) + "\n")
    res = CliRunner().invoke(app, ["score", "--task", "cvbench", "--predictions", str(preds), "--data-root", str(root)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    flat = " ".join(res.output.split())
    assert "test_3d.jsonl" in flat and "line 1" in flat


def test_parquet_missing_column_is_located(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "cvbench").mkdir()
    pq.write_table(pa.table({"idx": [0], "question": ["Q?"]}), tmp_path / "cvbench/test_2d.parquet")
    with pytest.raises(DataError, match="lacks column") as err:
        list(task("cvbench", tmp_path).samples())
    assert "test_2d.parquet" in str(err.value)
