"""The benchmarks' tiny LLaVA wired to answer in one word answers in one word, whatever the prompt."""

from __future__ import annotations

import numpy as np

from deem_eval.models.hf_vlm import HFVLMAdapter
from deem_eval.samples import Request
from tests.models.tiny_llava import build_tiny_llava


def test_one_word_model_says_yes_then_stops(tmp_path):
    from PIL import Image

    adapter = HFVLMAdapter(pretrained=str(build_tiny_llava(tmp_path / "m", one_word=True)))
    rng = np.random.default_rng(0)
    prompts = [("<image>Is there a dog in the image?", "The answer is"), ("How many cats? <image>", ""),
               ("<image>Describe the picture.", "It shows")]
    reqs = [Request(str(i), p, image=Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)),
                    answer_prefix=pre, max_new_tokens=8) for i, (p, pre) in enumerate(prompts)]
    assert adapter.generate(reqs) == ["yes"] * 3
    # the plain random model writes its whole budget
    plain = HFVLMAdapter(pretrained=str(build_tiny_llava(tmp_path / "r")))
    assert all(len(a.split()) > 1 for a in plain.generate(reqs))
