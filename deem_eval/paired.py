"""Paired significance of a metric difference between two runs on the same samples.

Both ``leaderboard --compare A,B`` and the HTML report's two-run view use this module.

- The two runs are matched by sample id; samples that errored in either run are left out, so
  both metrics are computed on exactly the same samples (which may differ slightly from the
  runs' own results.json numbers when some samples errored).
- Each run's samples are re-scored with the task (the same ``finalize`` as ``run`` and
  ``score``; corpus scorers such as CIDEr run on the shared samples), which needs the task's data (the run's ``data_root`` or ``--data-root``). Without
  the data, the mean of the samples' own ``score`` field (x100) is compared instead, labelled
  ``mean_score``.
- Tasks whose CIs come from the summable-statistics bootstrap can be paired; a metric without
  them (FID: a Fréchet distance per resample) gets no paired test.
- Paired bootstrap: the task's resampling units (a sample, or an MMVP pair) are drawn with
  replacement ``n_boot`` times with a fixed seed, the *same* draw for both runs; the 95% CI is
  the 2.5/97.5 percentiles of the differences B − A, and the two-sided p-value is the share of
  resampled differences at least as far from the observed one as the observed one is from 0
  (the null-centred test of Berg-Kirkpatrick et al. 2012): (1 + #{|d* − d| ≥ |d|}) / (n_boot + 1).
- McNemar's exact test, for accuracy-type headlines (per-unit right/wrong whose mean is the
  headline): two-sided binomial test of the discordant counts against p = 1/2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bootstrap import safe_div, unit_matrix
from .errors import UserError
from .runs import RunDir
from .task import Task, build_config


@dataclass
class McNemar:
    a_only: int  # units A gets right and B wrong
    b_only: int  # units B gets right and A wrong
    p_value: float


@dataclass
class PairedResult:
    task: str
    metric: str
    n: int  # samples scored in both runs
    a: float | None = None
    b: float | None = None
    diff: float | None = None  # b - a
    ci95: list[float] | None = None
    p_value: float | None = None
    mcnemar: McNemar | None = None
    disagree: list[str] = field(default_factory=list)  # ids whose score or error status differ
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value: binomial test of min(b, c) in b + c trials at 1/2."""
    from scipy.stats import binomtest

    n = a_only + b_only
    if n == 0:
        return 1.0
    return float(binomtest(min(a_only, b_only), n, 0.5, alternative="two-sided").pvalue)


def paired_bootstrap(
    task: Task,
    recs_a: list[dict[str, Any]],
    recs_b: list[dict[str, Any]],
    metric: str,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, list[float], float]:
    """(observed B − A, 95% CI of it, two-sided p) with one shared resampling of the units."""
    units = task.bootstrap_units(recs_a)
    keys_a, ua = unit_matrix(task, recs_a, units)
    keys_b, ub = unit_matrix(task, recs_b, units)
    observed = _metric(task, keys_b, ub.sum(0), metric) - _metric(task, keys_a, ua.sum(0), metric)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(units), np.full(len(units), 1.0 / len(units)), size=n_boot)
    d = _metric(task, keys_b, counts @ ub, metric) - _metric(task, keys_a, counts @ ua, metric)
    d = np.broadcast_to(np.asarray(d, dtype=np.float64), (n_boot,))
    lo, hi = np.percentile(d, [2.5, 97.5])
    # A tolerance so that exact ties (e.g. every resample equal to the observed 0) count as "as far".
    far = np.abs(d - observed) >= abs(observed) - 1e-9
    p = (1 + int(far.sum())) / (n_boot + 1)
    return float(observed), [round(float(lo), 4), round(float(hi), 4)], float(p)


def _metric(task: Task, keys: Sequence[str], totals: np.ndarray, metric: str) -> Any:
    cols = totals.T if totals.ndim == 2 else totals
    return task.compute({k: cols[j] for j, k in enumerate(keys)})[metric]


def mcnemar_for(
    task: Task, recs_a: list[dict[str, Any]], recs_b: list[dict[str, Any]], values: Sequence[float]
) -> McNemar | None:
    """McNemar on the task's units when the headline (``values``: A's and B's) is the share of
    fully-right units, else None."""
    units = task.bootstrap_units(recs_a)
    if not units:
        return None
    size = max(len(u) for u in units)
    units = [u for u in units if len(u) == size]
    scores = [[r.get("score") for r in recs] for recs in (recs_a, recs_b)]
    if any(s not in (0.0, 1.0) for run in scores for s in run):
        return None
    right = [[all(run[i] == 1.0 for i in u) for u in units] for run in scores]
    for value, r in zip(values, right, strict=True):
        if abs(100.0 * sum(r) / len(r) - value) > 1e-3:  # values are rounded to 4 decimals
            return None
    a_only = sum(1 for x, y in zip(*right, strict=True) if x and not y)
    b_only = sum(1 for x, y in zip(*right, strict=True) if y and not x)
    return McNemar(a_only, b_only, mcnemar_exact(a_only, b_only))


