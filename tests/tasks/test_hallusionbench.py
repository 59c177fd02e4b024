"""HallusionBench: official qAcc / fAcc / aAcc with VLMEvalKit's rule-based yes/no reading."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from deem_eval.errors import DataError, UserError
from deem_eval.metrics.yesno_rules import yorn_answer

from .listing import assert_cli_scores, assert_listed, assert_score_exits_2
from .util import (
    FIXTURES,
    assert_fingerprints_track,
    copy_fixture,
    score,
    task,
)

# id -> (prediction, gold, reading, correct) worked out by hand
TRICKY = {
    "VD_illusion_0_0_0": ("Yes, they are the same size.", "yes", "yes", 1),
    "VD_illusion_0_0_1": ("No.", "no", "no", 1),
    "VD_illusion_0_1_0": ("Yes and no", "no", "unknown", 0),  # "unclear" is wrong with a figure
    "VD_illusion_0_1_1": ("yes", "yes", "yes", 1),
    "VS_chart_0_0_0": ("I cannot tell without the chart.", "yes", "unknown", 1),  # no figure: unclear is fine
    "VS_chart_0_0_1": ("No", "no", "no", 1),
    "VS_chart_0_1_0": ("No, it is not.", "no", "no", 1),
    "VS_chart_0_1_1": ("The answer is: yes!", "yes", "yes", 1),
}
# questions: 7/8; VD 3/4; VS 4/4
# figures (VS figure 0 has none): VD 0_0 right, VD 0_1 wrong, VS 0_1 right -> 2/3; VD 1/2; VS 1/1
# pairs: VD q0 (fig0 right, fig1 wrong) wrong, VD q1 right, VS q0 right, VS q1 right -> 3/4; VD 1/2; VS 2/2
EXPECTED = {
    "aAcc": 100 * 7 / 8, "aAcc_VD": 75.0, "aAcc_VS": 100.0,
    "fAcc": 100 * 2 / 3, "fAcc_VD": 50.0, "fAcc_VS": 100.0,
    "qAcc": 75.0, "qAcc_VD": 50.0, "qAcc_VS": 100.0,
}


def test_rule_based_reading():
    for pred, _, reading, _ in TRICKY.values():
        assert yorn_answer(pred) == reading
    assert yorn_answer("Yes, no doubt. No!") == "unknown" and yorn_answer("nope") == "unknown"


def test_samples():
    samples = list(task("hallusionbench").samples())
    assert [s.id for s in samples] == list(TRICKY)
    assert [s.target for s in samples] == [g for _, g, _, _ in TRICKY.values()]
    assert samples[0].image.path == (FIXTURES / "hallusionbench/hallusion_bench/VD/illusion/0_0.png").resolve()
    assert samples[4].image is None and samples[4].meta["figure"] is None
    assert samples[2].image.key == "hallusion_bench/VD/illusion/0_1.png"


def test_score_tricky_answers(tmp_path):
    result = score("hallusionbench", {k: v[0] for k, v in TRICKY.items()}, tmp_path)
    assert result.n == 8 and result.n_errors == 0
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)
    assert [r["parsed"] for r in result.records] == [v[2] for v in TRICKY.values()]
    assert [r["score"] for r in result.records] == [float(v[3]) for v in TRICKY.values()]
    assert set(result.ci95) == set(EXPECTED)
    assert task("hallusionbench").bootstrap_units(result.records) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_score_through_cli(tmp_path):
    assert_cli_scores("hallusionbench", {k: v[0] for k, v in TRICKY.items()}, EXPECTED, tmp_path)


def test_prompt_snapshot():
    t = task("hallusionbench")
    samples = list(t.samples())
    assert t.prompt(samples[0]) == (
        "Based on the image, please answer the question. <image>Is the right orange circle the same size as "
        "the left orange circle? Please answer yes or no.")
    assert t.prompt(samples[4]) == (
        "Please answer the question. Is China the country with the largest population in 2020? "
        "Please answer yes or no.")
    assert t.request(samples[4]).image_key is None and t.request(samples[0]).answer_prefix == "The answer is"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("hallusionbench", "hallusionbench", "HallusionBench.json", tmp_path,
                              prompt_template="{image}{question}")


def test_corrupt_image_is_a_per_sample_error(tmp_path):
    from deem_eval.errors import SampleError
    from deem_eval.evaluation import Outcome, finalize

    root = copy_fixture("hallusionbench", tmp_path)
    (root / "hallusionbench/hallusion_bench/VD/illusion/0_1.png").write_bytes(b"\x89PNG broken")
    t = task("hallusionbench", root)
    outcomes = []
    for s, (pred, *_) in zip(t.samples(), TRICKY.values(), strict=True):
        try:
            if s.image is not None:  # text-only questions have no image to load
                s.image.load()
            outcomes.append(Outcome(s, t.prompt(s), pred))
        except SampleError as exc:
            outcomes.append(Outcome(s, t.prompt(s), None, error=str(exc)))
    result = finalize(t, outcomes)
    assert result.n == 8 and result.n_errors == 2
    assert [r["id"] for r in result.records if r["error"]] == ["VD_illusion_0_1_0", "VD_illusion_0_1_1"]
    assert "0_1.png" in result.records[2]["error"]
    # VD left: questions 2/2, figure 0_0 right (1/1), both VD pairs incomplete -> none counted
    assert result.metrics["aAcc_VD"] == 100.0 and result.metrics["fAcc_VD"] == 100.0
    assert result.metrics["qAcc_VD"] == 0.0 and result.metrics["qAcc_VS"] == 100.0


def test_missing_file(tmp_path):
    (tmp_path / "hallusionbench").mkdir()
    assert task("hallusionbench", tmp_path).missing() == ["HallusionBench.json", "hallusion_bench"]
    with pytest.raises(UserError, match="HallusionBench.json"):
        score("hallusionbench", {}, tmp_path, root=tmp_path)


@pytest.mark.parametrize(("change", "fragment"), [
    ({"gt_answer": "2"}, "not 0 or 1"),
    ({"category": "XX"}, "not VD or VS"),
    ({"question": None}, "lacks question"),
    ({"filename": "../../etc/passwd"}, "outside"),
    ({"filename": None}, "no filename"),
])
def test_bad_items_are_located(tmp_path, change, fragment):
    root = copy_fixture("hallusionbench", tmp_path)
    path = root / "hallusionbench/HallusionBench.json"
    items = json.loads(path.read_text())
    items[2].update(change)
    path.write_text(json.dumps(items))
    with pytest.raises(DataError, match=fragment) as err:
        list(task("hallusionbench", root).samples())
    assert "item 2" in str(err.value) and "HallusionBench.json" in str(err.value)


def test_duplicate_question_is_an_error(tmp_path):
    root = copy_fixture("hallusionbench", tmp_path)
    path = root / "hallusionbench/HallusionBench.json"
    items = json.loads(path.read_text())
    path.write_text(json.dumps([*items, items[0]]))
    with pytest.raises(DataError, match="duplicate question VD_illusion_0_0_0"):
        list(task("hallusionbench", root).samples())


def test_hf_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    items = json.loads((FIXTURES / "hallusionbench/HallusionBench.json").read_text())
    for it in items:
        it["image"] = {"bytes": buf.getvalue(), "path": None} if it.get("filename") else None
        it.setdefault("filename", None)
    (tmp_path / "hallusionbench/data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(items), tmp_path / "hallusionbench/data/image-00000-of-00001.parquet")
    t = task("hallusionbench", tmp_path)
    assert t.missing() == [] and t.data_fingerprint()
    samples = list(t.samples())
    assert [s.id for s in samples] == list(TRICKY)
    assert samples[0].image.data == buf.getvalue() and samples[4].image is None
    result = score("hallusionbench", {k: v[0] for k, v in TRICKY.items()}, tmp_path, root=tmp_path)
    assert result.metrics == pytest.approx(EXPECTED, abs=1e-4)


def test_listed_with_expected_files_and_source():
    assert_listed("hallusionbench", "hallusionbench/HallusionBench.json", "hallusionbench/hallusion_bench", "tianyi-lab/HallusionBench")


def test_bad_file_exits_2_through_the_cli(tmp_path):
    root = copy_fixture("hallusionbench", tmp_path)
    (root / "hallusionbench/HallusionBench.json").write_text('[{"category": "VD",\n')
    assert_score_exits_2("hallusionbench", root, tmp_path, "HallusionBench.json, line 2", "not valid JSON")
