"""Where task data comes from: --data-root, else $DEEM_DATA, else the built-in synthetic world."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError


def resolve_data_root(arg: str | Path | None) -> Path:
    raw = arg or os.environ.get("DEEM_DATA")
    if raw:
        root = Path(raw).expanduser()
        if not root.is_dir():
            raise UserError(f"data root {root} is not a folder")
        return root
    from .default_data import default_data_root

    return default_data_root()


def inside(root: Path, rel: str, what: str, file: Path, line: int | None = None) -> Path:
    """Join ``rel`` under ``root`` and refuse paths that escape it (../, absolute paths, symlinks out)."""
    from .errors import DataError

    candidate = (root / rel).resolve()
    base = root.resolve()
    if not (candidate == base or base in candidate.parents):
        raise DataError(file, f"{what} {rel!r} points outside {root}", line=line, expected="a path inside the data folder")
    return candidate
