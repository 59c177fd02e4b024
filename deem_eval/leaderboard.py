"""`deem-eval leaderboard`: one row per model/checkpoint from the latest run of each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import UserError
from .results import load_results

TABLE1 = ("rvqa_a", "rvqa_r", "rvqa_v", "pope_random", "pope_popular", "pope_adversarial", "mmvp")


def headline(task: str) -> str:
    from .registry import TASKS

    try:
        return TASKS.get(task).headline
    except UserError:
        return "accuracy"


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


def table(rows: dict[str, dict[str, Any]]):
    """A pandas DataFrame: Table-1 columns, avg, other tasks' headline metrics, then CI bounds."""
    import pandas as pd

    others = sorted({t for entries in rows.values() for t in entries} - set(TABLE1))
    records = []
    for label in sorted(rows):
        entries = rows[label]
        rec: dict[str, Any] = {"model": label}
        cis: dict[str, Any] = {}
        for task in (*TABLE1, *others):
            entry = entries.get(task)
            metric = (entry or {}).get("headline") or headline(task)
            value = entry["metrics"].get(metric) if entry else None
            rec[task] = round(value, 2) if value is not None else None
            if entry and metric in entry.get("ci95", {}):
                lo, hi = entry["ci95"][metric]
                cis[f"{task}_ci95_lo"], cis[f"{task}_ci95_hi"] = round(lo, 2), round(hi, 2)
            if task == TABLE1[-1]:
                vals = [rec[t] for t in TABLE1]
                rec["avg"] = round(sum(vals) / len(vals), 2) if all(v is not None for v in vals) else None
        rec.update(cis)
        records.append(rec)
    cols = ["model", *TABLE1, "avg", *others]
    df = pd.DataFrame.from_records(records)
    ci_cols = [c for c in df.columns if c not in cols]
    return df.reindex(columns=cols + ci_cols)


def plot(df, out: Path) -> None:
    """Grouped bar chart of the Table-1 columns and avg, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = [c for c in (*TABLE1, "avg") if c in df.columns and df[c].notna().any()]
    if not cols:
        cols = [c for c in df.columns if c != "model" and "_ci95_" not in c and df[c].notna().any()]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(cols) + 2), 4.5), dpi=120)
    width = 0.8 / max(len(df), 1)
    x = np.arange(len(cols))
    for i, (_, row) in enumerate(df.iterrows()):
        vals = [row[c] if row[c] == row[c] and row[c] is not None else 0.0 for c in cols]
        err = None
        lo_cols = [f"{c}_ci95_lo" for c in cols]
        if all(c in df.columns for c in lo_cols):
            lo = [row[f"{c}_ci95_lo"] for c in cols]
            hi = [row[f"{c}_ci95_hi"] for c in cols]
            if all(v == v and v is not None for v in lo + hi):
                err = [[v - lw for v, lw in zip(vals, lo, strict=True)], [h - v for v, h in zip(vals, hi, strict=True)]]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=str(row["model"]), yerr=err, capsize=2)
    ax.set_xticks(x, cols, rotation=30, ha="right")
    ax.set_ylabel("score (accuracy %, CIDEr ×100)")
    ax.set_title("deem-eval leaderboard")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def write(runs: Path, out_csv: Path) -> Any:
    df = table(collect(runs))
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_csv.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(out_csv)
    plot(df, out_csv.with_suffix(".png"))
    return df
