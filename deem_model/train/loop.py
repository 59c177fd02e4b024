"""The training loop shared by every stage: accelerate, AdamW + warmup/cosine, accumulation,
checkpoints with optimiser/scheduler/RNG state, bit-for-bit resume, progress bar, JSONL log.

A *job* supplies the model (whose forward returns named losses and ``total``), a deterministic
``data.batch(micro_step)`` and ``save(model, directory)`` for the weights. Batches depend only on
the step, and the RNG state is saved with each checkpoint, so resuming replays exactly the
losses an uninterrupted run would produce (on CPU).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

import torch

from ..config import StageConfig
from .optim import cosine_with_warmup, param_groups, select_trainable

STATE = "trainer_state.json"
OPTIM = "optimizer.pt"
SCHED = "scheduler.pt"
RNG = "rng_state.pt"
LOG = "train_log.jsonl"


class Job(Protocol):
    model: torch.nn.Module
    data: Any
    stage_name: str
    mixed_precision: str
    deepspeed_config: str | None
    extra_state: dict[str, Any]

    def save(self, model: torch.nn.Module, directory: Path) -> str: ...


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def _accelerator(job: Job, accum: int):
    from accelerate import Accelerator, DistributedDataParallelKwargs

    cuda = torch.cuda.is_available()
    kwargs: dict[str, Any] = {"kwargs_handlers": [DistributedDataParallelKwargs(find_unused_parameters=True)]}
    if cuda and job.deepspeed_config:
        from accelerate import DeepSpeedPlugin

        kwargs["deepspeed_plugin"] = DeepSpeedPlugin(hf_ds_config=job.deepspeed_config,
                                                     gradient_accumulation_steps=accum)
    # mixed precision only on GPU; on CPU everything stays float32 (and bit-for-bit resumable)
    return Accelerator(cpu=not cuda, mixed_precision=job.mixed_precision if cuda else "no", **kwargs)


def _progress(disable: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[losses]}"), TextColumn("{task.fields[speed]} steps/s"),
                    TimeRemainingColumn(), disable=disable)


def save_training_state(job: Job, model: torch.nn.Module, optimizer, scheduler, directory: Path, step: int,
                        max_steps: int) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    sha = job.save(model, directory)
    torch.save(optimizer.state_dict(), directory / OPTIM)
    torch.save(scheduler.state_dict(), directory / SCHED)
    torch.save({"torch": torch.get_rng_state()}, directory / RNG)
    state = {"stage": job.stage_name, "step": step, "max_steps": max_steps, "weights_sha256": sha, **job.extra_state}
    (directory / STATE).write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return sha


def read_training_state(directory: Path) -> dict[str, Any]:
    from deem_eval.errors import UserError

    path = Path(directory) / STATE
    if not path.is_file():
        raise UserError(f"{directory}: not a training checkpoint ({STATE} is missing)")
    return json.loads(path.read_text())


def train(job: Job, stage: StageConfig, output: Path, max_steps: int, resume: Path | None = None,
          show_progress: bool = True) -> dict[str, Any]:
    """Run (or continue) one stage to ``max_steps`` optimiser steps; returns a summary."""
    output = Path(output)
    accum = max(1, stage.grad_accum)
    acc = _accelerator(job, accum)
    model = job.model
    model.train()
    trainable = select_trainable(model, stage)
    groups, counts = param_groups(model, stage)
    optimizer = torch.optim.AdamW(groups, lr=stage.lr, betas=tuple(stage.betas), weight_decay=stage.weight_decay)
    scheduler = cosine_with_warmup(optimizer, stage.warmup_steps, max_steps)
    start = 0
    if resume is not None:
        state = read_training_state(resume)
        start = int(state["step"])
        optimizer.load_state_dict(torch.load(Path(resume) / OPTIM, weights_only=True))
        scheduler.load_state_dict(torch.load(Path(resume) / SCHED, weights_only=True))
        torch.set_rng_state(torch.load(Path(resume) / RNG, weights_only=True)["torch"])
    model, optimizer = acc.prepare(model, optimizer)
    params = [p for p in model.parameters() if p.requires_grad]
    if acc.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
    log_path = output / LOG
    world, rank = acc.num_processes, acc.process_index
    if hasattr(job.data, "micro_per_step"):
        job.data.micro_per_step = accum * world
    times: list[float] = []
    last: dict[str, float] = {}
    sha = ""
    with _progress(disable=not (show_progress and acc.is_main_process)) as bar:
        task = bar.add_task(f"stage {job.stage_name}", total=max_steps, completed=start, losses="", speed="-")
        for step in range(start, max_steps):
            t0 = time.perf_counter()
            sums: dict[str, torch.Tensor] = {}
            for a in range(accum):
                batch = _to(job.data.batch((step * accum + a) * world + rank), acc.device)
                with acc.autocast():
                    out = model(batch)
                acc.backward(out["total"] / accum)
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().float() / accum
            if stage.max_grad_norm:
                acc.clip_grad_norm_(params, stage.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses = {k: float(acc.reduce(v, reduction="mean")) for k, v in sums.items()}
            times.append(time.perf_counter() - t0)
            speed = len(times[-20:]) / sum(times[-20:])
            last = losses
            done = step + 1
            if acc.is_main_process:
                bar.update(task, completed=done, speed=f"{speed:.2f}",
                           losses=" ".join(f"{k}={v:.4f}" for k, v in losses.items()))
                if done % max(1, stage.log_every) == 0 or done == max_steps or done == start + 1:
                    rec = {"step": done, "stage": job.stage_name, "lr": scheduler.get_last_lr()[0],
                           "steps_per_s": round(speed, 4), **losses}
                    with log_path.open("a") as fh:
                        fh.write(json.dumps(rec) + "\n")
            if done % max(1, stage.save_every) == 0 and done != max_steps:
                acc.wait_for_everyone()
                if acc.is_main_process:
                    save_training_state(job, acc.unwrap_model(model), optimizer, scheduler,
                                        output / f"checkpoint-{done}", done, max_steps)
        acc.wait_for_everyone()
        if acc.is_main_process:
            sha = save_training_state(job, acc.unwrap_model(model), optimizer, scheduler, output, max_steps,
                                      max_steps)
    return {"stage": job.stage_name, "steps": max_steps - start, "final_losses": last,
            "seconds": round(sum(times), 2), "trainable_params": len(trainable), "group_params": counts,
            "weights_sha256": sha, "output": str(output), "main_process": acc.is_main_process}
