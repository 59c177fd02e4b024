"""`deem-eval report RUN_DIR... --out FILE.html`: one self-contained HTML file per set of runs.

The file needs no network and no server: the figures are PNG data: URLs, the thumbnails are
small WebP data: URLs (one per distinct image), and the samples are one embedded JSON document
that plain JavaScript filters, searches and renders a page at a time (fast on 10,000 samples).

It holds a header per run, every task's metrics with 95% CIs and chance levels, for yes/no tasks
the yes-ratio and the confusion matrix, the reliability view of logits scoring, a sample browser
per task (filters: all / wrong / errored / disagreeing), and with two or more runs the paired
significance of each task's difference against the first run (``deem_eval.paired``).

"Wrong" means a per-sample score below 1 for scores in [0, 1] (accuracy-type and VQA scores),
and a score of 0 for unbounded scores (e.g. CIDEr).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import UserError
from .io import atomic_write_text
from .leaderboard import ordered_tasks
from .runs import RunDir, load_run

WRONG, ERRORED, DISAGREE = 1, 2, 4
HEADER_KEYS = ("model", "model_args", "checkpoint_sha256", "created", "git_commit", "seed", "scoring",
               "world_size", "limit", "batch_size", "data_root")


def write_report(
    run_dirs: Sequence[Path], out: Path, data_root: Path | None = None, n_boot: int = 1000,
    thumbnails: bool = True, thumb_px: int = 48,
) -> Path:
    """Load the runs (a missing or corrupt folder is a located error, exit 2) and write the HTML."""
    if not run_dirs:
        raise UserError("report: give at least one run folder")
    runs = [load_run(Path(p)) for p in run_dirs]
    context = build_context(runs, data_root, n_boot, thumbnails, thumb_px)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render(context))
    return out


def render(context: dict[str, Any]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deem_eval", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def embed_json(obj: Any) -> str:
    """JSON safe inside <script>: no '<' can close the element early."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def build_context(
    runs: list[RunDir], data_root: Path | None, n_boot: int, thumbnails: bool, thumb_px: int = 48
) -> dict[str, Any]:
    from .report_plots import headline_figure

    names = _run_names(runs)
    thumbs = Thumbnails(thumb_px) if thumbnails else None
    tasks = ordered_tasks({t for r in runs for t in r.tasks})
    sections = [task_section(t, runs, names, data_root, n_boot, thumbs) for t in tasks]
    rows = [s["headline_row"] for s in sections]
    data = {
        "runs": names,
        "thumbs": thumbs.urls if thumbs else [],
        "tasks": {s["name"]: s["browser"] for s in sections},
    }
    headers = [_header(r, n) for r, n in zip(runs, names, strict=True)]
    keys = [k for k in (*HEADER_KEYS, "versions", "folder") if any(k in h["items"] for h in headers)]
    return {
        "title": "deem-eval report: " + " vs ".join(names),
        "runs": headers,
        "header_rows": [(k, [h["items"].get(k, "-") for h in headers]) for k in keys],
        "fingerprint_rows": [
            (t, [" / ".join(map(str, h["fingerprints"].get(t, ("-", "-")))) for h in headers]) for t in tasks
        ],
        "sections": sections,
        "headline_png": headline_figure(rows, names) if rows else None,
        "data_json": embed_json(data),
        "n_runs": len(runs),
    }


def _run_names(runs: list[RunDir]) -> list[str]:
    names = [r.label for r in runs]
    if len(set(names)) < len(names):  # the same model twice: tell the runs apart by folder
        names = [f"{r.label} ({r.path.name})" for r in runs]
    return names


def _header(run: RunDir, name: str) -> dict[str, Any]:
    doc = run.doc
    items = [(k, doc.get(k)) for k in HEADER_KEYS if k in doc]
    versions = doc.get("versions") or {}
    items.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)))
    items.append(("folder", str(run.path)))
    fps = {t: (e.get("data_fingerprint"), e.get("prompt_fingerprint")) for t, e in run.tasks.items()}
    return {"name": name, "items": {k: _text(v) for k, v in items}, "fingerprints": fps}


def _text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False) if v else "-"
    return str(v)


