"""Build the whole world: every evaluation layout, the training corpora, sidecars, contact sheet."""

from __future__ import annotations

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
from .pool import parallel_map

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


def all_parts() -> list[tuple[str, Callable[[Context], dict]]]:
    """The parts above, then every layout module's ``WORLD_PARTS`` (in module-name order).

    A new benchmark's world analogue is one module in ``layouts/`` with
    ``WORLD_PARTS = (("name", build_fn),)``; each part draws from its own named random streams,
    so adding one never changes the bytes of another.
    """
    import importlib
    import pkgutil

    from . import layouts

    parts = list(PARTS)
    known = {name for name, _ in parts}
    for info in sorted(pkgutil.iter_modules(layouts.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{layouts.__name__}.{info.name}")
        for name, fn in getattr(module, "WORLD_PARTS", ()):
            if name in known:
                raise ValueError(f"world part {name!r} is defined twice")
            known.add(name)
            parts.append((name, fn))
    return parts


def _render_one(args: tuple[str, str, dict]) -> None:
    out, rel, sc = args
    save_image(render(sc), Path(out) / rel)


def render_all(out: Path, jobs: list[tuple[str, dict]]) -> None:
    """Draw and save every queued image, in parallel when more than one core is available."""
    parallel_map(_render_one, [(str(out), rel, sc) for rel, sc in jobs])


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
    for name, fn in all_parts():
        counts.update(fn(ctx))
        if progress:
            print(f"  {name}: layout written", file=sys.stderr, flush=True)
    if progress:
        print(f"  drawing {len(ctx.jobs)} images", file=sys.stderr, flush=True)
    render_all(out, ctx.jobs)
    for part, rows in sorted(ctx.sidecars.items()):
        write_jsonl(out / "scenes" / f"{part}.jsonl", rows)
    write_contact_sheet(ctx.sidecars, out / "contact_sheet.png")
    counts["images"] = len(ctx.jobs)
    write_json(out / "world.json", {"generator_version": version, "size": size, "seed": int(seed),
                                    "counts": counts}, indent=1)
    if progress:
        print(f"  {len(ctx.jobs)} images in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return counts
