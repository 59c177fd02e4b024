"""The CI regression baseline: deem-tiny on the `small` built-in world.

`make baseline` writes results/baseline_small.json; the test suite recomputes the same run
and fails on any metric that dropped (tolerance 0: the tiny model is deterministic on CPU).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

# Every task with a world analogue that runs in seconds on the small world (image generation and
# the judge-graded MM-Vet are left out).
TASKS = (
    "robustvqa,rvqa_photo,pope,mmvp,vqav2,gqa,mmbench,seedbench_img,mmstar,visdial,hallusionbench,amber_disc,"
    "chair,mme,cvbench,naturalbench,image2paragraph,refcoco,refcoco_plus"
)
SETTINGS = dict(batch_size=16, scoring="logits", seed=0, n_boot=200)


def small_root() -> Path:
    from .builders.world import ensure_world
    from .default_data import ensure_robustvqa, ensure_rvqa_photo

    root = ensure_world("small")
    ensure_robustvqa(root, quiet=True)
    ensure_rvqa_photo(root, quiet=True)
    return root


def measure(out_dir: Path, checkpoint: str = "deem-tiny") -> Path:
    """Run the baseline job and return the path of its results.json.

    One torch thread, always: float sums depend on the thread count, and the check has tolerance 0.
    """
    import os

    os.environ["DEEM_THREADS"] = "1"
    from .run import run
    from .runner import RunSettings

    out = run("deem", {"checkpoint": checkpoint}, TASKS, small_root(), out_dir, RunSettings(**SETTINGS),
              use_cache=False, show_progress=False)
    assert out.run_dir is not None
    return out.run_dir / "results.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write a fresh baseline here")
    group.add_argument("--check", type=Path, help="compare a fresh run against this baseline")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = measure(Path(tmp))
        if args.write:
            args.write.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh, args.write)
            print(f"wrote {args.write}")
            return 0
        from .regress import compare, is_drop
        from .report import print_deltas

        deltas = compare(args.check, fresh)
        print_deltas(deltas, 0.0)
        return 1 if any(is_drop(d, 0.0) for d in deltas) else 0


if __name__ == "__main__":
    sys.exit(main())
