"""Option parsing and letter extraction: the article "a" is never option (a)."""

from __future__ import annotations

import pytest

from deem_eval.metrics.options import PairedAccuracy, extract_option, paired_accuracy_metrics, parse_options

OPEN_CLOSED = [("a", "Open"), ("b", "Closed")]


def test_parse_options():
    assert parse_options("(a) Open (b) Closed") == OPEN_CLOSED
    assert parse_options(" (a) Yes  (b) No ") == [("a", "Yes"), ("b", "No")]
    assert parse_options("(A) one tree (B) two trees (C) three") == [
        ("a", "one tree"),
        ("b", "two trees"),
        ("c", "three"),
    ]
    assert parse_options("Open or closed") == []


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("a", "a"),
        ("(b)", "b"),
        ("The answer is (a) Open", "a"),
        ("B.", "b"),
        ("b)", "b"),
        ("A. Open", "a"),
        ("Option B", "b"),
        ("option (a)", "a"),
        ("B", "b"),
        ("The answer is b.", "b"),
        ("Answer: A", "a"),
        ("Closed", "b"),
        ("open.", "a"),
        ("The wings are closed.", "b"),
        ("a door is open", "a"),  # read from the option text "Open", not from the article
        ("a door is closed", "b"),  # the article must not win over the text
        ("A door is closed", "b"),
        ("The answer is a closed door", "b"),
        ("(a) Open (b) Closed. The answer is (b)", "b"),  # echoed options, then the answer
        ("(a) or (b)", None),  # two options, nothing says which
        ("I cannot tell", None),
        ("", None),
        ("it is a", None),  # a trailing lowercase article-like "a" is not a marker
    ],
)
def test_extract_option(response, expected):
    assert extract_option(response, OPEN_CLOSED) == expected


def test_nested_option_texts_prefer_the_longest():
    opts = [("a", "red"), ("b", "dark red")]
    assert extract_option("It is dark red.", opts) == "b"
    assert extract_option("red", opts) == "a"


def test_paired_accuracy_by_hand():
    m = PairedAccuracy()
    m.update([True, True])  # pair right
    m.update([True, False])  # pair wrong
    m.update([False, False])
    m.update([True])  # a lone question counts for accuracy only
    assert m.state() == {"n": 7, "correct": 4, "pairs": 3, "pairs_correct": 1}
    assert m.compute() == pytest.approx({"accuracy": 100 * 4 / 7, "pair_accuracy": 100 / 3})
    other = PairedAccuracy()
    other.update([True, True])
    assert m.merge(other).compute() == pytest.approx({"accuracy": 100 * 6 / 9, "pair_accuracy": 50.0})
    assert paired_accuracy_metrics({}) == {"accuracy": 0.0, "pair_accuracy": 0.0}
