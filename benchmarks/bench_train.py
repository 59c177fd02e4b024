"""Training speed of the DEEM stages: steps/s per stage, the CSR overhead, and a step profile.

    python benchmarks/bench_train.py [--preset tiny] [--data DIR] [--steps 5] [--batch-size B]

Prints, per stage, seconds per optimiser step (median of ``--steps`` after one warm-up step),
the stage-1 step time with and without CSR (the target is a ratio of at most 1.10), and a
torch.profiler breakdown of one stage-1 step by model part (visual tokenizer, LLM, diffusion)
and by operator. Without ``--data`` it uses the built-in world (``small`` size is enough).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def _step_times(model, data, stage, steps: int) -> list[float]:
    import torch

    from deem_model.train.optim import param_groups, select_trainable

    select_trainable(model, stage)
    groups, _ = param_groups(model, stage)
    opt = torch.optim.AdamW(groups, lr=stage.lr)
    times = []
    for k in range(steps + 1):
        batch = data.batch(k)
        t0 = time.perf_counter()
        out = model(batch)
        out["total"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if k:  # the first step pays one-off allocation costs
            times.append(time.perf_counter() - t0)
    return times


def _frozen_unet_seconds(model, batch: int, steps: int) -> float:
    """Median time of one UNet forward+backward (gradient to the condition only) on ``batch``."""
    import torch

    dec = model.image_decoder
    for p in dec.unet.parameters():
        p.requires_grad_(False)
    x = torch.randn(batch, *dec.latent_shape())
    cond = torch.randn(batch, dec.cfg.num_cond_tokens, dec.cfg.cond_dim, requires_grad=True)
    t = torch.randint(0, dec.cfg.num_train_timesteps, (batch,))
    times = []
    for k in range(steps + 1):
        t0 = time.perf_counter()
        dec.unet(x, t, encoder_hidden_states=cond).sample.pow(2).mean().backward()
        if k:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="tiny")
    p.add_argument("--data", type=Path)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--stages", default="clip,dm,lm,1,2,3")
    args = p.parse_args(argv)

    import torch
    from torch.profiler import ProfilerActivity, profile

    from deem_eval.runtime import set_torch_threads
    from deem_model.build import build_model
    from deem_model.config import get_preset
    from deem_model.data import StageData

    threads = set_torch_threads()
    data_dir = args.data
    if data_dir is None:
        from deem_eval.builders.world import ensure_world

        data_dir = ensure_world("small")
    cfg = get_preset(args.preset)
    torch.manual_seed(0)
    model = build_model(cfg, data_dir=data_dir)
    print(f"preset {cfg.name}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"{threads} threads, data {data_dir}")
    medians = {}
    for name in args.stages.split(","):
        stage = cfg.stages[name]
        bs = args.batch_size or stage.batch_size
        variants = [("", False), ("-nocsr", True)] if "csr" in stage.losses else [("", False)]
        for suffix, no_csr in variants:
            model.set_loss_weights(stage.losses, no_csr=no_csr)
            data = StageData(name, data_dir, model, bs, seed=0)
            t = _step_times(model, data, stage, args.steps)
            medians[name + suffix] = statistics.median(t)
            print(f"stage {name + suffix:9s} batch {bs:3d}: {medians[name + suffix]:.3f} s/step "
                  f"({1 / medians[name + suffix]:.2f} steps/s)", flush=True)
    if "1" in medians and "1-nocsr" in medians:
        frac = cfg.diffusion.csr_fraction
        print(f"stage 1 step with CSR (on {frac:.0%} of each batch) / without: "
              f"{medians['1'] / medians['1-nocsr']:.3f} (target <= 1.10)")
        if frac < 1:  # the same step with CSR on every sample, for comparison
            cfg.diffusion.csr_fraction = 1.0
            model.set_loss_weights(cfg.stages["1"].losses)
            full = statistics.median(_step_times(model, StageData("1", data_dir, model, args.batch_size
                                                                  or cfg.stages["1"].batch_size, seed=0),
                                                 cfg.stages["1"], args.steps))
            cfg.diffusion.csr_fraction = frac
            print(f"stage 1 step with CSR on every sample / without: {full / medians['1-nocsr']:.3f}")
        # CSR should cost exactly one more frozen-UNet pass on the batch (no second encode, no re-noising)
        unet_s = _frozen_unet_seconds(model, args.batch_size or cfg.stages["1"].batch_size, args.steps)
        print(f"CSR overhead {medians['1'] - medians['1-nocsr']:.3f} s/step; one frozen UNet forward+backward "
              f"on the batch alone: {unet_s:.3f} s")
    if "1" in args.stages.split(","):
        stage = cfg.stages["1"]
        model.set_loss_weights(stage.losses)
        data = StageData("1", data_dir, model, args.batch_size or stage.batch_size, seed=0)
        _step_times(model, data, stage, 1)
        batch = data.batch(1)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(batch)["total"].backward()
        ev = {e.key: e.cpu_time_total / 1e3 for e in prof.key_averages() if e.key.startswith("deem.")}
        total = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e3
        print(f"\nstage-1 step profile ({total:.0f} ms CPU in all):")
        for k, v in sorted(ev.items(), key=lambda kv: -kv[1]):
            print(f"  forward {k[5:]:17s} {v:8.1f} ms")
        print(f"  backward + rest           {total - sum(ev.values()):8.1f} ms")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


if __name__ == "__main__":
    main()
