"""Progress: done/total, samples/s and ETA; plain periodic lines off a terminal; silent when quiet."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import tests.plugins.toy as toy
from deem_eval.progress import TaskProgress, eta_seconds, fmt_duration, share_of, status_line
from deem_eval.registry import TASKS


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_eta_and_line_by_hand():
    # 120 of 600 done in 8 s: 15 samples/s, 480 left -> 32 s.
    assert eta_seconds(120, 600, 8.0) == 32.0
    assert eta_seconds(0, 600, 8.0) is None and eta_seconds(5, None, 1.0) is None
    assert fmt_duration(32) == "0:32" and fmt_duration(185) == "3:05" and fmt_duration(3723) == "1:02:03"
    assert status_line("pope_random", 120, 600, 8.0) == (
        "pope_random: 120/600 (20%) 15.0 samples/s ETA 0:32 elapsed 0:08"
    )
    assert status_line("x", 3, None, 1.0) == "x: 3/? 3.0 samples/s ETA - elapsed 0:01"


def test_plain_lines_every_period_and_at_the_end():
    out, clock = io.StringIO(), Clock()
    with TaskProgress("t", 100, stream=out, live=False, every_s=10, clock=clock) as advance:
        for _ in range(10):  # 10 samples per 2 s -> a line at 10 s and at 20 s
            clock.t += 2
            advance(10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "t: 50/100 (50%) 5.0 samples/s ETA 0:10 elapsed 0:10",
        "t: 100/100 (100%) 5.0 samples/s ETA 0:00 elapsed 0:20",
    ]  # the end line is not repeated when the last periodic line already said it
    out, clock = io.StringIO(), Clock()
    with TaskProgress("t", 3, stream=out, live=False, every_s=10, clock=clock) as advance:
        clock.t += 1
        advance(3)
    assert out.getvalue().splitlines() == ["t: 3/3 (100%) 3.0 samples/s ETA 0:00 elapsed 0:01"]


def test_quiet_prints_nothing():
    out = io.StringIO()
    with TaskProgress("t", 10, enabled=False, stream=out) as advance:
        assert advance is None
    assert out.getvalue() == ""


def test_live_bar_shows_total_rate_and_eta():
    out, clock = io.StringIO(), Clock()
    with TaskProgress("pope_random", 40, stream=out, live=True, clock=clock) as advance:
        clock.t += 2
        advance(10)
    text = out.getvalue()
    assert "pope_random" in text and "10/40" in text and "5.0 samples/s" in text and "ETA 0:06" in text


def test_share_of_limit_and_ranks():
    assert share_of(600, None, 1) == 600
    assert share_of(600, 50, 1) == 50
    assert share_of(601, None, 2) == 301
    assert share_of(None, 5, 1) is None


def test_count_matches_the_stream_without_decoding(tmp_path):
    root = toy.write_toy_data(tmp_path / "data", corrupt=1)  # a corrupt image does not matter for counting
    task = TASKS.get("toy_yesno")(root)
    assert task.count() == 18


def test_run_logs_plain_progress_lines_off_a_terminal(tmp_path):
    root = toy.write_toy_data(tmp_path / "data")
    cmd = [sys.executable, "-m", "deem_eval", "run", "--model", "toy-model", "--tasks", "toy_yesno",
           "--data-root", str(root), "--output-dir", str(tmp_path / "runs"), "--n-boot", "0"]
    env = dict(os.environ, DEEM_EVAL_PLUGINS="tests.plugins.toy", PYTHONPATH=str(Path(__file__).parents[1]))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "toy_yesno: 18/18 (100%)" in res.stderr and "samples/s ETA 0:00" in res.stderr
    quiet = subprocess.run([*cmd, "--quiet"], capture_output=True, text=True, timeout=120, env=env)
    assert quiet.returncode == 0 and "samples/s" not in quiet.stderr
