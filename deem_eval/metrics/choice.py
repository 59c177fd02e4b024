"""Lettered multiple choice (MMBench, MMStar, SEED-Bench): options, rotations, answer extraction,
the choice-matching judge prompt, and accuracy per group (category, dimension...).

Letters are upper case here ("A".."D"), as these benchmarks write them; the response reader is
``deem_eval.metrics.options.extract_option`` (shared with MMVP), so "B. Blue", "Option (C)", "(b)",
"The answer is (b)", a bare "c", "I think A" and the option's text alone are all read, while the
article in "a dog is sitting" is never taken for option A.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..bootstrap import safe_div
from .options import extract_option

LETTERS = "ABCDEFGHIJ"

# What pandas' TSV reader turns into NaN by default (VLMEvalKit reads MMBench that way, so an option
# cell holding one of these is no option), plus None/NaN cells of parquet copies.
NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def is_missing(value: Any) -> bool:
    """True for an empty cell: None, a float NaN, or one of pandas' NA spellings."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip() in NA_STRINGS


def choices_from_row(row: Mapping[str, Any], letters: str = LETTERS) -> dict[str, str]:
    """{"A": text, ...} from a row's letter columns, in letter order, skipping empty cells."""
    return {c: str(row[c]).strip() for c in letters if c in row and not is_missing(row[c])}


def option_lines(choices: Mapping[str, str]) -> str:
    """'A. red\\nB. blue' — the option block of the prompts."""
    return "\n".join(f"{letter}. {text}" for letter, text in choices.items())


def rotate(choices: Mapping[str, str], answer: str, k: int) -> tuple[dict[str, str], str]:
    """The k-th circular shift of the options: letter i shows option (i + k) mod n.

    CircularEval asks a question once per shift; the answer letter moves with its text.
    """
    letters = list(choices)
    texts = [choices[c] for c in letters]
    n = len(letters)
    shifted = {letters[i]: texts[(i + k) % n] for i in range(n)}
    return shifted, letters[(letters.index(answer) - k) % n]


# A capital letter standing alone ("A or B", "B, not C"); "A" before a lower-case word is the article.
_BARE_CAPITAL = re.compile(r"(?<![\w'])(?:A(?! (?!(?:or|and|nor)\b)[a-z])|[B-Z])(?![\w'])")


def extract_choice(response: str, choices: Mapping[str, str]) -> str | None:
    """The letter (upper case) a response picks among ``choices``, or None if it names none or several.

    Like VLMEvalKit's ``can_infer_option``, a response naming two option letters on their own
    ("A or B") picks none."""
    if len({m.group(0) for m in _BARE_CAPITAL.finditer(response)} & set(choices)) > 1:
        return None
    found = extract_option(response, [(c.lower(), t) for c, t in choices.items()])
    return found.upper() if found else None


# ---- the judge that matches free-form answers to options (VLMEvalKit's MMBench matcher) -------
_JUDGE_TEMPLATE = (
    "You are an AI assistant who will help me to match "
    "an answer with several options of a single-choice question. "
    "You are provided with a question, several options, and an answer, "
    "and you need to find which option is most similar to the answer. "
    "If the meaning of all options are significantly different from the answer, output Z. "
    "Your should output a single uppercase character in A, B, C, D (if they are valid options), and Z. \n"
    "Example 1: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: a cute teddy bear\nYour output: A\n"
    "Example 2: \n"
    "Question: What is the main object in image?\nOptions: A. teddy bear B. rabbit C. cat D. dog\n"
    "Answer: Spider\nYour output: Z\n"
    "Example 3: \n"
    "Question: {question}?\nOptions: {options}\nAnswer: {prediction}\nYour output: "
)


def choice_judge_prompt(question: str, choices: Mapping[str, str], prediction: str) -> str:
    """The official MMBench answer-matching prompt (the judge answers with a letter, or Z for none)."""
    options = "There are several options: \n" + "".join(f"{c}. {t}\n" for c, t in choices.items())
    return (_JUDGE_TEMPLATE.replace("{question}", question).replace("{options}", options)
            .replace("{prediction}", prediction.strip()))


def judge_choice(verdict: str, choices: Mapping[str, str]) -> str | None:
    """The letter in a judge's verdict; "Z" (no option fits) and unreadable verdicts give None."""
    return extract_choice(verdict, choices)


# ---- accuracy overall and per group ---------------------------------------------------------------
def slug(name: str) -> str:
    """'finegrained_perception (instance-level)' -> 'finegrained_perception_instance_level'."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_") or "none"


def group_stats(correct: float, groups: Mapping[str, str | None], weight: float = 1.0) -> dict[str, float]:
    """Summable counts of one scored item for ``group_accuracy``: overall and per named group.

    ``groups`` maps a kind to the item's group, e.g. {"category": "OCR", "l2": "Perception"};
    ``weight`` 0 leaves the item out (e.g. an incomplete CircularEval group).
    """
    out = {"n": weight, "correct": weight * correct}
    for kind, name in groups.items():
        if name is None:
            continue
        key = f"{kind}/{slug(name)}"
        out[f"n|{key}"] = weight
        out[f"correct|{key}"] = weight * correct
    return out


def group_accuracy(totals: Mapping[str, Any], overall: str = "accuracy") -> dict[str, Any]:
    """Percent accuracy overall and per group (``kind/name`` keys), from summed ``group_stats``.

    Works element-wise on numpy arrays (bootstrap)."""
    out = {overall: 100 * safe_div(totals.get("correct", 0.0), totals.get("n", 0.0))}
    for key in sorted(k for k in totals if k.startswith("n|")):
        group = key[2:]
        out[group] = 100 * safe_div(totals.get(f"correct|{group}", 0.0), totals[key])
    return out
