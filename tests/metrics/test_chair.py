"""CHAIR's caption reading (official rules, offline tokeniser and singulariser) and its metrics."""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.metrics.chair import (
    Vocabulary,
    caption_counts,
    caption_objects,
    chair_metrics,
    coco_vocabulary,
    parse_synonyms,
    singularize,
    words,
)

V = coco_vocabulary()


def test_synonym_list_has_the_80_coco_categories_and_official_quirks():
    groups = parse_synonyms(__import__("deem_eval.metrics.chair", fromlist=["x"]).COCO_SYNONYMS)
    assert len(groups) == 80
    assert V.node["puppy"] == "dog" and V.node["table"] == "dining table" and V.node["people"] == "person"
    assert " motor bike" in V.node and "motor bike" not in V.node  # split on ", " after a double space


@pytest.mark.parametrize(("word", "singular"), [
    ("dogs", "dog"), ("buses", "bus"), ("bus", "bus"), ("knives", "knife"), ("mice", "mouse"), ("men", "man"),
    ("giraffes", "giraffe"), ("boxes", "box"), ("glasses", "glass"), ("scissors", "scissors"), ("skis", "skis"),
    ("people", "people"), ("children", "children"), ("sheep", "sheep"), ("benches", "bench"), ("teddies", "teddy"),
    ("tennis", "tennis"), ("hot-dog", "hot-dog"), ("'s", "'s"), ("leaves", "leave"), ("chairs", "chair"),
])
def test_singularize_against_hand_values(word, singular):
    assert singularize(word, V.keep_as_written) == singular


def test_words_split_sentences_without_downloaded_models():
    assert words("Two dogs. A cat's toy, next to Mr. Smith's bus.") == [
        "two", "dogs", ".", "a", "cat", "'s", "toy", ",", "next", "to", "mr", ".", "smith", "'s", "bus", "."]


@pytest.mark.parametrize(("caption", "mentions"), [
    ("A man riding a bike past two buses.", [("man", "person"), ("bike", "bicycle"), ("bus", "bus")]),
    ("A baby elephant next to adult giraffes.", [("elephant", "elephant"), ("giraffe", "giraffe")]),  # not person
    ("A passenger jet over a hot dog stand.", [("jet", "airplane"), ("hot dog", "hot dog")]),
    ("The seat of the toilet is up.", [("toilet", "toilet")]),  # seat is no chair beside a toilet
    ("A toilet seat and a stool.", [("toilet", "toilet"), ("stool", "chair")]),
    ("A train on the train track.", [("train", "train")]),  # "train track" is consumed
    ("Two wine glasses and a bow tie.", [("wine glass", "wine glass"), ("tie", "tie")]),
    ("A man on a motor bike.", [("man", "person")]),  # the official list never matches "motor bike"
    ("A dog. Dogs and a puppy!", [("dog", "dog"), ("dog", "dog"), ("puppy", "dog")]),  # every mention counts
])
def test_caption_objects(caption, mentions):
    assert caption_objects(caption, V) == mentions


def test_caption_counts_by_hand():
    c = caption_counts("A dog and two cats near a bench.", {"dog", "bench", "person"}, V)
    # mentions: dog, cat, bench (3); cat hallucinated (1); recalled dog, bench of 3 ground-truth objects
    assert (c["mentions"], c["hallucinated_mentions"], c["hallucinated_captions"]) == (3.0, 1.0, 1.0)
    assert (c["recalled_objects"], c["gt_objects"]) == (2.0, 3.0) and c["hallucinated"] == ["cat"]


def test_metrics_from_counts_and_arrays():
    totals = {"captions": 4.0, "hallucinated_captions": 1.0, "mentions": 10.0, "hallucinated_mentions": 3.0,
              "gt_objects": 8.0, "recalled_objects": 6.0}
    assert chair_metrics(totals) == pytest.approx({"CHAIR_s": 25.0, "CHAIR_i": 30.0, "recall": 75.0})
    assert chair_metrics({})["CHAIR_i"] == 0.0  # no mention at all: guarded
    arr = chair_metrics({k: np.array([v, 2 * v]) for k, v in totals.items()})
    assert np.allclose(arr["CHAIR_i"], [30.0, 30.0])


def test_custom_vocabulary():
    vocab = Vocabulary.from_synonyms(parse_synonyms("cup, mug\nleaf\nbox, crate\n"))
    assert singularize("leaves", vocab.keep_as_written) == "leaf"  # the lemma in the vocabulary wins
    assert caption_objects("Two mugs, three leaves and a crate.", vocab) == [
        ("mug", "cup"), ("leaf", "leaf"), ("crate", "box")]
