"""Throughput of the openai adapter against a local `transformers serve`, per concurrency.

Starts ``transformers serve`` on 127.0.0.1 (a free port) serving a tiny LLaVA built from configs,
or uses a server you already run (``--base-url``/``--served-model``), then evaluates the same
samples at each concurrency with the cache off and prints samples/s and the requests' share of
the wall time. Predictions must not depend on the concurrency; the benchmark checks that too.

    python benchmarks/bench_openai.py                           # POPE of the built-in world, 96 samples
    python benchmarks/bench_openai.py --concurrency 1,4,16 --limit 192
    python benchmarks/bench_openai.py --serve-args=--continuous-batching
    python benchmarks/bench_openai.py --base-url http://127.0.0.1:8000/v1 --served-model NAME
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="pope_random")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=96)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--scoring", default="generate")
    ap.add_argument("--base-url", default=None, help="an already running server (skips starting one)")
    ap.add_argument("--served-model", default=None)
    ap.add_argument("--serve-args", default="", help="extra `transformers serve` flags")
    args = ap.parse_args()

    from deem_eval.data_root import resolve_data_root
    from deem_eval.run import run
    from deem_eval.runner import RunSettings

    tmp = Path(tempfile.mkdtemp(prefix="bench-openai-"))
    server = None
    if args.base_url:
        base_url, model = args.base_url, args.served_model or ""
    else:
        from tests.models.openai_servers import ServeProcess
        from tests.models.tiny_llava import build_tiny_llava

        model_dir = build_tiny_llava(tmp / "tiny-llava")
        t0 = time.perf_counter()
        server = ServeProcess(model_dir, tmp / "serve.log", extra=shlex.split(args.serve_args))
        server.wait()
        print(f"transformers serve {args.serve_args} started in {time.perf_counter() - t0:.1f}s")
        base_url, model = server.base_url, server.model
    try:
        root = resolve_data_root(args.data_root)
        print(f"server={base_url} model={model} tasks={args.tasks} limit={args.limit} scoring={args.scoring}")
        print(f"{'concurrency':>11} {'samples':>7} {'wall s':>7} {'samples/s':>9} {'in requests':>11}")
        reference = None
        for conc in (int(c) for c in args.concurrency.split(",")):
            settings = RunSettings(batch_size=max(8, conc), scoring=args.scoring, limit=args.limit, n_boot=0)
            t0 = time.perf_counter()
            out = run("openai", {"base_url": base_url, "model": model, "concurrency": str(conc)}, args.tasks,
                      root, tmp / "runs", settings, use_cache=False, show_progress=False)
            wall = time.perf_counter() - t0
            tasks = out.doc["tasks"].values()
            n = sum(t["n"] for t in tasks)
            loop = sum(t["timing"]["wall_s"] for t in tasks)
            model_s = sum(t["timing"]["model_s"] for t in tasks)
            preds = [r["prediction"] for res in out.results.values() for r in res.records]
            if reference is None:
                reference = preds
            same = "" if preds == reference else "  PREDICTIONS DIFFER FROM CONCURRENCY 1"
            print(f"{conc:>11} {n:>7} {wall:>7.2f} {n / loop:>9.2f} {100 * model_s / loop:>10.1f}%{same}")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
