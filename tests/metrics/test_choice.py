"""Lettered multiple choice: the response reader, rotations, the judge prompt, grouped accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.metrics.choice import (
    choice_judge_prompt,
    choices_from_row,
    extract_choice,
    group_accuracy,
    group_stats,
    is_missing,
    judge_choice,
    option_lines,
    rotate,
    slug,
)

CHOICES = {"A": "Red", "B": "Blue", "C": "Green", "D": "Dark green"}


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("B", "B"),
        ("b", "B"),  # lower case letter alone
        ("B. Blue", "B"),
        ("Option (C)", "C"),
        ("option c", "C"),
        ("The answer is (b)", "B"),
        ("The answer is D.", "D"),
        ("I think A", "A"),  # a trailing capital letter is the option
        ("(d)", "D"),
        ("Blue", "B"),  # the option's text alone
        ("dark green", "D"),  # the longer of nested option texts
        ("It is green.", "C"),
        ("a car that is blue", "B"),  # the article "a" is not option A
        ("a", "A"),  # but "a" alone is
        ("A or B", None),  # two options named
        ("I am not sure", None),
        ("", None),
        ("E", None),  # not an option
    ],
)
def test_extract_choice(response, letter):
    assert extract_choice(response, CHOICES) == letter


def test_rotate_moves_the_answer_with_its_text():
    base = {"A": "cat", "B": "dog", "C": "cow", "D": "hen"}
    shifted, answer = rotate(base, "B", 1)
    assert shifted == {"A": "dog", "B": "cow", "C": "hen", "D": "cat"} and answer == "A"
    shifted, answer = rotate(base, "B", 3)
    assert shifted == {"A": "hen", "B": "cat", "C": "dog", "D": "cow"} and answer == "C"
    two, answer = rotate({"A": "yes", "B": "no"}, "A", 1)
    assert two == {"A": "no", "B": "yes"} and answer == "B"
    assert rotate(base, "C", 0) == (base, "C")


def test_missing_cells_like_pandas():
    row = {"A": "x", "B": "None", "C": float("nan"), "D": "", "E": None}
    assert choices_from_row(row, "ABCDE") == {"A": "x"}
    assert is_missing("nan") and is_missing(None) and not is_missing("0") and not is_missing("None of them")


def test_option_lines_and_judge_prompt():
    assert option_lines({"A": "cat", "B": "dog"}) == "A. cat\nB. dog"
    p = choice_judge_prompt("What is it", {"A": "cat", "B": "dog"}, " a small kitten \n")
    assert p.startswith("You are an AI assistant who will help me to match an answer with several options")
    assert p.endswith(
        "Example 3: \nQuestion: What is it?\nOptions: There are several options: \nA. cat\nB. dog\n\n"
        "Answer: a small kitten\nYour output: "
    )
    assert "{question}" not in p and "Answer: Spider\nYour output: Z\n" in p
    assert judge_choice("A", {"A": "cat", "B": "dog"}) == "A"
    assert judge_choice("Z", {"A": "cat", "B": "dog"}) is None


def test_group_accuracy_by_hand():
    # items: (correct, category): (1, x), (0, x), (1, y); one left out with weight 0
    stats = [group_stats(1.0, {"category": "Big X"}), group_stats(0.0, {"category": "Big X"}),
             group_stats(1.0, {"category": "y", "l2": None}), group_stats(1.0, {"category": "y"}, weight=0.0)]
    totals: dict[str, float] = {}
    for s in stats:
        for k, v in s.items():
            totals[k] = totals.get(k, 0.0) + v
    assert group_accuracy(totals) == pytest.approx(
        {"accuracy": 100 * 2 / 3, "category/big_x": 50.0, "category/y": 100.0})
    arr = group_accuracy({"n": np.array([2.0, 0.0]), "correct": np.array([1.0, 0.0])})
    assert list(arr["accuracy"]) == [50.0, 0.0]
    assert slug("finegrained_perception (instance-level)") == "finegrained_perception_instance_level"


@pytest.mark.parametrize("response", ["A or B", "The answer is B, not C", "B. Blue (C is wrong)"])
def test_two_bare_letters_pick_none(response):
    assert extract_choice(response, CHOICES) is None


def test_article_before_a_letter_is_no_second_letter():
    assert extract_choice("A car like this is B", CHOICES) == "B"
