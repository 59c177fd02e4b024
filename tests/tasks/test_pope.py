"""POPE on the RUCAIBox JSON-Lines layout and the Hugging Face parquet layout."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from deem_eval.errors import DataError, UserError
from deem_eval.registry import TASKS

from .util import (
    FIXTURES,
    assert_fingerprints_track,
    copy_fixture,
    finalize_loading_images,
    score,
    task,
    write_predictions,
)

# question_id -> (prediction, gold); parsed with the official rule by hand
TRICKY = {
    "1": ("Yes.", "yes"),  # yes        TP
    "2": ("No, there is not.", "no"),  # no    TN
    "3": ("NO", "no"),  # yes (case-sensitive) FP
    "4": ("There is no person.", "yes"),  # no  FN
    "5": ("", "yes"),  # yes            TP
    "6": ("Yes, I see one.", "no"),  # yes FP
}
# TP=2 FP=2 TN=1 FN=1
EXPECTED = {
    "accuracy": 100 * 3 / 6,
    "precision": 100 * 2 / 4,
    "recall": 100 * 2 / 3,
    "f1": 100 * 2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3),
    "yes_ratio": 100 * 4 / 6,
}


def test_registered_in_group():
    assert TASKS.groups()["pope"] == ["pope_random", "pope_popular", "pope_adversarial"]
    assert TASKS.get("pope_random").metrics == ("accuracy", "precision", "recall", "f1", "yes_ratio")


def test_samples_from_jsonl():
    samples = list(task("pope_random").samples())
    assert [s.id for s in samples] == ["1", "2", "3", "4", "5", "6"]
    s = samples[3]
    assert (
        s.target == "yes" and s.question == "Is there a person in the image?" and s.options == ["yes", "no"]
    )
    assert s.image.key == "COCO_val2014_000000000002.jpg"
    assert s.image.path == (FIXTURES / "pope/images/COCO_val2014_000000000002.jpg").resolve()
    assert len({x.image.key for x in samples}) == 2  # six questions, two images to encode


def test_score_tricky_answers(tmp_path):
    result = score("pope_random", {k: p for k, (p, _) in TRICKY.items()}, tmp_path)
    assert result.n == 6 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    parsed = [r["parsed"] for r in result.records]
    assert parsed == ["yes", "no", "yes", "no", "yes", "yes"]
    assert [r["score"] for r in result.records] == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert set(result.ci95) == set(EXPECTED)
    lo, hi = result.ci95["accuracy"]
    assert 0.0 <= lo <= EXPECTED["accuracy"] <= hi <= 100.0


def test_score_through_cli(tmp_path):
    from deem_eval.cli import app

    preds = write_predictions(tmp_path / "p.jsonl", {k: p for k, (p, _) in TRICKY.items()})
    out = tmp_path / "out.json"
    res = CliRunner().invoke(
        app,
        [
            "score",
            "--task",
            "pope_random",
            "--predictions",
            str(preds),
            "--data-root",
            str(FIXTURES),
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads(out.read_text())["tasks"]["pope_random"]["metrics"]
    assert metrics == pytest.approx(EXPECTED, abs=1e-4)


def test_prompt_snapshot():
    t = task("pope_random")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "Based on the image, please answer the question. <image>Is there a dog in the image? "
        "Please answer yes or no."
    )
    req = t.request(s)
    assert req.answer_prefix == "The answer is" and req.options == ["yes", "no"]
    assert req.image_key == "COCO_val2014_000000000001.jpg"
    assert t.output_type == "yesno"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("pope_random", "pope", "coco_pope_random.json", tmp_path,
                              prompt_template="{image}{question} Answer yes or no.")


def test_corrupt_image_is_a_per_sample_error():
    t = task("pope_adversarial")
    list(t.samples())  # building samples never opens images
    result = finalize_loading_images(t, ["No.", "Yes", "Yes"])
    assert result.n == 3 and result.n_errors == 1
    assert "COCO_val2014_000000000003.jpg" in result.records[1]["error"]
    assert result.records[1]["id"] == "2"  # the errored sample stays itself, never swapped
    assert result.metrics["accuracy"] == 100.0  # the two readable samples, both right


def test_missing_file_names_file_and_layout(tmp_path):
    (tmp_path / "pope").mkdir()
    with pytest.raises(DataError) as err:
        list(task("pope_popular", tmp_path).samples())
    msg = str(err.value)
    assert "coco_pope_popular.json" in msg and "pope/images" in msg and "parquet" in msg
    assert task("pope_popular", tmp_path).missing() == ["coco_pope_popular.json", "images"]
    with pytest.raises(UserError, match="coco_pope_popular.json"):
        score("pope_popular", {}, tmp_path, root=tmp_path)


def test_malformed_line_names_file_and_line(tmp_path):
    root = copy_fixture("pope", tmp_path)
    path = root / "pope/coco_pope_random.json"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:-1]  # drop the closing brace
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        list(task("pope_random", root).samples())
    assert err.value.line == 3 and "coco_pope_random.json" in str(err.value)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"question_id": 1, "image": "../../outside.jpg", "text": "Q?", "label": "yes"}', "outside"),
        ('{"question_id": 1, "image": "/etc/passwd", "text": "Q?", "label": "yes"}', "outside"),
        ('{"question_id": 1, "image": "a.jpg", "text": "Q?", "label": "maybe"}', "yes/no"),
        ('{"question_id": 1, "image": "a.jpg", "label": "yes"}', "'text'"),
    ],
)
def test_bad_lines_rejected(tmp_path, line, fragment):
    (tmp_path / "pope/images").mkdir(parents=True)
    (tmp_path / "pope/coco_pope_random.json").write_text(line + "\n")
    with pytest.raises(DataError, match=fragment) as err:
        list(task("pope_random", tmp_path).samples())
    assert err.value.line == 1


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "JPEG")
    return buf.getvalue()


def write_hf_parquet(path):
    """The lmms-lab/POPE parquet schema: all splits in one file, told apart by ``category``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [  # (question_id, question, answer, image_source, category)
        ("1", "Is there a dog in the image?", "yes", "COCO_val2014_000000000001", "adversarial"),
        ("1", "Is there a dog in the image?", "yes", "COCO_val2014_000000000001", "random"),
        ("2", "Is there a cat in the image?", "no", "COCO_val2014_000000000001", "random"),
        ("3", "Is there a kite in the image?", "yes", "COCO_val2014_000000000002", "random"),
        ("4", "Is there a bench in the image?", "no", "COCO_val2014_000000000002", "random"),
    ]
    images = {
        "COCO_val2014_000000000001": _jpeg((200, 0, 0)),
        "COCO_val2014_000000000002": _jpeg((0, 200, 0)),
    }
    table = pa.table(
        {
            "id": [str(i) for i in range(len(rows))],
            "question_id": [r[0] for r in rows],
            "question": [r[1] for r in rows],
            "answer": [r[2] for r in rows],
            "image_source": [r[3] for r in rows],
            "image": pa.array(
                [{"bytes": images[r[3]], "path": None} for r in rows],
                type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            ),
            "category": [r[4] for r in rows],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=2)
    return images


def test_hf_parquet_layout(tmp_path):
    images = write_hf_parquet(tmp_path / "pope/data/test-00000-of-00001.parquet")
    t = task("pope_random", tmp_path)
    assert t.missing() == [] and t.data_fingerprint()
    samples = list(t.samples())
    assert [s.id for s in samples] == ["1", "2", "3", "4"]
    assert [s.target for s in samples] == ["yes", "no", "yes", "no"]
    assert samples[2].image.key == "COCO_val2014_000000000002"
    assert samples[0].image.data == images["COCO_val2014_000000000001"]
    assert samples[0].image.data is samples[1].image.data  # one bytes object per image
    assert samples[0].image.load().size == (8, 8)
    assert [s.id for s in task("pope_adversarial", tmp_path).samples()] == ["1"]
    assert list(task("pope_popular", tmp_path).samples()) == []
    result = score("pope_random", {"1": "Yes", "2": "Yes", "3": "No", "4": "No"}, tmp_path, root=tmp_path)
    # TP=1 FP=1 FN=1 TN=1
    assert result.metrics == pytest.approx(
        {"accuracy": 50.0, "precision": 50.0, "recall": 50.0, "f1": 50.0, "yes_ratio": 50.0}
    )


def test_hf_parquet_missing_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "pope").mkdir()
    pq.write_table(pa.table({"question": ["Q?"], "answer": ["yes"]}), tmp_path / "pope/test.parquet")
    with pytest.raises(DataError, match="question_id"):
        list(task("pope_random", tmp_path).samples())
