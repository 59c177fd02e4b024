"""Real servers for the openai adapter tests: `transformers serve`, a fault-injecting proxy, and a
small logprobs server.

- :func:`transformers_serve` starts transformers' own OpenAI-compatible server (the ``transformers
  serve`` command's ``Serve``, uvicorn on a free 127.0.0.1 port) in a thread, once per test
  session, and stops it when the session ends; :class:`ServeProcess` runs the ``transformers
  serve DIR`` command itself as a subprocess (the benchmark uses it).
- :class:`FaultProxy` forwards to a server and answers the first N chat requests with 503 (or
  sleeps per request), counting what it saw; tests use it for retries and for killing a run
  mid-way.
- :class:`LogprobServer` exists only because `transformers serve` (5.24, 5.25) ignores ``logprobs`` and
  ``top_logprobs`` (they are in its ``UNUSED_CHAT_COMPLETION_FIELDS``) and cannot continue a final
  assistant message (it always renders with ``add_generation_prompt=True``): it answers chat
  completions with the hf-vlm adapter, returns the next token's ``top_logprobs`` (read from
  ``score_options`` over the whole vocabulary) and honours ``continue_final_message`` like vLLM.
"""

from __future__ import annotations

import atexit
import base64
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


class ServeProcess:
    def __init__(self, model_dir: Path, log: Path, extra: list[str] | None = None):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = str(model_dir)
        exe = Path(sys.executable).with_name("transformers")
        cmd = [str(exe) if exe.exists() else shutil.which("transformers") or "transformers", "serve", str(model_dir),
               "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--dtype", "float32", *(extra or [])]
        env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.log = log
        self.proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def wait(self) -> None:
        deadline = time.time() + STARTUP_TIMEOUT_S
        while time.time() < deadline:
            if self.proc.poll() is not None:
                text = self.log.read_text()
                self.stop()
                if "Missing dependencies for serving" in text or "No module named" in text:
                    pytest.skip(f"transformers serve cannot start, a dependency is missing: {text[-300:]}")
                raise RuntimeError(f"transformers serve exited with {self.proc.returncode}:\n{text[-2000:]}")
            if _healthy(f"http://127.0.0.1:{self.port}/health"):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer /health within {STARTUP_TIMEOUT_S}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class InProcessServe:
    """`transformers serve` (its own ``Serve`` command, uvicorn on a real port) in a thread of this
    process: the same server as the CLI without paying a second torch + transformers import.

    transformers 5.24's ``Serve`` takes ``non_blocking=True`` and has ``kill_server``; from 5.25 its
    constructor serves until the uvicorn server is told to exit, so it runs in a thread of ours and
    the server it builds is caught (a subclass of ``uvicorn.Server`` that records itself, in place
    while that thread starts) to stop it."""

    def __init__(self, model_dir: Path):
        import inspect

        from transformers.utils.import_utils import is_serve_available

        if not is_serve_available():
            pytest.skip("transformers serve cannot start: fastapi, uvicorn, pydantic or openai is missing")
        from transformers.cli.serve import Serve

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = str(model_dir)
        args = dict(force_model=self.model, host="127.0.0.1", port=self.port, device="cpu", dtype="float32",
                    log_level="error")
        self._server: Any = None
        self._error: list[BaseException] = []
        if "non_blocking" in inspect.signature(Serve.__init__).parameters:
            self._serve = Serve(**args, non_blocking=True)
            self._thread = self._serve._thread
            return
        import uvicorn

        original, caught = uvicorn.Server, self

        class Caught(original):  # type: ignore[misc, valid-type]
            def __init__(self, config: Any):
                super().__init__(config)
                if threading.current_thread() is caught._thread:
                    caught._server = self

        def serve() -> None:
            try:
                Serve(**args)
            except BaseException as exc:  # shown by wait()
                self._error.append(exc)

        self._restore = lambda: setattr(uvicorn, "Server", original)
        uvicorn.Server = Caught
        self._thread = threading.Thread(target=serve, name="transformers-serve", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        deadline = time.time() + STARTUP_TIMEOUT_S
        try:
            while time.time() < deadline:
                if _healthy(f"http://127.0.0.1:{self.port}/health"):
                    return
                if not self._thread.is_alive():
                    raise RuntimeError(f"transformers serve stopped during start-up: {self._error!r}")
                time.sleep(0.05)
            self.stop()
            raise RuntimeError(f"transformers serve did not answer /health within {STARTUP_TIMEOUT_S}s")
        finally:
            if hasattr(self, "_restore"):
                self._restore()

    def stop(self) -> None:
        if hasattr(self, "_serve"):
            self._serve.kill_server()
            return
        if self._server is not None:
            # 5.25 starts uvicorn at log level info; its shutdown lines would end every test session
            logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
            self._server.should_exit = True
        self._thread.join(30)


_SHARED: dict[str, InProcessServe] = {}
_MODEL_DIR: list[Path] = []


def shared_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny LLaVA folder every openai test serves (one per session, so one server start)."""
    if not _MODEL_DIR:
        from tests.models.tiny_llava import build_tiny_llava

        _MODEL_DIR.append(build_tiny_llava(tmp_path_factory.mktemp("served_llava"), seed=0))
    return _MODEL_DIR[0]


def transformers_serve(request: pytest.FixtureRequest, model_dir: Path) -> InProcessServe:
    """One `transformers serve` per session and model folder, stopped when the session ends."""
    key = str(model_dir)
    if key not in _SHARED:
        server = InProcessServe(model_dir)
        request.config.add_cleanup(server.stop)
        atexit.register(server.stop)
        server.wait()
        _SHARED[key] = server
    return _SHARED[key]


# ---- a proxy that fails or slows chosen requests -------------------------------------------------
class FaultProxy:
    """Forwards HTTP to ``upstream`` (http://HOST:PORT); the first ``fail_first`` chat requests get
    ``fail_status`` (503 by default) instead; ``delay_s`` slows the first ``slow_first`` (or all);
    a chat request whose body contains ``refuse_text`` gets HTTP 400 (a server refusing one input)."""

    def __init__(self, upstream: str, fail_first: int = 0, delay_s: float = 0.0, fail_status: int = 503,
                 slow_first: int | None = None, refuse_text: str | None = None):
        self.upstream = upstream.rstrip("/")
        self.refuse_text = refuse_text
        self.refused = 0
        self.slow_first = slow_first  # only the first N requests are delayed (None: all)
        self.slowed = 0
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.delay_s = delay_s
        self.seen = 0
        self.bodies: list[dict[str, Any]] = []
        self.failed = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.seen += 1
                    proxy.bodies.append(json.loads(body or b"{}"))
                    fail = proxy.failed < proxy.fail_first and self.path.endswith("/chat/completions")
                    if fail:
                        proxy.failed += 1
                    slow = proxy.delay_s and (proxy.slow_first is None or proxy.slowed < proxy.slow_first)
                    if slow:
                        proxy.slowed += 1
                    refuse = (not fail and proxy.refuse_text is not None and self.path.endswith("/chat/completions")
                              and proxy.refuse_text.encode() in body)
                    proxy.refused += int(bool(refuse))
                if refuse:
                    self._send(400, b'{"error": {"message": "input rejected by the server"}}')
                    return
                if fail:
                    self._send(proxy.fail_status, b'{"error": {"message": "injected failure"}}')
                    return
                if slow:
                    time.sleep(proxy.delay_s)
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=120) as resp:
                        self._send(resp.status, resp.read())
                except urllib.error.HTTPError as exc:
                    self._send(exc.code, exc.read())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up, or a stopped upstream: nothing to report

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- a logprobs-capable test server around the hf-vlm adapter ------------------------------------
class LogprobServer:
    """OpenAI-style /v1/chat/completions over one HFVLMAdapter, with top_logprobs and continuation."""

    def __init__(self, model_dir: Path):
        import uvicorn
        from fastapi import FastAPI, HTTPException

        from deem_eval.models.hf_vlm import HFVLMAdapter
        from tests.models.tiny_llava import SPECIAL_TOKENS, vocabulary

        self.adapter = HFVLMAdapter(pretrained=str(model_dir), device="cpu")
        self.words = [w for w in vocabulary() if w not in SPECIAL_TOKENS]
        self.model = str(model_dir)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # one forward at a time, like a single-GPU engine
        app = FastAPI()

        @app.post("/v1/chat/completions")
        def chat(body: dict) -> dict:
            if body.get("model") != self.model:
                raise HTTPException(404, f"model {body.get('model')!r} is not served")
            self.requests.append(body)
            req = self._request(body)
            with self._lock:
                if body.get("logprobs"):
                    return self._logprobs(body, req)
                text = self.adapter.generate([req])[0]
            return _completion(self.model, text)

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started and time.time() < deadline:
            time.sleep(0.05)

    def _request(self, body: dict):
        from PIL import Image

        from deem_eval.samples import IMAGE_TOKEN, Request

        messages = body["messages"]
        prefix = ""
        if body.get("continue_final_message") and messages[-1]["role"] == "assistant":
            prefix = messages[-1]["content"]
            messages = messages[:-1]
        content = messages[-1]["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        text, image = "", None
        for part in parts:
            if part["type"] == "text":
                text += part["text"]
            else:
                raw = part["image_url"]["url"].split(",", 1)[1]
                image = Image.open(io.BytesIO(base64.b64decode(raw))).convert("RGB")
                text += IMAGE_TOKEN
        return Request("q", text, image=image, answer_prefix=prefix, max_new_tokens=int(body.get("max_tokens", 16)),
                       options=self.words)

    def _logprobs(self, body: dict, req) -> dict:
        scores = self.adapter.score_options([req])[0]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[: int(body.get("top_logprobs") or 1)]
        top = [{"token": self.words[i], "logprob": scores[i], "bytes": None} for i in order]
        out = _completion(self.model, self.words[order[0]])
        out["choices"][0]["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        return out

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def _completion(model: str, text: str) -> dict:
    return {
        "id": "cmpl-test", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
    }


def read_samples(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.name: [json.loads(x) for x in p.read_text().splitlines()] for p in sorted(run_dir.glob("samples_*.jsonl"))}
