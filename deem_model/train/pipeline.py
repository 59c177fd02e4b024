"""Train the bundled tiny checkpoints from scratch: deem-tiny, deem-tiny-nocsr and mining-vit.

    python -m deem_model.train.pipeline --out deem_model/checkpoints [--data DIR] [--jobs 2]

Every stage is an ordinary ``deem-train`` run with a fixed seed. The pre-training stages clip
(encoder), dm (UNet + its text encoder) and lm (LLM) train disjoint parts of the model from the
same initial weights, so they run side by side (clip then lm, next to dm then the mining CLIP)
and are merged (the merge checks that each run changed only its own parameters). Then stages
1 -> 2 -> 3 run twice side by side, with CSR (deem-tiny) and without (deem-tiny-nocsr, the DEEM*
ablation).
Each process gets ``threads / jobs`` torch threads. Timings and final losses are written to
``<out>/pipeline.json``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deem_eval.errors import UserError

EXPORT_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "open_clip_config.json", "open_clip_model.safetensors")


def _run(cmd: list[str], log: Path, threads: int) -> dict[str, Any]:
    env = dict(os.environ, DEEM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); log {log}:\n{tail}")
    summary = json.loads(log.read_text().strip().splitlines()[-1])
    return {"seconds": round(seconds, 1), "final_losses": summary["final_losses"], "steps": summary["steps"]}


def _finished(out: Path, preset: str, stage: str, no_csr: bool, max_steps: int | None, seed: int
              ) -> dict[str, Any] | None:
    """The summary of an earlier run of exactly this stage recipe in ``out``, if it completed."""
    from ..config import config_to_dict, get_preset

    state_path, cfg_path = out / "trainer_state.json", out / "config.json"
    if not (state_path.is_file() and cfg_path.is_file()):
        return None
    state = json.loads(state_path.read_text())
    saved_cfg = json.loads(cfg_path.read_text())
    saved = saved_cfg.get("stages", {}).get(stage)
    recipe = config_to_dict(get_preset(preset))["stages"][stage]
    steps = max_steps or recipe["max_steps"]
    if (state.get("stage") != stage or state.get("step") != steps or bool(state.get("no_csr", False)) != no_csr
            or json.loads(json.dumps(recipe)) != saved or saved_cfg.get("seed") != seed):
        return None
    last = json.loads((out / "train_log.jsonl").read_text().splitlines()[-1])
    losses = {k: v for k, v in last.items() if k not in ("step", "stage", "lr", "steps_per_s")}
    return {"seconds": None, "final_losses": losses, "steps": steps, "reused": True}


INIT_RECORD = "pipeline_init.json"  # which weights a run started from, so a retrained parent invalidates it


def _init_sha(init: Path | None) -> str | None:
    """A hash of the starting weights' names and values (the file's header order may vary by process)."""
    if init is None:
        return None
    import hashlib

    import torch
    from safetensors.torch import load_file

    h = hashlib.sha256()
    for name, value in sorted(load_file(str(init / "model.safetensors")).items()):
        h.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        h.update(value.contiguous().view(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return h.hexdigest()


@dataclass
class StageRun:
    """One ``deem-train`` run of the pipeline: which stage, from which weights, into which folder."""

    preset: str
    stage: str
    data: Path
    out: Path
    work: Path
    threads: int
    seed: int
    init: Path | None = None
    no_csr: bool = False
    max_steps: int | None = None
    reuse: bool = False  # keep an earlier finished run of exactly this recipe and starting weights


def _train(run: StageRun) -> dict[str, Any]:
    init_sha = _init_sha(run.init)
    record = run.out / INIT_RECORD
    same_init = record.is_file() and json.loads(record.read_text()).get("init_sha256") == init_sha
    name = run.out.name
    if run.reuse and same_init and (
            done := _finished(run.out, run.preset, run.stage, run.no_csr, run.max_steps, run.seed)) is not None:
        print(f"[pipeline] reuse {name} (finished earlier with the same recipe and starting weights)", flush=True)
        return {name: done}
    cmd = [sys.executable, "-m", "deem_model.train.cli", "--preset", run.preset, "--stage", run.stage,
           "--data", str(run.data), "--output", str(run.out), "--seed", str(run.seed), "--quiet"]
    if run.max_steps:
        cmd += ["--max-steps", str(run.max_steps)]
    if run.init is not None:
        cmd += ["--init", str(run.init)]
    if run.no_csr:
        cmd.append("--no-csr")
    print(f"[pipeline] start {name}", flush=True)
    res = _run(cmd, run.work / f"{name}.log", run.threads)
    record.write_text(json.dumps({"init": None if run.init is None else str(run.init), "init_sha256": init_sha}) + "\n")
    losses = " ".join(f"{k}={v:.4f}" for k, v in res["final_losses"].items())
    print(f"[pipeline] done  {name}: {res['steps']} steps in {res['seconds']:.0f} s; {losses}", flush=True)
    return {name: res}


def build_base(preset: str, data: Path, out: Path, seed: int) -> None:
    """The shared initial weights and tokenizer (seeded)."""
    import torch

    from ..build import build_model
    from ..checkpoint import save_pretrained
    from ..config import get_preset

    cfg = get_preset(preset)
    cfg.seed = seed
    torch.manual_seed(seed)
    save_pretrained(build_model(cfg, data_dir=data), out)


def merge(base: Path, parts: list[tuple[Path, list[str]]], out: Path) -> None:
    """Base weights with each part's parameters (by pattern) taken from that part's run.

    Fails if two parts claim one parameter, or if a run changed a parameter outside its patterns.
    """
    import torch
    from safetensors.torch import load_file

    from ..checkpoint import load_pretrained, save_pretrained

    model, _ = load_pretrained(base)
    state = model.state_dict()
    original = {k: v.clone() for k, v in state.items()}
    owner: dict[str, Path] = {}
    for path, patterns in parts:
        tensors = load_file(str(path / "model.safetensors"))
        for name, value in tensors.items():
            mine = any(fnmatch.fnmatchcase(name, p) for p in patterns)
            if mine:
                if name in owner:
                    raise RuntimeError(f"{name} is trained by both {owner[name]} and {path}")
                owner[name] = path
                state[name] = value
            elif name in original and not torch.equal(value, original[name]):
                raise RuntimeError(f"{path} changed {name}, which its stage does not train")
    model.load_state_dict(state)
    save_pretrained(model, out)


def export(src: Path, dst: Path) -> None:
    """Copy a run's weights, config and tokenizer; weights are stored as float16 to keep the
    package small (they load into the float32 model)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in EXPORT_FILES:
        if not (src / name).is_file():
            continue
        if not name.endswith(".safetensors"):
            shutil.copy2(src / name, dst / name)
            continue
        with safe_open(str(src / name), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in tensors.items()}
        save_file(tensors, str(dst / name), metadata=meta)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train deem-tiny, deem-tiny-nocsr and mining-vit from scratch.")
    p.add_argument("--out", type=Path, required=True, help="where the three checkpoint folders go")
    p.add_argument("--data", type=Path, help="data root with train/ (default: the built-in world, full size)")
    p.add_argument("--work", type=Path, help="intermediate runs (default: <user cache>/pipeline-work)")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--mining-preset", default="mining-vit")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="training processes side by side")
    p.add_argument("--max-steps", type=int, help="cap every stage at N steps (smoke runs)")
    p.add_argument("--reuse", action="store_true",
                   help="keep stages already finished in the work folder with the same recipe, seed and starting weights")
    args = p.parse_args(argv)
    try:
        return _pipeline(args)
    except UserError as exc:
        print(f"pipeline: error: {exc}", file=sys.stderr)
        return 2


