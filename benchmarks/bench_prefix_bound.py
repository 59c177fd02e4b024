"""The most any prefix sharing can gain at batch 1 on the POPE layout, from the LLM's own costs.

``bench_prefix.py`` measures what sharing gains; this measures what it could gain at best on
this machine. On the same LLaVA-shaped tiny model (``tests/models/tiny_llava.py``, 576 image
tokens) it times the language model alone, at batch 1:

- ``F``: one forward over a whole prompt (592 prefix tokens + a 16-token question), what an
  unshared question costs before decoding;
- ``P``: one forward over the 592-token prefix, paid once per image with sharing;
- ``S``: the 16-token question against the 592 cached positions, paid per question with sharing;
- ``D``: one decoding step (one token against the cache), paid per generated token either way.

``S`` and ``D`` are timed the way the sharing engine runs them (``deem_eval.models.prefix``): the
cached keys and values sit in a buffer with room after them and the new ones are written in place.

With six questions per image, the bound on the task loop's speed-up is ``6 F / (P + 6 S)`` for
logits scoring and ``6 (F + 15 D) / (P + 6 S + 90 D)`` for generation that writes 16 tokens per
question (the first comes with the prompt's forward). The vision tower, the processor and the
process start-up cost the same with and without sharing and only lower the real figure.

    python benchmarks/bench_prefix_bound.py [--llm-widths 384,512,1024] [--llm-layers 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PREFIX, QUESTION, PER_IMAGE, NEW_TOKENS = 592, 16, 6, 16


def _best_s(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timings: this machine's noise only ever adds time."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def costs(width: int, layers: int, repeats: int) -> dict[str, float]:
    """Seconds of F, P, S and D (see the module doc) for one LLM shape."""
    import torch
    from transformers import DynamicCache

    from deem_eval.models.prefix import _cache_tensors, _Prefix
    from tests.models.tiny_llava import build_model, vocabulary

    vocab = vocabulary()
    model = build_model(len(vocab), vocab.index("<image>"), image_size=336, patch_size=14,
                        text_hidden=width, text_layers=layers)
    lm = model.model.language_model
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randn(1, PREFIX + QUESTION, width, generator=gen)

    def forward(x: torch.Tensor, cache: DynamicCache | None = None, start: int = 0) -> DynamicCache:
        pos = torch.arange(start, start + x.shape[1])[None]
        return lm(inputs_embeds=x, position_ids=pos, cache=cache, use_cache=True).cache

    def against_prefix(n: int) -> float:
        # as the engine runs it: the prefix's keys and values in a buffer with room after them, the
        # question's written in place (no copy of the prefix per question)
        stored = _Prefix(tuple(range(PREFIX)), [(k[0], v[0]) for k, v in _cache_tensors(forward(prompt[:, :PREFIX]))])

        def run() -> None:
            forward(prompt[:, PREFIX:PREFIX + n], stored.cache(n), PREFIX)

        return _best_s(run, repeats)

    with torch.inference_mode():
        return {"F": _best_s(lambda: forward(prompt), repeats), "P": _best_s(lambda: forward(prompt[:, :PREFIX]), repeats),
                "S": against_prefix(QUESTION), "D": against_prefix(1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llm-widths", default="384,512,1024")
    ap.add_argument("--llm-layers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(f"batch 1, LLM alone ({args.llm_layers} layers), {args.threads} thread(s); "
          f"{PER_IMAGE} questions per image, {PREFIX}-token prefix, {QUESTION}-token question")
    print(f"{'width':>5} {'F ms':>7} {'P ms':>7} {'S ms':>6} {'D ms':>6} {'P/D':>5} "
          f"{'logits bound':>12} {'generate-16 bound':>17}")
    for width in (int(w) for w in args.llm_widths.split(",")):
        c = costs(width, args.llm_layers, args.repeats)
        f, p, s, d = c["F"], c["P"], c["S"], c["D"]
        k, steps = PER_IMAGE, NEW_TOKENS - 1
        logits = k * f / (p + k * s)
        generate = k * (f + steps * d) / (p + k * s + k * steps * d)
        print(f"{width:>5} {f * 1e3:>7.1f} {p * 1e3:>7.1f} {s * 1e3:>6.2f} {d * 1e3:>6.2f} {p / d:>5.1f} "
              f"{logits:>11.2f}x {generate:>16.2f}x")


if __name__ == "__main__":
    main()
