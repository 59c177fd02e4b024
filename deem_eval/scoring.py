"""`deem-eval score`: re-score a predictions JSONL (a run's samples file works as-is)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError, UserError
from .evaluation import Outcome, TaskResult, finalize
from .registry import TASKS
from .task import build_config


def read_predictions(path: Path) -> dict[str, str]:
    """Map id -> prediction; a malformed line exits 2 naming the line; duplicate ids are an error."""
    if not path.is_file():
        raise UserError(f"predictions file {path} not found")
    preds: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, f"not valid JSON ({exc.msg})", line=lineno, expected='{"id": ..., "prediction": ...}') from exc
            if not isinstance(obj, dict) or "id" not in obj or "prediction" not in obj:
                raise DataError(path, "missing 'id' or 'prediction'", line=lineno, expected='{"id": ..., "prediction": ...}')
            sid = str(obj["id"])
            if sid in preds:
                raise DataError(path, f"duplicate id {sid!r}", line=lineno)
            pred = obj["prediction"]
            preds[sid] = "" if pred is None else str(pred)
    return preds


def score_file(
    task_name: str, predictions: Path, data_root: Path, task_args: dict[str, str] | None = None, seed: int = 0
) -> tuple[TaskResult, list[str], list[str]]:
    """Score predictions for one task; returns (result, ids missing from predictions, unknown ids)."""
    task_cls = TASKS.get(task_name)
    task = task_cls(data_root, build_config(task_cls, task_args or {}))
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
        outcomes.append(Outcome(sample, task.prompt(sample), preds[sample.id]))
    unknown = sorted(set(preds) - seen)
    result = finalize(task, outcomes, seed=seed)
    result.extra["n_missing"] = len(missing)
    return result, missing, unknown
