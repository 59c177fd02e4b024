"""deem-eval score's predictions files: samples files, plain {"id", "prediction"} lines, LLaVA
answers files, and the mistakes people make passing them (each one located error, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deem_eval.errors import DataError
from deem_eval.scoring import score_file
from tests.tasks.util import assert_clean_exit_2, cli, copy_fixture, pope_root, q


def pope_pred_lines(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "preds.jsonl"
    p.write_bytes("".join(x + "\n" for x in lines).encode())
    return p


def pope_three(tmp_path: Path) -> Path:
    return pope_root(tmp_path, [q(1), q(2, label="no"), q(3)])


def test_prediction_ids_as_ints_or_strings_match_the_same_samples(tmp_path):
    root = pope_three(tmp_path)
    preds = pope_pred_lines(tmp_path, [
        "\ufeff" + json.dumps({"id": 1, "prediction": "Yes"}),
        "",
        json.dumps({"id": "2", "prediction": "No."}) + "\r",
        json.dumps({"id": 3, "prediction": None, "extra": [1]}),
    ])
    result, missing, unknown = score_file("pope_random", preds, root)
    assert (missing, unknown) == ([], [])
    # null is an empty answer, which the official POPE rule reads as "yes" (no "no"/"not" in it)
    assert [(r["id"], r["prediction"], r["parsed"]) for r in result.records] == [
        ("1", "Yes", "yes"), ("2", "No.", "no"), ("3", "", "yes")
    ]
    assert result.n_errors == 0 and result.metrics["accuracy"] == 100.0


def test_a_llava_answers_file_is_scored_by_question_id_and_text(tmp_path):
    """LLaVA's model_vqa_loader writes question_id, prompt, text, answer_id, model_id, metadata."""
    root = pope_three(tmp_path)
    lines = [{"question_id": i, "prompt": "Is there a dog?", "text": t, "answer_id": f"a{i}", "model_id": "llava",
              "metadata": {}} for i, t in ((1, "Yes, there is."), (2, "No"), (3, "There is no dog."))]
    preds = pope_pred_lines(tmp_path, [json.dumps(x) for x in lines])
    result, missing, unknown = score_file("pope_random", preds, root)
    assert (missing, unknown) == ([], [])
    assert [(r["id"], r["parsed"]) for r in result.records] == [("1", "yes"), ("2", "no"), ("3", "no")]
    assert result.metrics["accuracy"] == 66.6667  # 2 of 3: sample 3 is labelled yes (metrics kept to 4 places)


def test_number_predictions_are_read_as_their_text(tmp_path):
    root = copy_fixture("vqav2", tmp_path)
    qs = json.loads((root / "vqav2" / "questions.json").read_text())["questions"]
    preds = pope_pred_lines(tmp_path, [json.dumps({"id": x["question_id"], "prediction": 2}) for x in qs])
    result, _, _ = score_file("vqav2", preds, root)
    assert {r["prediction"] for r in result.records} == {"2"}


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": 2, "prediction": ["no"]}', "'prediction' is a list"),
        ('{"id": 2, "prediction": {"text": "no"}}', "'prediction' is an object"),
        ('{"id": 2, "prediction": true}', "'prediction' is a boolean"),
        ('{"id": null, "prediction": "no"}', "'id' is null"),
        ('{"id": true, "prediction": "no"}', "'id' is a boolean"),
        ('{"id": 2.0, "prediction": "no"}', "'id' is a number"),
        ('{"id": 2}', "missing key 'prediction'"),
        ('{"id": "1", "prediction": "no"}', "duplicate id '1'"),
        ('{"id": 2, "prediction": "no"', "not valid JSON"),
        ('["2", "no"]', "not an object"),
        ('{"id": 2, "prediction": "no", "option_scores": {"yes": NaN, "no": 0}}', "NaN is none"),
        ('{"id": 2, "prediction": "no", "option_scores": {"yes": "-1"}}', "not an object of numbers"),
        # POPE's own question line passed as an answer: question_id and text, but no answer_id
        ('{"question_id": 2, "image": "b.jpg", "text": "Is there a dog?", "label": "no"}', "looks like a question"),
        ('{"question_id": 2, "answer_id": "x7", "model_id": "m"}', "missing key 'text'"),
    ],
)
def test_bad_prediction_line_exits_2_naming_it(tmp_path, line, message):
    root = pope_three(tmp_path)
    preds = pope_pred_lines(tmp_path, ['{"id": 1, "prediction": "yes"}', line])
    with pytest.raises(DataError, match=message) as exc:
        score_file("pope_random", preds, root)
    assert exc.value.line == 2 and exc.value.path == preds
    res = cli("score", "--task", "pope_random", "--predictions", str(preds), "--data-root", str(root))
    assert_clean_exit_2(res, "preds.jsonl, line 2")


def test_a_results_json_or_a_folder_given_as_predictions_exits_2_saying_so(tmp_path):
    root = pope_three(tmp_path)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"model": "deem", "tasks": {"pope_random": {"n": 3}}}, indent=2))
    res = cli("score", "--task", "pope_random", "--predictions", str(results), "--data-root", str(root))
    assert_clean_exit_2(res, "results.json: a run's results.json, not its predictions", "samples_<task>.jsonl")
    res = cli("score", "--task", "pope_random", "--predictions", str(tmp_path), "--data-root", str(root))
    assert_clean_exit_2(res, "is a folder")


def test_prediction_file_with_bad_bytes_exits_2(tmp_path):
    root = pope_three(tmp_path)
    preds = tmp_path / "preds.jsonl"
    preds.write_bytes(b'{"id": 1, "prediction": "yes"}\n{"id": 2, "prediction": "n\xf6"}\n')
    res = cli("score", "--task", "pope_random", "--predictions", str(preds), "--data-root", str(root))
    assert_clean_exit_2(res, "preds.jsonl, line 2", "not UTF-8")


def test_rescoring_a_samples_file_keeps_its_errored_samples_out_of_the_metrics(tmp_path):
    root = pope_three(tmp_path)
    preds = pope_pred_lines(tmp_path, [
        json.dumps({"id": "1", "prediction": "yes", "error": None}),
        json.dumps({"id": "2", "prediction": None, "error": "cannot decode image b.jpg"}),
        json.dumps({"id": "3", "prediction": "no", "error": None}),
    ])
    result, _, _ = score_file("pope_random", preds, root)
    assert result.n == 3 and result.n_errors == 1
    assert result.metrics["accuracy"] == 50.0  # 1 of the 2 answered samples right
