"""COCO caption metrics against values worked out by hand from the metric definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deem_eval.errors import UserError
from deem_eval.metrics import captions as cap
from deem_eval.metrics.captions import bleu_from_stats, score_captions

REFS = [
    ["A dog runs on the grass.", "A brown dog is running outside."],
    ["Two cats sleep on a red sofa.", "Cats are sleeping on a couch."],
    ["A man rides a bike down the street.", "A person riding a bicycle."],
    ["A plate of food on a table.", "Food on a white plate."],
]
CANDS = ["A dog runs on the grass.", "A red sofa.", "Blue sky.", "A plate of food on a wooden table."]
BETA2 = 1.2**2


def rouge_f(p: float, r: float) -> float:
    return (1 + BETA2) * p * r / (r + BETA2 * p) if p and r else 0.0


@pytest.fixture(scope="module")
def scores():
    return score_captions(REFS, CANDS)


def test_ptb_tokenisation_lowercases_and_drops_punctuation(scores):
    assert scores.tokenized_cands == ["a dog runs on the grass", "a red sofa", "blue sky",
                                      "a plate of food on a wooden table"]
    assert scores.tokenized_refs[1] == ["two cats sleep on a red sofa", "cats are sleeping on a couch"]


def test_bleu_1_by_hand(scores):
    # candidate length / closest reference length / clipped unigram matches per image:
    # exact 6/6/6, "a red sofa" 3/6/3 (refs 7 and 6 words), "blue sky" 2/5/0 (refs 8, 5),
    # "a plate of food on a wooden table" 8/7/7 ("a" twice in ref 1, "wooden" unmatched)
    testlen, reflen, correct = 6 + 3 + 2 + 8, 6 + 6 + 5 + 7, 6 + 3 + 0 + 7
    expected = correct / testlen * math.exp(1 - reflen / testlen)
    assert scores.corpus["Bleu_1"] == pytest.approx(expected, abs=1e-9)
    b = scores.items[1]
    assert (b["bleu_testlen"], b["bleu_reflen"], b["bleu_correct_1"], b["bleu_guess_1"]) == (3, 6, 3, 3)
    assert (b["bleu_correct_2"], b["bleu_guess_2"]) == (2, 2)


def test_corpus_bleu_is_recomputed_exactly_from_summed_statistics(scores):
    keys = cap.BLEU_STAT_KEYS
    assert set(keys) <= set(scores.items[0]) and len(keys) == 10
    totals = {k: sum(item[k] for item in scores.items) for k in keys}
    again = bleu_from_stats(totals)
    for k in range(1, 5):
        assert again[f"Bleu_{k}"] == pytest.approx(scores.corpus[f"Bleu_{k}"], rel=1e-12)
    # element-wise on arrays (the bootstrap): column 0 = the full set, column 1 = image 0 twice
    arrays = {k: np.array([totals[k], 2 * scores.items[0][k]]) for k in keys}
    both = bleu_from_stats(arrays)
    assert both["Bleu_1"][0] == pytest.approx(scores.corpus["Bleu_1"])
    assert both["Bleu_4"][1] == pytest.approx(1.0)


def test_rouge_l_by_hand(scores):
    per_image = [
        1.0,  # exact match
        rouge_f(max(3 / 3, 1 / 3), max(3 / 7, 1 / 6)),  # LCS "a red sofa" with ref 1, "a" with ref 2
        0.0,  # nothing in common
        rouge_f(max(7 / 8, 3 / 8), max(7 / 7, 3 / 5)),  # LCS 7 with ref 1, "food on a" with ref 2
    ]
    assert [it["rouge_l"] for it in scores.items] == pytest.approx(per_image, abs=1e-9)
    assert scores.corpus["ROUGE_L"] == pytest.approx(sum(per_image) / 4, abs=1e-9)


def test_cider_and_meteor_order_exact_partial_disjoint(scores):
    cider = [it["cider"] for it in scores.items]
    assert cider[0] > cider[3] > cider[1] > cider[2] == 0.0
    assert scores.corpus["CIDEr"] == pytest.approx(sum(cider) / 4)
    meteor = [it["meteor"] for it in scores.items]
    assert meteor[0] == pytest.approx(1.0)
    assert meteor[0] > meteor[3] > meteor[1] > meteor[2]  # METEOR's paraphrase table gives "blue sky" a little
    assert 0 < scores.corpus["METEOR"] < 1


def test_cider_d_of_candidates_identical_to_all_references_is_ten():
    sents = ["a dog runs across the green grass", "two cats sleep on the red sofa",
             "a man rides his bike down the street"]
    out = score_captions([[s, s, s] for s in sents], sents)
    assert [it["cider"] for it in out.items] == pytest.approx([10.0, 10.0, 10.0], abs=1e-9)
    assert out.corpus["CIDEr"] == pytest.approx(10.0, abs=1e-9)
    assert out.corpus["Bleu_4"] == pytest.approx(1.0, abs=1e-6)


def test_one_tokeniser_call_and_alignment_with_empty_and_multiline_captions(monkeypatch):
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    calls = []
    original = PTBTokenizer.tokenize

    def counting(self, captions):
        calls.append(len(captions))
        return original(self, captions)

    monkeypatch.setattr(PTBTokenizer, "tokenize", counting)
    refs = [["a red car."], ["a tall tree"], ["the blue\nsea"], ["an old house"]]
    cands = ["A red car!", "", "the blue\r\nsea", "an old house"]
    out = score_captions(refs, cands)
    assert len(calls) == 1 and calls[0] == 4 + 3  # refs and non-empty candidates in one batch
    assert out.tokenized_cands == ["a red car", "", "the blue sea", "an old house"]
    assert [it["rouge_l"] for it in out.items] == pytest.approx([1.0, 0.0, 1.0, 1.0])


def test_missing_java_is_a_user_error(monkeypatch):
    monkeypatch.setattr(cap.shutil, "which", lambda name: None)
    with pytest.raises(UserError, match=r"Java \(a JRE\) is required for the COCO PTB tokenizer and METEOR"):
        score_captions([["a"]], ["a"])
