"""Throughput of the evaluation engine on a yes/no task.

Prints samples/s and the share of wall time spent outside the model's forward passes
(loading, prompting, caching, scoring), for each batch size and scoring mode asked for.
The cache is off so every sample reaches the model.

    python benchmarks/bench_eval.py                       # bundled deem-tiny on the world's POPE
    python benchmarks/bench_eval.py --model hf-vlm        # a tiny LLaVA built from configs
    python benchmarks/bench_eval.py --limit 1200 --batch-sizes 1,8 --scoring logits,generate
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="deem")
    ap.add_argument("--model-args", default="")
    ap.add_argument("--tasks", default="pope_random")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--scoring", default="logits,generate")
    args = ap.parse_args()

    from deem_eval.data_root import resolve_data_root
    from deem_eval.models.base import parse_model_args
    from deem_eval.run import run
    from deem_eval.runner import RunSettings

    model_args = parse_model_args(args.model_args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    if args.model == "hf-vlm" and "pretrained" not in model_args:
        from tests.models.tiny_llava import build_tiny_llava

        model_args["pretrained"] = str(build_tiny_llava(tmp / "tiny-llava"))
    root = resolve_data_root(args.data_root)
    print(f"model={args.model} {model_args} tasks={args.tasks} limit={args.limit}")
    print(f"{'scoring':>9} {'batch':>5} {'samples':>7} {'wall s':>7} {'samples/s':>9} {'outside model':>13}")
    for scoring in args.scoring.split(","):
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            settings = RunSettings(batch_size=bs, scoring=scoring, limit=args.limit, n_boot=0)
            t0 = time.perf_counter()
            out = run(args.model, dict(model_args), args.tasks, root, tmp / "runs", settings,
                      use_cache=False, show_progress=False)
            wall = time.perf_counter() - t0
            n = sum(t["n"] for t in out.doc["tasks"].values())
            loop = sum(t["timing"]["wall_s"] for t in out.doc["tasks"].values())
            model_s = sum(t["timing"]["model_s"] for t in out.doc["tasks"].values())
            outside = 1 - model_s / loop if loop else 0.0
            print(f"{scoring:>9} {bs:>5} {n:>7} {wall:>7.2f} {n / loop:>9.1f} {100 * outside:>12.1f}%")


if __name__ == "__main__":
    main()