def _target_text(target: Any) -> str:
    if isinstance(target, list):
        seen: list[str] = []
        for t in target:
            s = t if isinstance(t, str) else json.dumps(t, ensure_ascii=False)
            if s not in seen:
                seen.append(s)
        return " | ".join(seen)
    return target if isinstance(target, str) else _text(target)


def _task_class(name: str) -> Any:
    from .registry import TASKS

    try:
        return TASKS.get(name)
    except UserError:
        return None


def _chance(cls: Any, metric: str, headline: str) -> float | None:
    if cls is None:
        return None
    extra = getattr(cls, "chance_metrics", {}) or {}
    if metric in extra:
        return extra[metric]
    return getattr(cls, "chance", None) if metric == headline else None


def task_section(
    name: str, runs: list[RunDir], names: list[str], data_root: Path | None, n_boot: int, thumbs: Thumbnails | None
) -> dict[str, Any]:
    from .report_plots import metrics_figure, reliability_figure

    cls = _task_class(name)
    have = [r if name in r.tasks else None for r in runs]
    entries = [r.tasks[name] if r else None for r in have]
    first = next(e for e in entries if e is not None)
    headline = str(first.get("headline") or (cls.headline if cls else "accuracy"))
    metrics: list[str] = []
    for e in entries:
        for m in (e or {}).get("metrics", {}):
            if m not in metrics:
                metrics.append(m)
    values = [[(e or {}).get("metrics", {}).get(m) for m in metrics] for e in entries]
    cis = [[(e or {}).get("ci95", {}).get(m) for m in metrics] for e in entries]
    chance = [_chance(cls, m, headline) for m in metrics]
    table = [
        {"metric": m, "chance": chance[k], "headline": m == headline,
         "cells": [_cell(values[j][k], cis[j][k]) for j in range(len(runs))]}
        for k, m in enumerate(metrics)
    ]
    lines = [r.samples(name) if r else [] for r in have]
    yesno = cls is not None and getattr(cls, "output_type", "") == "yesno"
    margins = [_margins(ls) for ls in lines]
    section = {
        "name": name,
        "headline": headline,
        "summary": [{"n": (e or {}).get("n"), "n_errors": (e or {}).get("n_errors")} for e in entries],
        "table": table,
        "metrics_png": metrics_figure(metrics, names, values, cis, chance) if metrics else None,
        "confusion": [_confusion(ls) for ls in lines] if yesno else None,
        "reliability_png": reliability_figure(margins, names) if any(m["yes"] or m["no"] for m in margins) else None,
        "paired": [],
        "headline_row": {
            "task": name, "metric": headline, "chance": _chance(cls, headline, headline),
            "values": [(e or {}).get("metrics", {}).get(headline) for e in entries],
            "ci": [(e or {}).get("ci95", {}).get(headline) for e in entries],
        },
    }
    disagree: dict[str, list[str]] = {}
    if have[0] is not None:
        from .paired import compare_task

        for j in range(1, len(runs)):
            if have[j] is not None:
                res = compare_task(name, have[0], have[j], data_root=data_root, n_boot=n_boot)
                section["paired"].append({"b_name": names[j], **res.to_dict()})
                disagree[str(j)] = res.disagree
    section["browser"] = _browser(name, runs, lines, disagree, thumbs, data_root, cls)
    return section


