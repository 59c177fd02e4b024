"""results/leaderboard.png: bars with 95% CI whiskers and a dashed chance line per task.

The top panel is the paper's Table 1 grouped as there (RobustVQA A/R/V, POPE random/popular/
adversarial, MMVP, the average); below, the other tasks on their own headline scales, grouped
like the leaderboard's columns, and the generation tasks (FID-style, lower is better) apart.
Sized for a README (about 1000 px wide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .leaderboard import GROUP_AVERAGES, GROUPS, TABLE1, chance, headline

TABLE1_GROUPS = (("RobustVQA", ("rvqa_a", "rvqa_r", "rvqa_v")), ("POPE", TABLE1[3:6]), ("MMVP", ("mmvp",)),
                 ("", ("avg",)))
SHORT = {"rvqa_a": "A", "rvqa_r": "R", "rvqa_v": "V", "pope_random": "random", "pope_popular": "popular",
         "pope_adversarial": "adversarial", "mmvp": "pairs", "avg": "AVG"}


def _value(row: Any, col: str) -> float | None:
    v = row.get(col)
    return None if v is None or v != v else float(v)


def _panel(
    ax: Any, df: Any, groups: list[tuple[str, tuple[str, ...]]], colors: list[Any], labels: dict[str, str],
    label_offset: float = -24,
) -> None:
    """One panel: per task a bar per model (with CI whiskers), a chance line, group names below."""
    import numpy as np

    cols = [c for _, cs in groups for c in cs]
    n_models = max(len(df), 1)
    width = 0.8 / n_models
    x = np.arange(len(cols), dtype=float)
    for i, (_, row) in enumerate(df.iterrows()):
        vals = [_value(row, c) for c in cols]
        lo = [_value(row, f"{c}_ci95_lo") for c in cols]
        hi = [_value(row, f"{c}_ci95_hi") for c in cols]
        xs = x + i * width - 0.4 + width / 2
        ax.bar(xs, [v or 0.0 for v in vals], width, color=colors[i % len(colors)], label=str(row["model"]))
        for xi, v, lw, hw in zip(xs, vals, lo, hi, strict=True):
            if v is not None and lw is not None and hw is not None:
                ax.errorbar(xi, v, yerr=[[v - lw], [hw - v]], fmt="none", ecolor="#222", capsize=2.5, lw=1)
            if v is None:
                ax.text(xi, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90, color="#666")
    for xi, c in zip(x, cols, strict=True):
        level = chance(c) if c in TABLE1 or c not in ("avg", *GROUP_AVERAGES) else None
        if level is not None:
            ax.hlines(level, xi - 0.45, xi + 0.45, colors="#c00", linestyles="dashed", lw=1.2, zorder=3)
    ax.set_xticks(x, [labels.get(c, c) for c in cols], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    start = 0
    for name, cs in groups:
        mid = start + (len(cs) - 1) / 2
        if name:
            ax.annotate(name, (mid, 0), xycoords=("data", "axes fraction"), xytext=(0, label_offset),
                        textcoords="offset points", ha="center", va="top", fontsize=9, fontweight="bold")
        if start:
            ax.axvline(start - 0.5, color="#999", lw=0.8)
        start += len(cs)
    ax.set_xlim(-0.6, len(cols) - 0.4)


def plot(df: Any, out: Path) -> None:
    """Write the chart (PNG) for a leaderboard DataFrame from ``leaderboard.table``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = list(plt.get_cmap("tab10").colors)
    others = [(g, tuple(c for c in cs if c in df.columns and df[c].notna().any())) for g, cs in GROUPS]
    grouped = set(TABLE1) | {c for _, cs in GROUPS for c in cs} | {"avg", "model", *GROUP_AVERAGES}
    rest = tuple(sorted(c for c in df.columns if c not in grouped and "_ci95_" not in c and df[c].notna().any()))
    gen = [(g, cs) for g, cs in others if g == "generation" and cs]
    others = [(g, cs) for g, cs in others if g != "generation" and cs] + ([("other", rest)] if rest else [])
    n_other = sum(len(cs) for _, cs in others)
    n_gen = sum(len(cs) for _, cs in gen)
    two_rows = bool(n_other or n_gen)
    fig = plt.figure(figsize=(12, 10 if two_rows else 4.2), dpi=100)
    grid = fig.add_gridspec(2 if two_rows else 1, max(n_other, 1) + n_gen * 2 if two_rows else 1,
                            height_ratios=[1, 1] if two_rows else [1], hspace=0.45, wspace=1.2)
    ax = fig.add_subplot(grid[0, :])
    _panel(ax, df, list(TABLE1_GROUPS), colors, SHORT)
    ax.set_ylabel("accuracy % (MMVP: pair accuracy)")
    ax.set_ylim(0, 100)
    ax.set_title("Table 1: robustness and hallucination (bars: 95% bootstrap CI; dashed: chance)", fontsize=10)
    from matplotlib.lines import Line2D

    handles, names = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="#c00", ls="dashed", lw=1.2))
    ax.legend(handles, [*names, "chance"], fontsize=8, loc="upper left", ncol=min(len(df) + 1, 4), framealpha=0.9)
    if n_other:
        ax2 = fig.add_subplot(grid[1, : max(n_other, 1)])
        labels = {c: f"{c} ({headline(c)})" for _, cs in others for c in cs}
        _panel(ax2, df, others, colors, labels, label_offset=-118)
        ax2.tick_params(axis="x", labelsize=7, labelrotation=90)
        ax2.set_ylabel("headline metric (%, CIDEr ×100)")
        ax2.set_title("other tasks (each on its headline metric)", fontsize=10)
    if n_gen:
        ax3 = fig.add_subplot(grid[1, max(n_other, 1):] if n_other else grid[1, :])
        labels = {c: f"{c} (Fréchet dist.)" for _, cs in gen for c in cs}
        _panel(ax3, df, [("", cs) for _, cs in gen], colors, labels)
        ax3.tick_params(axis="x", labelsize=7, labelrotation=90)
        ax3.set_title("generation (lower is better)", fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.95, bottom=0.22 if two_rows else 0.12)
    fig.savefig(out)
    plt.close(fig)
