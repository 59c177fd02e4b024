"""One small synthetic world per test session, shared by the test_world_* modules."""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path


@cache
def small_world(seed: int = 0) -> Path:
    from deem_eval.builders.world import build_world

    base = Path(tempfile.mkdtemp(prefix=f"world-small-s{seed}-"))
    atexit.register(shutil.rmtree, base, True)
    out = base / "world"
    build_world(out, size="small", seed=seed, progress=False)
    return out


def sidecar(root: Path, part: str) -> list[dict]:
    with open(root / "scenes" / f"{part}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
