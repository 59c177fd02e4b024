"""MMVP: Questions.csv + 'MMVP Images/', per-question and pair accuracy, label errata."""

from __future__ import annotations

import csv
import json

import pytest

from deem_eval.errors import DataError, UserError
from deem_eval.scoring import score_file
from deem_eval.task import build_config

from .util import FIXTURES, copy_fixture, score, task, write_predictions

# Index -> prediction, with the gold answer and the hand-parsed letter
PREDICTIONS = {
    "1": "a",  # gold (a) -> (a) right
    "2": "(b)",  # gold (b) -> (b) right      pair 1 right
    "3": "The answer is (a) Left",  # gold (a) -> right
    "4": "A.",  # gold (b) -> (a) wrong        pair 2 wrong
    "5": "B.",  # gold (b) -> right
    "6": "a dog with two eyes",  # gold (a) -> text "Two" = (b), the article is not (a): wrong
}


def test_samples():
    samples = list(task("mmvp").samples())
    assert [s.id for s in samples] == ["1", "2", "3", "4", "5", "6"]
    s = samples[2]
    assert s.question == "From the camera's perspective, is the dog facing left or right?"
    assert s.target == "(a)" and s.options == ["(a)", "(b)"]
    assert s.image.key == "3.jpg" and s.image.path == (FIXTURES / "mmvp/MMVP Images/3.jpg").resolve()
    assert [x.meta["pair"] for x in samples] == [0, 0, 1, 1, 2, 2]


