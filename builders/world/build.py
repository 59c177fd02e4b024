"""Build the whole world: every evaluation layout, the training corpora, sidecars, contact sheet."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import corpora
from .contact_sheet import write_contact_sheet
from .context import SIZES, Context
from .draw import render
from .files import save_image, write_json, write_jsonl
from .layouts import captions, imagenet, mmvp, pope, refcocog, vqa

PARTS: tuple[tuple[str, Callable[[Context], dict]], ...] = (
    ("pope", pope.build),
    ("mmvp", mmvp.build),
    ("vqav2", vqa.build_vqav2),
    ("okvqa", vqa.build_okvqa),
    ("vizwiz", vqa.build_vizwiz),
    ("coco_caption", captions.build_coco),
    ("refcocog", refcocog.build),
    ("fid_coco", captions.build_fid),
    ("imagenet", imagenet.build),
    ("train", corpora.build),
)


def _render_chunk(args: tuple[str, list[tuple[str, dict]]]) -> int:
    out, jobs = args
    for rel, sc in jobs:
        save_image(render(sc), Path(out) / rel)
    return len(jobs)


def _workers() -> int:
    raw = os.environ.get("DEEM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if raw and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render_all(out: Path, jobs: list[tuple[str, dict]], progress: bool) -> None:
    """Draw and save every queued image, in parallel when more than one core is available."""
    n_workers = min(_workers(), 8)
    chunks = [(str(out), jobs[i:i + 200]) for i in range(0, len(jobs), 200)]
    done = 0
    if n_workers <= 1 or len(jobs) < 400 or "fork" not in mp.get_all_start_methods():
        for ch in chunks:
            done += _render_chunk(ch)
        return
    with mp.get_context("fork").Pool(n_workers) as pool:
        for n in pool.imap_unordered(_render_chunk, chunks):
            done += n
            if progress and done % 2000 < 200:
                print(f"  images {done}/{len(jobs)}", file=sys.stderr, flush=True)


def build_world(out: Path, size: str = "full", seed: int = 0, progress: bool = True,
                version: str = "") -> dict:
    """Write the world under ``out``; returns item counts per part. Same seed, same bytes."""
    if size not in SIZES:
        from deem_eval.errors import UserError

        raise UserError(f"unknown world size {size!r} (expected one of: {', '.join(SIZES)})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(out, int(seed), size)
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    for name, fn in PARTS:
        counts.update(fn(ctx))
        if progress:
            print(f"  {name}: layout written", file=sys.stderr, flush=True)
    render_all(out, ctx.jobs, progress)
    for part, rows in sorted(ctx.sidecars.items()):
        write_jsonl(out / "scenes" / f"{part}.jsonl", rows)
    write_contact_sheet(ctx.sidecars, out / "contact_sheet.png")
    counts["images"] = len(ctx.jobs)
    write_json(out / "world.json", {"generator_version": version, "size": size, "seed": int(seed),
                                    "counts": counts}, indent=1)
    if progress:
        print(f"  {len(ctx.jobs)} images in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return counts
