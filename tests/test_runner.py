"""The engine end to end on the toy task/model: outputs, encode-once, cache, batching, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.plugins.toy as toy
from deem_eval.run import run
from deem_eval.runner import RunSettings


def _run(root: Path, out: Path, **kw):
    settings = RunSettings(
        batch_size=kw.pop("batch_size", 4), scoring=kw.pop("scoring", "generate"),
        limit=kw.pop("limit", None), n_boot=200,
    )
    return run("toy-model", kw.pop("model_args", {}), "toy_yesno", root, out, settings,
               use_cache=kw.pop("use_cache", True), show_progress=False)


def test_outputs_schema_and_metrics(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    out = _run(root, tmp_path / "runs")
    doc = json.loads((out.run_dir / "results.json").read_text())
    for key in ("model", "model_args", "checkpoint_sha256", "created", "versions", "git_commit", "seed",
                "scoring", "world_size", "tasks"):
        assert key in doc
    entry = doc["tasks"]["toy_yesno"]
    # 6 images x 3 questions; the third question of every image is answered wrongly by design.
    assert entry["n"] == 18 and entry["n_errors"] == 0
    assert entry["metrics"]["accuracy"] == pytest.approx(100 * 12 / 18, abs=1e-3)
    lo, hi = entry["ci95"]["accuracy"]
    assert lo <= entry["metrics"]["accuracy"] <= hi
    assert entry["n_image_encodes"] == 6
    lines = [json.loads(x) for x in (out.run_dir / "samples_toy_yesno.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == [str(i) for i in range(1, 19)]
    assert set(lines[0]) == {"id", "prompt", "prediction", "target", "score", "error"}
    assert lines[0]["prompt"] == "<image>Is this red? (0) Answer yes or no."


def test_task_args_are_recorded_per_task(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    settings = RunSettings(batch_size=4, scoring="logits")
    out = run("toy-model", {}, "toy_yesno", root, tmp_path / "runs", settings, show_progress=False,
              task_args="toy_yesno.negate=true")
    entry = json.loads((out.run_dir / "results.json").read_text())["tasks"]["toy_yesno"]
    assert entry["task_args"] == {"negate": "true"}
    assert entry["metrics"]["accuracy"] == pytest.approx(100 * 6 / 18, abs=1e-3)  # 12 of 18 right, negated
    plain = _run(root, tmp_path / "plain")
    assert "task_args" not in json.loads((plain.run_dir / "results.json").read_text())["tasks"]["toy_yesno"]


def test_batch_size_and_scoring_invariance(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    preds = {}
    for bs in (1, 8):
        for scoring in ("generate", "logits"):
            out = _run(root, tmp_path / f"runs{bs}{scoring}", batch_size=bs, scoring=scoring, use_cache=False)
            preds[bs, scoring] = [r["score"] for r in out.results["toy_yesno"].records]
    assert preds[1, "generate"] == preds[8, "generate"] == preds[1, "logits"] == preds[8, "logits"]


def test_cache_hit_miss_and_invalidation(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    calls = tmp_path / "calls.txt"
    args = {"calls_file": str(calls)}
    first = _run(root, tmp_path / "runs", model_args=dict(args))
    n_first = len(calls.read_text().splitlines())
    assert n_first == 18
    second = _run(root, tmp_path / "runs", model_args=dict(args))
    assert len(calls.read_text().splitlines()) == n_first  # all hits
    assert second.doc["tasks"]["toy_yesno"]["n_cached"] == 18
    assert second.doc["tasks"]["toy_yesno"]["metrics"] == first.doc["tasks"]["toy_yesno"]["metrics"]
    # A different model fingerprint never hits old entries.
    _run(root, tmp_path / "runs", model_args=dict(args, version="2"))
    assert len(calls.read_text().splitlines()) == 2 * n_first
    # A changed prompt template never hits old entries either.
    old = toy.ToyYesNo.prompt_template
    try:
        toy.ToyYesNo.prompt_template = "{image}{question} Say yes or no."
        _run(root, tmp_path / "runs", model_args=dict(args))
    finally:
        toy.ToyYesNo.prompt_template = old
    assert len(calls.read_text().splitlines()) == 3 * n_first


def test_corrupt_image_is_a_sample_error_not_a_swap(tmp_path):
    root = toy.write_toy_data(tmp_path / "data", corrupt=1)
    out = _run(root, tmp_path / "runs")
    entry = out.doc["tasks"]["toy_yesno"]
    assert entry["n"] == 18 and entry["n_errors"] == 3
    bad = [r for r in out.results["toy_yesno"].records if r["error"]]
    assert [r["id"] for r in bad] == ["4", "5", "6"]
    assert all("img_1.png" in r["error"] and r["prediction"] is None for r in bad)
    # The 15 good samples are scored as usual: 10 right.
    assert entry["metrics"]["accuracy"] == pytest.approx(100 * 10 / 15, abs=1e-3)


def test_limit(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    out = _run(root, tmp_path / "runs", limit=5)
    assert out.doc["tasks"]["toy_yesno"]["n"] == 5


def test_cached_generated_images_are_copied_into_the_new_run(tmp_path, monkeypatch):
    """A cache hit for an image task must not point into another run's folder (which may be gone)."""
    import shutil

    from PIL import Image

    from deem_eval.models.base import ModelAdapter
    from deem_eval.registry import MODELS
    from tests.tasks.util import FIXTURES

    class Painter(ModelAdapter):
        name = "painter"
        calls = 0

        def fingerprint(self) -> str:
            return "painter-v1"

        def generate_images(self, prompts, seed):
            Painter.calls += len(prompts)
            return [Image.new("RGB", (16, 16), (len(p) % 255, 0, 0)) for p in prompts]

    monkeypatch.setitem(MODELS._items, "painter", Painter)
    args = dict(use_cache=True, show_progress=False, task_args="fid_coco.extractor=pixels")
    first = run("painter", {}, "fid_coco", FIXTURES, tmp_path / "a", RunSettings(n_boot=10), **args)
    n_first = Painter.calls
    second = run("painter", {}, "fid_coco", FIXTURES, tmp_path / "b", RunSettings(n_boot=10), **args)
    assert Painter.calls == n_first  # every answer came from the cache
    shutil.rmtree(first.run_dir)
    lines = [json.loads(x) for x in (second.run_dir / "samples_fid_coco.jsonl").read_text().splitlines()]
    assert lines and all(Path(x["prediction"]).is_file() for x in lines)
    assert all(Path(x["prediction"]).parent == second.run_dir / "images" for x in lines)
    assert second.doc["tasks"]["fid_coco"]["metrics"] == first.doc["tasks"]["fid_coco"]["metrics"]
    # with the cached files gone the answers are made again, not pointed at a missing file
    shutil.rmtree(second.run_dir)
    run("painter", {}, "fid_coco", FIXTURES, tmp_path / "c", RunSettings(n_boot=10), **args)
    assert Painter.calls == 2 * n_first