def test_image_extensions_and_case_are_found(tmp_path):
    root = copy_fixture("mmvp", tmp_path)
    images = root / "mmvp/MMVP Images"
    (images / "3.jpg").rename(images / "3.JPG")
    (images / "4.jpg").rename(images / "4.png")
    (images / "5.jpg").unlink()
    (images / "notes.txt").write_text("not an image")
    by_id = {s.id: s.image for s in task("mmvp", root).samples()}
    assert by_id["3"].key == "3.JPG" and by_id["3"].path == (images / "3.JPG").resolve()
    assert by_id["4"].key == "4.png"
    assert by_id["5"].key == "5.jpg" and not by_id["5"].path.exists()  # reported per sample at load time
    assert by_id["1"].key == "1.jpg"
    (images / "1.png").write_bytes(b"x")  # 1.jpg is the released name and wins
    assert {s.id: s.image for s in task("mmvp", root).samples()}["1"].key == "1.jpg"
    (images / "4.jpeg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"several images for Index 4: \['4.jpeg', '4.png'\]"):
        list(task("mmvp", root).samples())


def test_score_by_hand(tmp_path):
    result = score("mmvp", PREDICTIONS, tmp_path)
    assert [r["parsed"] for r in result.records] == ["(a)", "(b)", "(a)", "(a)", "(b)", "(b)"]
    assert result.metrics == pytest.approx({"accuracy": 100 * 4 / 6, "pair_accuracy": 100 / 3}, abs=1e-4)
    assert task("mmvp").headline == "pair_accuracy"


def test_unparsable_is_wrong_and_missing_partner_leaves_pair_out(tmp_path):
    preds = {"1": "I am not sure", "2": "(b)", "3": "(a)", "4": "(b)", "5": "(b)"}
    result, missing, _ = score_file("mmvp", write_predictions(tmp_path / "p.jsonl", preds), FIXTURES)
    assert missing == ["6"]
    assert result.records[0]["parsed"] is None and result.records[0]["score"] == 0.0
    # 4 of 5 questions right; pairs (1,2) wrong, (3,4) right, (5,6) incomplete -> 1 of 2
    assert result.metrics == pytest.approx({"accuracy": 80.0, "pair_accuracy": 50.0})


def test_bootstrap_resamples_pairs(tmp_path):
    result = score("mmvp", PREDICTIONS, tmp_path)
    t = task("mmvp")
    units = t.bootstrap_units(result.records)
    assert units == [[0, 1], [2, 3], [4, 5]]
    lo, hi = result.ci95["pair_accuracy"]
    assert 0.0 <= lo <= result.metrics["pair_accuracy"] <= hi <= 100.0


def test_prompt_snapshot():
    t = task("mmvp")
    s = next(iter(t.samples()))
    assert t.prompt(s) == (
        "<image>Are the butterfly's wings closer to being open or closed?\n"
        "(a) Open (b) Closed\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert t.request(s).options == ["(a)", "(b)"] and t.output_type == "options"


def test_fingerprints(tmp_path):
    t = task("mmvp")
    assert t.prompt_fingerprint() and t.data_fingerprint()

    class Changed(type(t)):
        prompt_template = "{image}{question}\n{options}\nAnswer with a letter."

    assert Changed(FIXTURES).prompt_fingerprint() != t.prompt_fingerprint()
    root = copy_fixture("mmvp", tmp_path)
    before = task("mmvp", root).data_fingerprint()
    (root / "mmvp/MMVP Images/7.jpg").write_bytes(b"x")
    assert task("mmvp", root).data_fingerprint() != before


def _released_csv(root):
    """A 300-row file like the released one: answers alternate (a)/(b) within each pair."""
    folder = root / "mmvp"
    (folder / "MMVP Images").mkdir(parents=True)
    with (folder / "Questions.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Index", "Question", "Options", "Correct Answer"])
        for i in range(1, 301):
            w.writerow([i, f"Question {i}?", "(a) Yes (b) No", "(a)" if i % 2 else "(b)"])
    return root


def test_errata_fixed_by_default_and_switchable(tmp_path):
    root = _released_csv(tmp_path)
    fixed = {s.id: s.target for s in task("mmvp", root).samples()}
    original = {s.id: s.target for s in task("mmvp", root, original_labels=True).samples()}
    for i, j in ((99, 100), (279, 280)):
        assert (original[str(i)], original[str(j)]) == ("(a)", "(b)")
        assert (fixed[str(i)], fixed[str(j)]) == ("(b)", "(a)")
    assert {k for k in fixed if fixed[k] != original[k]} == {"99", "100", "279", "280"}
    cls = type(task("mmvp"))
    assert build_config(cls, {"original_labels": "true"}).original_labels is True
    with pytest.raises(UserError, match="original_labels"):
        build_config(cls, {"original_labels": "perhaps"})


def test_errata_not_applied_to_other_sizes(tmp_path):
    root = copy_fixture("mmvp", tmp_path)
    assert [s.target for s in task("mmvp", root).samples()] == ["(a)", "(b)", "(a)", "(b)", "(b)", "(a)"]


def test_missing_file_names_file(tmp_path):
    (tmp_path / "mmvp").mkdir()
    with pytest.raises(DataError, match="Questions.csv") as err:
        list(task("mmvp", tmp_path).samples())
    assert "Index" in str(err.value)  # the expected columns
    assert task("mmvp", tmp_path).missing() == ["Questions.csv", "MMVP Images"]


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("3,Is it open?,(a) Open (b) Closed,(a),extra", "wrong number of fields"),
        ("x,Is it open?,(a) Open (b) Closed,(a)", "not an integer"),
        ("3,Is it open?,Open or closed,(a)", "cannot read options"),
        ("3,Is it open?,(a) Open (b) Closed,(c)", "not one of the options"),
        ("1,Is it open?,(a) Open (b) Closed,(a)", "repeated"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, row, fragment):
    root = copy_fixture("mmvp", tmp_path)
    path = root / "mmvp/Questions.csv"
    lines = path.read_text().splitlines()
    lines[3] = row  # data row 3 is line 4 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=fragment) as err:
        list(task("mmvp", root).samples())
    assert err.value.line == 4 and "Questions.csv" in str(err.value)


def test_errata_switch_through_cli(tmp_path):
    from typer.testing import CliRunner

    from deem_eval.cli import app

    root = _released_csv(tmp_path)
    # Predict exactly the released labels: perfect against them, 4 questions (2 pairs) off after the fix.
    preds = write_predictions(
        tmp_path / "p.jsonl", {str(i): "(a)" if i % 2 else "(b)" for i in range(1, 301)}
    )

    def run(*extra: str) -> dict:
        out = tmp_path / "out.json"
        args = ["score", "--task", "mmvp", "--predictions", str(preds), "--data-root", str(root)]
        res = CliRunner().invoke(app, [*args, "--output", str(out), *extra])
        assert res.exit_code == 0, res.output
        return json.loads(out.read_text())["tasks"]["mmvp"]["metrics"]

    assert run() == pytest.approx({"accuracy": 100 * 296 / 300, "pair_accuracy": 100 * 148 / 150}, abs=1e-4)
    assert run("--task-args", "mmvp.original_labels=true") == {"accuracy": 100.0, "pair_accuracy": 100.0}
