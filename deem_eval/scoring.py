"""`deem-eval score`: re-score a predictions JSONL (a run's samples file works as-is)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

from .errors import DataError, UserError
from .evaluation import Outcome, TaskResult, finalize
from .io import ONE_OBJECT, field, iter_jsonl, read_json
from .judge import check_judge
from .registry import TASKS
from .task import build_config


class Prediction(NamedTuple):
    text: str | None
    error: str | None = None
    option_scores: dict[str, float] | None = None  # a logits run's per-option scores, when the file has them


PREDICTION_LINE = ('{"id": string or integer, "prediction": string, number or null}, or a LLaVA answers line '
                   '{"question_id": ..., "text": ..., "answer_id": ...}')
_LLAVA_KEYS = ("answer_id", "model_id")  # what tells a LLaVA answers line from a question line (both have text)


def read_predictions(path: Path) -> dict[str, Prediction]:
    """Map id (as a string) -> prediction; a malformed line or a duplicate id exits 2 naming the line.

    A run's samples file is accepted as is: its ``error`` field, when set, keeps that sample an
    error here too, so re-scoring gives the run's metrics. A null prediction is an empty answer.
    So is the answers file of LLaVA's evaluation scripts (``question_id`` and ``text``, told from a
    question file, which has those keys too, by its ``answer_id``/``model_id``).
    """
    if not path.exists():
        raise UserError(f"predictions file {path} not found")
    if path.is_dir():
        raise UserError(f"predictions file {path} is a folder (pass one samples_<task>.jsonl)")
    try:
        return _read_predictions(path)
    except DataError as exc:
        if exc.message == ONE_OBJECT and "tasks" in read_json(path):
            raise DataError(path, "a run's results.json, not its predictions",
                            expected="the run's samples_<task>.jsonl beside it") from exc
        raise


def _read_predictions(path: Path) -> dict[str, Prediction]:
    preds: dict[str, Prediction] = {}
    for lineno, obj in iter_jsonl(path, expected=PREDICTION_LINE):
        llava = "id" not in obj and "prediction" not in obj and any(k in obj for k in _LLAVA_KEYS)
        id_key, pred_key = ("question_id", "text") if llava else ("id", "prediction")
        if not llava and "id" not in obj and "question_id" in obj:
            raise DataError(path, "missing key 'id'", line=lineno, expected=PREDICTION_LINE + " (a line with "
                            "question_id but no answer_id or model_id looks like a question, not an answer)")
        sid = str(field(obj, id_key, path, lineno, (str, int)))
        if sid in preds:
            raise DataError(path, f"duplicate id {sid!r}", line=lineno)
        pred = field(obj, pred_key, path, lineno, (str, int, float, type(None)))
        error = obj.get("error")
        if error is not None and not isinstance(error, str):
            raise DataError(path, f"'error' is {type(error).__name__}", line=lineno, expected="a string or null")
        preds[sid] = Prediction(None if pred is None else str(pred), error, _option_scores(obj, path, lineno))
    return preds


def _option_scores(obj: dict, path: Path, lineno: int) -> dict[str, float] | None:
    """The optional ``option_scores`` object of a samples line (option text -> score), checked."""
    scores = obj.get("option_scores")
    if scores is None:
        return None
    if not isinstance(scores, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) for v in scores.values()
    ):
        raise DataError(path, "'option_scores' is not an object of numbers (NaN is none)", line=lineno,
                        expected='{"option text": score, ...}')
    return {str(k): float(v) for k, v in scores.items()}


def score_file(
    task_name: str, predictions: Path, data_root: Path, task_args: dict[str, str] | None = None, seed: int = 0,
    judge: Any = None,
) -> tuple[TaskResult, list[str], list[str]]:
    """Score predictions for one task; returns (result, ids missing from predictions, unknown ids).

    ``judge`` (a CachedJudge) scores the records of tasks whose scoring uses an LLM judge."""
    task_cls = TASKS.get(task_name)
    task = task_cls(data_root, build_config(task_cls, task_args or {}))
    check_judge([task], judge)
    task.judge = judge if task.judge_mode != "none" else None
    missing_files = task.missing()
    if missing_files:
        raise UserError(
            f"task {task_name}: data not found under {task.data_dir} (missing: {', '.join(missing_files)})"
        )
    preds = read_predictions(predictions)
    outcomes: list[Outcome] = []
    missing: list[str] = []
    seen: set[str] = set()
    for sample in task.samples():
        seen.add(sample.id)
        if sample.id not in preds:
            missing.append(sample.id)
            continue
        pred = preds[sample.id]
        text = pred.text if pred.error is not None else pred.text or ""
        outcomes.append(Outcome(sample, task.prompt(sample), text, pred.error, pred.option_scores))
    unknown = sorted(set(preds) - seen)
    result = finalize(task, outcomes, seed=seed)
    result.extra["n_missing"] = len(missing)
    return result, missing, unknown
