"""``deem-train``: run one training stage of a DEEM preset/config (or the mining CLIP).

Examples::

    deem-train --preset tiny --stage clip --output runs/tiny-clip
    deem-train --preset tiny --stage 1 --init runs/tiny-lm --output runs/tiny-s1 [--no-csr]
    deem-train --preset mining-vit --stage clip --output runs/mining-vit
    accelerate launch -m deem_model.train.cli --preset paper --stage 1 --data /data/root ...

Exit status 2 with a one-line message on bad usage or bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deem_eval.errors import UserError

STAGE_ALIASES = {"clip": "clip", "dm": "dm", "lm": "lm", "1": "1", "2": "2", "3": "3",
                 "i": "1", "ii": "2", "iii": "3", "stage1": "1", "stage2": "2", "stage3": "3"}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deem-train", description="Train a DEEM stage (or the mining CLIP).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="a built-in preset (paper, tiny, mining-vit)")
    src.add_argument("--config", type=Path, help="a YAML/JSON config (optionally 'base: <preset>' + overrides)")
    p.add_argument("--stage", required=True, help="clip | dm | lm | 1 | 2 | 3")
    p.add_argument("--no-csr", action="store_true", help="drop the CSR loss (the DEEM* ablation)")
    p.add_argument("--data", type=Path, help="data root with train/ (default: the built-in world)")
    p.add_argument("--max-steps", type=int, help="optimiser steps (default: the stage recipe's)")
    p.add_argument("--output", type=Path, help="output directory (default: runs/deem-train/<name>-<stage>)")
    p.add_argument("--resume", type=Path, help="continue from a checkpoint directory written by deem-train")
    p.add_argument("--init", type=Path, help="start from the weights of a previous stage's output")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--deepspeed", help="a DeepSpeed config JSON (GPU runs under accelerate launch)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _data_root(arg: Path | None) -> Path:
    if arg is not None:
        if not (arg / "train").is_dir():
            raise UserError(f"{arg}: no train/ folder (expected the world's train/ layout: images/ and *.jsonl)")
        return arg
    try:
        from deem_eval.builders.world import ensure_world
    except ImportError as exc:
        raise UserError("no --data given and the built-in world is unavailable; pass --data DIR") from exc
    return Path(ensure_world("full"))


def run(args: argparse.Namespace) -> dict:
    from ..config import MiningConfig, get_preset, load_yaml_config
    from .jobs import DeemJob, MiningJob
    from .loop import read_training_state, train

    cfg = get_preset(args.preset) if args.preset else load_yaml_config(args.config)
    stage = STAGE_ALIASES.get(str(args.stage).lower())
    if stage is None:
        raise UserError(f"--stage {args.stage!r}: expected one of clip, dm, lm, 1, 2, 3")
    if args.seed is not None:
        cfg.seed = args.seed
    if args.deepspeed:
        cfg.deepspeed_config = args.deepspeed
    if args.resume and args.init:
        raise UserError("--resume and --init are exclusive (resume continues a run; init starts a new one)")
    if args.max_steps is not None and args.max_steps <= 0:
        raise UserError("--max-steps must be positive")
    for flag, path in (("--resume", args.resume), ("--init", args.init)):
        if path is not None and not path.is_dir():
            raise UserError(f"{flag} {path}: directory not found")
    if args.resume:
        state = read_training_state(args.resume)
        if state.get("stage") != stage:
            raise UserError(f"--resume {args.resume}: that checkpoint is stage {state.get('stage')!r}, not {stage!r}")
        if bool(state.get("no_csr", False)) != bool(args.no_csr):
            raise UserError(f"--resume {args.resume}: --no-csr must match the original run")
    data = _data_root(args.data)
    from deem_eval.runtime import set_torch_threads

    set_torch_threads()
    if isinstance(cfg, MiningConfig):
        if args.no_csr or args.init:
            raise UserError(f"preset {cfg.name!r} takes neither --no-csr nor --init")
        job = MiningJob(cfg, stage, data, resume=args.resume)
    else:
        job = DeemJob(cfg, stage, data, no_csr=args.no_csr, init=args.init, resume=args.resume)
    output = args.output or Path("runs") / "deem-train" / f"{cfg.name}-{stage}{'-nocsr' if args.no_csr else ''}"
    if args.resume and args.max_steps is None:
        max_steps = int(read_training_state(args.resume)["max_steps"])
    else:
        max_steps = args.max_steps or job.stage.max_steps
    return train(job, job.stage, output, max_steps, resume=args.resume, show_progress=not args.quiet)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # argparse exits with status 2 on bad usage
    try:
        summary = run(args)
    except UserError as exc:
        print(f"deem-train: error: {exc}", file=sys.stderr)
        return 2
    if summary.pop("main_process", True):
        print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