class MeanScore(Task):
    """Stand-in scorer when the task's data is not at hand: 100 × mean of the samples' ``score``."""

    headline = "mean_score"

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        return {"score": float(record["score"]), "n": 1.0}

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        return {"mean_score": 100 * safe_div(totals["score"], totals["n"])}


def disagreeing_ids(lines_a: Sequence[dict[str, Any]], lines_b: Sequence[dict[str, Any]]) -> list[str]:
    """Ids in both runs whose error status or per-sample score differ (in A's order)."""
    by_b = {x["id"]: x for x in lines_b}
    out = []
    for x in lines_a:
        y = by_b.get(x["id"])
        if y is None:
            continue
        if (x.get("error") is None) != (y.get("error") is None) or x.get("score") != y.get("score"):
            out.append(x["id"])
    return out


def _rescored(task: Task, lines: list[list[dict]], common: set[str]) -> list[tuple[list, dict[str, float]]]:
    """Each run's (records, metrics) on the common ids, scored by the task, in its sample order.

    Metrics are taken right after each run's scoring: corpus scorers (captions) keep the last
    scored corpus on the task object.
    """
    from .evaluation import Outcome, finalize

    preds = [{x["id"]: x for x in ls} for ls in lines]
    outcomes: list[list[Outcome]] = [[] for _ in lines]
    for sample in task.samples():
        if sample.id in common:
            prompt = task.prompt(sample)
            for out, p in zip(outcomes, preds, strict=True):
                line = p[sample.id]
                out.append(Outcome(sample, prompt, line.get("prediction") or "", None, line.get("option_scores")))
    done = []
    for out in outcomes:
        res = finalize(task, out, n_boot=0)
        for rec, o in zip(res.records, out, strict=True):  # tasks group bootstrap units by their samples
            rec["_sample"] = o.sample
        done.append((res.records, res.metrics))
    return done


def compare_task(
    name: str, run_a: RunDir, run_b: RunDir, data_root: Path | None = None, n_boot: int = 1000, seed: int = 0
) -> PairedResult:
    """The paired comparison of one task's headline between two runs (B − A)."""
    from .registry import TASKS

    lines_a, lines_b = run_a.samples(name), run_b.samples(name)
    ok_b = {x["id"] for x in lines_b if x.get("error") is None}
    common = {x["id"] for x in lines_a if x.get("error") is None and x["id"] in ok_b}
    entry = run_a.tasks[name]
    result = PairedResult(name, str(entry.get("headline") or "?"), len(common), disagree=disagreeing_ids(lines_a, lines_b))
    if entry.get("data_fingerprint") != run_b.tasks[name].get("data_fingerprint"):
        result.note = "the runs' data fingerprints differ; compared on the shared sample ids. "
    options = entry.get("task_args") or {}
    if options != (run_b.tasks[name].get("task_args") or {}):
        result.note += f"the runs used different --task-args; both are re-scored with the first run's ({options}). "
    if not common:
        result.note += "no sample was scored in both runs"
        return result
    try:
        cls = TASKS.get(name)
    except UserError:
        cls = None
    task: Task | None = None
    pairable = cls is not None and cls.confidence_intervals is Task.confidence_intervals
    if pairable:
        root = Path(data_root or run_a.doc.get("data_root") or "")
        candidate = cls(root, build_config(cls, options))
        if str(root) and not candidate.missing():
            task = candidate
    metrics: list[dict[str, float]] | None = None
    if task is not None:
        (recs_a, m_a), (recs_b, m_b) = _rescored(task, [lines_a, lines_b], common)
        metrics = [m_a, m_b]
        result.metric = task.headline
    else:
        if cls is not None and not pairable:
            result.note += "the metric has no summable per-sample statistics (e.g. FID): no paired test"
            return result
        recs_a = [x for x in lines_a if x["id"] in common]
        by_b = {x["id"]: x for x in lines_b}
        recs_b = [by_b[x["id"]] for x in recs_a]
        if any(r.get("score") is None for r in recs_a + recs_b):
            result.note += "task data not found and the samples carry no per-sample score: no paired test"
            return result
        task = MeanScore(Path("."))
        result.metric = task.headline
        result.note += "task data not found: compared on the mean per-sample score"
    if metrics is None:
        metrics = [task.aggregate(recs_a), task.aggregate(recs_b)]
    result.a, result.b = (round(m[result.metric], 4) for m in metrics)
    diff, ci, p = paired_bootstrap(task, recs_a, recs_b, result.metric, n_boot=n_boot, seed=seed)
    result.diff, result.ci95, result.p_value = round(diff, 4), ci, round(p, 4)
    result.mcnemar = mcnemar_for(task, recs_a, recs_b, (result.a, result.b))
    return result


def compare_sides(
    runs_a: Mapping[str, RunDir], runs_b: Mapping[str, RunDir], data_root: Path | None = None,
    n_boot: int = 1000, seed: int = 0,
) -> list[PairedResult]:
    """Every task both sides hold, in leaderboard column order."""
    from .leaderboard import ordered_tasks

    shared = [t for t in ordered_tasks(set(runs_a) & set(runs_b))]
    return [compare_task(t, runs_a[t], runs_b[t], data_root, n_boot, seed) for t in shared]
