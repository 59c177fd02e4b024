"""The bundled tiny checkpoints: a sanity floor on the full world, a random-weights control and the
CI regression check against results/baseline_small.json on the small world."""

from __future__ import annotations

from pathlib import Path

import pytest

from deem_eval.baseline import measure, small_root
from deem_eval.regress import compare, is_drop
from deem_eval.run import run
from deem_eval.runner import RunSettings

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "results" / "baseline_small.json"


@pytest.fixture(scope="module")
def xdg(tmp_path_factory) -> None:
    import os

    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-bundled"))


@pytest.fixture(scope="module")
def world(xdg) -> Path:
    return small_root()


@pytest.fixture(scope="module")
def full_world(xdg) -> Path:
    """The full world the checkpoints were trained on (its POPE: 300 images, 1,800 questions per split;
    the small world's 72 per split are too few for a floor)."""
    from deem_eval.builders.world import ensure_world

    return Path(ensure_world("full"))


def _pope(checkpoint: str, root: Path, out: Path) -> dict:
    res = run("deem", {"checkpoint": checkpoint}, "pope", root, out,
              RunSettings(batch_size=16, scoring="logits", n_boot=0), use_cache=False, show_progress=False)
    return {name: r.metrics for name, r in res.results.items()}


def test_deem_tiny_clears_the_pope_floor(full_world, tmp_path):
    for split, m in _pope("deem-tiny", full_world, tmp_path).items():
        assert m["accuracy"] >= 70.0, (split, m)
        assert 35.0 <= m["yes_ratio"] <= 65.0, (split, m)


def test_random_weights_stay_near_chance(world, tmp_path):
    import torch

    from deem_model import bundled_checkpoint
    from deem_model.build import build_model
    from deem_model.checkpoint import load_tokenizer, save_pretrained
    from deem_model.config import load_config

    src = bundled_checkpoint("deem-tiny")
    torch.manual_seed(123)
    random_dir = tmp_path / "deem-random"
    save_pretrained(build_model(load_config(src / "config.json"), tokenizer=load_tokenizer(src)), random_dir)
    for split, m in _pope(str(random_dir), world, tmp_path).items():
        assert 35.0 <= m["accuracy"] <= 65.0, (split, m)


def test_no_regression_against_the_committed_baseline(world, tmp_path):
    assert BASELINE.is_file(), "results/baseline_small.json is missing: run `make baseline`"
    deltas = compare(BASELINE, measure(tmp_path))
    assert deltas, "baseline and current share no metric"
    drops = [d for d in deltas if is_drop(d, 0.0)]
    moved = [d for d in deltas if d.delta != 0.0]
    report = "\n".join(f"{d.task}.{d.metric}: {d.baseline} -> {d.current}" for d in moved)
    assert not drops, "scores dropped:\n" + report
    assert not moved, "scores moved; refresh the baseline deliberately with `make baseline`:\n" + report
