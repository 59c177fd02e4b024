"""Tables printed to the terminal (rich): run results, leaderboard, regression deltas."""

from __future__ import annotations

import os
from typing import Any

# Wide enough for the model and task listings; a terminal's own width wins.
PIPE_WIDTH = 160


def console(**kwargs: Any):
    """A rich Console for tables: its terminal's width, or PIPE_WIDTH when the output is a pipe or a
    file (rich would use 80 there and squeeze the last column into one word per line)."""
    from rich.console import Console

    out = Console(**kwargs)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    return out


def _fmt(value: Any, ci: list[float] | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}"
    if ci:
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return text


def print_results(doc: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"results — {doc.get('model_label') or doc.get('model', '')}".rstrip(" —"))
    for col in ("task", "n", "errors", "metric", "value [95% CI]"):
        table.add_column(col)
    for task, entry in doc["tasks"].items():
        first = True
        for metric, value in entry["metrics"].items():
            table.add_row(
                task if first else "", str(entry["n"]) if first else "", str(entry["n_errors"]) if first else "",
                metric, _fmt(value, entry.get("ci95", {}).get(metric)),
            )
            first = False
        if first:
            table.add_row(task, str(entry["n"]), str(entry["n_errors"]), "-", "-")
    console().print(table)


def print_leaderboard(df) -> None:
    """One row per task column, one column per model (readable in 80 columns), with 95% CIs."""
    from rich.table import Table

    value_cols = [c for c in df.columns if c != "model" and "_ci95_" not in c]
    table = Table(title="leaderboard: headline metric [95% CI]")
    table.add_column("task")
    for model in df["model"]:
        table.add_column(str(model), justify="right")
    for c in value_cols:
        cells = [c]
        for _, row in df.iterrows():
            v = row[c]
            if v is None or v != v:
                cells.append("-")
                continue
            lo, hi = row.get(f"{c}_ci95_lo"), row.get(f"{c}_ci95_hi")
            has_ci = lo is not None and hi is not None and lo == lo and hi == hi
            cells.append(f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if has_ci else f"{v:.2f}")
        table.add_row(*cells)
    console().print(table)


def print_deltas(deltas, tolerance: float) -> None:
    from rich.table import Table

    from .regress import is_drop

    table = Table(title=f"regression check (tolerance {tolerance})")
    for col in ("task", "metric", "baseline", "current", "delta", ""):
        table.add_column(col)
    for d in deltas:
        flag = "[red]DROP[/]" if is_drop(d, tolerance) else ""
        table.add_row(d.task, d.metric, f"{d.baseline:.4f}", f"{d.current:.4f}", f"{d.delta:+.4f}", flag)
    console().print(table)


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def print_paired(results, name_a: str, name_b: str) -> None:
    """Paired comparison per task: both values, B − A with its 95% CI, bootstrap and McNemar p."""
    from rich.table import Table

    table = Table(title=f"paired comparison: B = {name_b} minus A = {name_a} (same samples)")
    for col in ("task", "metric", "n", "A", "B", "B − A [95% CI]", "p (bootstrap)", "McNemar p (A/B only)"):
        table.add_column(col, justify="right" if col not in ("task", "metric") else "left")
    notes = []
    for r in results:
        if r.diff is None:
            table.add_row(r.task, r.metric, str(r.n), "-", "-", "-", "-", "-")
        else:
            mc = f"{_p(r.mcnemar.p_value)} ({r.mcnemar.a_only}/{r.mcnemar.b_only})" if r.mcnemar else "-"
            table.add_row(
                r.task, r.metric, str(r.n), f"{r.a:.2f}", f"{r.b:.2f}",
                f"{r.diff:+.2f} [{r.ci95[0]:+.2f}, {r.ci95[1]:+.2f}]", _p(r.p_value), mc,
            )
        if r.note:
            notes.append(f"{r.task}: {r.note.strip()}")
    out = console()
    out.print(table)
    for note in notes:
        out.print(f"[dim]{note}[/]")
