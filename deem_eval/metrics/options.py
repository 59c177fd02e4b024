"""Multiple-choice answers: option parsing, letter extraction and (paired) accuracy.

Models answer option questions in many shapes: "(a)", "a)", "A.", "Option B", "B", "The
answer is (a) Open", or just the option's text ("Closed"). ``extract_option`` reads all of
those but never takes the English article "a" ("a door is open") for option (a): a lowercase
letter only counts when it stands alone, is bracketed, or closes an "answer is" phrase. When
a response names two different options and nothing says which one is the answer, it is
unparsable (``None``), which scores as wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..bootstrap import safe_div

_OPTION = re.compile(r"\(([A-Za-z])\)\s*(.*?)\s*(?=\([A-Za-z]\)|$)", re.S)

# Letter markers that cannot be the article "a".
_MARKERS = (
    re.compile(r"\(([a-z])\)", re.I),  # (a)  (B)
    re.compile(r"(?<![\w(])([a-z])\)", re.I),  # a)  B)
    re.compile(r"\boption\s*:?\s*\(?([a-z])\b(?!')", re.I),  # Option B, option (b)
    re.compile(r"(?<![\w'])([A-Z])(?=[.:](?:\s|$)|\s*$)"),  # "B." "A:" or a trailing capital letter
)
# "The answer is b", "Answer: (B)" — the letter must end the phrase (so "answer is a door" is no letter).
_ANSWER = re.compile(r"\banswer\s*(?:is|:)?\s*:?\s*\(?([a-z])\b(?!')(?=\s*\)|\s*[.,;:!?]|\s*$)", re.I)
_STRIP = " \t\r\n*_`'\"[]().:,;!"


def parse_options(text: str) -> list[tuple[str, str]]:
    """'(a) Open (b) Closed' -> [('a', 'Open'), ('b', 'Closed')] (letters lower-cased)."""
    return [(m.group(1).lower(), m.group(2).strip()) for m in _OPTION.finditer(text.strip())]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _by_text(response: str, options: Sequence[tuple[str, str]]) -> str | None:
    said = _norm(response)
    texts = {letter: _norm(t) for letter, t in options if _norm(t)}
    exact = [letter for letter, t in texts.items() if t == said]
    if len(exact) == 1:
        return exact[0]
    hits = [letter for letter, t in texts.items() if f" {t} " in f" {said} "]
    # "dark red" also contains "red": keep only the longest of nested matches.
    hits = [a for a in hits if not any(b != a and texts[a] in texts[b] for b in hits)]
    return hits[0] if len(hits) == 1 else None


def extract_option(response: str, options: Sequence[tuple[str, str]]) -> str | None:
    """The chosen option's letter (lower case), or None when the response names none or several."""
    letters = {letter for letter, _ in options}
    core = response.strip(_STRIP)
    if len(core) == 1 and core.lower() in letters:
        return core.lower()
    answered = {m.group(1).lower() for m in _ANSWER.finditer(response)} & letters
    if len(answered) == 1:
        return answered.pop()
    marked = {m.group(1).lower() for rx in _MARKERS for m in rx.finditer(response)} & letters
    if len(marked) == 1:
        return marked.pop()
    if marked:
        return None
    return _by_text(response, options)


def paired_accuracy_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """Per-question and pair accuracy (percent) from summed counts; works on numpy arrays."""
    return {
        "accuracy": 100 * safe_div(totals.get("correct", 0.0), totals.get("n", 0.0)),
        "pair_accuracy": 100 * safe_div(totals.get("pairs_correct", 0.0), totals.get("pairs", 0.0)),
    }


@dataclass
class PairedAccuracy:
    """Summable state of MMVP-style scoring: a pair counts only when both of its questions are right."""

    n: float = 0.0
    correct: float = 0.0
    pairs: float = 0.0
    pairs_correct: float = 0.0

    def update(self, correct: Sequence[bool]) -> None:
        """Add one pair's questions (a single question counts for accuracy, not for pairs)."""
        self.n += len(correct)
        self.correct += sum(bool(c) for c in correct)
        if len(correct) == 2:
            self.pairs += 1
            self.pairs_correct += float(all(correct))

    def merge(self, other: PairedAccuracy) -> PairedAccuracy:
        return PairedAccuracy(
            self.n + other.n,
            self.correct + other.correct,
            self.pairs + other.pairs,
            self.pairs_correct + other.pairs_correct,
        )

    def state(self) -> dict[str, float]:
        return {
            "n": self.n,
            "correct": self.correct,
            "pairs": self.pairs,
            "pairs_correct": self.pairs_correct,
        }

    def compute(self) -> dict[str, float]:
        return {k: float(v) for k, v in paired_accuracy_metrics(self.state()).items()}
