"""``openai`` (alias ``openai-compatible``): a model behind an OpenAI-compatible chat API.

``--model-args base_url=http://HOST:PORT/v1,model=NAME[,api_key_env=VAR][,concurrency=16]
[,timeout=60][,max_retries=5][,logprobs=auto|on|off][,top_logprobs=20][,prefix=auto|assistant|user]
[,seed=0][,backoff=0.5]``

The task's prompt becomes one user message whose content parts keep the order the prompt puts
``<image>`` in (text, ``image_url``, text); the image travels as a lossless PNG ``data:`` URL, so
the server sees the same pixels a local model would. Decoding is greedy (temperature 0) with a
fixed seed sent. The answer prefix ("The answer is") starts the assistant turn where the server
can continue a final assistant message (vLLM and SGLang: ``continue_final_message``); elsewhere it
is appended to the user text. ``prefix=auto`` asks the server once at start-up which it does, and
results.json records the outcome under ``model_info``.

``--scoring logits`` reads the next-token ``top_logprobs`` after the prompt and answer prefix (one
request per question, ``max_tokens=1``); an option scores the log-sum-exp of the top tokens that
spell its start. ``logprobs=auto`` falls back to generation with one warning when the server does
not return logprobs; ``logprobs=on`` then stops with exit 2.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from ..errors import SampleError, UserError
from ..registry import register_model
from ..samples import IMAGE_TOKEN, Request
from .base import ModelAdapter
from .openai_client import ChatClient, Refused

log = logging.getLogger("deem_eval.openai")

ADAPTER_VERSION = "1"  # bump when request building changes what a server is asked
_KNOWN_ARGS = (
    "base_url", "model", "api_key_env", "concurrency", "timeout", "max_retries", "logprobs",
    "top_logprobs", "prefix", "seed", "backoff",
)
_CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}


def _int(args: dict[str, str], key: str, default: int, low: int) -> int:
    raw = args.get(key, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"--model-args {key}={raw!r}: expected an integer") from None
    if value < low:
        raise UserError(f"--model-args {key}={value}: must be at least {low}")
    return value


def _float(args: dict[str, str], key: str, default: float) -> float:
    raw = args.get(key, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise UserError(f"--model-args {key}={raw!r}: expected a number") from None
    if value <= 0:
        raise UserError(f"--model-args {key}={value}: must be positive")
    return value


def _choice(args: dict[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = args.get(key, default).strip().lower()
    if value not in allowed:
        raise UserError(f"--model-args {key}={value!r}: expected one of {', '.join(allowed)}")
    return value


def read_api_key(env_var: str | None) -> str:
    """The key from the named variable (never from the command line, so it stays out of files)."""
    if env_var:
        key = os.environ.get(env_var)
        if not key:
            raise UserError(f"api_key_env={env_var}: the environment variable {env_var} is not set")
        return key
    return os.environ.get("OPENAI_API_KEY") or "EMPTY"  # local servers accept any key


def client_from_args(args: dict[str, str], who: str) -> ChatClient:
    """A ChatClient from ``base_url, model, api_key_env, concurrency, timeout, max_retries, backoff``."""
    base_url = args.get("base_url", "").strip()
    model = args.get("model", "").strip()
    if not base_url or not model:
        raise UserError(f"{who} needs base_url=http://HOST:PORT/v1,model=NAME (the served model name)")
    if not base_url.startswith(("http://", "https://")):
        raise UserError(f"{who}: base_url={base_url!r} must start with http:// or https://")
    return ChatClient(
        base_url,
        model,
        read_api_key(args.get("api_key_env", "").strip() or None),
        timeout=_float(args, "timeout", 60.0),
        max_retries=_int(args, "max_retries", 5, 0),
        concurrency=_int(args, "concurrency", 16, 1),
        backoff=_float(args, "backoff", 0.5),
    )


def image_data_url(image: Any) -> str:
    """A PIL image as a base64 PNG data: URL (lossless: the server decodes the same pixels)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def user_content(req: Request) -> list[dict[str, Any]]:
    """Content parts in the prompt's order; an image without a ``<image>`` mark goes first."""
    pieces = req.prompt.split(IMAGE_TOKEN)
    marks = len(pieces) - 1
    if marks > 1:
        raise UserError(f"sample {req.sample_id}: prompt has {marks} {IMAGE_TOKEN} marks for one image")
    if marks and req.image is None:
        raise UserError(f"sample {req.sample_id}: prompt has {IMAGE_TOKEN} but the request has no image")
    parts: list[dict[str, Any]] = []
    image_part = None
    if req.image is not None:
        image_part = {"type": "image_url", "image_url": {"url": image_data_url(req.image)}}
        if not marks:
            parts.append(image_part)
    for i, piece in enumerate(pieces):
        if i:
            parts.append(image_part)
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _joined(text: str, prefix: str) -> str:
    return text + ("" if text[-1:].isspace() or prefix[:1].isspace() else " ") + prefix


