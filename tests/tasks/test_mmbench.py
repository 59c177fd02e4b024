"""MMBench dev (en): the VLMEvalKit TSV with circular copies, CircularEval, judge fallback, layouts."""

from __future__ import annotations

import base64
import csv

import pytest

from deem_eval.errors import DataError
from deem_eval.evaluation import Outcome, finalize

from .listing import assert_listed, assert_score_exits_2
from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task

TSV = "MMBench_DEV_EN.tsv"
# id -> prediction. Gold letters (the options rotate): question 0 (Blue): B, A, D, C; question 1
# (Yes): A, B; question 2 (triangle): C, B, A; question 3 (STOP): A, D, C, B.
PREDICTIONS = {
    "0": "B. Blue", "1000000": "Option (A)", "2000000": "Blue", "3000000": "I think C",  # all right
    "1": "a", "1000001": "The answer is (b)",  # both right
    "2": "C", "1000002": "a triangle", "2000002": "circle",  # last reads as B, gold A: question wrong
    "3": "A", "1000003": "D", "2000003": "C", "3000003": "I don't know",  # unreadable last shift
}


def test_samples_keep_the_file_copies_in_groups():
    samples = list(task("mmbench").samples())
    assert [s.id for s in samples] == ["0", "1000000", "2000000", "3000000", "1", "1000001",
                                       "2", "1000002", "2000002", "3", "1000003", "2000003", "3000003"]
    assert [s.target for s in samples] == list("BADCABCBAADCB")
    assert samples[1].meta["choices"] == {"A": "Blue", "B": "Green", "C": "Yellow", "D": "Red"}
    assert {s.image.key for s in samples[:4]} == {"mmbench/0"}  # one image per question
    assert samples[1].image.b64 == samples[0].image.b64  # the copy's cell names row 0's picture
    assert samples[4].options == ["A", "B"] and samples[4].meta["n_rot"] == 2


def test_circular_eval_by_hand(tmp_path):
    result = score("mmbench", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == list("BADCAB") + ["C", "B", "B", "A", "D", "C", None]
    # questions: 0 right, 1 right, 2 wrong (one shift wrong), 3 wrong (no judge for the unreadable shift)
    assert result.metrics == pytest.approx({
        "accuracy": 100 * 2 / 4,
        "accuracy_vanilla": 100 * 4 / 4,  # every original row was answered right
        "category/attribute_recognition": 100 * 1 / 2,  # questions 0 and 2
        "category/spatial_relationship": 100.0,
        "category/ocr": 0.0,
        "l2/finegrained_perception_instance_level": 50.0,
        "l2/relation_reasoning": 100.0,
        "l2/finegrained_perception_cross_instance": 0.0,
    })
    assert task("mmbench").headline == "accuracy"


class FixedJudge:
    """A stand-in judge: answers each prompt with the next fixed verdict."""

    model = "fixed"

    def __init__(self, verdicts: list[str]):
        self.verdicts, self.prompts = list(verdicts), []

    def judge(self, prompts: list[str]) -> list[str]:
        self.prompts += prompts
        return [self.verdicts.pop(0) for _ in prompts]


def _judged(verdict: str) -> tuple[dict, FixedJudge]:
    t = task("mmbench")
    outcomes = [Outcome(s, t.prompt(s), PREDICTIONS[s.id]) for s in t.samples()]
    t.judge = judge = FixedJudge([verdict])
    result = finalize(t, outcomes, n_boot=0)  # judges the records, then credits the questions
    assert result.extra["n_judged"] == 1
    assert result.records[-1]["judge"] == {"model": "fixed", "prompt": judge.prompts[0], "verdict": verdict}
    return result.metrics, judge


def test_judge_only_when_rules_fail():
    assert type(task("mmbench")).judge_mode == "optional"
    metrics, judge = _judged("B")
    assert len(judge.prompts) == 1  # only the shift the rules could not read
    assert judge.prompts[0].endswith(
        "Question: What does the sign say??\nOptions: There are several options: \n"
        "A. OPEN\nB. STOP\nC. GO\nD. EXIT\n\nAnswer: I don't know\nYour output: ")
    # the verdict B is the gold letter of that shift: question 3 becomes right -> 3 of 4
    assert metrics["accuracy"] == pytest.approx(75.0) and metrics["category/ocr"] == 100.0
    metrics, _ = _judged("Z")  # no option fits: wrong
    assert metrics["accuracy"] == pytest.approx(50.0)


def test_corrupt_image_is_an_error_and_leaves_its_question_out():
    t = task("mmbench")
    result = finalize_loading_images(t, [PREDICTIONS[s.id] for s in t.samples()])
    assert result.n_errors == 4  # the four shifts of question 3 (bad base64 picture)
    assert all("mmbench/3" in r["error"] for r in result.records[-4:])
    # questions 0, 1 right, 2 wrong
    assert result.metrics["accuracy"] == pytest.approx(100 * 2 / 3)


def test_missing_shift_leaves_its_question_out(tmp_path):
    from deem_eval.scoring import score_file

    from .util import write_predictions

    preds = {k: v for k, v in PREDICTIONS.items() if k != "1000002"}
    result, missing, _ = score_file("mmbench", write_predictions(tmp_path / "p.jsonl", preds), FIXTURES)
    assert missing == ["1000002"]
    assert result.metrics["accuracy"] == pytest.approx(100 * 2 / 3)  # questions 0, 1 right, 3 wrong


def test_bootstrap_resamples_questions(tmp_path):
    result = score("mmbench", PREDICTIONS, tmp_path)
    assert task("mmbench").bootstrap_units(result.records) == [[0, 1, 2, 3], [4, 5], [6, 7, 8], [9, 10, 11, 12]]
    lo, hi = result.ci95["accuracy"]
    assert 0.0 <= lo <= 50.0 <= hi <= 100.0


def _originals_only(tmp_path):
    root = copy_fixture("mmbench", tmp_path)
    path = root / "mmbench" / TSV
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.split("\t")[0].isdigit()
                              or int(line.split("\t")[0]) < 1_000_000) + "\n")
    return root


