"""The openai adapter's logprobs and continuation paths, and its request building.

No server installed here returns logprobs (`transformers serve` (5.24, 5.25) ignores ``logprobs`` and
``top_logprobs``), so the logprobs path runs against :class:`LogprobServer`, a small
OpenAI-compatible test server that answers with the hf-vlm adapter and continues a final
assistant message as vLLM does (``continue_final_message``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deem_eval.cli import app
from deem_eval.errors import UserError
from deem_eval.models.openai_api import OpenAIAdapter, build_messages, shared_start
from deem_eval.samples import Request
from tests.models.openai_servers import LogprobServer, read_samples, shared_model_dir

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
POPE = "pope_random,pope_adversarial"
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LogprobServer(shared_model_dir(tmp_path_factory))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lp_data")
    for name in ("pope", "mmvp"):
        (root / name).symlink_to(FIXTURES / name)
    return root


def _run(data_root: Path, out: Path, tasks: str, model: str, model_args: str, *extra: str) -> Path:
    res = runner.invoke(app, ["run", "--model", model, "--model-args", model_args, "--tasks", tasks,
                              "--data-root", str(data_root), "--output-dir", str(out), "--quiet",
                              "--n-boot", "0", *extra])
    assert res.exit_code == 0, res.output
    return next(out.rglob("results.json")).parent


def _predictions(run_dir: Path) -> dict[str, list]:
    return {name: [(r["id"], r["prediction"], r["error"] is None) for r in rows]
            for name, rows in read_samples(run_dir).items()}


def test_logits_scoring_from_top_logprobs_equals_hf_vlm_logits(server, data_root, tmp_path):
    args = f"base_url={server.base_url},model={server.model},top_logprobs=200,logprobs=on"
    ours = _run(data_root, tmp_path / "oa", POPE, "openai", args, "--scoring", "logits")
    doc = json.loads((ours / "results.json").read_text())
    assert doc["scoring"] == "logits" and "scoring_requested" not in doc
    info = doc["model_info"]
    assert info["logprobs"] == "used" and info["answer_prefix_placement"] == "assistant"
    assert info["n_options_outside_top_logprobs"] == 0
    asked = [b for b in server.requests if b.get("logprobs") and b["messages"][-1]["role"] == "assistant"]
    assert asked and all(b["max_tokens"] == 1 and b["messages"][-1]["content"] == "The answer is" for b in asked)

    local = _run(data_root, tmp_path / "hf", POPE, "hf-vlm", f"pretrained={server.model}", "--scoring", "logits")
    assert _predictions(ours) == _predictions(local)
    # One-token options: the server's top logprob of "yes"/"no" is hf-vlm's option score.
    for name, rows in read_samples(ours).items():
        for mine, theirs in zip(rows, read_samples(local)[name], strict=True):
            if mine["error"] is None:
                assert mine["option_scores"].keys() == {"yes", "no"}
                for opt, value in mine["option_scores"].items():
                    assert value == pytest.approx(theirs["option_scores"][opt], abs=1e-4)


def test_continued_prefix_generation_equals_hf_vlm(server, data_root, tmp_path):
    """With the prefix continued in the assistant turn the server sees hf-vlm's exact prompt."""
    tasks = f"{POPE},mmvp"
    ours = _run(data_root, tmp_path / "oa", tasks, "openai", f"base_url={server.base_url},model={server.model}")
    local = _run(data_root, tmp_path / "hf", tasks, "hf-vlm", f"pretrained={server.model}")
    assert _predictions(ours) == _predictions(local)
    doc = json.loads((ours / "results.json").read_text())
    assert doc["model_info"]["answer_prefix_placement"] == "assistant"


def test_mmvp_logits_score_the_letter_after_the_shared_parenthesis(server, data_root, tmp_path):
    """Options '(a)'/'(b)' share '(': it joins the assistant prefix and the letters are scored."""
    n = len(server.requests)
    run = _run(data_root, tmp_path, "mmvp", "openai",
               f"base_url={server.base_url},model={server.model},top_logprobs=200", "--scoring", "logits")
    rows = read_samples(run)["samples_mmvp.jsonl"]
    assert all(r["prediction"] in ("(a)", "(b)") for r in rows)
    asked = [b for b in server.requests[n:] if b.get("logprobs") and b["messages"][-1]["role"] == "assistant"]
    assert len(asked) == 6 and all(b["messages"][-1] == {"role": "assistant", "content": "("} for b in asked)


