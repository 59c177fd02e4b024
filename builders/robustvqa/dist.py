"""Data-parallel context: rank, world size, gather and barrier (a no-op in a single process).

Under `torchrun` / `accelerate launch` the process group comes from accelerate's PartialState,
built with cpu=True when CUDA is unavailable so that gloo processes work on CPU machines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class DistContext:
    """Where this process sits in a data-parallel build."""

    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as td

            td.barrier()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on every rank."""
        if self.world_size == 1:
            return [obj]
        import torch.distributed as td

        out: list[Any] = [None] * self.world_size
        td.all_gather_object(out, obj)
        return out


def init_dist(device: str | None = None) -> DistContext:
    """Join the launcher's process group when WORLD_SIZE > 1; otherwise a single-process context."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        from accelerate import PartialState

        state = PartialState(cpu=not torch.cuda.is_available())
        return DistContext(state.process_index, state.num_processes, str(device or state.device))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return DistContext(0, 1, device)
