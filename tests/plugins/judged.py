"""Toy tasks scored by an LLM judge, to test the judge plumbing end to end.

``judged_toy`` (judge required) asks the judge about every answer and scores 1 when the verdict
says "yes"; ``judged_toy_optional`` keeps the rule-based score and asks the judge only about
odd-numbered samples (as MMBench asks only when rule extraction fails).
"""

from __future__ import annotations

from typing import Any

from deem_eval.registry import register_task
from tests.plugins.toy import ToyYesNo


def judge_question(record: dict[str, Any]) -> str:
    return f"Is the answer {record['prediction']} right for the question? Answer yes or no."


@register_task("judged_toy")
class ToyJudged(ToyYesNo):
    name = "judged_toy"
    judge_mode = "required"

    def judge_prompt(self, record: dict[str, Any]) -> str | None:
        return judge_question(record)

    def apply_verdict(self, record: dict[str, Any], verdict: str) -> None:
        record["score"] = float("yes" in verdict.lower().split())


@register_task("judged_toy_optional")
class ToyJudgedOptional(ToyJudged):
    name = "judged_toy_optional"
    judge_mode = "optional"

    def judge_prompt(self, record: dict[str, Any]) -> str | None:
        return judge_question(record) if int(record["id"]) % 2 else None
