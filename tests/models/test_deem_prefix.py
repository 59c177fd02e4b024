"""The ``deem`` adapter with and without prefix sharing gives the same answers (bundled deem-tiny)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from deem_eval.registry import MODELS
from deem_eval.samples import Request

PROMPT = "Based on the image, please answer the question. <image>{q} Please answer yes or no."
OTHER = "Look at the picture. <image>{q} Answer with one word."  # another template: no false sharing
QUESTIONS = ["Is there a dog in the image?", "Is there a cat in the image?", "Is there a red cup in the image?",
             "Is there a tree in the image?", "Is there a car in the image?", "Is there a star in the image?"]
# image 0 asked six questions, image 1 once, image 2 three times, image 0 again under another template
PLAN = [(0, PROMPT, 6), (1, PROMPT, 1), (2, PROMPT, 3), (0, OTHER, 2)]


@pytest.fixture(scope="module")
def adapters():
    on = MODELS.get("deem")(checkpoint="deem-tiny")
    off = MODELS.get("deem")(checkpoint="deem-tiny", prefix_cache="off")
    return on, off


@pytest.fixture(scope="module")
def features(adapters):
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    return adapters[1].encode_images(images)


def _requests(features, options):
    out = []
    for k, template, n in PLAN:
        for q in QUESTIONS[:n]:
            out.append(Request(sample_id=str(len(out)), prompt=template.format(q=q), image=features[k],
                               image_key=f"img{k}", options=options, answer_prefix="The answer is",
                               max_new_tokens=6))
    return out


@pytest.mark.parametrize("options", [["yes", "no"], ["(a)", "(b) an open door"]])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_option_scores_match_unshared(adapters, features, options, batch_size):
    on, off = adapters
    on.batch_size = off.batch_size = batch_size
    on.begin_task()
    off.begin_task()
    shared = on.score_options(_requests(features, options))
    full = off.score_options(_requests(features, options))
    for a, b in zip(shared, full, strict=True):
        assert np.abs(np.array(a) - np.array(b)).max() < 1e-4
    st_on, st_off = on.prefill_stats(), off.prefill_stats()
    assert st_on["n_prefill_floor"] == st_off["n_prefill_floor"]
    assert st_on["n_prefill_tokens"] < st_off["n_prefill_tokens"]


@pytest.mark.parametrize("batch_size", [1, 8])
def test_generation_identical(adapters, features, batch_size):
    on, off = adapters
    on.batch_size = off.batch_size = batch_size
    assert on.generate(_requests(features, None)) == off.generate(_requests(features, None))


def test_other_template_is_not_shared(adapters, features):
    """Rows of image 0 under two templates share only the text before the first difference."""
    on, _ = adapters
    on.begin_task()
    reqs = [r for r in _requests(features, ["yes", "no"]) if r.image_key == "img0"]
    on.score_options(reqs)
    stats = on.prefill_stats()
    assert stats["n_prefill_tokens"] >= stats["n_prefill_floor"]


def test_run_records_prefill_tokens(tmp_path):
    from deem_eval.run import run
    from deem_eval.runner import RunSettings
    from tests.tasks.util import FIXTURES as fixtures_dir

    docs = []
    for cache in ("on", "off"):
        out = run("deem", {"prefix_cache": cache}, "pope_random", fixtures_dir, tmp_path / cache,
                  RunSettings(batch_size=4, scoring="logits", n_boot=20), use_cache=False, show_progress=False)
        docs.append((out.doc["tasks"]["pope_random"],
                     (out.run_dir / "samples_pope_random.jsonl").read_text()))
    (on, on_samples), (off, off_samples) = docs
    assert on["n_prefill_floor"] == off["n_prefill_floor"]
    assert off["n_prefill_tokens"] > on["n_prefill_tokens"] >= on["n_prefill_floor"]
    assert on_samples == off_samples
    assert json.loads(on_samples.splitlines()[0])["option_scores"].keys() == {"yes", "no"}


def test_resumed_run_with_sharing_equals_a_fresh_one(tmp_path, monkeypatch):
    """Cached samples leave gaps in an image's questions; the rest still share and score the same."""
    from deem_eval.run import run
    from deem_eval.runner import RunSettings
    from tests.tasks.util import FIXTURES as fixtures_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def once(out: str, limit: int | None, use_cache: bool = True):
        settings = RunSettings(batch_size=4, scoring="logits", n_boot=20, limit=limit)
        res = run("deem", {}, "pope_random", fixtures_dir, tmp_path / out, settings, use_cache=use_cache,
                  show_progress=False)
        return res.doc["tasks"]["pope_random"], (res.run_dir / "samples_pope_random.jsonl").read_text()

    first, _ = once("first", limit=3)
    resumed, resumed_samples = once("resumed", limit=None)
    fresh, fresh_samples = once("fresh", limit=None, use_cache=False)
    assert first["n_computed"] == 3 and resumed["n_cached"] == 3
    assert resumed["n_cached"] + resumed["n_computed"] == fresh["n_computed"] > 3
    assert resumed_samples == fresh_samples
