"""The openai adapter against a real `transformers serve` on 127.0.0.1 serving the tiny LLaVA.

`transformers serve` (5.24, 5.25) renders every chat with ``add_generation_prompt=True`` and rejects
``continue_final_message`` (HTTP 422), so there the answer prefix goes at the end of the user
text: for POPE ("... Please answer yes or no. The answer is ASSISTANT:") the server sees another
prompt than hf-vlm ("... ASSISTANT: The answer is"), and its answers equal hf-vlm's for that user
text. MMVP has no prefix and matches hf-vlm sample for sample.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app
from tests.models.openai_servers import FaultProxy, read_samples, shared_model_dir, transformers_serve

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
TASKS = "pope_random,pope_adversarial,mmvp"
SECRET = "sk-test-7f3a9c1e5b"
PROBES = 2  # start-up requests on transformers serve: continue_final_message (422), then a plain one
runner = CliRunner()


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    model_dir = shared_model_dir(tmp_path_factory)
    return transformers_serve(request, model_dir)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("oa_data")
    for name in ("pope", "mmvp"):
        (root / name).symlink_to(FIXTURES / name)
    return root


def _run(data_root: Path, out: Path, model: str, model_args: str, *extra: str):
    res = runner.invoke(app, ["run", "--model", model, "--model-args", model_args, "--tasks", TASKS,
                              "--data-root", str(data_root), "--output-dir", str(out), "--quiet",
                              "--n-boot", "0", *extra])
    return res


def _run_dir(out: Path) -> Path:
    return next(out.rglob("results.json")).parent


@pytest.fixture(scope="module")
def first_run(served, data_root, tmp_path_factory):
    """concurrency=1, the key in an environment variable."""
    out = tmp_path_factory.mktemp("oa_c1")
    saved = os.environ.get("XDG_CACHE_HOME")
    cache_home = tmp_path_factory.mktemp("oa_xdg")
    os.environ.update(DEEM_TEST_KEY=SECRET, XDG_CACHE_HOME=str(cache_home))
    try:
        res = _run(data_root, out, "openai",
                   f"base_url={served.base_url},model={served.model},concurrency=1,api_key_env=DEEM_TEST_KEY")
    finally:
        del os.environ["DEEM_TEST_KEY"]
        os.environ.pop("XDG_CACHE_HOME")
        if saved is not None:
            os.environ["XDG_CACHE_HOME"] = saved
    assert res.exit_code == 0, res.output
    return _run_dir(out), res.output, cache_home


def test_pope_mmvp_run_completes_and_matches_hf_vlm(first_run, served, data_root, tmp_path):
    run_dir = first_run[0]
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["model"] == "openai" and doc["model_label"] == f"openai:{Path(served.model).name}"
    info = doc["model_info"]
    assert info["answer_prefix_placement"] == "user"  # transformers serve cannot continue a message
    assert info["served_model"] == served.model and info["sampling"] == {"temperature": 0, "seed": 0}
    assert set(doc["tasks"]) == set(TASKS.split(","))
    assert doc["tasks"]["pope_adversarial"]["n_errors"] == 1  # the fixture's truncated JPEG, as locally
    ours = read_samples(run_dir)

    res = _run(data_root, tmp_path / "hf", "hf-vlm", f"pretrained={served.model}", "--scoring", "generate")
    assert res.exit_code == 0, res.output
    local = read_samples(_run_dir(tmp_path / "hf"))
    assert [r["prediction"] for r in ours["samples_mmvp.jsonl"]] == [
        r["prediction"] for r in local["samples_mmvp.jsonl"]
    ]
    assert len({r["prediction"] for r in ours["samples_mmvp.jsonl"]}) > 1

    # POPE: same answers as hf-vlm given the prompt the server rendered (prefix in the user turn).
    from deem_eval.models.hf_vlm import HFVLMAdapter
    from deem_eval.registry import TASKS as REG
    from deem_eval.samples import Request

    adapter = HFVLMAdapter(pretrained=served.model)
    for task_name in ("pope_random", "pope_adversarial"):
        task = REG.get(task_name)(data_root)
        rows = {r["id"]: r for r in ours[f"samples_{task_name}.jsonl"]}
        for sample in task.samples():
            row = rows[sample.id]
            if row["error"]:
                assert "cannot decode image" in row["error"]
                continue
            req = Request(sample.id, f"{task.prompt(sample)} {task.answer_prefix}", image=sample.image.load(),
                          max_new_tokens=task.max_new_tokens)
            assert row["prediction"] == adapter.generate([req])[0]


def test_concurrency_8_gives_identical_samples_files(first_run, served, data_root, tmp_path):
    run_dir = first_run[0]
    res = _run(data_root, tmp_path, "openai", f"base_url={served.base_url},model={served.model},concurrency=8")
    assert res.exit_code == 0, res.output
    eight = _run_dir(tmp_path)
    names = sorted(p.name for p in run_dir.glob("samples_*.jsonl"))
    assert names == sorted(p.name for p in eight.glob("samples_*.jsonl")) and len(names) == 3
    for name in names:
        assert (eight / name).read_bytes() == (run_dir / name).read_bytes()
    doc = json.loads((eight / "results.json").read_text())
    assert doc["model_info"]["concurrency"] == 8 and doc["batch_size"] >= 8


def test_api_key_stays_out_of_outputs_logs_and_cache(first_run):
    run_dir, output, cache_home = first_run
    assert SECRET not in output
    for path in run_dir.iterdir():
        assert SECRET not in path.read_text()
    doc = json.loads((run_dir / "results.json").read_text())
    assert doc["model_args"]["api_key_env"] == "DEEM_TEST_KEY"
    cache = cache_home / "deem-eval" / "responses.sqlite"
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT key, value FROM responses").fetchall()
    assert rows and not any(SECRET in k or SECRET in v for k, v in rows)


def test_retries_on_injected_503(first_run, served, data_root, tmp_path):
    run_dir = first_run[0]
    proxy = FaultProxy(served.base_url.removesuffix("/v1"), fail_first=3)
    try:
        res = _run(data_root, tmp_path, "openai",
                   f"base_url={proxy.base_url},model={served.model},concurrency=1,backoff=0.05")
        assert res.exit_code == 0, res.output
        assert proxy.failed == 3
        doc = json.loads((_run_dir(tmp_path) / "results.json").read_text())
        assert doc["model_info"]["n_retries"] == 3
        for name in ("samples_pope_random.jsonl", "samples_mmvp.jsonl"):
            assert (_run_dir(tmp_path) / name).read_bytes() == (run_dir / name).read_bytes()

        proxy.fail_first, proxy.failed = 10**6, 0  # the server stays overloaded: give up, exit 2
        res = _run(data_root, tmp_path / "down", "openai",
                   f"base_url={proxy.base_url},model={served.model},max_retries=2,backoff=0.01")
        assert res.exit_code == 2 and proxy.failed == 3
        assert "gave up after 3 attempts" in res.output and proxy.base_url in res.output
    finally:
        proxy.close()


def test_a_refused_request_is_that_samples_error(first_run, served, data_root, tmp_path):
    """HTTP 400 on the questions about one object: those samples carry the server's message, the
    others equal the first run's, nothing refused is cached, and a rerun asks again."""
    run_dir = first_run[0]
    first = {x["id"]: x for x in read_samples(run_dir)["samples_pope_random.jsonl"]}
    word = next(x["prompt"].split("Is there a ")[1].split(" ")[0] for x in first.values() if "Is there a " in x["prompt"])
    proxy = FaultProxy(served.base_url.removesuffix("/v1"), refuse_text=f"Is there a {word} ")
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    try:
        for attempt in ("first", "again"):
            out = tmp_path / attempt
            with pytest.MonkeyPatch.context() as mp:
                for k, v in env.items():
                    mp.setenv(k, v)
                res = _run(data_root, out, "openai", f"base_url={proxy.base_url},model={served.model},concurrency=2")
            assert res.exit_code == 0, res.output
            got = read_samples(_run_dir(out))["samples_pope_random.jsonl"]
            hit = [x for x in got if f"Is there a {word} " in x["prompt"]]
            assert hit and all(x["prediction"] is None and "HTTP 400" in x["error"]
                               and "input rejected by the server" in x["error"] for x in hit)
            rest = [x for x in got if x not in hit]
            assert rest and all(x == first[x["id"]] for x in rest)
            doc = json.loads((_run_dir(out) / "results.json").read_text())
            assert doc["tasks"]["pope_random"]["n_errors"] == len(hit)
        assert proxy.refused == 2 * len(hit)  # the rerun asked the refused questions again

    finally:
        proxy.close()


