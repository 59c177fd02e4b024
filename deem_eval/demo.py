"""`make demo`: the main job on the built-in world and the bundled checkpoints.

Builds (once) the synthetic world and its RobustVQA split, evaluates deem-tiny and its
no-CSR ablation on the Table-1 tasks and the other tasks the tiny model supports, writes
results/leaderboard.csv and .png and prints the leaderboard with 95% CIs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TABLE1_TASKS = "robustvqa,pope,mmvp"
OTHER_TASKS = "vqav2,okvqa,vizwiz,coco_caption,refcocog,fid_coco"
CHECKPOINTS = ("deem-tiny", "deem-tiny-nocsr")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/demo"))
    ap.add_argument("--out", type=Path, default=Path("results/leaderboard.csv"))
    ap.add_argument("--limit", type=int, default=None, help="samples per task (default: all)")
    ap.add_argument("--tasks", default=f"{TABLE1_TASKS},{OTHER_TASKS}")
    ap.add_argument("--scoring", default="logits", choices=("generate", "logits"))
    args = ap.parse_args(argv)

    from .default_data import default_data_root
    from .errors import UserError
    from .leaderboard import write
    from .report import print_leaderboard
    from .run import run
    from .runner import RunSettings

    try:
        root = default_data_root()
        for ckpt in CHECKPOINTS:
            print(f"== {ckpt}", file=sys.stderr)
            settings = RunSettings(batch_size=16, scoring=args.scoring, limit=args.limit, seed=0)
            run("deem", {"checkpoint": ckpt}, args.tasks, root, args.runs, settings, show_progress=True)
        df = write(args.runs, args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_leaderboard(df)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
