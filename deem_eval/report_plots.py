"""The HTML report's figures (matplotlib, returned as PNG data: URLs).

- the headline of every task with 95% CI whiskers, one marker per run, chance as a red tick;
- a task's metrics with CI whiskers, one bar per run;
- the reliability view of logits scoring: histograms of log P(yes) − log P(no) per true label.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _data_url(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def headline_figure(rows: Sequence[dict[str, Any]], runs: Sequence[str]) -> str:
    """rows: {task, metric, chance, values: [value or None per run], ci: [[lo, hi] or None per run]}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.2), dpi=90)
    n = len(runs)
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        for j in range(n):
            v, ci = row["values"][j], row["ci"][j]
            if v is None:
                continue
            yy = y + (j - (n - 1) / 2) * 0.22
            err = [[v - ci[0]], [ci[1] - v]] if ci else None
            ax.errorbar(v, yy, xerr=err, fmt="o", color=COLORS[j % len(COLORS)], ms=4, capsize=3,
                        label=runs[j] if i == 0 else None)
        if row["chance"] is not None:
            ax.plot([row["chance"]] * 2, [y - 0.4, y + 0.4], color="#c00", ls="--", lw=1.2,
                    label="chance" if not any(r["chance"] is not None for r in rows[:i]) else None)
    ax.set_yticks(range(len(rows)), [f"{r['task']} ({r['metric']})" for r in reversed(rows)], fontsize=8)
    ax.set_xlabel("headline metric (percent; CIDEr ×100; FID raw)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _data_url(fig)


def metrics_figure(metrics: Sequence[str], runs: Sequence[str], values: list[list[float | None]],
                   cis: list[list[list[float] | None]], chance: Sequence[float | None]) -> str:
    """One task: bars per metric and run with CI whiskers; dashed chance where defined."""
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(3.2, 0.9 * len(metrics) + 1.4), 2.6), dpi=90)
    x = np.arange(len(metrics), dtype=float)
    width = 0.8 / max(len(runs), 1)
    for j, run in enumerate(runs):
        xs = x + j * width - 0.4 + width / 2
        vals = [values[j][k] for k in range(len(metrics))]
        ax.bar(xs, [v or 0.0 for v in vals], width, color=COLORS[j % len(COLORS)], label=run)
        for xi, v, ci in zip(xs, vals, cis[j], strict=True):
            if v is not None and ci:
                ax.errorbar(xi, v, yerr=[[v - ci[0]], [ci[1] - v]], fmt="none", ecolor="#222", capsize=2, lw=1)
    for xi, c in zip(x, chance, strict=True):
        if c is not None:
            ax.hlines(c, xi - 0.45, xi + 0.45, colors="#c00", linestyles="dashed", lw=1.2)
    ax.set_xticks(x, list(metrics), fontsize=7, rotation=20, ha="right")
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if len(runs) > 1:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _data_url(fig)


def reliability_figure(margins: Sequence[dict[str, list[float]]], runs: Sequence[str]) -> str:
    """Per run with option scores, histograms of log P(yes) − log P(no), one per true label (yes / no)."""
    import numpy as np

    plt = _plt()
    shown = [(m, r) for m, r in zip(margins, runs, strict=True) if m.get("yes") or m.get("no")]
    margins, runs = [m for m, _ in shown], [r for _, r in shown]
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 2.5), dpi=90, squeeze=False)
    everything = [v for m in margins for vs in m.values() for v in vs]
    lo, hi = (min(everything), max(everything)) if everything else (-1.0, 1.0)
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
    for ax, m, run in zip(axes[0], margins, runs, strict=True):
        for label, color in (("yes", "#2ca02c"), ("no", "#d62728")):
            if m.get(label):
                ax.hist(m[label], bins=bins, alpha=0.55, color=color, label=f"true {label} (n={len(m[label])})")
        ax.axvline(0, color="#333", lw=0.8)
        ax.set_title(run, fontsize=8)
        ax.set_xlabel("log P(yes) − log P(no)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _data_url(fig)
