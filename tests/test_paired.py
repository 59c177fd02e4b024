"""Paired significance: McNemar and the paired bootstrap against values computed by hand."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.paired import compare_task, mcnemar_exact
from deem_eval.runs import load_run
from tests.runs_fixture import NO_IDS, all_right, all_yes, data_root, write_run

runner = CliRunner()


def test_mcnemar_exact_by_hand():
    # 1 vs 5 discordant: P(X <= 1 | n=6, 1/2) = (1 + 6) / 64; two-sided = 14 / 64.
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)
    assert mcnemar_exact(5, 1) == pytest.approx(14 / 64)
    # 0 vs 9: 2 * (1/2)^9 = 2 / 512.
    assert mcnemar_exact(0, 9) == pytest.approx(2 / 512)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(3, 3) == 1.0


def test_identical_runs_have_a_zero_interval(tmp_path):
    root = data_root(tmp_path)
    a = load_run(write_run(tmp_path / "a", "m:a", all_yes(), root))
    b = load_run(write_run(tmp_path / "b", "m:b", all_yes(), root))
    res = compare_task("toy_yesno", a, b, n_boot=200)
    assert res.metric == "accuracy" and res.n == 18
    assert res.a == res.b == 50.0  # 9 of 18 labels are yes
    assert res.diff == 0.0 and res.ci95 == [0.0, 0.0] and res.p_value == 1.0
    assert res.mcnemar.a_only == res.mcnemar.b_only == 0 and res.mcnemar.p_value == 1.0
    assert res.disagree == []


def test_all_wrong_against_all_right(tmp_path):
    root = data_root(tmp_path)
    a = load_run(write_run(tmp_path / "a", "m:a", all_yes(), root))
    b = load_run(write_run(tmp_path / "b", "m:b", all_right(), root))
    res = compare_task("toy_yesno", a, b, n_boot=200, seed=0)
    # A answers yes everywhere: right on the 9 yes labels; B is right on all 18.
    assert (res.a, res.b, res.diff) == (50.0, 100.0, 50.0)
    assert res.mcnemar.a_only == 0 and res.mcnemar.b_only == 9
    assert res.mcnemar.p_value == pytest.approx(2 / 512)
    # No resample can be as far from the observed +50 as +50 is from 0 unless it is <= 0 or >= 100:
    # B − A = 100 · (share of "no" questions in the resample), so it is in (0, 100) almost surely.
    assert 0 < res.ci95[0] <= 50 <= res.ci95[1] < 100
    assert res.p_value <= 2 / 201
    assert res.disagree == [str(i) for i in NO_IDS]


def test_errored_samples_leave_both_sides(tmp_path):
    root = data_root(tmp_path)
    a = load_run(write_run(tmp_path / "a", "m:a", all_yes(), root, errors={3: "cannot decode image"}))
    b = load_run(write_run(tmp_path / "b", "m:b", all_right(), root))
    res = compare_task("toy_yesno", a, b, n_boot=100)
    # 17 shared samples: A right on the 9 yes labels of 17 -> 52.94; B 100.
    assert res.n == 17 and res.a == pytest.approx(100 * 9 / 17, abs=1e-4) and res.b == 100.0
    assert res.mcnemar.b_only == 8
    assert "3" in res.disagree  # errored in one run only: a disagreement


def test_without_the_data_falls_back_to_the_mean_score(tmp_path):
    root = data_root(tmp_path)
    a = load_run(write_run(tmp_path / "a", "m:a", all_yes(), root))
    b = load_run(write_run(tmp_path / "b", "m:b", all_right(), root))
    res = compare_task("toy_yesno", a, b, data_root=tmp_path / "nowhere", n_boot=100)
    assert res.metric == "mean_score" and res.diff == 50.0 and "not found" in res.note


def test_leaderboard_compare_by_model_name_and_folder(tmp_path):
    root = data_root(tmp_path)
    runs = tmp_path / "runs"
    write_run(runs / "m" / "old", "m:a", all_right(), root, created="2025-01-01T00:00:00Z")
    write_run(runs / "m" / "new", "m:a", all_yes(), root, created="2026-01-01T00:00:00Z")  # the latest wins
    b = write_run(runs / "n" / "r", "m:b", all_right(), root)
    res = runner.invoke(app, ["leaderboard", "--runs", str(runs), "--compare", f"m:a,{b}", "--n-boot", "100",
                              "--out", str(tmp_path / "never.csv")],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "toy_yesno" in res.output and "+50.00" in res.output and "0.004 (0/9)" in res.output
    assert not (tmp_path / "never.csv").exists()  # --compare writes no files
    bad = runner.invoke(app, ["leaderboard", "--runs", str(runs), "--compare", "m:a,nobody"])
    assert bad.exit_code == 2 and "nobody" in bad.output
    bad = runner.invoke(app, ["leaderboard", "--runs", str(runs), "--compare", "m:a"])
    assert bad.exit_code == 2 and "A,B" in bad.output


def test_corpus_scorers_state_does_not_leak_between_the_runs(tmp_path, monkeypatch):
    """Caption tasks keep the last scored corpus on the task; each run's value must be its own."""
    import tests.plugins.toy as toy

    def prepare(self, records):
        self._corpus = 100.0 * sum(r["score"] for r in records) / len(records)

    def aggregate(self, records):
        return {"accuracy": self._corpus}

    monkeypatch.setattr(toy.ToyYesNo, "prepare", prepare, raising=False)
    monkeypatch.setattr(toy.ToyYesNo, "aggregate", aggregate, raising=False)
    root = data_root(tmp_path)
    a = load_run(write_run(tmp_path / "a", "m:a", all_yes(), root))
    b = load_run(write_run(tmp_path / "b", "m:b", all_right(), root))
    res = compare_task("toy_yesno", a, b, n_boot=50)
    assert (res.a, res.b, res.diff) == (50.0, 100.0, 50.0)


