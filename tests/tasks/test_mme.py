"""MME on the released folder layout and the lmms-lab parquet layout, scored like calculation.py."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from deem_eval.errors import DataError, UserError
from deem_eval.metrics.yesno_rules import mme_answer

from .listing import assert_cli_scores, assert_listed, assert_score_exits_2
from .util import (
    FIXTURES,
    assert_fingerprints_track,
    copy_fixture,
    finalize_loading_images,
    score,
    task,
)

E1, E2 = "existence/000000006040.jpg", "existence/000000018150.jpg"
ART, CODE = "artwork/10002.jpg", "code_reasoning/0020.png"
# id -> (prediction, gold, parsed by the official rule, worked out by hand)
TRICKY = {
    f"{E1}#1": ("Yes", "yes", "yes"),
    f"{E1}#2": ("Not at all.", "no", "no"),  # prefix "not " contains "no"
    f"{E2}#1": ("Sure, yes", "yes", "other"),  # prefix "sure" has neither
    f"{E2}#2": ("no", "no", "no"),
    f"{ART}#1": ("yes, it is", "yes", "yes"),  # prefix "yes,"
    f"{ART}#2": ("YES", "no", "yes"),  # lower-cased first
    f"{CODE}#1": ("The answer is yes", "yes", "other"),  # prefix "the "
    f"{CODE}#2": ("No", "no", "no"),
}
# existence: 3/4 right, image 6040 both right, 18150 not -> acc 75, acc+ 50 -> 125
# artwork: 1/2 right, no image -> 50 + 0 = 50; code_reasoning: 1/2, 0 images -> 50
EXPECTED = {
    "existence": 75.0 + 50.0, "existence_acc": 75.0, "existence_acc_plus": 50.0,
    "artwork": 50.0, "artwork_acc": 50.0, "artwork_acc_plus": 0.0,
    "code_reasoning": 50.0, "code_reasoning_acc": 50.0, "code_reasoning_acc_plus": 0.0,
    "perception": 125.0 + 50.0, "cognition": 50.0, "total": 225.0,
}


def test_official_answer_rule():
    for pred, _, parsed in TRICKY.values():
        assert mme_answer(pred) == parsed
    assert mme_answer("nothing") == "no" and mme_answer("  yes") == "other" and mme_answer("yes\n") == "yes"


def test_samples_from_release_folder():
    samples = list(task("mme").samples())
    assert [s.id for s in samples] == list(TRICKY)
    assert [s.target for s in samples] == [g for _, g, _ in TRICKY.values()]
    s = samples[4]
    assert s.image.key == ART and s.meta["subtask"] == "artwork"
    assert s.image.path == (FIXTURES / "mme/MME_Benchmark_release_version/artwork/images/10002.jpg").resolve()
    assert s.question == "Does this artwork exist in the form of painting?"  # MME's suffix removed
    assert samples[6].image.path.name == "0020.png"
    assert len({x.image.key for x in samples}) == 4


def test_score_tricky_answers(tmp_path):
    result = score("mme", {k: p for k, (p, _, _) in TRICKY.items()}, tmp_path)
    assert result.n == 8 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    assert [r["parsed"] for r in result.records] == [p for _, _, p in TRICKY.values()]
    assert set(result.ci95) == set(EXPECTED)


def test_score_through_cli(tmp_path):
    assert_cli_scores("mme", {k: p for k, (p, _, _) in TRICKY.items()}, EXPECTED, tmp_path)


def test_bootstrap_units_are_images(tmp_path):
    result = score("mme", {k: p for k, (p, _, _) in TRICKY.items()}, tmp_path)
    t = task("mme")
    assert t.bootstrap_units(result.records) == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_prompt_snapshot():
    t = task("mme")
    s = next(iter(t.samples()))
    assert t.prompt(s) == ("Based on the image, please answer the question. <image>Is there a train in this "
                           "image? Please answer yes or no.")
    req = t.request(s)
    assert req.answer_prefix == "The answer is" and req.options == ["yes", "no"] and req.image_key == E1


def test_fingerprints(tmp_path):
    assert_fingerprints_track("mme", "mme", "MME_Benchmark_release_version/existence/000000006040.txt", tmp_path,
                              prompt_template="{image}{question}")


def test_corrupt_image_is_a_per_sample_error_and_drops_its_image_from_acc_plus(tmp_path):
    root = copy_fixture("mme", tmp_path)
    (root / "mme/MME_Benchmark_release_version/existence/000000006040.jpg").write_bytes(b"not a jpeg")
    t = task("mme", root)
    preds = [p for p, _, _ in TRICKY.values()]
    result = finalize_loading_images(t, preds)
    assert result.n == 8 and result.n_errors == 2
    assert "000000006040.jpg" in result.records[0]["error"] and result.records[0]["id"] == f"{E1}#1"
    # existence keeps image 18150 only: 1/2 right, 0/1 images -> 50
    assert result.metrics["existence_acc"] == 50.0 and result.metrics["existence_acc_plus"] == 0.0


def test_missing_folder_names_layout(tmp_path):
    (tmp_path / "mme").mkdir()
    assert task("mme", tmp_path).missing() == ["MME_Benchmark_release_version"]
    with pytest.raises(UserError, match="MME_Benchmark_release_version"):
        score("mme", {}, tmp_path, root=tmp_path)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("Is there a dog?\tYes\nIs there a cat?\tMaybe\n", 2, "yes/no"),
    ("Is there a dog? Yes\n", 1, "question<TAB>answer"),
])
def test_bad_question_file_names_file_and_line(tmp_path, text, line, fragment):
    folder = tmp_path / "mme/MME_Benchmark_release_version/count"
    folder.mkdir(parents=True)
    (folder / "1.txt").write_text(text)
    with pytest.raises(DataError, match=fragment) as err:
        list(task("mme", tmp_path).samples())
    assert err.value.line == line and err.value.path.name == "1.txt"


def _jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "JPEG")
    return buf.getvalue()


def test_hf_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [("code_reasoning/0020.png", "Is the output 'Hello'? Please answer yes or no.", "Yes", "code_reasoning"),
            ("code_reasoning/0020.png", "Is the output 'World'? Please answer yes or no.", "No", "code_reasoning"),
            ("color/000000012.jpg", "Is the bus red? Please answer yes or no.", "No", "color"),
            ("color/000000012.jpg", "Is the bus blue? Please answer yes or no.", "Yes", "color")]
    table = pa.table({
        "question_id": [r[0] for r in rows], "question": [r[1] for r in rows],
        "answer": [r[2] for r in rows], "category": [r[3] for r in rows],
        "image": pa.array([{"bytes": _jpeg((9, 9, 9)), "path": None} for _ in rows],
                          type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    })
    (tmp_path / "mme/data").mkdir(parents=True)
    pq.write_table(table, tmp_path / "mme/data/test-00000-of-00001.parquet", row_group_size=3)
    t = task("mme", tmp_path)
    assert t.missing() == [] and t.data_fingerprint()
    assert [s.id for s in t.samples()] == ["code_reasoning/0020.png#1", "code_reasoning/0020.png#2",
                                           "color/000000012.jpg#1", "color/000000012.jpg#2"]
    result = score("mme", {"code_reasoning/0020.png#1": "Yes", "code_reasoning/0020.png#2": "No",
                           "color/000000012.jpg#1": "Yes", "color/000000012.jpg#2": "Yes"}, tmp_path, root=tmp_path)
    # code_reasoning: 2/2, 1/1 image -> 200; color: 1/2, 0/1 -> 50
    assert result.metrics["code_reasoning"] == 200.0 and result.metrics["color"] == 50.0
    assert result.metrics["perception"] == 50.0 and result.metrics["cognition"] == 200.0


def test_listed_with_expected_files_and_source():
    assert_listed("mme", "mme/MME_Benchmark_release_version", "lmms-lab/MME", "hallucination")


def test_bad_file_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("mme", tmp_path)
    (root / "mme/MME_Benchmark_release_version/existence/000000006040.txt").write_text("Is there a cat?\tPerhaps\n")
    assert_score_exits_2("mme", root, tmp_path, "000000006040.txt, line 1", "yes/no")