def test_timeouts_are_retried(served, data_root, tmp_path):
    proxy = FaultProxy(served.base_url.removesuffix("/v1"), delay_s=2.0, slow_first=1)
    try:
        res = runner.invoke(app, ["run", "--model", "openai", "--tasks", "mmvp", "--limit", "2", "--data-root",
                                  str(data_root), "--output-dir", str(tmp_path), "--quiet", "--n-boot", "0",
                                  "--model-args", f"base_url={proxy.base_url},model={served.model},timeout=0.5,"
                                  "backoff=0.05"])
        assert res.exit_code == 0, res.output
        assert json.loads((_run_dir(tmp_path) / "results.json").read_text())["model_info"]["n_retries"] == 1
        proxy.slow_first, proxy.slowed = None, 0  # every request too slow: give up, exit 2
        res = runner.invoke(app, ["run", "--model", "openai", "--tasks", "mmvp", "--data-root", str(data_root),
                                  "--output-dir", str(tmp_path / "slow"), "--quiet", "--model-args",
                                  f"base_url={proxy.base_url},model={served.model},timeout=0.3,max_retries=1"])
        assert res.exit_code == 2 and "gave up after 2 attempts (last: timeout)" in res.output
    finally:
        proxy.close()


def test_stopped_server_wrong_path_and_missing_key_exit_2(served, data_root, tmp_path):
    stopped = FaultProxy(served.base_url.removesuffix("/v1"))
    url = stopped.base_url
    stopped.close()
    res = _run(data_root, tmp_path, "openai", f"base_url={url},model=m")
    assert res.exit_code == 2 and url.removesuffix("/v1") in res.output and "connection refused" in res.output
    assert "Traceback" not in res.output

    no_v1 = served.base_url.removesuffix("/v1")
    res = _run(data_root, tmp_path, "openai", f"base_url={no_v1},model={served.model}")
    assert res.exit_code == 2 and "HTTP 404" in res.output and no_v1 in res.output

    unauthorized = FaultProxy(served.base_url.removesuffix("/v1"), fail_first=1, fail_status=401)
    try:
        res = _run(data_root, tmp_path, "openai", f"base_url={unauthorized.base_url},model={served.model}")
    finally:
        unauthorized.close()
    assert res.exit_code == 2 and "refused the API key (HTTP 401" in res.output
    assert unauthorized.base_url in res.output and unauthorized.seen == 1  # never retried

    res = _run(data_root, tmp_path, "openai", f"base_url={served.base_url},model=other-model")
    assert res.exit_code == 2 and "other-model" in res.output

    res = _run(data_root, tmp_path, "openai", f"base_url={served.base_url},model=m,api_key_env=DEEM_UNSET_VAR")
    assert res.exit_code == 2 and "DEEM_UNSET_VAR is not set" in res.output


