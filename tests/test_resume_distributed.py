"""Kill-and-resume and two-process runs, as real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import tests.plugins.toy as toy

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ, DEEM_EVAL_PLUGINS="tests.plugins.toy", PYTHONPATH=str(ROOT),
        XDG_CACHE_HOME=str(tmp_path / "xdg"), OMP_NUM_THREADS="1",
    )


def _cmd(data: Path, out: Path, calls: Path, delay: float, *extra: str) -> list[str]:
    return [
        "-m", "deem_eval", "run", "--model", "toy-model", "--tasks", "toy", "--data-root", str(data),
        "--output-dir", str(out), "--batch-size", "2", "--quiet", "--n-boot", "100",
        "--model-args", f"calls_file={calls},delay={delay}", *extra,
    ]


def _results(out: Path) -> dict:
    return json.loads(next(out.rglob("results.json")).read_text())


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    data = toy.write_toy_data(tmp_path / "data")
    env = _env(tmp_path)
    calls = tmp_path / "calls.txt"
    proc = subprocess.Popen([sys.executable, *_cmd(data, tmp_path / "killed", calls, 0.4)], env=env, cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:
        if calls.exists() and len(calls.read_text().splitlines()) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(calls.read_text().splitlines())
    assert 6 <= before < 18, "the run must be killed mid-way"
    assert not (tmp_path / "killed").exists() or not list((tmp_path / "killed").rglob("results.json"))

    resumed_calls = tmp_path / "calls2.txt"
    subprocess.run([sys.executable, *_cmd(data, tmp_path / "resumed", resumed_calls, 0)], env=env, cwd=tmp_path,
                   check=True, timeout=300)
    resumed = _results(tmp_path / "resumed")["tasks"]["toy_yesno"]
    recomputed = len(resumed_calls.read_text().splitlines())
    assert resumed["n_cached"] >= 4 and resumed["n_cached"] + resumed["n_computed"] == 18
    assert recomputed == resumed["n_computed"]  # cached samples were not asked again

    clean_env = dict(env, XDG_CACHE_HOME=str(tmp_path / "xdg-clean"))
    subprocess.run([sys.executable, *_cmd(data, tmp_path / "clean", tmp_path / "c3.txt", 0)], env=clean_env,
                   cwd=tmp_path, check=True, timeout=300)
    clean = _results(tmp_path / "clean")["tasks"]["toy_yesno"]
    assert resumed["metrics"] == clean["metrics"] and resumed["ci95"] == clean["ci95"]
    a = (next((tmp_path / "resumed").rglob("samples_toy_yesno.jsonl"))).read_text()
    b = (next((tmp_path / "clean").rglob("samples_toy_yesno.jsonl"))).read_text()
    assert a == b


def _launch_report(proc: subprocess.CompletedProcess) -> str:
    """Everything but rank 1's lines first: its 'connection closed' traceback only follows rank 0's failure."""
    lines = (proc.stdout + proc.stderr).splitlines()
    first = [ln for ln in lines if not ln.startswith("[rank1]")]
    return "\n".join(first[:120] + ["----- tail -----"] + lines[-30:])


def test_two_processes_equal_one_process(tmp_path):
    data = toy.write_toy_data(tmp_path / "data", n_images=7)
    env = _env(tmp_path)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    calls = tmp_path / "calls2p.txt"
    # A launch that fails before any result is written (a rendezvous hiccup on a busy machine)
    # is tried once more from scratch; the results themselves are never retried.
    for _attempt in range(2):
        calls.unlink(missing_ok=True)
        proc = subprocess.run(
            [torchrun, "--standalone", "--nproc_per_node", "2", *_cmd(data, tmp_path / "two", calls, 0)],
            env=dict(env, XDG_CACHE_HOME=str(tmp_path / f"xdg-two-{_attempt}")), cwd=tmp_path, timeout=600,
            capture_output=True, text=True,
        )
        if proc.returncode == 0 or list((tmp_path / "two").rglob("results.json")):
            break
    assert proc.returncode == 0, _launch_report(proc)
    one_env = dict(env, XDG_CACHE_HOME=str(tmp_path / "xdg1"))
    subprocess.run([sys.executable, *_cmd(data, tmp_path / "one", tmp_path / "c1.txt", 0)], env=one_env,
                   cwd=tmp_path, check=True, timeout=300)
    two, one = _results(tmp_path / "two"), _results(tmp_path / "one")
    assert two["world_size"] == 2 and one["world_size"] == 1
    t2, t1 = two["tasks"]["toy_yesno"], one["tasks"]["toy_yesno"]
    assert t2["n"] == t1["n"] == 21
    assert t2["metrics"] == t1["metrics"] and t2["ci95"] == t1["ci95"]
    assert t2["n_image_encodes"] == t1["n_image_encodes"] == 7  # an image's questions stay on one rank
    lines = [ln.split() for ln in calls.read_text().splitlines()]
    pids = {p for p, _ in lines}
    ids = [i for _, i in lines]
    assert len(pids) == 2, "both ranks must have answered samples"
    assert sorted(ids, key=int) == [str(i) for i in range(1, 22)]  # no sample answered twice
    a = next((tmp_path / "two").rglob("samples_toy_yesno.jsonl")).read_text()
    b = next((tmp_path / "one").rglob("samples_toy_yesno.jsonl")).read_text()
    assert a == b