def test_messages_keep_image_position_and_prefix_placement():
    from PIL import Image

    img = Image.new("RGB", (4, 4), (255, 0, 0))
    req = Request("1", "Look: <image>Is it red?", image=img, answer_prefix="The answer is")
    msgs, extra = build_messages(req, req.answer_prefix, "user")
    parts = msgs[0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "text"] and extra == {}
    assert parts[0]["text"] == "Look: " and parts[2]["text"] == "Is it red? The answer is"
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    msgs, extra = build_messages(req, req.answer_prefix, "assistant")
    assert msgs[1] == {"role": "assistant", "content": "The answer is"}
    assert extra == {"continue_final_message": True, "add_generation_prompt": False}
    assert msgs[0]["content"][2]["text"] == "Is it red?"
    no_mark, _ = build_messages(Request("2", "Is it red?", image=img), "", "user")
    assert [p["type"] for p in no_mark[0]["content"]] == ["image_url", "text"]  # image first, like LLaVA
    with pytest.raises(UserError, match="2 <image> marks"):
        build_messages(Request("3", "<image><image>", image=img), "", "user")


def test_shared_start_of_options_stops_at_a_word_boundary():
    assert shared_start(["(a)", "(b)"]) == "("
    assert shared_start(["(a) red car", "(b) red bus"]) == "("
    assert shared_start(["red car", "Red bus"]) == "red "
    assert shared_start(["yes", "yellow"]) == shared_start(["cat", "cats"]) == ""
    assert shared_start(["red car.", "red car!"]) == "red car"
    assert shared_start(["yes", "no"]) == shared_start(["only"]) == ""


def test_fingerprint_covers_server_model_and_sampling(monkeypatch):
    """Explicit prefix placement needs no start-up request, so no server is involved here."""
    def fp(**kw: str) -> str:
        args = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "prefix": "user", **kw}
        return OpenAIAdapter(**args).fingerprint()

    base = fp()
    assert fp() == base
    assert fp(base_url="http://127.0.0.1:10/v1") != base
    assert fp(model="m2") != base
    assert fp(seed="1") != base
    assert fp(prefix="assistant") != base
    assert fp(top_logprobs="5") != base
    assert fp(concurrency="3", timeout="5", max_retries="1") == base  # transport only
    monkeypatch.setenv("DEEM_K", "secret-value")
    adapter = OpenAIAdapter(base_url="http://127.0.0.1:9/v1", model="m", prefix="user", api_key_env="DEEM_K")
    assert adapter.fingerprint() == base and "secret-value" not in json.dumps(adapter.model_info())
    for bad, msg in (({"concurrency": "0"}, "at least 1"), ({"logprobs": "maybe"}, "auto, on, off"),
                     ({"colour": "red"}, "unknown --model-args colour"), ({"base_url": "localhost:8000"}, "http://")):
        with pytest.raises(UserError, match=msg):
            fp(**bad)
    with pytest.raises(UserError, match="base_url=http"):
        OpenAIAdapter(model="m")


def test_option_scores_sum_the_spellings_of_an_option():
    adapter = OpenAIAdapter(base_url="http://127.0.0.1:9/v1", model="m", prefix="user")
    top = [{"token": " Yes", "logprob": -0.5}, {"token": "yes", "logprob": -2.0},
           {"token": " No", "logprob": -1.5}, {"token": "maybe", "logprob": -3.0}]
    resp = {"choices": [{"logprobs": {"content": [{"token": " Yes", "logprob": -0.5, "top_logprobs": top}]}}]}
    yes, no = adapter._option_scores(resp, ["yes", "no"])
    # log(e^-0.5 + e^-2.0) = log(0.606531 + 0.135335) = log(0.741866) = -0.298587
    assert yes == pytest.approx(-0.298587, abs=1e-6) and no == pytest.approx(-1.5)
    assert adapter._n_outside_top == 0
    # An option not among the top tokens gets one below the lowest shown (-3.0 - 1) and is counted.
    assert adapter._option_scores(resp, ["yes", "perhaps"]) == [pytest.approx(-0.298587, abs=1e-6), -4.0]
    assert adapter._n_outside_top == 1