def build_messages(req: Request, prefix: str, placement: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Messages for one request and the extra body fields that continuing the prefix needs."""
    parts = user_content(req)
    if not prefix:
        return [{"role": "user", "content": parts}], {}
    if placement == "assistant":
        return [{"role": "user", "content": parts}, {"role": "assistant", "content": prefix}], dict(_CONTINUE)
    if parts and parts[-1]["type"] == "text":
        parts[-1] = {"type": "text", "text": _joined(parts[-1]["text"], prefix)}
    else:
        parts.append({"type": "text", "text": prefix})
    return [{"role": "user", "content": parts}], {}


@register_model("openai-compatible")
@register_model("openai")
class OpenAIAdapter(ModelAdapter):
    """A model served behind an OpenAI-compatible chat API (vLLM, SGLang, transformers serve ...)."""

    prefix_sharing = "server-side"  # vLLM and SGLang cache prefixes themselves
    name = "openai"

    def __init__(self, **model_args: str):
        super().__init__(**model_args)
        unknown = sorted(set(model_args) - set(_KNOWN_ARGS))
        if unknown:
            raise UserError(f"openai: unknown --model-args {', '.join(unknown)}; known: {', '.join(_KNOWN_ARGS)}")
        self.logprobs_mode = _choice(model_args, "logprobs", "auto", ("auto", "on", "off"))
        self.prefix_mode = _choice(model_args, "prefix", "auto", ("auto", "assistant", "user"))
        self.top_logprobs = _int(model_args, "top_logprobs", 20, 2)
        self.seed = _int(model_args, "seed", 0, 0)
        self.client = client_from_args(model_args, "--model openai")
        self.min_batch_size = self.client.concurrency  # keep `concurrency` requests in flight
        self.placement = self.prefix_mode if self.prefix_mode != "auto" else self._probe_continuation()
        self._logprobs: bool | None = None if self.logprobs_mode != "off" else False
        self._logprobs_refusal = "logprobs=off"
        self._n_outside_top = 0

    # ---- capability probes (one tiny request each, at start-up) ---------------------------
    def _probe_continuation(self) -> str:
        """'assistant' when the server continues a final assistant message, else 'user'.

        This request also checks the URL, the model name and the key before any task starts."""
        body = {
            "messages": [{"role": "user", "content": "Say yes."}, {"role": "assistant", "content": "Yes"}],
            "max_tokens": 1, "temperature": 0, "seed": self.seed, **_CONTINUE,
        }
        try:
            self.client.create(body)
        except Refused as exc:
            log.info("%s does not continue assistant messages (%s); the answer prefix goes in the user turn",
                     self.client.base_url, exc)
            try:
                self.client.create({"messages": [{"role": "user", "content": "Say yes."}], "max_tokens": 1,
                                    "temperature": 0, "seed": self.seed})
            except Refused as plain:
                raise UserError(f"{self.client.url}: the server refused a plain chat request for model "
                                f"{self.client.model!r} ({plain})") from None
            return "user"
        return "assistant"

    def _probe_logprobs(self) -> bool:
        body = {"messages": [{"role": "user", "content": "Say yes."}], "max_tokens": 1, "temperature": 0,
                "seed": self.seed, "logprobs": True, "top_logprobs": self.top_logprobs}
        try:
            resp = self.client.create(body)
        except Refused as exc:
            self._logprobs_refusal = f"the server refused logprobs ({exc})"
            return False
        content = ((resp.get("choices") or [{}])[0].get("logprobs") or {}).get("content")
        if not content or not content[0].get("top_logprobs"):
            self._logprobs_refusal = "the server ignored logprobs/top_logprobs (no logprobs in its answer)"
            return False
        return True

    def resolve_scoring(self, scoring: str) -> str:
        """'logits' only when the server returns logprobs; otherwise 'generate' or exit 2 (logprobs=on)."""
        if scoring != "logits":
            return scoring
        if self.logprobs_mode == "off":
            raise UserError("--scoring logits needs logprobs; this run has --model-args logprobs=off")
        if self._logprobs is None:
            self._logprobs = self._probe_logprobs()
        if self._logprobs:
            return "logits"
        why = self._logprobs_refusal
        if self.logprobs_mode == "on":
            raise UserError(f"{self.client.url}: --scoring logits with logprobs=on, but {why}")
        log.warning("%s: %s; --scoring logits falls back to generation (logprobs=auto)", self.client.url, why)
        return "generate"

    # ---- identity ------------------------------------------------------------------------
    def _sampling(self) -> dict[str, Any]:
        return {"temperature": 0, "seed": self.seed}

    def fingerprint(self) -> str:
        """Server URL, served model name, every sampling parameter and how the prefix is sent."""
        blob = json.dumps(
            {
                "adapter": ADAPTER_VERSION,
                "base_url": self.client.base_url,
                "model": self.client.model,
                "sampling": self._sampling(),
                "prefix_placement": self.placement,
                "top_logprobs": self.top_logprobs,
                "image": "png",
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def label(self) -> str:
        return f"{self.name}:{PurePath(self.client.model.rstrip('/')).name}"

    def versions(self) -> dict[str, str]:
        import openai

        return {"openai": openai.__version__}

    def model_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "base_url": self.client.base_url,
            "served_model": self.client.model,
            "answer_prefix_placement": self.placement,
            "logprobs": {True: "used", False: "unavailable", None: "not needed"}[self._logprobs],
            "sampling": self._sampling(),
            "concurrency": self.client.concurrency,
            "n_requests": self.client.n_requests,
            "n_retries": self.client.n_retries,
        }
        if self._logprobs:
            info["top_logprobs"] = self.top_logprobs
            info["n_options_outside_top_logprobs"] = self._n_outside_top
        return info

    # ---- abilities -----------------------------------------------------------------------
    def _body(self, req: Request, prefix: str, max_tokens: int) -> dict[str, Any]:
        messages, extra = build_messages(req, prefix, self.placement)
        return {"messages": messages, "max_tokens": max_tokens, **self._sampling(), **extra}

    def generate(self, requests: Sequence[Request]) -> list[str]:
        """Greedy text; the server returns only the new tokens, stripped here like local adapters."""
        bodies = [self._body(r, r.answer_prefix, r.max_new_tokens) for r in requests]
        return [_refusal(resp) or _content(resp).strip() for resp in self._map(bodies)]

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        """Log-probability of each option's first token from the server's top_logprobs."""
        if not self._logprobs:
            raise UserError(f"{self.client.url}: --scoring logits needs a server that returns logprobs")
        bodies, stems = [], []
        for r in requests:
            if not r.options:
                raise UserError(f"sample {r.sample_id}: no options to score")
            shared = shared_start(r.options)
            prefix = _joined(r.answer_prefix, shared) if r.answer_prefix and shared else r.answer_prefix or shared
            stems.append([o[len(shared) :] for o in r.options])
            body = self._body(r, prefix, 1)
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
            bodies.append(body)
        return [_refusal(resp) or self._option_scores(resp, s)
                for resp, s in zip(self._map(bodies), stems, strict=True)]

    def _map(self, bodies: list[dict[str, Any]]) -> list[Any]:
        """The responses, with a refused request's :class:`Refused` in its place."""
        got = self.client.map(bodies, keep_refused=True)
        refused = [r for r in got if isinstance(r, Refused)]
        if refused:
            log.warning("%s refused %d of %d requests (%s); those samples are errors", self.client.url,
                        len(refused), len(got), refused[0])
        return got

    def _option_scores(self, resp: dict[str, Any], stems: list[str]) -> list[float]:
        content = ((resp.get("choices") or [{}])[0].get("logprobs") or {}).get("content") or []
        top = content[0].get("top_logprobs") if content else None
        if not top:
            raise UserError(f"{self.client.url}: the server stopped returning logprobs mid-run")
        matched: list[list[float]] = [[] for _ in stems]
        for entry in top:
            tok = (entry.get("token") or "").strip().lower()
            if not tok:
                continue
            hits = [i for i, s in enumerate(stems) if s.strip().lower().startswith(tok)]
            if len(hits) == 1:  # a token that starts several options tells them apart by nothing
                matched[hits[0]].append(float(entry["logprob"]))
        floor = min(float(e["logprob"]) for e in top) - 1.0
        if any(not m for m in matched):
            self._n_outside_top += 1
        return [_logsumexp(m) if m else floor for m in matched]


def shared_start(options: Sequence[str]) -> str:
    """The start all options share, cut back to a word boundary: '(' for '(a)'/'(b)', '' for yes/no.

    It joins the answer prefix, so the one scored token is the one that tells the options apart."""
    if len(options) < 2:
        return ""
    n = len(os.path.commonprefix([o.lower() for o in options]))
    word_goes_on = not all(len(o) > n and not o[n].isalnum() for o in options)
    if n and options[0][n - 1].isalnum() and word_goes_on:
        while n and options[0][n - 1].isalnum():  # never split a word ("ye" of yes/yellow)
            n -= 1
    shared = options[0][:n]
    return shared if shared.strip() else ""


def _refusal(resp: Any) -> SampleError | None:
    """The sample error for a request the server refused (it stays out of the response cache)."""
    if isinstance(resp, Refused):
        return SampleError(f"the server refused this request ({resp})")
    return None


def _content(resp: dict[str, Any]) -> str:
    choices = resp.get("choices") or []
    if not choices:
        raise UserError(f"the server answered without choices: {json.dumps(resp)[:300]}")
    return (choices[0].get("message") or {}).get("content") or ""


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))
