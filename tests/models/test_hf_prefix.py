"""hf-vlm prefix sharing: the same answers as without it, on every family that shares.

For each family in ``hf_prefix.PREFIX_FAMILIES``: option log-probabilities within 1e-4 of the
unshared forward (one-token and several-token options), identical greedy generations, batch
size irrelevant, fewer tokens prefilled and never fewer than the floor, a batch mixing images
asked 1 and 6 questions and two prompt templates on one image (no false sharing).
"""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.models.hf_prefix import PREFIX_FAMILIES
from deem_eval.models.hf_vlm import HFVLMAdapter
from deem_eval.samples import Request
from tests.models.tiny_families import FAMILIES as BUILT

PROMPT = "Based on the image, please answer the question. <image>{q} Please answer yes or no."
OTHER = "Look at this picture. <image>{q}"
QUESTIONS = ["Is there a dog in the image?", "Is there a cat in the image?", "Is there a red car?",
             "How many trees are there?", "Is the lamp on?", "What colour is the umbrella?"]
# (image, template, questions): image 0 six times (POPE's layout), image 1 once, image 0 again
# under another template, image 2 twice
PLAN = [(0, PROMPT, 6), (1, PROMPT, 1), (0, OTHER, 2), (2, PROMPT, 2)]
SHARING = sorted(f for f in BUILT if f in PREFIX_FAMILIES)

_PAIRS: dict[str, tuple[HFVLMAdapter, HFVLMAdapter]] = {}


@pytest.fixture
def pair(family_dirs):
    def get(family: str) -> tuple[HFVLMAdapter, HFVLMAdapter]:
        if family not in _PAIRS:
            path = str(family_dirs(family))
            _PAIRS[family] = (HFVLMAdapter(pretrained=path), HFVLMAdapter(pretrained=path, prefix_cache="off"))
        return _PAIRS[family]

    return get


def _images():
    from PIL import Image

    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in ((40, 48), (36, 30), (52, 44))]


def _requests(adapter, options, max_new_tokens=4):
    feats = adapter.encode_images(_images())
    out = []
    for k, template, n in PLAN:
        for q in QUESTIONS[:n]:
            out.append(Request(str(len(out)), template.format(q=q), image=feats[k], image_key=f"img{k}",
                               options=options, answer_prefix="The answer is", max_new_tokens=max_new_tokens))
    return out


def test_every_listed_family_has_a_tiny_model():
    assert set(PREFIX_FAMILIES) <= set(BUILT)


@pytest.mark.parametrize("family", SHARING)
def test_option_scores_equal_the_unshared_forward(pair, family):
    on, off = pair(family)
    assert on.sharing() is not None and off.sharing() is None
    for options in (["yes", "no"], ["yes", "not red"]):
        off.begin_task()
        full = off.score_options(_requests(off, options))
        for chunk in (1, 3, 9):
            on.begin_task()
            reqs = _requests(on, options)
            shared = [s for i in range(0, len(reqs), chunk) for s in on.score_options(reqs[i: i + chunk])]
            assert np.abs(np.array(shared) - np.array(full)).max() < 1e-4
            st = on.prefill_stats()
            assert st["n_prefill_floor"] <= st["n_prefill_tokens"] < off.prefill_stats()["n_prefill_tokens"]
        assert st["n_prefill_floor"] == off.prefill_stats()["n_prefill_floor"]


@pytest.mark.parametrize("family", SHARING)
def test_generation_identical(pair, family):
    on, off = pair(family)
    want = off.generate(_requests(off, None))
    reqs = _requests(on, None)
    assert on.generate(reqs) == want
    assert [g for i in range(0, len(reqs), 2) for g in on.generate(reqs[i: i + 2])] == want


def test_families_that_cannot_share_run_unshared(pair):
    for family in ("paligemma", "gemma3", "mllama"):
        on, _ = pair(family)
        assert on.sharing() is None


def test_bad_switch_is_a_user_error(family_dirs):
    from deem_eval.errors import UserError

    with pytest.raises(UserError, match="prefix_cache"):
        HFVLMAdapter(pretrained=str(family_dirs("llava")), prefix_cache="maybe")


def test_a_composed_row_that_differs_turns_composition_off(pair, monkeypatch):
    """The image head is processed once per image only while composing equals the processor's output."""
    on, off = pair("llava")
    on.begin_task()
    share = on.sharing()
    monkeypatch.setattr(share, "_composing", True)
    monkeypatch.setattr(share, "_heads", type(share._heads)())
    real = share._compose
    monkeypatch.setattr(share, "_compose", lambda head, tail: real(head, tail + " extra"))
    got = on.score_options(_requests(on, ["yes", "no"]))
    assert share._composing is False and not share._heads
    off.begin_task()
    want = off.score_options(_requests(off, ["yes", "no"]))
    assert np.abs(np.array(got) - np.array(want)).max() < 1e-4


@pytest.mark.parametrize("family", SHARING)
def test_composition_checked_on_the_first_images_of_each_head_text_only(pair, family, monkeypatch):
    """Past the first checks of a head text, a new image's head is processed once (not twice, head
    and whole prompt) and the answers stay those of the unshared path, on images of other sizes."""
    from deem_eval.models import hf_prefix

    on, off = pair(family)
    on.begin_task()
    share = on.sharing()
    monkeypatch.setattr(hf_prefix, "_CHECKS", 1)
    monkeypatch.setattr(share, "_composing", True)
    monkeypatch.setattr(share, "_heads", type(share._heads)())
    monkeypatch.setattr(share, "_checked", {})
    calls = []
    real = hf_prefix.build_inputs
    monkeypatch.setattr(hf_prefix, "build_inputs", lambda *a, **k: calls.append(a[3][0].text) or real(*a, **k))
    got = on.score_options(_requests(on, ["yes", "no"]))
    off.begin_task()
    want = off.score_options(_requests(off, ["yes", "no"]))
    assert np.abs(np.array(got) - np.array(want)).max() < 1e-4
    # four image heads (image 0 under two templates, images 1 and 2), whole prompts checked for
    # the first image of each of the two head texts only
    assert share._composing and len(calls) == 4 + 2 and len(share._checked) == 2
