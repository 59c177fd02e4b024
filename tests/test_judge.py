"""LLM-as-judge: toy tasks scored by a judge, through the real openai judge against `transformers
serve` (and the hf judge on the same model folder), on `deem-eval run` and `deem-eval score`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.plugins.judged as judged
import tests.plugins.toy as toy
from deem_eval.cli import app
from tests.models.openai_servers import FaultProxy, shared_model_dir, transformers_serve

runner = CliRunner()
MAX_TOKENS = 6


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    return transformers_serve(request, shared_model_dir(tmp_path_factory))


@pytest.fixture()
def counted(served):
    """The server behind a proxy that counts the chat requests it forwards."""
    proxy = FaultProxy(served.base_url.removesuffix("/v1"))
    yield proxy
    proxy.close()


@pytest.fixture()
def data(tmp_path):
    return toy.write_toy_data(tmp_path / "data")


def _judge_args(url: str, model: str) -> str:
    return f"base_url={url},model={model},max_tokens={MAX_TOKENS}"


def _asked(proxy: FaultProxy) -> list[str]:
    """The judge prompts the server was asked (the start-up check excluded)."""
    return sorted(b["messages"][0]["content"] for b in proxy.bodies if b["messages"][0]["content"] != "Say yes.")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_required_judge_missing_exits_2_before_any_model_call(data, tmp_path):
    calls = tmp_path / "calls.txt"
    res = runner.invoke(app, ["run", "--model", "toy-model", "--model-args", f"calls_file={calls}",
                              "--tasks", "judged_toy", "--data-root", str(data), "--output-dir", str(tmp_path),
                              "--quiet"])
    assert res.exit_code == 2 and "--judge openai" in res.output and "judged_toy" in res.output
    assert not calls.exists()
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "yes"}\n')
    res = runner.invoke(app, ["score", "--task", "judged_toy", "--predictions", str(preds), "--data-root", str(data)])
    assert res.exit_code == 2 and "--judge" in res.output
    res = runner.invoke(app, ["score", "--task", "toy_yesno", "--predictions", str(preds), "--data-root", str(data),
                              "--judge-args", "model=x"])
    assert res.exit_code == 2 and "without --judge" in res.output


def test_openai_judge_scores_stores_and_caches_verdicts(served, counted, data, tmp_path):
    args = _judge_args(counted.base_url, served.model)
    res = runner.invoke(app, ["run", "--model", "toy-model", "--tasks", "judged_toy", "--data-root", str(data),
                              "--output-dir", str(tmp_path / "run"), "--quiet", "--n-boot", "0",
                              "--judge", "openai", "--judge-args", args])
    assert res.exit_code == 0, res.output
    results = next((tmp_path / "run").rglob("results.json"))
    doc = json.loads(results.read_text())
    assert doc["judge"]["kind"] == "openai" and doc["judge"]["model"] == served.model
    assert doc["tasks"]["judged_toy"]["n_judged"] == 18
    rows = _lines(results.parent / "samples_judged_toy.jsonl")
    prompts = sorted({judged.judge_question(r) for r in rows})
    assert _asked(counted) == prompts and len(prompts) == 2  # the toy says one of two things; asked once each

    # The verdicts are the served model's greedy answers: hf-vlm on the same folder says the same.
    from deem_eval.models.hf_vlm import HFVLMAdapter
    from deem_eval.samples import Request

    local = HFVLMAdapter(pretrained=served.model)
    expected = dict(zip(prompts, local.generate([Request(str(i), p, max_new_tokens=MAX_TOKENS)
                                                 for i, p in enumerate(prompts)]), strict=True))
    for r in rows:
        assert r["judge"] == {"model": served.model, "prompt": judged.judge_question(r),
                              "verdict": expected[r["judge"]["prompt"]]}
        assert r["score"] == float("yes" in r["judge"]["verdict"].lower().split())
    correct = sum(r["score"] for r in rows)
    assert doc["tasks"]["judged_toy"]["metrics"]["accuracy"] == round(100.0 * correct / 18, 4)

    # Re-scoring the samples file with the same judge reads every verdict from the cache.
    out = tmp_path / "rescored.json"
    res = runner.invoke(app, ["score", "--task", "judged_toy", "--predictions", str(results.parent /
                              "samples_judged_toy.jsonl"), "--data-root", str(data), "--output", str(out),
                              "--judge", "openai", "--judge-args", args])
    assert res.exit_code == 0, res.output
    assert _asked(counted) == prompts  # nothing asked again
    assert json.loads(out.read_text())["tasks"]["judged_toy"]["metrics"] == doc["tasks"]["judged_toy"]["metrics"]

    # The hf judge on the same folder gives the same verdicts (greedy on both sides).
    res = runner.invoke(app, ["run", "--model", "toy-model", "--tasks", "judged_toy", "--data-root", str(data),
                              "--output-dir", str(tmp_path / "hf"), "--quiet", "--n-boot", "0",
                              "--judge", "hf", "--judge-args", f"pretrained={served.model},max_tokens={MAX_TOKENS}"])
    assert res.exit_code == 0, res.output
    hf_rows = _lines(next((tmp_path / "hf").rglob("samples_judged_toy.jsonl")))
    assert [r["judge"]["verdict"] for r in hf_rows] == [r["judge"]["verdict"] for r in rows]
    assert [r["score"] for r in hf_rows] == [r["score"] for r in rows]


def test_optional_judge_asks_only_where_the_task_wants(served, counted, data, tmp_path):
    base = ["run", "--model", "toy-model", "--tasks", "judged_toy_optional", "--data-root", str(data), "--quiet",
            "--n-boot", "0"]
    res = runner.invoke(app, [*base, "--output-dir", str(tmp_path / "rules")])
    assert res.exit_code == 0, res.output
    rule_rows = _lines(next((tmp_path / "rules").rglob("samples_judged_toy_optional.jsonl")))
    assert all("judge" not in r for r in rule_rows) and counted.seen == 0  # no judge was even contacted

    res = runner.invoke(app, [*base, "--output-dir", str(tmp_path / "judged"), "--judge", "openai",
                              "--judge-args", _judge_args(counted.base_url, served.model)])
    assert res.exit_code == 0, res.output
    rows = _lines(next((tmp_path / "judged").rglob("samples_judged_toy_optional.jsonl")))
    assert [r["id"] for r in rows if "judge" in r] == [str(i) for i in range(1, 19, 2)]
    for rule, r in zip(rule_rows, rows, strict=True):
        if int(r["id"]) % 2 == 0:
            assert r["score"] == rule["score"]  # rule-based where the task asks no judge


def test_unknown_judge_kind_and_args(data, tmp_path):
    base = ["run", "--model", "toy-model", "--tasks", "judged_toy", "--data-root", str(data), "--quiet",
            "--output-dir", str(tmp_path)]
    res = runner.invoke(app, [*base, "--judge", "gpt"])
    assert res.exit_code == 2 and "--judge must be one of openai, hf" in res.output
    res = runner.invoke(app, [*base, "--judge", "openai", "--judge-args", "model=m"])
    assert res.exit_code == 2 and "base_url" in res.output
    res = runner.invoke(app, [*base, "--judge", "openai", "--judge-args", "base_url=http://x/v1,model=m,temp=1"])
    assert res.exit_code == 2 and "unknown --judge-args temp" in res.output


def test_unreachable_judge_exits_2_before_the_model_runs(served, data, tmp_path):
    calls = tmp_path / "calls.txt"
    stopped = FaultProxy(served.base_url.removesuffix("/v1"))
    stopped.close()
    res = runner.invoke(app, ["run", "--model", "toy-model", "--model-args", f"calls_file={calls}", "--tasks",
                              "judged_toy", "--data-root", str(data), "--quiet", "--output-dir", str(tmp_path),
                              "--judge", "openai", "--judge-args", f"base_url={stopped.base_url},model=m"])
    assert res.exit_code == 2 and "connection refused" in res.output and not calls.exists()
    res = runner.invoke(app, ["run", "--model", "toy-model", "--model-args", f"calls_file={calls}", "--tasks",
                              "judged_toy", "--data-root", str(data), "--quiet", "--output-dir", str(tmp_path),
                              "--judge", "openai", "--judge-args", f"base_url={served.base_url},model=wrong"])
    assert res.exit_code == 2 and "'wrong'" in res.output and not calls.exists()
