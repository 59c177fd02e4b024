"""Logits scoring keeps each option's score in the records, the samples file and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import tests.plugins.toy as toy
from deem_eval.run import run
from deem_eval.runner import RunSettings


def _run(root: Path, out: Path, scoring: str, calls: Path):
    settings = RunSettings(batch_size=4, scoring=scoring, n_boot=0)
    return run("toy-model", {"calls_file": str(calls)}, "toy_yesno", root, out, settings, show_progress=False)


def test_logits_scoring_writes_option_scores(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    calls = tmp_path / "calls.txt"
    out = _run(root, tmp_path / "runs", "logits", calls)
    lines = [json.loads(x) for x in (out.run_dir / "samples_toy_yesno.jsonl").read_text().splitlines()]
    # The toy model scores [0, -1] for (yes, no) on red images (image 0 is red), [-1, 0] otherwise.
    assert lines[0]["option_scores"] == {"yes": 0.0, "no": -1.0}
    assert lines[3]["option_scores"] == {"yes": -1.0, "no": 0.0}
    assert all(x["prediction"] == max(x["option_scores"], key=x["option_scores"].get) for x in lines)
    assert out.results["toy_yesno"].records[0]["option_scores"] == {"yes": 0.0, "no": -1.0}
    # A second run is answered from the cache and still carries the scores.
    again = _run(root, tmp_path / "runs2", "logits", calls)
    assert len(calls.read_text().splitlines()) == 18
    assert again.doc["tasks"]["toy_yesno"]["n_cached"] == 18
    assert [r["option_scores"] for r in again.results["toy_yesno"].records] == [x["option_scores"] for x in lines]


def test_generation_has_no_option_scores(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    out = _run(root, tmp_path / "runs", "generate", tmp_path / "calls.txt")
    first = json.loads((out.run_dir / "samples_toy_yesno.jsonl").read_text().splitlines()[0])
    assert set(first) == {"id", "prompt", "prediction", "target", "score", "error"}
