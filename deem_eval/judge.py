"""LLM-as-judge for tasks whose official scoring asks a language model (MM-Vet; MMBench's answer
matching when rule extraction fails).

``--judge openai --judge-args base_url=...,model=...[,api_key_env=VAR][,max_tokens=128]`` asks a
model behind an OpenAI-compatible API (the same client, retries and errors as ``--model openai``);
``--judge hf --judge-args pretrained=DIR[,dtype=...][,device=...][,max_tokens=128]`` runs a local
Hugging Face model through the hf-vlm adapter's text generation. Verdicts are greedy (temperature
0) and cached in the response cache under the judge's fingerprint and the prompt, so a re-run or a
re-score never asks twice.

A task opts in with ``judge_mode`` ("optional" or "required") and implements ``judge_prompt`` and
``apply_verdict``; :func:`judge_records` runs between per-sample scoring and aggregation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from .cache import ResponseCache, cache_key
from .errors import UserError

JUDGE_KINDS = ("openai", "hf")
DEFAULT_MAX_TOKENS = 128


class Judge:
    """Turns judge prompts into raw verdict texts (greedy)."""

    name: str = ""
    model: str = ""

    def fingerprint(self) -> str:
        raise NotImplementedError

    def judge(self, prompts: list[str]) -> list[str]:
        raise NotImplementedError


def _max_tokens(args: dict[str, str]) -> int:
    raw = args.pop("max_tokens", str(DEFAULT_MAX_TOKENS))
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"--judge-args max_tokens={raw!r}: expected an integer") from None
    if value < 1:
        raise UserError("--judge-args max_tokens must be at least 1")
    return value


class OpenAIJudge(Judge):
    """A judge model behind an OpenAI-compatible chat API."""

    name = "openai"
    _ARGS = ("base_url", "model", "api_key_env", "concurrency", "timeout", "max_retries", "backoff", "seed")

    def __init__(self, args: dict[str, str]):
        from .models.openai_api import client_from_args

        args = dict(args)
        self.max_tokens = _max_tokens(args)
        unknown = sorted(set(args) - set(self._ARGS))
        if unknown:
            raise UserError(f"--judge openai: unknown --judge-args {', '.join(unknown)}; known: "
                            f"{', '.join((*self._ARGS, 'max_tokens'))}")
        try:
            self.seed = int(args.get("seed", "0"))
        except ValueError:
            raise UserError(f"--judge-args seed={args['seed']!r}: expected an integer") from None
        self.client = client_from_args(args, "--judge openai")
        self.model = self.client.model
        self._check()

    def _check(self) -> None:
        """One tiny request now, so a wrong URL, model or key exits 2 before the run, not after it."""
        from .models.openai_client import Refused

        try:
            self.client.create({"messages": [{"role": "user", "content": "Say yes."}], "max_tokens": 1,
                                "temperature": 0, "seed": self.seed})
        except Refused as exc:
            raise UserError(f"--judge openai: {self.client.url} refused a chat request for model "
                            f"{self.model!r} ({exc})") from None

    def fingerprint(self) -> str:
        blob = {"kind": "openai", "base_url": self.client.base_url, "model": self.model,
                "temperature": 0, "seed": self.seed, "max_tokens": self.max_tokens}
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()

    def judge(self, prompts: list[str]) -> list[str]:
        bodies = [
            {"messages": [{"role": "user", "content": p}], "max_tokens": self.max_tokens,
             "temperature": 0, "seed": self.seed}
            for p in prompts
        ]
        out = []
        for resp in self.client.map(bodies):
            choices = resp.get("choices") or [{}]
            out.append(((choices[0].get("message") or {}).get("content") or "").strip())
        return out


class HFJudge(Judge):
    """A local Hugging Face model folder, through the hf-vlm adapter's text generation."""

    name = "hf"

    def __init__(self, args: dict[str, str], batch_size: int = 8):
        from .models.hf_vlm import HFVLMAdapter

        args = dict(args)
        self.max_tokens = _max_tokens(args)
        if not args.get("pretrained"):
            raise UserError("--judge hf needs --judge-args pretrained=DIR (a Hugging Face model folder)")
        self.adapter = HFVLMAdapter(**args)
        self.model = self.adapter.label().split(":", 1)[-1]
        self.batch_size = batch_size

    def fingerprint(self) -> str:
        blob = {"kind": "hf", "model": self.adapter.fingerprint(), "max_tokens": self.max_tokens}
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()

    def judge(self, prompts: list[str]) -> list[str]:
        from .samples import Request

        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            reqs = [Request(sample_id=f"judge-{start + i}", prompt=p, max_new_tokens=self.max_tokens)
                    for i, p in enumerate(chunk)]
            out.extend(self.adapter.generate(reqs))
        return out


def make_judge(kind: str, args: dict[str, str]) -> Judge:
    """The judge named by ``--judge`` with its ``--judge-args``."""
    if kind == "openai":
        return OpenAIJudge(args)
    if kind == "hf":
        return HFJudge(args)
    raise UserError(f"--judge must be one of {', '.join(JUDGE_KINDS)}, not {kind!r}")


class CachedJudge:
    """A judge whose verdicts go through the response cache (key: judge fingerprint + prompt)."""

    def __init__(self, judge: Judge, cache: ResponseCache):
        self.inner = judge
        self.cache = cache
        self.model = judge.model
        self.n_cached = 0
        self.n_asked = 0
        self._fp = judge.fingerprint()

    def judge(self, prompts: list[str]) -> list[str]:
        keys = [cache_key(judge=self._fp, prompt=p) for p in prompts]
        hits = self.cache.get_many(keys)
        todo = [i for i, k in enumerate(keys) if k not in hits]
        unique: dict[str, int] = {}
        for i in todo:
            unique.setdefault(keys[i], i)
        fresh = self.inner.judge([prompts[i] for i in unique.values()]) if unique else []
        new = {k: {"verdict": v} for k, v in zip(unique, fresh, strict=True)}
        self.cache.put_many(new)
        self.n_asked += len(unique)
        self.n_cached += len(prompts) - len(todo)
        got = {**hits, **new}
        return [got[k]["verdict"] for k in keys]


def check_judge(tasks: Sequence[Any], judge: Judge | CachedJudge | None) -> None:
    """Exit 2 before any model call when a task needs a judge and none is given."""
    if judge is not None:
        return
    needy = [t.name for t in tasks if getattr(t, "judge_mode", "none") == "required"]
    if needy:
        raise UserError(
            f"task(s) {', '.join(needy)} are scored by an LLM judge: pass --judge openai --judge-args "
            "base_url=http://HOST:PORT/v1,model=NAME (or --judge hf --judge-args pretrained=DIR)"
        )


def judge_records(task: Any, records: list[dict[str, Any]]) -> int:
    """Ask the task's judge about every record that needs one; returns how many were judged.

    Each judged record gets ``judge: {model, prompt, verdict}`` and the task's ``apply_verdict``."""
    judge = getattr(task, "judge", None)
    if judge is None or getattr(task, "judge_mode", "none") == "none":
        return 0
    asks = [(rec, p) for rec in records if (p := task.judge_prompt(rec)) is not None]
    if not asks:
        return 0
    verdicts = judge.judge([p for _, p in asks])
    for (rec, prompt), verdict in zip(asks, verdicts, strict=True):
        task.apply_verdict(rec, verdict)
        rec["judge"] = {"model": judge.model, "prompt": prompt, "verdict": verdict}
    return len(asks)