def test_a_replaced_image_is_answered_anew(tmp_path):
    """Same file name, same folder size, new pixels: the three questions on it are asked again."""
    import os

    from PIL import Image

    root = toy.write_toy_data(tmp_path / "data")
    calls = tmp_path / "calls.txt"
    args = {"calls_file": str(calls)}
    first = _run(root, tmp_path / "runs", model_args=dict(args))
    img = root / "toy" / "images" / "img_0.png"
    before = img.stat()
    Image.new("RGB", (8, 8), (30, 200, 30)).save(img)  # red became green
    os.utime(img, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    second = _run(root, tmp_path / "runs", model_args=dict(args))
    assert len(calls.read_text().splitlines()) == 18 + 3
    assert second.doc["tasks"]["toy_yesno"]["n_cached"] == 15
    was = {r["id"]: r["prediction"] for r in first.results["toy_yesno"].records}
    now = {r["id"]: r["prediction"] for r in second.results["toy_yesno"].records}
    assert [i for i in was if was[i] != now[i]] == ["1", "2", "3"]


def test_a_nan_option_score_is_that_samples_error_and_ties_go_to_the_first_option(tmp_path, monkeypatch):
    """NaN compares false with everything, so max() would pick an option at random: an error instead."""
    root = toy.write_toy_data(tmp_path / "data")
    real = toy.ToyModel.score_options

    def scores(self, requests):
        out = real(self, requests)
        return [[float("nan"), 0.0] if r.sample_id == "2" else [-0.5, -0.5] if r.sample_id == "4" else s
                for r, s in zip(requests, out, strict=True)]

    monkeypatch.setattr(toy.ToyModel, "score_options", scores)
    out = _run(root, tmp_path / "runs", scoring="logits")
    records = {r["id"]: r for r in out.results["toy_yesno"].records}
    assert out.doc["tasks"]["toy_yesno"]["n_errors"] == 1
    assert records["2"]["prediction"] is None and "option 'yes'" in records["2"]["error"]
    assert "NaN" in records["2"]["error"]
    assert records["4"]["prediction"] == "yes" and records["4"]["error"] is None  # the first listed
    again = _run(root, tmp_path / "runs", scoring="logits")  # the error was not cached
    assert again.doc["tasks"]["toy_yesno"]["n_cached"] == 17