def _cell(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _confusion(lines: list[dict[str, Any]]) -> dict[str, float]:
    """Counts of (true, predicted) yes/no over the scored samples, parsed as the task parses,
    and the yes-ratio: the share of *predicted* yes, in percent."""
    from .metrics.yesno import parse_yes_no

    out: dict[str, float] = {"yes_yes": 0, "yes_no": 0, "no_yes": 0, "no_no": 0}
    for x in lines:
        if x.get("error") is None and x.get("target") in ("yes", "no"):
            out[f"{x['target']}_{parse_yes_no(str(x.get('prediction') or ''))}"] += 1
    total = sum(out.values())
    out["yes_ratio"] = 100.0 * (out["yes_yes"] + out["no_yes"]) / total if total else 0.0
    return out


def _margins(lines: list[dict[str, Any]]) -> dict[str, list[float]]:
    """log P(yes) − log P(no) per true label, from the option scores of logits scoring."""
    out: dict[str, list[float]] = {"yes": [], "no": []}
    for x in lines:
        sc = x.get("option_scores")
        target = x.get("target")
        if isinstance(sc, dict) and "yes" in sc and "no" in sc and isinstance(target, str) and target in out:
            out[x["target"]].append(float(sc["yes"]) - float(sc["no"]))
    return out


def _wrong(score: Any, bounded: bool) -> bool:
    if not isinstance(score, int | float):
        return False
    return score < 1 if bounded else score == 0


def _browser(
    name: str, runs: list[RunDir], lines: list[list[dict[str, Any]]], disagree: dict[str, list[str]],
    thumbs: Thumbnails | None, data_root: Path | None, cls: Any,
) -> dict[str, Any]:
    """Rows [id, thumb, prompt, target, [prediction per run], [score per run], [error per run], flags]."""
    by_run = [{x["id"]: x for x in ls} for ls in lines]
    ids: list[str] = []
    seen: set[str] = set()
    for ls in lines:
        for x in ls:
            if x["id"] not in seen:
                seen.add(x["id"])
                ids.append(x["id"])
    scores = [x.get("score") for ls in lines for x in ls if isinstance(x.get("score"), int | float)]
    bounded = all(0 <= s <= 1 for s in scores)
    dis = {i for ids_ in disagree.values() for i in ids_}
    images = thumbs.for_task(name, runs, data_root, cls) if thumbs else {}
    rows = []
    for sid in ids:
        recs = [b.get(sid) for b in by_run]
        base = next(r for r in recs if r is not None)
        preds = [None if r is None else r.get("prediction") for r in recs]
        score = [None if r is None else r.get("score") for r in recs]
        errs = [None if r is None else r.get("error") for r in recs]
        flags = (WRONG * any(_wrong(s, bounded) for s in score) | ERRORED * any(e is not None for e in errs)
                 | DISAGREE * (sid in dis))
        rows.append([sid, images.get(sid), base.get("prompt") or "", _target_text(base.get("target")),
                     [None if p is None else str(p) for p in preds], score, errs, flags])
    return {"rows": rows, "disagree": disagree, "bounded": bounded}


class Thumbnails:
    """Small WebP data: URLs (JPEG where Pillow lacks WebP), one per distinct image, shared across
    tasks and runs; WebP keeps a 48 px thumbnail near 500 bytes, a third of a JPEG's."""

    def __init__(self, px: int = 48):
        from PIL import features

        self.px = px
        self.format = "WEBP" if features.check("webp") else "JPEG"
        self.urls: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, key: str, load: Any) -> int | None:
        if key in self._index:
            return self._index[key]
        try:
            im = load()
        except Exception:  # a missing or corrupt image gets no thumbnail; the sample shows its error
            return None
        im = im.convert("RGB")
        im.thumbnail((self.px, self.px))
        buf = io.BytesIO()
        im.save(buf, format=self.format, quality=60 if self.format == "WEBP" else 75)
        self._index[key] = len(self.urls)
        self.urls.append(f"data:image/{self.format.lower()};base64," + base64.b64encode(buf.getvalue()).decode())
        return self._index[key]

    def for_task(self, name: str, runs: list[RunDir], data_root: Path | None, cls: Any) -> dict[str, int | None]:
        """Sample id -> thumbnail index: the sample's image, or for image tasks the first run's output."""
        from PIL import Image

        out: dict[str, int | None] = {}
        if cls is None:
            return out
        if getattr(cls, "output_type", "") == "image":
            run = next(r for r in runs if name in r.tasks)
            for x in run.samples(name):
                p = Path(str(x.get("prediction") or ""))
                p = p if p.is_file() else run.path / "images" / p.name
                if p.is_file():
                    out[x["id"]] = self.add(str(p.resolve()), lambda p=p: Image.open(p))
            return out
        root = Path(data_root or next(r for r in runs if name in r.tasks).doc.get("data_root") or "")
        if not str(root) or not root.is_dir():
            return out
        task = cls(root)
        if task.missing():
            return out
        try:
            for sample in task.samples():
                ref = sample.image
                if ref is not None:
                    key = str(ref.path.resolve()) if ref.path is not None else f"{name}:{ref.key}"
                    out[sample.id] = self.add(key, ref.load)
        except UserError:  # data changed since the run: the report still works without thumbnails
            return out
        return out