def test_logits_without_server_logprobs(served, data_root, tmp_path, caplog):
    args = f"base_url={served.base_url},model={served.model}"
    res = _run(data_root, tmp_path, "openai", args + ",logprobs=on", "--scoring", "logits", "--limit", "2")
    assert res.exit_code == 2 and "logprobs" in res.output and served.base_url in res.output

    with caplog.at_level("WARNING", logger="deem_eval.openai"):
        res = _run(data_root, tmp_path / "auto", "openai", args, "--scoring", "logits", "--limit", "2")
    assert res.exit_code == 0, res.output
    warnings = [r for r in caplog.records if "falls back to generation" in r.getMessage()]
    assert len(warnings) == 1
    doc = json.loads((_run_dir(tmp_path / "auto") / "results.json").read_text())
    assert doc["scoring"] == "generate" and doc["scoring_requested"] == "logits"
    assert doc["model_info"]["logprobs"] == "unavailable"


def test_kill_and_resume(first_run, served, data_root, tmp_path):
    """A run killed after its first task resumes from the cache and ends with the same samples."""
    run_dir = first_run[0]
    proxy = FaultProxy(served.base_url.removesuffix("/v1"), delay_s=0.4)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "deem_eval", "run", "--model", "openai", "--model-args",
           f"base_url={proxy.base_url},model={served.model},concurrency=1", "--tasks", TASKS,
           "--data-root", str(data_root), "--quiet", "--n-boot", "0"]
    try:
        proc = subprocess.Popen([*cmd, "--output-dir", str(tmp_path / "killed")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 90
        while proxy.seen < PROBES + 6 + 2 and time.time() < deadline:  # pope_random, 2 of the next task
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proxy.seen < PROBES + 6 + 2 + 6, "the run must be killed mid-way"
        assert not list((tmp_path / "killed").rglob("results.json"))

        proxy.delay_s, before = 0.0, proxy.seen
        res = runner.invoke(app, [*cmd[3:], "--output-dir", str(tmp_path / "resumed")])  # same cache, in-process
        assert res.exit_code == 0, res.output
        resumed = _run_dir(tmp_path / "resumed")
        doc = json.loads((resumed / "results.json").read_text())
        n_cached = sum(t["n_cached"] for t in doc["tasks"].values())
        n_computed = sum(t["n_computed"] for t in doc["tasks"].values())
        assert doc["tasks"]["pope_random"]["n_cached"] == 6 and n_computed <= 8
        assert n_cached + n_computed + sum(t["n_errors"] for t in doc["tasks"].values()) >= 15
        assert proxy.seen - before == PROBES + n_computed  # cached samples were not asked again
        for name in ("samples_pope_random.jsonl", "samples_pope_adversarial.jsonl", "samples_mmvp.jsonl"):
            assert (resumed / name).read_bytes() == (run_dir / name).read_bytes()
    finally:
        proxy.close()
