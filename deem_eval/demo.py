"""`make demo`: the main job on the built-in world and the bundled checkpoints.

Builds (once) the synthetic world and its RobustVQA split, evaluates deem-tiny and its
no-CSR ablation on the Table-1 tasks and the other tasks the tiny model supports, writes
results/leaderboard.csv and .png, prints the leaderboard with 95% CIs and writes
results/report.html (the two runs side by side, with paired tests and a sample browser).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

TABLE1_TASKS = "robustvqa,pope,mmvp"
# Every task with a built-in-world analogue; MM-Vet needs a judge (none offline), RealWorldQA and
# TextVQA have no world analogue (the world draws no text), so they are left out.
OTHER_TASKS = (
    "rvqa_photo,vqav2,okvqa,vizwiz,gqa,coco_caption,image2paragraph,refcocog,refcoco,refcoco_plus,"
    "fid_coco,fid_lncoco,mmbench,seedbench_img,mmstar,visdial,hallusionbench,amber_disc,chair,mme,"
    "cvbench,naturalbench"
)
CHECKPOINTS = ("deem-tiny", "deem-tiny-nocsr")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/demo"))
    ap.add_argument("--out", type=Path, default=Path("results/leaderboard.csv"))
    ap.add_argument("--limit", type=int, default=None, help="samples per task (default: all)")
    ap.add_argument("--tasks", default=f"{TABLE1_TASKS},{OTHER_TASKS}")
    ap.add_argument("--scoring", default="logits", choices=("generate", "logits"))
    ap.add_argument("--report", type=Path, default=Path("results/report.html"))
    args = ap.parse_args(argv)

    from .default_data import default_data_root
    from .errors import UserError
    from .html_report import write_report
    from .leaderboard import write
    from .report import print_leaderboard

    try:
        root = default_data_root()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The two checkpoints run side by side, one process and one thread each (2 cores).
    procs = []
    for ckpt in CHECKPOINTS:
        cmd = [
            sys.executable, "-m", "deem_eval", "run", "--model", "deem", "--model-args", f"checkpoint={ckpt}",
            "--tasks", args.tasks, "--data-root", str(root), "--output-dir", str(args.runs),
            "--scoring", args.scoring, "--batch-size", "16",
        ] + (["--limit", str(args.limit)] if args.limit else [])
        log = args.runs / f"{ckpt}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"== evaluating {ckpt} on {args.tasks} (log: {log})", file=sys.stderr)
        env = dict(os.environ, DEEM_THREADS=os.environ.get("DEEM_THREADS", "1"))
        procs.append((ckpt, log, subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)))
    failed = False
    for ckpt, log, proc in procs:
        if proc.wait() != 0:
            failed = True
            print(f"error: evaluating {ckpt} failed; see {log}", file=sys.stderr)
    if failed:
        return 2
    try:
        df = write(args.runs, args.out)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_leaderboard(df)
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    try:
        write_report([latest_run(args.runs, f"deem:{c}") for c in CHECKPOINTS], args.report)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.report}")
    return 0


def latest_run(runs: Path, label: str) -> Path:
    """The newest run folder under ``runs`` whose model label is ``label``."""
    from .errors import UserError
    from .results import load_results

    found = [(doc.get("created", ""), p.parent) for p in runs.rglob("results.json")
             if (doc := load_results(p)).get("model_label") == label]
    if not found:
        raise UserError(f"no run of {label} under {runs}")
    return max(found)[1]


if __name__ == "__main__":
    sys.exit(main())
