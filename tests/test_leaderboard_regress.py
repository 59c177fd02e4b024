"""Leaderboard column order and values; regress exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.leaderboard import TABLE1

runner = CliRunner()


def _results(path: Path, label: str, created: str, values: dict[str, float], extra: dict | None = None) -> Path:
    tasks = {
        t: {"n": 10, "n_errors": 0, "metrics": {"accuracy" if t != "mmvp" else "pair_accuracy": v},
            "ci95": {"accuracy" if t != "mmvp" else "pair_accuracy": [v - 1, v + 1]}}
        for t, v in values.items()
    }
    tasks.update(extra or {})
    path.mkdir(parents=True, exist_ok=True)
    (path / "results.json").write_text(json.dumps({"model": label.split(":")[0], "model_label": label,
                                                   "created": created, "tasks": tasks}))
    return path / "results.json"


def test_leaderboard_columns_latest_run_and_avg(tmp_path):
    runs = tmp_path / "runs"
    vals = dict(zip(TABLE1, [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0], strict=True))
    _results(runs / "m" / "old", "deem:a", "2026-01-01T00:00:00Z", {t: 0.0 for t in TABLE1})
    _results(runs / "m" / "new", "deem:a", "2026-02-01T00:00:00Z", vals,
             {"vqav2": {"n": 3, "n_errors": 0, "metrics": {"accuracy": 55.5}, "ci95": {}}})
    _results(runs / "x" / "r", "hf-vlm:tiny", "2026-01-05T00:00:00Z", {"pope_random": 51.0})
    out = tmp_path / "lb" / "leaderboard.csv"
    res = runner.invoke(app, ["leaderboard", "--runs", str(runs), "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = out.read_text().splitlines()[0].split(",")
    assert header[:9] == ["model", *TABLE1, "avg"]
    assert header[9] == "vqav2"
    import pandas as pd

    df = pd.read_csv(out).set_index("model")
    assert df.loc["deem:a", "avg"] == 40.0  # (10+20+...+70)/7, from the newer run
    assert df.loc["deem:a", "mmvp"] == 70.0 and df.loc["deem:a", "vqav2"] == 55.5
    assert df.loc["deem:a", "rvqa_a_ci95_lo"] == 9.0
    assert pd.isna(df.loc["hf-vlm:tiny", "avg"])  # incomplete rows get no average
    assert (out.with_suffix(".png")).stat().st_size > 1000


def test_leaderboard_without_runs_exits_2(tmp_path):
    res = runner.invoke(app, ["leaderboard", "--runs", str(tmp_path / "none")])
    assert res.exit_code == 2 and "not found" in res.output


def test_regress_exit_codes(tmp_path):
    base = _results(tmp_path / "b", "m", "t", {"pope_random": 80.0, "mmvp": 30.0})
    same = _results(tmp_path / "s", "m", "t", {"pope_random": 80.0, "mmvp": 30.0})
    up = _results(tmp_path / "u", "m", "t", {"pope_random": 81.0, "mmvp": 30.0})
    down = _results(tmp_path / "d", "m", "t", {"pope_random": 79.5, "mmvp": 30.0})
    other = _results(tmp_path / "o", "m", "t", {"vqav2": 1.0})
    assert runner.invoke(app, ["regress", "--baseline", str(base), "--current", str(same)]).exit_code == 0
    assert runner.invoke(app, ["regress", "--baseline", str(base), "--current", str(up)]).exit_code == 0
    res = runner.invoke(app, ["regress", "--baseline", str(base), "--current", str(down)])
    assert res.exit_code == 1 and "DROP" in res.output and "-0.5000" in res.output
    ok = runner.invoke(app, ["regress", "--baseline", str(base), "--current", str(down), "--tolerance", "0.5"])
    assert ok.exit_code == 0
    assert runner.invoke(app, ["regress", "--baseline", str(base), "--current", str(other)]).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(app, ["regress", "--baseline", str(bad), "--current", str(base)])
    assert res.exit_code == 2 and "bad.json" in res.output


def test_regress_fid_lower_is_better(tmp_path):
    from deem_eval.regress import Delta, is_drop

    assert is_drop(Delta("fid_coco", "fd_pixels64", 10.0, 11.0), 0.0)
    assert not is_drop(Delta("fid_coco", "fd_pixels64", 10.0, 9.0), 0.0)


def _entry(metric: str, value: float) -> dict:
    return {"n": 10, "n_errors": 0, "headline": metric, "metrics": {metric: value}, "ci95": {}}


def test_leaderboard_groups_in_paper_order_and_group_averages(tmp_path):
    from deem_eval.leaderboard import collect, table

    runs = tmp_path / "runs"
    vals = {"pope_random": 80.0, "pope_popular": 70.0, "pope_adversarial": 60.0, "mmvp": 20.0}
    extra = {
        "zeta_task": _entry("accuracy", 1.0), "alpha_task": _entry("accuracy", 2.0),
        "mmstar": _entry("accuracy", 3.0), "gqa": _entry("accuracy", 4.0), "coco_caption": _entry("CIDEr", 5.0),
        "hallusionbench": _entry("question_accuracy", 40.0), "amber_disc": _entry("accuracy", 85.0),
        "chair": _entry("chair_s", 30.0), "mme": _entry("total", 1400.0),
        "cvbench": _entry("accuracy", 60.0), "naturalbench": _entry("g_acc", 10.0),
    }
    _results(runs / "m" / "r", "deem:a", "2026-01-01T00:00:00Z", vals, extra)
    _results(runs / "n" / "r", "deem:b", "2026-01-01T00:00:00Z", vals, {"mme": _entry("total", 2800.0)})
    df = table(collect(runs))
    values = [c for c in df.columns if "_ci95_" not in c]
    assert values == [
        "model", *TABLE1, "avg", "coco_caption", "gqa", "mmstar",
        "hallusionbench", "amber_disc", "chair", "mme", "hallucination_avg",
        "cvbench", "naturalbench", "perception_avg", "alpha_task", "zeta_task",
    ]
    row = df.set_index("model").loc["deem:a"]
    # POPE = (80 + 70 + 60) / 3 = 70; CHAIR_s 30 -> 100 - 30 = 70; MME 1400 of 2800 -> 50;
    # hallucination_avg = (70 + 40 + 85 + 70 + 50) / 5 = 315 / 5 = 63.
    assert row["hallucination_avg"] == 63.0
    # perception_avg = (mmvp 20 + cvbench 60 + naturalbench 10) / 3 = 30.
    assert row["perception_avg"] == 30.0
    other = df.set_index("model").loc["deem:b"]  # hallucination members missing -> empty
    assert other["hallucination_avg"] != other["hallucination_avg"] and other["perception_avg"] != other["perception_avg"]


def test_chance_levels_come_from_the_task_classes():
    from deem_eval.leaderboard import chance, headline
    from deem_eval.registry import TASKS

    assert chance("pope_random") == 50.0 and chance("rvqa_v") == 50.0
    assert chance("mmvp") == 25.0 and headline("mmvp") == "pair_accuracy"
    assert TASKS.get("mmvp")(Path(".")).chance_for("accuracy") == 50.0
    assert chance("not_a_task") is None
