"""MM-Vet: mm-vet.json + images, the official grader prompt, judge-graded scores per capability."""

from __future__ import annotations

import json

import pytest
from deem_eval.tasks.mmvet import parse_grade
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.errors import DataError, UserError
from deem_eval.evaluation import Outcome, finalize

from .listing import assert_listed
from .util import FIXTURES, assert_fingerprints_track, copy_fixture, task, write_predictions

PREDICTIONS = {"v1_0": "x = -1", "v1_1": "It costs $1.50", "v1_2": "a dog", "v1_3": "on the left", "v1_4": "hello"}
# verdicts in sample order; v1_2's "0.0 because" reads 0.0, v1_3's "x" is unreadable (0.0)
VERDICTS = ["0.5", "1.0", "0.0 because", "x", "0.8"]


class FixedJudge:
    model = "fixed"

    def __init__(self, verdicts):
        self.verdicts, self.prompts = list(verdicts), []

    def judge(self, prompts):
        self.prompts += prompts
        return [self.verdicts.pop(0) for _ in prompts]


def _graded(verdicts=VERDICTS):
    t = task("mmvet")
    outcomes = [Outcome(s, t.prompt(s), PREDICTIONS[s.id]) for s in t.samples()]
    t.judge = judge = FixedJudge(verdicts)
    result = finalize(t, outcomes, n_boot=0)
    assert result.extra["n_judged"] == 5
    return t, result, judge


def test_samples():
    samples = list(task("mmvet").samples())
    assert [s.id for s in samples] == ["v1_0", "v1_1", "v1_2", "v1_3", "v1_4"]
    assert samples[0].meta["capability"] == ["math", "ocr"] and samples[0].target == "-1 <AND> -5"
    assert samples[2].image.path == (FIXTURES / "mmvet/images/v1_2.jpg").resolve()


def test_grader_prompt_is_the_official_one():
    _, _, judge = _graded()
    p = judge.prompts[0]
    assert p.startswith("Compare the ground truth and prediction from AI models, to give a correctness score")
    assert "Question | Ground truth | Prediction | Correctness\n--- | --- | --- | ---\n" in p
    assert p.endswith("| 1.0\n\nWhat is x in the equation? | -1  <AND>  -5 | x = -1 | ")
    assert judge.prompts[1].endswith("| $1.50 <OR> 1.5 dollars | It costs $1.50 | ")


@pytest.mark.parametrize(("verdict", "grade"), [("0.5", 0.5), ("1.0", 1.0), ("0.3 points", 0.3), ("1.2", None),
                                                ("-0.1", None), ("The score is 0.5", None), ("", None)])
def test_parse_grade(verdict, grade):
    assert parse_grade(verdict) == grade


def test_scores_by_hand():
    t, result, _ = _graded()
    records = result.records
    assert [r["score"] for r in records] == [0.5, 1.0, 0.0, 0.0, 0.8]
    assert [r["verdict_unreadable"] for r in records] == [False, False, False, True, False]
    assert result.metrics == pytest.approx({
        "total": 100 * (0.5 + 1.0 + 0.0 + 0.0 + 0.8) / 5,  # 46.0
        "cap/math": 50.0,  # v1_0
        "cap/ocr": 100 * (0.5 + 1.0 + 0.8) / 3,  # v1_0, v1_1, v1_4
        "cap/rec": 100 * (1.0 + 0.0 + 0.0) / 3,  # v1_1, v1_2, v1_3
        "cap/spat": 0.0,  # v1_3
        "cap_int/math_ocr": 50.0,
        "cap_int/ocr_rec": 100.0,
        "cap_int/rec": 0.0,
        "cap_int/rec_spat": 0.0,
        "cap_int/ocr": 80.0,
    }, abs=1e-4)  # metrics are rounded to 4 decimals
    assert t.headline == "total" and type(t).judge_mode == "required"


def test_without_a_judge_scoring_exits_2(tmp_path):
    t = task("mmvet")
    outcomes = [Outcome(s, t.prompt(s), PREDICTIONS[s.id]) for s in t.samples()]
    with pytest.raises(UserError, match="needs --judge|pass --judge"):
        finalize(t, outcomes, n_boot=0)
    preds = write_predictions(tmp_path / "p.jsonl", PREDICTIONS)
    res = CliRunner().invoke(app, ["score", "--task", "mmvet", "--predictions", str(preds),
                                   "--data-root", str(FIXTURES)], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "judge" in res.output


def test_corrupt_image_is_a_per_sample_error():
    from deem_eval.errors import SampleError

    bad = [s for s in task("mmvet").samples() if s.id == "v1_4"][0]
    with pytest.raises(SampleError, match="v1_4.png"):
        bad.image.load()


def test_prompt_snapshot_and_fingerprints(tmp_path):
    t = task("mmvet")
    s = next(iter(t.samples()))
    assert t.prompt(s) == "<image>What is x in the equation?" and t.output_type == "generate"
    assert_fingerprints_track("mmvet", "mmvet", "mm-vet.json", tmp_path, prompt_template="{image}Q: {question}")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["v1_1"].pop("answer"), "v1_1: missing key 'answer'"),
        (lambda d: d["v1_2"].update(capability=[]), "v1_2: capability must be a non-empty list"),
        (lambda d: d["v1_3"].update(imagename="../../x.png"), "points outside"),
        (lambda d: d["v1_0"].update(question=3), "v1_0: 'question' is an integer"),
    ],
)
def test_bad_input_is_located(tmp_path, edit, fragment):
    root = copy_fixture("mmvet", tmp_path)
    path = root / "mmvet/mm-vet.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=fragment) as err:
        list(task("mmvet", root).samples())
    assert "mm-vet.json" in str(err.value)


def test_listing():
    assert_listed("mmvet", "mmvet/mm-vet.json", "mmvet/images", "yuweihao/MM-Vet")


def test_lmms_lab_parquet_is_read_alike(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    doc = json.loads((FIXTURES / "mmvet/mm-vet.json").read_text())
    rows = [{"question_id": k, "image": {"bytes": (FIXTURES / "mmvet/images" / v["imagename"]).read_bytes(), "path": None},
             "question": v["question"], "answer": v["answer"], "image_source": v["imagename"],
             "capability": ",".join(v["capability"])} for k, v in doc.items()]
    (tmp_path / "mmvet/data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "mmvet/data/test-00000-of-00001.parquet")
    t = task("mmvet", tmp_path)
    assert t.missing() == []
    got, want = list(t.samples()), list(task("mmvet").samples())
    assert [(s.id, s.target, s.question, s.meta) for s in got] == [(s.id, s.target, s.question, s.meta) for s in want]
    assert got[0].image.load().size == (8, 8)


def test_score_file_with_a_judge(tmp_path):
    from deem_eval.scoring import score_file

    result, _, _ = score_file("mmvet", write_predictions(tmp_path / "p.jsonl", PREDICTIONS), FIXTURES,
                              judge=FixedJudge(VERDICTS))
    assert result.metrics["total"] == pytest.approx(46.0) and result.extra["n_judged"] == 5