def test_rotations_are_made_when_the_file_has_none(tmp_path):
    made = list(task("mmbench", _originals_only(tmp_path)).samples())
    released = list(task("mmbench").samples())
    assert [(s.id, s.target, s.meta["choices"]) for s in made] == [
        (s.id, s.target, s.meta["choices"]) for s in released]


def test_vanilla_switch(tmp_path):
    t = task("mmbench", circular=False)
    assert [s.id for s in t.samples()] == ["0", "1", "2", "3"]
    result = score("mmbench", {k: PREDICTIONS[k] for k in "0123"}, tmp_path, task_args={"circular": "false"})
    assert result.metrics["accuracy"] == 100.0 == result.metrics["accuracy_vanilla"]


def test_parquet_copy_is_read_alike(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with (FIXTURES / "mmbench" / TSV).open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    pictures = {r["index"]: r["image"] for r in rows if len(r["image"]) > 64}
    table = pa.table({
        "index": [r["index"] for r in rows],  # strings, as in lmms-lab/MMBench 'en'
        "question": [r["question"] for r in rows],
        "hint": [r["hint"] or "nan" for r in rows],
        "answer": [r["answer"] for r in rows],
        **{c: [r[c] or "nan" for r in rows] for c in "ABCD"},
        "category": [r["category"] for r in rows],
        "image": [{"bytes": base64.b64decode(pictures[str(int(r["index"]) % 1_000_000)]), "path": None} for r in rows],
        "source": [r["source"] for r in rows],
        "L2-category": [r["l2-category"] for r in rows],
        "comment": ["nan"] * len(rows),
        "split": [r["split"] for r in rows],
    })
    (tmp_path / "mmbench/en").mkdir(parents=True)
    pq.write_table(table, tmp_path / "mmbench/en/dev-00000-of-00001.parquet")
    t = task("mmbench", tmp_path)
    assert t.missing() == []
    got = list(t.samples())
    want = list(task("mmbench").samples())
    assert [(s.id, s.target, s.question, s.meta["choices"], s.meta["l2"]) for s in got] == [
        (s.id, s.target, s.question, s.meta["choices"], s.meta["l2"]) for s in want]
    assert got[0].image.load().getpixel((0, 0)) == (0, 0, 255)


def test_prompt_snapshot():
    t = task("mmbench")
    s = next(x for x in t.samples() if x.id == "1")
    assert t.prompt(s) == (
        "<image>The plate is on the right side of the table.\n"
        "Is the cup to the left of the plate?\n"
        "A. Yes\nB. No\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert t.request(s).options == ["A", "B"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    assert_fingerprints_track("mmbench", "mmbench", TSV, tmp_path, prompt_template="{image}{question}\n{options}")


def _edit_row(tmp_path, index: str, column: str, value: str):
    root = copy_fixture("mmbench", tmp_path)
    path = root / "mmbench" / TSV
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for r in rows:
        if r["index"] == index:
            r[column] = value
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.mark.parametrize(
    ("index", "column", "value", "fragment"),
    [
        ("2", "answer", "D", "row 3: answer 'D' is not one of the options A, B, C"),
        ("2", "index", "two", "row 3: index 'two' is not an integer"),
        ("2", "index", "1", "row 3: index 1 is negative or repeated"),
        ("0", "index", "7", "index 1000000 is a circular copy of 0, which is not in the file"),
        ("1000001", "image", "2", "image refers to '2', not to its original row 1"),
        ("1", "B", "", "row 2: options A are not A, B"),
    ],
)
def test_bad_rows_are_located(tmp_path, index, column, value, fragment):
    root = _edit_row(tmp_path, index, column, value)
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as err:
        list(task("mmbench", root).samples())
    assert TSV in str(err.value)


def test_cli_exit_2_on_bad_input_and_listing(tmp_path):
    root = _edit_row(tmp_path, "2", "answer", "D")
    assert_score_exits_2("mmbench", root, tmp_path, TSV, "not one of the options")
    empty = tmp_path / "empty"
    (empty / "mmbench").mkdir(parents=True)
    assert task("mmbench", empty).missing() == [TSV]
    assert_listed("mmbench", "mmbench/MMBench_DEV_EN.tsv", "VLMEvalKit")


def test_score_file_with_a_judge(tmp_path):
    from deem_eval.scoring import score_file

    from .util import write_predictions

    judge = FixedJudge(["B"])
    result, _, _ = score_file("mmbench", write_predictions(tmp_path / "p.jsonl", PREDICTIONS), FIXTURES, judge=judge)
    assert len(judge.prompts) == 1 and result.metrics["accuracy"] == pytest.approx(75.0)


@pytest.mark.parametrize("cell", ["abc", "@@@@####" * 20, ""])
def test_bad_base64_is_a_per_sample_error(tmp_path, cell):
    from deem_eval.errors import SampleError

    root = _edit_row(tmp_path, "1", "image", cell or "x" * 80)
    samples = [s for s in task("mmbench", root).samples() if s.meta["group"] == 1]
    assert len(samples) == 2
    for s in samples:
        with pytest.raises(SampleError, match="mmbench/1"):
            s.image.load()
