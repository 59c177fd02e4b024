"""CLI happy paths and user-error paths: one message, exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.plugins.toy as toy
from deem_eval.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture()
def data(tmp_path):
    return toy.write_toy_data(tmp_path / "data")


def test_tasks_lists_pattern_with_data_status(data):
    res = cli("tasks", "toy*", "--data-root", str(data))
    assert res.exit_code == 0, res.output
    assert "toy_yesno" in res.output and "found" in res.output and "accuracy" in res.output
    res = cli("tasks", "toy*", "--data-root", str(data.parent))
    assert "missing" in res.output and "questions.jsonl" in res.output


def test_tasks_unknown_pattern_exits_2():
    res = cli("tasks", "nothing-like-this*")
    assert res.exit_code == 2 and "no task matches" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "toy-model", "--tasks", "popee"], "unknown task 'popee'"),
    (["--model", "no-such-model", "--tasks", "toy"], "no-such-model"),
    (["--model", "toy-model", "--tasks", "toy", "--task-args", "mmvp.x=1"], "--task-args"),
])
def test_run_names_a_misspelt_name_before_building_the_default_data(monkeypatch, args, message):
    import deem_eval.default_data as default_data

    def build_world():
        raise AssertionError("the built-in world was built for a run that cannot start")

    monkeypatch.delenv("DEEM_DATA", raising=False)
    monkeypatch.setattr(default_data, "default_data_root", build_world)
    res = cli("run", *args)
    assert res.exit_code == 2 and message in res.output, res.output


def test_models_lists_adapters():
    res = cli("models")
    assert res.exit_code == 0, res.output
    assert "toy-model" in res.output


def test_run_then_score_roundtrip(data, tmp_path):
    res = cli("run", "--model", "toy-model", "--tasks", "toy", "--data-root", str(data),
              "--output-dir", str(tmp_path / "runs"), "--quiet", "--n-boot", "100")
    assert res.exit_code == 0, res.output
    results = next((tmp_path / "runs").rglob("results.json"))
    samples = results.parent / "samples_toy_yesno.jsonl"
    out = tmp_path / "rescored.json"
    res = cli("score", "--task", "toy_yesno", "--predictions", str(samples), "--data-root", str(data),
              "--output", str(out))
    assert res.exit_code == 0, res.output
    run_metrics = json.loads(results.read_text())["tasks"]["toy_yesno"]["metrics"]
    assert json.loads(out.read_text())["tasks"]["toy_yesno"]["metrics"] == run_metrics


def test_score_malformed_line_names_line(data, tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "yes"}\n{"id": "2", "prediction": \n')
    res = cli("score", "--task", "toy_yesno", "--predictions", str(preds), "--data-root", str(data))
    assert res.exit_code == 2
    assert "line 2" in res.output and "p.jsonl" in res.output and "Traceback" not in res.output


def test_score_reports_missing_ids(data, tmp_path):
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "yes"}\n{"id": "999", "prediction": "no"}\n')
    out = tmp_path / "o.json"
    res = cli("score", "--task", "toy_yesno", "--predictions", str(preds), "--data-root", str(data),
              "--output", str(out))
    assert res.exit_code == 0, res.output
    assert "17 sample id(s) have no prediction" in res.output
    assert "1 prediction id(s) are not samples" in res.output
    doc = json.loads(out.read_text())["tasks"]["toy_yesno"]
    assert doc["n"] == 1 and doc["n_missing"] == 17 and doc["unknown_ids"] == ["999"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--model", "nope", "--tasks", "toy"], "unknown model 'nope'"),
        (["run", "--model", "toy-model", "--tasks", "nope"], "unknown task 'nope'"),
        (["run", "--model", "toy-model", "--tasks", "toy", "--scoring", "magic"], "--scoring"),
        (["run", "--model", "toy-model", "--tasks", "toy", "--model-args", "novalue"], "key=value"),
        (["run", "--model", "toy-model", "--tasks", "toy", "--task-args", "bad"], "task.key=value"),
        (["run", "--model", "toy-model", "--tasks", "toy", "--task-args", "toy_yesno.zzz=1"], "unknown option"),
    ],
)
def test_run_user_errors_exit_2(data, tmp_path, args, needle):
    res = cli(*args, "--data-root", str(data), "--output-dir", str(tmp_path / "r"), "--quiet")
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


def test_run_missing_data_names_files(tmp_path):
    res = cli("run", "--model", "toy-model", "--tasks", "toy_yesno", "--data-root", str(tmp_path), "--quiet")
    assert res.exit_code == 2 and "questions.jsonl" in res.output


def test_run_strict_exits_1_on_sample_errors(tmp_path):
    data = toy.write_toy_data(tmp_path / "data", corrupt=0)
    res = cli("run", "--model", "toy-model", "--tasks", "toy", "--data-root", str(data), "--strict",
              "--output-dir", str(tmp_path / "r"), "--quiet", "--n-boot", "50")
    assert res.exit_code == 1 and "3 sample(s) failed" in res.output


def test_bad_usage_exits_2():
    res = cli("run", "--tasks", "toy")  # --model missing
    assert res.exit_code == 2


def test_console_script_error_has_no_traceback(tmp_path):
    env = dict(os.environ, DEEM_EVAL_PLUGINS="tests.plugins.toy", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "deem_eval", "run", "--model", "toy-model", "--tasks", "toy",
         "--data-root", str(tmp_path / "absent")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_task_args_route_by_prefix_and_reject_strays(data, tmp_path):
    from deem_eval.run import task_args_for

    assert task_args_for(["toy_yesno"], "toy.x=1,toy_yesno.y=2") == {"toy_yesno": {"x": "1", "y": "2"}}
    from deem_eval.errors import UserError

    with pytest.raises(UserError, match="'mmvp' is not a task or group of this run"):
        task_args_for(["toy_yesno"], "mmvp.original_labels=true")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "yes"}\n')
    res = cli("score", "--task", "toy_yesno", "--predictions", str(preds), "--data-root", str(data),
              "--task-args", "mmvp.original_labels=true")
    assert res.exit_code == 2 and "not a task or group" in res.output