def test_visdial_runs_pair_by_dialog_and_rank_from_option_scores(tmp_path):
    """VisDial ranks from the stored option scores and resamples whole dialogs (its bootstrap units)."""
    import json

    from deem_eval.registry import TASKS
    from deem_eval.scoring import score_file
    from tests.tasks.test_visdial import option_scores
    from tests.tasks.util import FIXTURES

    samples = list(TASKS.get("visdial")(FIXTURES).samples())
    runs = {}
    for name, flip in (("a", False), ("b", True)):
        lines = []
        for s in samples:
            sc = option_scores(s)
            if flip:
                sc = {k: -v for k, v in sc.items()}
            lines.append({"id": s.id, "prompt": "", "prediction": max(sc, key=sc.get), "target": None,
                          "score": None, "error": None, "option_scores": sc})
        folder = tmp_path / name
        folder.mkdir()
        (folder / "samples_visdial.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        (tmp_path / f"{name}.jsonl").write_text((folder / "samples_visdial.jsonl").read_text())
        doc = {"model": "m", "model_label": f"m:{name}", "model_args": {}, "checkpoint_sha256": None,
               "created": "2026-01-01T00:00:00Z", "versions": {}, "git_commit": None, "seed": 0,
               "scoring": "logits", "world_size": 1, "data_root": str(FIXTURES),
               "tasks": {"visdial": {"n": len(lines), "n_errors": 0, "metrics": {}, "ci95": {}}}}
        (folder / "results.json").write_text(json.dumps(doc))
        runs[name] = score_file("visdial", tmp_path / f"{name}.jsonl", FIXTURES)[0].metrics["ndcg"]
    res = compare_task("visdial", load_run(tmp_path / "a"), load_run(tmp_path / "b"), data_root=FIXTURES, n_boot=200)
    assert res.metric == "ndcg"
    assert res.diff == pytest.approx(runs["b"] - runs["a"], abs=1e-3)


def test_rescoring_uses_the_recorded_task_args(tmp_path):
    import json

    root = data_root(tmp_path)
    folders = [write_run(tmp_path / k, f"m:{k}", all_right(), root) for k in ("a", "b")]
    for folder in folders:
        doc = json.loads((folder / "results.json").read_text())
        doc["tasks"]["toy_yesno"]["task_args"] = {"negate": "true"}
        (folder / "results.json").write_text(json.dumps(doc))
    res = compare_task("toy_yesno", load_run(folders[0]), load_run(folders[1]), n_boot=50)
    # every answer is right, so with negate=true every re-scored sample is wrong
    assert (res.a, res.b) == (0.0, 0.0) and res.note == ""
    doc = json.loads((folders[1] / "results.json").read_text())
    del doc["tasks"]["toy_yesno"]["task_args"]
    (folders[1] / "results.json").write_text(json.dumps(doc))
    res = compare_task("toy_yesno", load_run(folders[0]), load_run(folders[1]), n_boot=50)
    assert "different --task-args" in res.note and (res.a, res.b) == (0.0, 0.0)
