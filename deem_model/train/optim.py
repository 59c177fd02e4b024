"""Which parameters train, at which learning rate, and the warmup + cosine schedule.

Every pattern must match something: a learning-rate group that silently matches nothing would
train those parameters at the wrong rate, so it is an error.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

import torch

from deem_eval.errors import UserError

from ..config import StageConfig


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def select_trainable(model: torch.nn.Module, stage: StageConfig) -> list[str]:
    """Freeze everything except parameters matching ``stage.trainable``; return the trainable names."""
    names = [n for n, _ in model.named_parameters()]
    for pat in stage.trainable:
        if not any(fnmatch.fnmatchcase(n, pat) for n in names):
            raise UserError(f"trainable pattern {pat!r} matches no parameter of the model")
    out = []
    for n, p in model.named_parameters():
        p.requires_grad_(_matches(n, stage.trainable))
        if p.requires_grad:
            out.append(n)
    return out


def param_groups(model: torch.nn.Module, stage: StageConfig) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """AdamW parameter groups (per named lr group, split by weight decay) and parameter counts per group."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assigned: dict[str, str] = {}
    for g in stage.groups:
        hit = [n for n, _ in trainable if _matches(n, g.patterns)]
        if not hit:
            raise UserError(f"learning-rate group {g.name!r} (patterns {g.patterns}) matches no trainable parameter")
        for n in hit:
            assigned.setdefault(n, g.name)
    lrs = {g.name: g.lr for g in stage.groups}
    lrs["default"] = stage.lr
    buckets: dict[tuple[str, bool], list[torch.nn.Parameter]] = {}
    counts: dict[str, int] = {}
    for n, p in trainable:
        gname = assigned.get(n, "default")
        decay = p.ndim >= 2 and not n.endswith("null_condition")
        buckets.setdefault((gname, decay), []).append(p)
        counts[gname] = counts.get(gname, 0) + p.numel()
    groups = [{"params": ps, "lr": lrs[g], "weight_decay": stage.weight_decay if d else 0.0, "name": f"{g}"}
              for (g, d), ps in sorted(buckets.items())]
    return groups, counts


def cosine_with_warmup(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup to each group's lr, then cosine decay to zero at ``total`` steps."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
