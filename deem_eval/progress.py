"""Per-task progress: done/total, samples/s and ETA, as a live bar on a terminal or plain lines in logs.

One line per task. On a TTY it is a rich bar that stays on screen when the task ends; when
stderr is not a terminal (CI logs, ``make demo`` log files) it prints a plain line every
``every_s`` seconds and one when the task ends; quiet prints nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def fmt_duration(seconds: float | None) -> str:
    """0:42, 3:05, 1:02:03; '-' when unknown."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def eta_seconds(done: int, total: int | None, elapsed: float) -> float | None:
    """Time left at the mean rate so far; None before the first sample or without a total."""
    if total is None or done <= 0 or elapsed <= 0:
        return None
    return max(total - done, 0) * elapsed / done


def status_line(label: str, done: int, total: int | None, elapsed: float) -> str:
    """``pope_random: 120/600 (20%) 15.3 samples/s ETA 0:31 elapsed 0:08``."""
    rate = done / elapsed if elapsed > 0 else 0.0
    count = f"{done}/{total} ({100 * done / total:.0f}%)" if total else f"{done}/?"
    eta = fmt_duration(eta_seconds(done, total, elapsed))
    return f"{label}: {count} {rate:.1f} samples/s ETA {eta} elapsed {fmt_duration(elapsed)}"


class TaskProgress:
    """Context manager yielding ``advance(n)`` (or None when quiet)."""

    def __init__(
        self,
        label: str,
        total: int | None,
        enabled: bool = True,
        stream: TextIO | None = None,
        live: bool | None = None,
        every_s: float = 10.0,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.live = live if live is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s, self.clock = every_s, clock
        self.done = 0
        self._bar: Any = None
        self._t0 = self._last = 0.0
        self._printed = -1

    def __enter__(self) -> Callable[[int], None] | None:
        if not self.enabled:
            return None
        self._t0 = self._last = self.clock()
        if self.live:
            self._start_bar()
        return self.advance

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} samples/s"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("elapsed {task.fields[elapsed]}"),
            console=Console(file=self.stream),
            transient=False,
        )
        self._bar.start()
        self._tid = self._bar.add_task(self.label, total=self.total, rate="-", eta="-", elapsed="0:00")

    def advance(self, n: int) -> None:
        self.done += n
        if self.total is not None and self.done > self.total:
            self.total = self.done  # an estimated share (distributed runs) ran over
        now = self.clock()
        elapsed = now - self._t0
        if self._bar is not None:
            rate = self.done / elapsed if elapsed > 0 else 0.0
            self._bar.update(
                self._tid, completed=self.done, total=self.total, rate=f"{rate:.1f}",
                eta=fmt_duration(eta_seconds(self.done, self.total, elapsed)), elapsed=fmt_duration(elapsed),
            )
        elif now - self._last >= self.every_s:
            self._last = now
            self._print(elapsed)

    def _print(self, elapsed: float) -> None:
        self._printed = self.done
        print(status_line(self.label, self.done, self.total, elapsed), file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> bool:
        if not self.enabled:
            return False
        if self._bar is not None:
            self._bar.stop()
        elif self._printed != self.done:  # the last periodic line may already say it
            self._print(self.clock() - self._t0)
        return False


def share_of(total: int | None, limit: int | None, world_size: int) -> int | None:
    """Samples this rank will see: the task's count, cut at ``--limit``, split over processes."""
    if total is None:
        return None
    if limit is not None:
        total = min(total, limit)
    return -(-total // world_size)
