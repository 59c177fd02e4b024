"""`deem-eval leaderboard`: one row per model/checkpoint from the latest run of each.

Columns: ``model``, the paper's Table-1 tasks and their ``avg``; then the other tasks grouped
like the paper's Table 2 (captioning, VQA, region, generation, comprehension), then
hallucination and perception, each group followed by its average where defined; tasks of no
group come last, alphabetically; then the 95% CI bounds of every task column.

Each task's value is its registered ``headline`` metric (the one results.json names).

Group averages are taken on a common 0–100, higher-is-better scale, and only when every member
is present (otherwise empty):

- ``hallucination_avg`` = mean of POPE (the mean of pope_random, pope_popular and
  pope_adversarial accuracy), hallusionbench, amber_disc, chair and mme. Accuracies and F1 are
  already percentages. CHAIR rates (lower is better) enter as 100 − CHAIR; the MME score enters
  as a percentage of its maximum (2800 for the total of perception and cognition, 2000 for
  perception alone, 800 for cognition). A task class may also declare ``lower_is_better = True``
  (then 100 − value) or ``headline_max`` (then 100 · value / max).
- ``perception_avg`` = mean of mmvp (pair accuracy), cvbench and naturalbench headlines.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import UserError
from .results import load_results

TABLE1 = ("rvqa_a", "rvqa_r", "rvqa_v", "pope_random", "pope_popular", "pope_adversarial", "mmvp")
POPE = ("pope_random", "pope_popular", "pope_adversarial")
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("captioning", ("coco_caption", "image2paragraph")),
    ("VQA", ("vqav2", "okvqa", "vizwiz", "gqa", "textvqa")),
    ("region", ("refcocog", "refcoco", "refcoco_plus")),
    ("generation", ("fid_coco", "fid_lncoco")),
    ("comprehension", ("mmbench", "mmvet", "visdial", "seedbench_img", "mmstar", "realworldqa")),
    ("hallucination", ("hallusionbench", "amber_disc", "chair", "mme")),
    ("perception", ("cvbench", "naturalbench")),
)
# Group averages: column -> members ("pope" stands for the mean of its three splits).
GROUP_AVERAGES: dict[str, tuple[str, ...]] = {
    "hallucination_avg": ("pope", "hallusionbench", "amber_disc", "chair", "mme"),
    "perception_avg": ("mmvp", "cvbench", "naturalbench"),
}
AFTER_GROUP = {"hallucination": "hallucination_avg", "perception": "perception_avg"}
MME_MAX = {"total": 2800.0, "perception": 2000.0, "cognition": 800.0}


def _task_class(task: str) -> Any:
    from .registry import TASKS

    try:
        return TASKS.get(task)
    except UserError:
        return None


def headline(task: str) -> str:
    """The task's registered headline metric (``accuracy`` for tasks not registered here)."""
    cls = _task_class(task)
    return cls.headline if cls is not None else "accuracy"


def chance(task: str) -> float | None:
    """The registered chance level of the task's headline, or None."""
    cls = _task_class(task)
    return getattr(cls, "chance", None) if cls is not None else None


def ordered_tasks(tasks: Iterable[str]) -> list[str]:
    """Table-1 tasks, then the groups' tasks in paper order, then the rest alphabetically."""
    tasks = set(tasks)
    known = [t for t in TABLE1 if t in tasks] + [t for _, ms in GROUPS for t in ms if t in tasks]
    return known + sorted(tasks - set(known))


def to_percent(task: str, metric: str, value: float | None) -> float | None:
    """A headline on the 0–100 higher-is-better scale of the group averages (see module doc)."""
    if value is None:
        return None
    cls = _task_class(task)
    name = metric.lower()
    top = getattr(cls, "headline_max", None)
    if top is None and task == "mme":
        top = next((m for k, m in MME_MAX.items() if k in name), MME_MAX["total"])
    if top:
        return 100.0 * value / top
    lower = getattr(cls, "lower_is_better", None)
    if lower is None:
        lower = task == "chair" and name.startswith("chair")
    return 100.0 - value if lower else value


def collect(runs: Path) -> dict[str, dict[str, Any]]:
    """label -> merged task entries, taking for each task the latest run that has it."""
    if not runs.is_dir():
        raise UserError(f"runs folder {runs} not found")
    docs = [load_results(p) for p in sorted(runs.rglob("results.json"))]
    if not docs:
        raise UserError(f"no results.json under {runs}")
    docs.sort(key=lambda d: d.get("created", ""))
    rows: dict[str, dict[str, Any]] = {}
    for doc in docs:  # later runs overwrite earlier ones, task by task
        label = doc.get("model_label") or doc.get("model", "?")
        rows.setdefault(label, {}).update(doc["tasks"])
    return rows


def columns(present: set[str]) -> list[str]:
    """Value columns in order (without ``model``): tasks present plus the averages they allow."""
    cols = [*TABLE1, "avg"]
    for group, members in GROUPS:
        cols += [t for t in members if t in present]
        avg = AFTER_GROUP.get(group)
        if avg and any(m in present or (m == "pope" and set(POPE) & present) for m in GROUP_AVERAGES[avg]):
            cols.append(avg)
    grouped = set(TABLE1) | {t for _, ms in GROUPS for t in ms}
    return cols + sorted(present - grouped)


def _mean(values: list[float | None]) -> float | None:
    return round(sum(values) / len(values), 2) if values and all(v is not None for v in values) else None


def group_average(name: str, raw: dict[str, tuple[str, float | None]]) -> float | None:
    """A group average from each task's (metric, value); None unless every member is present."""
    parts: list[float | None] = []
    for member in GROUP_AVERAGES[name]:
        if member == "pope":
            parts.append(_mean([raw.get(t, ("", None))[1] for t in POPE]))
        else:
            metric, value = raw.get(member, ("", None))
            parts.append(to_percent(member, metric, value))
    return _mean(parts)


def table(rows: dict[str, dict[str, Any]]):
    """A pandas DataFrame: Table-1 columns, avg, the grouped tasks and averages, then CI bounds."""
    import pandas as pd

    present = {t for entries in rows.values() for t in entries}
    cols = columns(present)
    tasks = [c for c in cols if c not in ("avg", *GROUP_AVERAGES)]
    records = []
    for label in sorted(rows):
        entries = rows[label]
        rec: dict[str, Any] = {"model": label}
        cis: dict[str, Any] = {}
        raw: dict[str, tuple[str, float | None]] = {}
        for task in tasks:
            entry = entries.get(task)
            metric = (entry or {}).get("headline") or headline(task)
            value = entry["metrics"].get(metric) if entry else None
            raw[task] = (metric, value)
            rec[task] = round(value, 2) if value is not None else None
            if entry and metric in entry.get("ci95", {}):
                lo, hi = entry["ci95"][metric]
                cis[f"{task}_ci95_lo"], cis[f"{task}_ci95_hi"] = round(lo, 2), round(hi, 2)
        rec["avg"] = _mean([rec[t] for t in TABLE1])
        for avg in GROUP_AVERAGES:
            if avg in cols:
                rec[avg] = group_average(avg, raw)
        rec.update(cis)
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    ci_cols = [f"{t}_ci95_{b}" for t in tasks for b in ("lo", "hi") if f"{t}_ci95_{b}" in df.columns]
    return df.reindex(columns=["model", *cols, *ci_cols])


def write(runs: Path, out_csv: Path) -> Any:
    from .leaderboard_plot import plot

    df = table(collect(runs))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(out_csv)
    plot(df, out_csv.with_suffix(".png"))
    return df
