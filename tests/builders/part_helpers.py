"""Building single world parts into a folder (their layout files, images and sidecars), for
tests that need one benchmark's analogue without the whole world."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deem_eval.builders.world.build import render_all
from deem_eval.builders.world.context import Context
from deem_eval.builders.world.files import write_jsonl


def build_parts(out: Path, *builders: Callable[[Context], dict], size: str = "small", seed: int = 0) -> dict:
    """Run the part builders like ``build_world`` does; returns their merged counts."""
    ctx = Context(Path(out), seed, size)
    counts: dict = {}
    for fn in builders:
        counts.update(fn(ctx))
    render_all(ctx.out, ctx.jobs)
    for part, rows in sorted(ctx.sidecars.items()):
        write_jsonl(ctx.out / "scenes" / f"{part}.jsonl", rows)
    return counts
