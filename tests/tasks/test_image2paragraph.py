"""image2paragraph on a Stanford-paragraphs layout: test split, one human paragraph per image."""

from __future__ import annotations

import json
import math

import pytest

from deem_eval.errors import DataError

from .util import FIXTURES, assert_fingerprints_track, copy_fixture, finalize_loading_images, score, task

BETA2 = 1.2**2
HUMAN = "A large building with a clock tower. The sky is blue. There are trees in front of the building."


def test_test_split_and_image_folders():
    samples = list(task("image2paragraph").samples())
    assert [s.id for s in samples] == ["2356347", "2317429"]  # file order; 2386291 is not in the test split
    assert samples[0].target == [HUMAN]
    assert samples[0].image.path == (FIXTURES / "image2paragraph/images/VG_100K_2/2356347.jpg").resolve()
    assert samples[1].image.path == (FIXTURES / "image2paragraph/images/2317429.jpg").resolve()


def test_prompt_snapshot_and_fingerprints(tmp_path):
    t = task("image2paragraph")
    assert t.prompt(next(iter(t.samples()))) == "<image>Describe this image in one paragraph."
    assert t.max_new_tokens == 100
    assert_fingerprints_track("image2paragraph", "image2paragraph", "paragraphs_v1.json", tmp_path,
                              prompt_template="{image}Tell me about the picture.")


def test_metrics_by_hand(tmp_path):
    result = score("image2paragraph", {"2356347": HUMAN, "2317429": "A man rides a horse."}, tmp_path)
    # PTB tokens: the human paragraph has 19 tokens (punctuation dropped), all matched;
    # "a man rides a horse" (5) against the 17-token paragraph: a x2, man, horse -> 4 matched
    # candidate length 24 < reference length 36: brevity penalty exp(1 - 36/24)
    assert result.metrics["Bleu_1"] == pytest.approx(100 * 23 / 24 * math.exp(1 - 36 / 24), abs=1e-3)
    p, r = 4 / 5, 4 / 17  # LCS "a man a horse"
    rouge2 = (1 + BETA2) * p * r / (r + BETA2 * p)
    assert result.metrics["ROUGE_L"] == pytest.approx(100 * (1 + rouge2) / 2, abs=1e-4)
    assert result.records[0]["cider"] > result.records[1]["cider"]


def test_bad_input_and_corrupt_image(tmp_path):
    root = copy_fixture("image2paragraph", tmp_path)
    (root / "image2paragraph/test_split.json").write_text(json.dumps([2317429, 999]))
    with pytest.raises(DataError, match="image 999 of the test split has no paragraph"):
        list(task("image2paragraph", root=root).samples())
    (root / "image2paragraph/test_split.json").write_text('{"test": [1]}')
    with pytest.raises(DataError, match="not a list of integer image ids"):
        list(task("image2paragraph", root=root).samples())
    (root / "image2paragraph/test_split.json").write_text("[2317429, 2356347]")
    (root / "image2paragraph/images/2317429.jpg").write_bytes(b"")
    t = task("image2paragraph", root=root)
    result = finalize_loading_images(t, [HUMAN, "a horse"])
    assert result.n == 2 and result.n_errors == 1 and result.records[1]["error"].startswith("cannot decode")
