"""Writing the build's outputs: atomic JSON files and the image copies (hard links when possible)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Write text via a temp file and rename, so readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def dump_json(obj: Any) -> str:
    """The one JSON style of the outputs: indented, UTF-8, trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def dump_jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _same_content(path: Path, digest: str) -> bool:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest() == digest


def place_image(src: Path, dst: Path, digest: str) -> None:
    """Make dst hold src's bytes: keep an identical file, else hard-link, else copy (atomically)."""
    if dst.exists():
        with contextlib.suppress(OSError):
            if os.path.samefile(src, dst) or _same_content(dst, digest):
                return
        dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def prune(folder: Path, keep: set[str]) -> list[str]:
    """Delete files under folder whose path (relative to folder's parent) is not in `keep`."""
    removed = []
    if not folder.is_dir():
        return removed
    base = folder.parent
    for dirpath, _, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(base).as_posix()
            if rel not in keep:
                path.unlink()
                removed.append(rel)
        with contextlib.suppress(OSError):
            if Path(dirpath) != folder and not any(Path(dirpath).iterdir()):
                Path(dirpath).rmdir()
    return sorted(removed)
