"""The official POPE parser and the yes/no metric, against hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.metrics.yesno import YesNoCounts, confusion, parse_yes_no, yes_no_metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"),  # first sentence "Yes"
        ("No, there is not.", "no"),  # comma dropped, word "No"
        ("There is no dog.", "no"),  # word "no"
        ("NO", "yes"),  # case-sensitive: "NO" is not a negation word
        ("not sure", "no"),  # word "not"
        ("", "yes"),  # no negation word at all
        ("Yes. There is no cat.", "yes"),  # only the first sentence counts
        ("Nope", "yes"),  # whole words only
        ("no,", "no"),  # the comma is removed before splitting
        (" no", "no"),  # a leading space (continuation after the answer prefix)
        ("Yes\nno", "yes"),  # split on spaces only, so "Yes\nno" is one word
        ("I do not think so", "no"),
    ],
)
def test_official_parser(text, expected):
    assert parse_yes_no(text) == expected


def test_metrics_by_hand():
    # pred/target: (yes,yes) (yes,yes) (yes,no) (yes,no) (no,no) (no,yes)
    c = YesNoCounts()
    for pred, gold in [
        ("yes", "yes"),
        ("yes", "yes"),
        ("yes", "no"),
        ("yes", "no"),
        ("no", "no"),
        ("no", "yes"),
    ]:
        c.update(pred, gold)
    assert c.state() == {"tp": 2, "fp": 2, "tn": 1, "fn": 1}
    m = c.compute()
    assert m["accuracy"] == pytest.approx(100 * 3 / 6)
    assert m["precision"] == pytest.approx(100 * 2 / 4)
    assert m["recall"] == pytest.approx(100 * 2 / 3)
    p, r = 0.5, 2 / 3
    assert m["f1"] == pytest.approx(100 * 2 * p * r / (p + r))
    assert m["yes_ratio"] == pytest.approx(100 * 4 / 6)  # predicted yes, not ground-truth yes (3/6)


def test_zero_division_guarded():
    # Never predicts yes and there is no positive: precision, recall, f1 are 0, not NaN.
    m = yes_no_metrics(confusion("no", "no"))
    assert m == {"accuracy": 100.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0}
    assert yes_no_metrics({})["accuracy"] == 0.0


def test_merge_equals_single_pass_and_arrays_work():
    a, b, both = YesNoCounts(), YesNoCounts(), YesNoCounts()
    for i, (p, g) in enumerate([("yes", "yes"), ("no", "yes"), ("yes", "no"), ("no", "no"), ("yes", "yes")]):
        (a if i % 2 else b).update(p, g)
        both.update(p, g)
    assert a.merge(b).compute() == both.compute()
    arr = yes_no_metrics(
        {
            "tp": np.array([1.0, 0.0]),
            "fp": np.array([1.0, 0.0]),
            "tn": np.array([0.0, 2.0]),
            "fn": np.array([0.0, 0.0]),
        }
    )
    np.testing.assert_allclose(arr["precision"], [50.0, 0.0])
    np.testing.assert_allclose(arr["accuracy"], [50.0, 100.0])
