"""An HTTP client for OpenAI-compatible chat servers (vLLM, SGLang, LMDeploy, TGI, transformers serve).

It owns the retry policy, so the model adapter and the judges behave the same way:

- 429, 5xx, timeouts and dropped connections are retried with exponential backoff (a server's
  ``Retry-After`` is honoured), up to ``max_retries`` times, then the run stops with exit 2;
- 401/403 (bad or missing API key), 404 (wrong ``base_url`` or model name) and a refused
  connection (no server there) stop the run at once with exit 2, naming the URL;
- 400/422 are returned to the caller as :class:`Refused`, so it can tell "the server does not
  accept this request field" (capability probes) from a server that is down.

Requests run in a bounded thread pool (``concurrency``); results keep the order of the inputs, so
they never depend on which request finished first. The API key lives only in the client object.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import UserError

log = logging.getLogger("deem_eval.openai")

RETRY_STATUS = frozenset({408, 409, 429})  # plus every 5xx
REFUSED_STATUS = frozenset({400, 413, 415, 422})


class Refused(Exception):
    """The server answered 400/413/415/422: it will not accept this request as sent."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or inner)
        return str(body.get("detail") or inner)
    return str(getattr(exc, "message", exc))[:500]


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    raw = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(raw), 60.0) if raw is not None else None
    except ValueError:
        return None


class ChatClient:
    """Chat completions against one server and one served model name."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout: float = 60.0,
        max_retries: int = 5,
        concurrency: int = 16,
        backoff: float = 0.5,
    ):
        import openai

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff = backoff
        self.url = f"{self.base_url}/chat/completions"
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=0)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai")
        self._lock = threading.Lock()
        self._jitter = random.Random(0)
        self.n_requests = 0
        self.n_retries = 0

    # ---- one request -----------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST one chat completion (``model`` is filled in) and return the response as a dict.

        Raises :class:`Refused` for 400/422, UserError when the server cannot be used."""
        import openai

        fields = {"model": self.model, **body}
        known = {k: fields.pop(k) for k in list(fields) if k in _TYPED_FIELDS}
        attempt = 0
        while True:
            with self._lock:
                self.n_requests += 1
            try:
                resp = self._client.chat.completions.create(**known, extra_body=fields or None)
                return resp.model_dump()
            except openai.APIStatusError as exc:
                status = exc.status_code
                msg = _server_message(exc)
                if status in (401, 403):
                    raise UserError(
                        f"{self.url}: the server refused the API key (HTTP {status}: {msg}); "
                        "pass the variable holding the key with --model-args api_key_env=VAR"
                    ) from None
                if status == 404:
                    raise UserError(
                        f"{self.url}: not found (HTTP 404: {msg}); check that base_url ends with the API root "
                        f"(e.g. http://HOST:PORT/v1) and that the server serves model {self.model!r} "
                        f"(GET {self.base_url}/models lists them)"
                    ) from None
                if status in REFUSED_STATUS:
                    raise Refused(status, msg) from None
                if status not in RETRY_STATUS and status < 500:
                    raise UserError(f"{self.url}: HTTP {status}: {msg}") from None
                wait, why = _retry_after(exc), f"HTTP {status}"
            except openai.APITimeoutError:
                wait, why = None, "timeout"
            except openai.APIConnectionError as exc:
                if _refused_connection(exc):
                    raise UserError(
                        f"cannot connect to {self.base_url} (connection refused): is the server running "
                        "and is base_url right?"
                    ) from None
                wait, why = None, f"connection error ({exc.__cause__ or exc})"
            if attempt >= self.max_retries:
                raise UserError(
                    f"{self.url}: gave up after {attempt + 1} attempts (last: {why}); "
                    "raise --model-args max_retries=N or timeout=S if the server is just slow"
                )
            delay = wait if wait is not None else self.backoff * 2**attempt * (1 + 0.25 * self._jitter.random())
            log.warning("%s: %s, retrying in %.1fs (%d/%d)", self.url, why, delay, attempt + 1, self.max_retries)
            with self._lock:
                self.n_retries += 1
            time.sleep(delay)
            attempt += 1

    # ---- many requests ---------------------------------------------------------------------
    def map(self, bodies: Sequence[dict[str, Any]], keep_refused: bool = False) -> list[Any]:
        """Run requests at most ``concurrency`` at a time; results in input order.

        With ``keep_refused`` a request the server refuses (400/413/415/422) gives its
        :class:`Refused` in place of a response. Any other first error (in input order) is raised
        after the others are cancelled or finished."""
        futures = [self._pool.submit(self.create, b) for b in bodies]
        out: list[Any] = []
        try:
            for f in futures:
                try:
                    out.append(f.result())
                except Refused as exc:
                    if not keep_refused:
                        raise
                    out.append(exc)
            return out
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


def _refused_connection(exc: BaseException) -> bool:
    """True when nothing listens at the address (as opposed to a dropped or reset connection)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError) or type(cur).__name__ == "ConnectError":
            return True
        cur = cur.__cause__ or cur.__context__
    return False


_TYPED_FIELDS = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed",
        "logprobs", "top_logprobs", "stop", "n", "frequency_penalty", "presence_penalty",
    }
)
