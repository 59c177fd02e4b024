"""The official VQA accuracy: normalisation steps and leave-one-out scoring by hand."""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.metrics.vqa_eval import (
    CONTRACTIONS,
    VQAAccuracy,
    process_digit_article,
    process_punctuation,
    type_key,
    vqa_accuracy,
    vqa_metrics,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes!", "yes "),  # not touching a space: replaced by a space
        ("yes !", "yes "),  # touching a space: deleted
        ("1,000", "1000"),  # a digit-comma-digit group: every listed mark is deleted
        ("red, white", "red white"),
        ("t-shirt", "t shirt"),
        ("2.", "2"),  # period not followed by a digit: removed
        ("3.5", "3.5"),  # decimal point kept
        ("don't", "don't"),  # the apostrophe is not in the list
        ("a/b (c)", "a b c "),  # each mark on its own: " (" touches a space (deleted); "/" and ")" do not
    ],
)
def test_process_punctuation(text, expected):
    assert process_punctuation(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Two", "2"),
        ("the red one", "red 1"),  # "one" is a number word, articles dropped
        ("An apple", "apple"),
        ("dont", "don't"),
        ("None", "0"),
        ("ten dogs", "10 dogs"),
        ("Im here", "im here"),  # the table's capitalised keys never match after lower-casing
    ],
)
def test_process_digit_article(text, expected):
    assert process_digit_article(text) == expected


def test_contraction_table_is_complete():
    assert len(CONTRACTIONS) == 120
    assert CONTRACTIONS["wont"] == "won't" and CONTRACTIONS["yall'd've"] == "y'all'd've"
    assert CONTRACTIONS["somebody'd"] == "somebodyd"  # kept as in the official table


def _loo(matches: int, n: int = 10) -> float:
    """Leave-one-out min(1, m/3) by hand when ``matches`` of ``n`` answers equal the prediction."""
    return (matches * min(1, (matches - 1) / 3) + (n - matches) * min(1, matches / 3)) / n


def test_leave_one_out_formula():
    assert _loo(0) == 0.0 and _loo(4) == 1.0
    assert _loo(1) == pytest.approx(0.3)  # 9 subsets with 1 match (1/3), 1 with none
    assert _loo(2) == pytest.approx(0.6)  # (2 * 1/3 + 8 * 2/3) / 10
    assert _loo(3) == pytest.approx(0.9)  # (3 * 2/3 + 7 * 1) / 10


NUMBER = ["2", "two", "3", "3", "3", "3", "4", "4", "4", "4"]
OTHER = ["red"] * 5 + ["red one", "the red one", "Red One", "blue", "blue"]


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("Two", NUMBER, 0.6),  # "two" -> "2"; the answers "2" and "two" both become "2": 2 matches
        ("2.", NUMBER, 0.6),  # the period is stripped
        ("2", NUMBER, 0.6),
        ("4", NUMBER, 1.0),
        ("the red one", OTHER, 0.9),  # "red 1" matches "red one", "the red one", "Red One": 3 matches
        ("red", OTHER, 1.0),
        ("yes!", ["yes"] * 8 + ["no"] * 2, 1.0),
        ("don't", ["dont", "don't"] + ["no"] * 8, 0.6),  # "dont" -> "don't": 2 matches
        ("dont", ["dont", "don't"] + ["no"] * 8, 0.6),
        ("green", OTHER, 0.0),
        (" Two\n", NUMBER, 0.6),  # newline and ends stripped
    ],
)
def test_vqa_accuracy(prediction, answers, expected):
    assert vqa_accuracy(prediction, answers) == pytest.approx(expected)


def test_identical_answers_are_not_normalised():
    # Official behaviour: with ten identical answers only whitespace is cleaned.
    assert vqa_accuracy("yes", ["yes"] * 10) == 1.0
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy("yes!", ["yes"] * 10) == 0.0
    assert vqa_accuracy("yes\t", ["yes"] * 10) == 1.0
    with pytest.raises(ValueError):
        vqa_accuracy("yes", [])


def test_metric_state_per_answer_type():
    m = VQAAccuracy()
    assert m.update("yes!", ["yes"] * 8 + ["no"] * 2, "yes/no") == 1.0
    m2 = VQAAccuracy()
    m2.update("Two", NUMBER, "number")
    m2.update("the red one", OTHER, "other")
    out = m.merge(m2).compute()
    assert out == pytest.approx(
        {
            "accuracy": 100 * (1.0 + 0.6 + 0.9) / 3,
            "accuracy_yes_no": 100.0,
            "accuracy_number": 60.0,
            "accuracy_other": 90.0,
        }
    )
    assert type_key("yes/no") == "yes_no" and type_key("unanswerable") == "unanswerable"
    arr = vqa_metrics(
        {
            "n": np.array([2.0, 0.0]),
            "acc": np.array([1.0, 0.0]),
            "n:other": np.array([2.0, 0.0]),
            "acc:other": np.array([1.0, 0.0]),
        }
    )
    np.testing.assert_allclose(arr["accuracy"], [50.0, 0.0])
    np.testing.assert_allclose(arr["accuracy_other"], [50.0, 0.0])