def _pipeline(args: argparse.Namespace) -> int:
    from ..config import get_preset

    t0 = time.perf_counter()
    if args.data is None:
        from deem_eval.builders.world import ensure_world

        data = Path(ensure_world("full"))
    else:
        data = args.data
        if not (data / "train").is_dir():
            raise UserError(f"{data}: no train/ folder (expected the world's train/ layout)")
    from deem_eval.runtime import cache_dir

    work = args.work or Path(cache_dir()) / "pipeline-work"
    work.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    cfg = get_preset(args.preset)
    seed = args.seed
    results: dict[str, Any] = {}

    base = work / "base"
    if not (args.reuse and (base / "model.safetensors").is_file()):
        build_base(args.preset, data, base, seed)

    def branch(steps: list[StageRun]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for st in steps:
            out.update(_train(st))
        return out

    def job(preset: str, stage: str, name: str, init: Path | None, no_csr: bool = False) -> StageRun:
        return StageRun(preset, stage, data, work / name, work, threads, seed, init, no_csr, args.max_steps,
                        args.reuse)

    pre_a = [job(args.preset, "clip", "clip", base), job(args.preset, "lm", "lm", base)]
    pre_b = [job(args.preset, "dm", "dm", base), job(args.mining_preset, "clip", "mining-vit", None)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for res in pool.map(branch, [pre_a, pre_b]):
            results.update(res)
    merge(base, [(work / "clip", cfg.stages["clip"].trainable), (work / "dm", cfg.stages["dm"].trainable),
                 (work / "lm", cfg.stages["lm"].trainable)], work / "pretrained")

    def finetune(no_csr: bool) -> dict[str, Any]:
        suffix = "-nocsr" if no_csr else ""
        prev = work / "pretrained"
        steps = []
        for stage in ("1", "2", "3"):
            steps.append(job(args.preset, stage, f"stage{stage}{suffix}", prev,
                             no_csr and "csr" in cfg.stages[stage].losses))
            prev = steps[-1].out
        return branch(steps)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for res in pool.map(finetune, [False, True]):
            results.update(res)

    args.out.mkdir(parents=True, exist_ok=True)
    export(work / "stage3", args.out / "deem-tiny")
    export(work / "stage3-nocsr", args.out / "deem-tiny-nocsr")
    export(work / "mining-vit", args.out / "mining-vit")
    size = sum(f.stat().st_size for d in ("deem-tiny", "deem-tiny-nocsr", "mining-vit")
               for f in (args.out / d).iterdir())
    summary = {"seed": seed, "preset": args.preset, "data": str(data), "jobs": args.jobs,
               "threads_per_job": threads, "seconds": round(time.perf_counter() - t0, 1),
               "size_mb": round(size / 2**20, 2), "stages": results}
    (args.out / "pipeline.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"[pipeline] finished in {summary['seconds']:.0f} s; checkpoints {summary['size_mb']} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
