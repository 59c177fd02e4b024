"""Rule-based yes/no readers of benchmarks other than POPE (each benchmark has its own rule).

- :func:`mme_answer` is the MME ``eval_tool/calculation.py`` rule: the lower-cased response is
  read as is when it is exactly "yes" or "no"; otherwise its first four characters decide —
  "yes" in them gives yes, else "no" in them gives no, else "other" (always wrong). So "Not
  really" reads as no (its prefix "not " contains "no") and "Sure, yes" reads as other.
- :func:`yorn_answer` is VLMEvalKit's ``YOrN_Extraction``, the rule-based reader used for
  HallusionBench and AMBER without a judge: lower-case, the VQA punctuation rule, split on
  whitespace; "yes" among the words and no "no" gives yes, the reverse gives no, anything else
  (both, neither) is "unknown".
"""

from __future__ import annotations

from .vqa_eval import process_punctuation

YES, NO = "yes", "no"
OTHER = "other"
UNKNOWN = "unknown"


def mme_answer(text: str) -> str:
    """'yes', 'no' or 'other', exactly as MME's official calculation script parses a response."""
    low = text.lower()
    if low in (YES, NO):
        return low
    prefix = low[:4]
    if YES in prefix:
        return YES
    if NO in prefix:
        return NO
    return OTHER


def yorn_answer(text: str) -> str:
    """'yes', 'no' or 'unknown' by VLMEvalKit's word rule (no judge model)."""
    words = process_punctuation(text.lower()).split()
    has_yes, has_no = YES in words, NO in words
    if has_yes and not has_no:
        return YES
    if has_no and not has_yes:
        return NO
    return UNKNOWN
