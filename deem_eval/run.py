"""`deem-eval run`: evaluate one model on a list of tasks and write the run's outputs."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import ResponseCache
from .errors import UserError
from .evaluation import TaskResult
from .judge import CachedJudge, Judge, check_judge, make_judge
from .progress import TaskProgress, share_of
from .registry import MODELS, TASKS
from .results import git_commit, now_iso, package_versions, write_results, write_samples
from .runner import Distributed, RunSettings, TaskStats, evaluate_task
from .runtime import cache_dir, set_torch_threads
from .task import Task, build_config, parse_task_args

log = logging.getLogger("deem_eval")


@dataclass
class RunOutput:
    run_dir: Path | None
    results: dict[str, TaskResult]
    doc: dict[str, Any] | None


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def task_args_for(names: list[str], spec: str | None) -> dict[str, dict[str, str]]:
    """Route ``prefix.key=value`` options to tasks: a task name, a group, or a name prefix
    (``fid.inception`` reaches ``fid_coco``); a prefix that reaches none of ``names`` is an error."""
    groups = TASKS.groups()
    per_task: dict[str, dict[str, str]] = {}
    for prefix, kv in parse_task_args(spec, names).items():
        targets = [n for n in names if n == prefix or n.startswith(prefix + "_") or n in groups.get(prefix, ())]
        if not targets:
            raise UserError(f"--task-args: {prefix!r} is not a task or group of this run ({', '.join(names)})")
        for t in targets:
            per_task.setdefault(t, {}).update(kv)
    return per_task


def make_tasks(task_spec: str, data_root: Path, task_args: str | None) -> list[Task]:
    names = TASKS.expand(task_spec)
    per_task = task_args_for(names, task_args)
    tasks = []
    for name in names:
        cls = TASKS.get(name)
        task = cls(data_root, build_config(cls, per_task.get(name, {})))
        task.task_args = dict(per_task.get(name, {}))
        missing = task.missing()
        if missing:
            raise UserError(
                f"task {name}: data not found under {task.data_dir} (missing: {', '.join(missing)}); "
                f"run `deem-eval tasks {name}` to see the expected layout"
            )
        tasks.append(task)
    return tasks


def attach_judge(tasks: list[Task], kind: str | None, args: dict[str, str] | None) -> Judge | None:
    """The run's judge, when one is asked for and a task uses it; exit 2 when a task needs one."""
    if kind is None:
        if args:
            raise UserError("--judge-args given without --judge openai|hf")
        check_judge(tasks, None)
        return None
    if not any(t.judge_mode != "none" for t in tasks):
        log.warning("--judge %s: no task of this run is scored by a judge; it is not used", kind)
        return None
    return make_judge(kind, dict(args or {}))


def run_id_for(model: str, model_args: dict[str, str], tasks: list[str], settings: RunSettings) -> str:
    blob = json.dumps([model, model_args, tasks, settings.scoring, settings.limit, settings.seed], sort_keys=True)
    stamp = now_iso().replace(":", "").replace("-", "")
    return f"{stamp}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def run(
    model_name: str,
    model_args: dict[str, str],
    task_spec: str,
    data_root: Path,
    output_dir: Path,
    settings: RunSettings,
    use_cache: bool = True,
    task_args: str | None = None,
    show_progress: bool = True,
    judge_kind: str | None = None,
    judge_args: dict[str, str] | None = None,
) -> RunOutput:
    set_torch_threads()
    dist = Distributed()
    tasks = make_tasks(task_spec, data_root, task_args)
    judge = attach_judge(tasks, judge_kind, judge_args)
    seed_everything(settings.seed)
    model = MODELS.get(model_name)(**model_args)
    requested_scoring = settings.scoring
    settings.scoring = model.resolve_scoring(settings.scoring)
    settings.batch_size = max(settings.batch_size, model.min_batch_size)
    cache = ResponseCache(Path(cache_dir()) / "responses.sqlite" if use_cache else None)
    if judge is not None:
        for task in tasks:
            task.judge = CachedJudge(judge, cache) if task.judge_mode != "none" else None
    run_id = run_id_for(model_name, model_args, [t.name for t in tasks], settings)
    run_dir = output_dir / model_name / run_id
    settings.image_dir = run_dir / "images"
    results: dict[str, TaskResult] = {}
    stats: dict[str, dict[str, Any]] = {}
    finished = False
    try:
        for task in tasks:
            progress = _progress(task, settings, dist, show_progress and dist.is_main)
            with progress as advance:
                res, st = evaluate_task(task, model, settings, cache, dist, progress=advance)
            if res is not None:
                results[task.name] = res
                stats[task.name] = _stats_entry(st)
                if task.task_args:  # so that re-scoring and paired tests read the same options
                    stats[task.name]["task_args"] = dict(task.task_args)
        finished = True
    finally:
        cache.close()
        dist.close(wait=finished)  # no barrier after a failure: the other ranks may never reach it
    if not dist.is_main:
        return RunOutput(None, {}, None)
    header = {
        "model": model_name,
        "model_args": model_args,
        "model_label": model.label(),
        "checkpoint_sha256": model.checkpoint_sha256(),
        "created": now_iso(),
        "versions": package_versions() | model.versions(),
        "git_commit": git_commit(),
        "seed": settings.seed,
        "scoring": settings.scoring,
        "world_size": dist.world_size,
        "limit": settings.limit,
        "batch_size": settings.batch_size,
        "data_root": str(data_root),
    }
    if settings.scoring != requested_scoring:
        header["scoring_requested"] = requested_scoring
    if model.model_info():
        header["model_info"] = model.model_info()
    if judge is not None:
        header["judge"] = {"kind": judge_kind, "model": judge.model, "fingerprint": judge.fingerprint()}
    for name, res in results.items():
        write_samples(run_dir / f"samples_{name}.jsonl", res.records)
    doc = write_results(run_dir / "results.json", header, results, stats)
    return RunOutput(run_dir, results, doc)


def _stats_entry(st: TaskStats) -> dict[str, Any]:
    outside = 1.0 - st.model_s / st.wall_s if st.wall_s > 0 else 0.0
    return {
        "n_image_encodes": st.n_image_encodes,
        "n_cached": st.n_cached,
        "n_computed": st.n_computed,
        "timing": {"wall_s": round(st.wall_s, 3), "model_s": round(st.model_s, 3), "outside_share": round(outside, 4)},
        **st.extra,
    }


def _progress(task: Task, settings: RunSettings, dist: Distributed, enabled: bool) -> TaskProgress:
    """One progress line per task with done/total, samples/s and ETA (nothing when quiet).

    The total is counted before the run (``Task.count()``, no image decoded) and cut at
    ``--limit``; in a distributed run rank 0 shows its own share.
    """
    total = share_of(task.count(), settings.limit, dist.world_size) if enabled else None
    return TaskProgress(task.name, total, enabled=enabled)
