"""Turn a task's samples and a model's predictions into scored records and metrics.

Shared by ``run`` (predictions from a model) and ``score`` (predictions from a file) so both
score identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .judge import judge_records
from .samples import Sample
from .task import Task


@dataclass
class Outcome:
    sample: Sample
    prompt: str
    prediction: str | None
    error: str | None = None
    option_scores: dict[str, float] | None = None  # logits scoring: each option's log-likelihood


@dataclass
class TaskResult:
    headline: str
    n: int
    n_errors: int
    metrics: dict[str, float]
    ci95: dict[str, list[float]]
    data_fingerprint: str
    prompt_fingerprint: str
    records: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = {
            "headline": self.headline,
            "n": self.n,
            "n_errors": self.n_errors,
            "metrics": self.metrics,
            "ci95": self.ci95,
            "data_fingerprint": self.data_fingerprint,
            "prompt_fingerprint": self.prompt_fingerprint,
        }
        out.update(self.extra)
        return out


SAMPLE_KEYS = ("id", "prompt", "prediction", "target", "score", "error")


def finalize(task: Task, outcomes: list[Outcome], n_boot: int = 1000, seed: int = 0) -> TaskResult:
    """Score each outcome, aggregate the ones without errors, bootstrap CIs.

    Errored samples stay in the records (with ``error`` set) and are counted in n_errors;
    they do not enter the metrics.
    """
    records: list[dict[str, Any]] = []
    scored: list[dict[str, Any]] = []
    for o in outcomes:
        rec: dict[str, Any] = {
            "id": o.sample.id,
            "prompt": o.prompt,
            "prediction": o.prediction,
            "target": o.sample.target,
            "score": None,
            "error": o.error,
        }
        if o.option_scores is not None:
            rec["option_scores"] = o.option_scores
        if o.error is None:
            rec.update(task.score(o.sample, o.prediction or ""))
            rec["_sample"] = o.sample
            scored.append(rec)
        records.append(rec)
    n_judged = judge_records(task, scored)
    task.prepare(scored)
    metrics = task.aggregate(scored) if scored else {}
    ci = task.confidence_intervals(scored, n_boot=n_boot, seed=seed) if scored and n_boot > 0 else {}
    for rec in scored:
        rec.pop("_sample", None)
    return TaskResult(
        headline=task.headline,
        n=len(records),
        n_errors=sum(1 for r in records if r["error"] is not None),
        metrics={k: round(v, 4) for k, v in metrics.items()},
        ci95=ci,
        data_fingerprint=task.data_fingerprint(),
        prompt_fingerprint=task.prompt_fingerprint(),
        records=records,
        extra={"n_judged": n_judged} if task.judge_mode != "none" else {},
    )


def sample_line(rec: dict[str, Any]) -> dict[str, Any]:
    """The public samples_<task>.jsonl schema: SAMPLE_KEYS, plus ``option_scores`` under logits scoring
    and ``judge`` ({model, prompt, verdict}) where an LLM judge scored the sample."""
    line = {k: rec.get(k) for k in SAMPLE_KEYS}
    if rec.get("option_scores") is not None:
        line["option_scores"] = rec["option_scores"]
    if rec.get("judge") is not None:
        line["judge"] = rec["judge"]
    return line
