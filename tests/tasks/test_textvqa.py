"""TextVQA val: the VQA accuracy, the JSON and parquet layouts, OCR tokens in the prompt."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

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

PREDS = {
    "34602": "Dakota.",  # normalised (answers differ) -> "dakota": 5 of 10 agree -> every subset >= 3 -> 1
    "34603": "Copenhagen",  # all ten answers identical -> compared as is -> 0
    "34604": "22",  # 2 of 10: leaving out a "22" leaves 1 match (1/3), leaving out a "23" leaves 2 (2/3)
}
ACC_34604 = (2 * (1 / 3) + 8 * (2 / 3)) / 10  # = 0.6
EXPECTED = {"accuracy": 100 * (1.0 + 0.0 + ACC_34604) / 3}


def test_samples():
    samples = list(task("textvqa").samples())
    assert [s.id for s in samples] == ["34602", "34603", "34604"]
    assert samples[0].image.key == "003a8ae2ef43b901"
    assert samples[0].image.path == (FIXTURES / "textvqa/train_images/003a8ae2ef43b901.jpg").resolve()
    assert len(samples[0].target) == 10 and samples[0].meta["ocr_tokens"] == ["dakota", "digital"]


def test_score_tricky_answers(tmp_path):
    result = score("textvqa", PREDS, tmp_path)
    assert result.n == 3 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    assert [r["score"] for r in result.records] == pytest.approx([1.0, 0.0, 0.6])


def test_score_through_cli(tmp_path):
    assert_cli_scores("textvqa", PREDS, EXPECTED, tmp_path)


def test_prompt_snapshot_with_and_without_ocr():
    plain, ocr = task("textvqa"), task("textvqa", ocr=True)
    s = list(plain.samples())
    assert plain.prompt(s[0]) == "<image>what is the brand of this camera?\nAnswer the question using a single word or phrase."
    assert ocr.prompt(s[0]) == ("<image>what is the brand of this camera?\nReference OCR token: dakota, digital\n"
                                "Answer the question using a single word or phrase.")
    assert ocr.prompt(s[1]) == plain.prompt(s[1])  # no tokens for that image: no OCR line
    assert ocr.prompt_fingerprint() != plain.prompt_fingerprint()


def test_ocr_needs_tokens(tmp_path):
    root = copy_fixture("textvqa", tmp_path)
    (root / "textvqa/TextVQA_Rosetta_OCR_v0.2_val.json").unlink()
    assert [s.meta["ocr_tokens"] for s in task("textvqa", root).samples()] == [[], [], []]
    with pytest.raises(DataError, match="no OCR tokens"):
        list(task("textvqa", root, ocr=True).samples())


def test_fingerprints(tmp_path):
    assert_fingerprints_track("textvqa", "textvqa", "TextVQA_0.5.1_val.json", tmp_path,
                              prompt_template="{image}{question}")


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    root = copy_fixture("textvqa", tmp_path)
    (root / "textvqa/train_images/004e21eb2e686f40.jpg").write_bytes(b"\xff\xd8 truncated")
    result = finalize_loading_images(task("textvqa", root), list(PREDS.values()))
    assert result.n == 3 and result.n_errors == 2 and result.metrics["accuracy"] == 100.0
    assert "004e21eb2e686f40.jpg" in result.records[1]["error"]


def test_missing_file(tmp_path):
    (tmp_path / "textvqa").mkdir()
    assert task("textvqa", tmp_path).missing() == ["TextVQA_0.5.1_val.json", "train_images"]
    with pytest.raises(UserError, match="TextVQA_0.5.1_val.json"):
        score("textvqa", {}, tmp_path, root=tmp_path)


@pytest.mark.parametrize(("change", "fragment"), [
    ({"answers": []}, "non-empty list"),
    ({"image_id": 7}, "lacks the strings"),
    ({"image_id": "../../x"}, "outside"),
    ({"question_id": 34602}, "duplicate question_id 34602"),
    ({"ocr_tokens": "dakota"}, "list of strings"),
])
def test_bad_entries_are_located(tmp_path, change, fragment):
    root = copy_fixture("textvqa", tmp_path)
    path = root / "textvqa/TextVQA_0.5.1_val.json"
    doc = json.loads(path.read_text())
    doc["data"][2].update(change)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=fragment) as err:
        list(task("textvqa", root).samples())
    assert "TextVQA_0.5.1_val.json" in str(err.value)


def test_hf_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (3, 3, 3)).save(buf, "JPEG")
    doc = json.loads((FIXTURES / "textvqa/TextVQA_0.5.1_val.json").read_text())
    rows = [{**d, "ocr_tokens": ["dakota"] if i == 0 else [], "image": {"bytes": buf.getvalue(), "path": None}}
            for i, d in enumerate(doc["data"])]
    (tmp_path / "textvqa/data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "textvqa/data/validation-00000-of-00001.parquet")
    t = task("textvqa", tmp_path, ocr=True)
    assert t.missing() == []
    s = list(t.samples())
    assert [x.id for x in s] == ["34602", "34603", "34604"] and s[0].image.data == buf.getvalue()
    assert "Reference OCR token: dakota\n" in t.prompt(s[0])
    assert score("textvqa", PREDS, tmp_path, root=tmp_path).metrics == pytest.approx(EXPECTED, abs=1e-4)


def test_listed_with_expected_files_and_source():
    assert_listed("textvqa", "textvqa/TextVQA_0.5.1_val.json", "textvqa/train_images", "lmms-lab/textvqa")


def test_bad_file_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("textvqa", tmp_path)
    (root / "textvqa/TextVQA_0.5.1_val.json").write_text('{"data": [{"question_id": 1}]}')
    assert_score_exits_2("textvqa", root, tmp_path, "TextVQA_0.5.1_val.json", "data[0]")
