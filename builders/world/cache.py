"""The default data root: the world built once into the user cache, safely across processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def world_dir(size: str, seed: int, version: str) -> Path:
    from deem_eval.runtime import cache_dir

    return Path(cache_dir()) / f"world-{size}-s{seed}-v{version}"


def is_complete(path: Path) -> bool:
    return (path / "world.json").is_file()


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure(size: str, seed: int, version: str, build: Callable[..., dict]) -> Path:
    """Return the cached world, building it first if needed.

    The build goes to a temporary folder in the same parent and is renamed into place, under a
    file lock, so concurrent processes (e.g. torchrun ranks) never see a half-built world and
    only one of them builds. Worlds of other generator versions for this size and seed are removed.
    """
    target = world_dir(size, seed, version)
    if is_complete(target):
        return target
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(parent / f".{target.name}.lock"):
        if is_complete(target):
            return target
        for stale in parent.glob(f".{target.name}.tmp-*"):  # left by a killed build; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            build(tmp, size=size, seed=seed, progress=False)
            if target.exists():  # an incomplete leftover (no world.json) from an interrupted run
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if is_complete(target):
                return target
            raise
        for old in parent.glob(f"world-{size}-s{seed}-v*"):
            if old != target and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
    print(f"deem-eval: built the synthetic world ({size}) at {target}", file=sys.stderr, flush=True)
    return target
