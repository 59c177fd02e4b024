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
    """Join ``rel`` under ``root`` and refuse paths that escape it (../, absolute paths, symlinks out).

    ``rel`` names a file, so an empty name or one that resolves to ``root`` itself is refused too.
    """
    from .errors import DataError

    expected = "a path inside the data folder"
    if "\x00" in rel:
        raise DataError(file, f"{what} {rel!r} contains a NUL byte", line=line, expected=expected)
    candidate = (root / rel).resolve()
    base = root.resolve()
    if base not in candidate.parents:
        where = "is the data folder itself" if candidate == base else f"points outside {root}"
        raise DataError(file, f"{what} {rel!r} {where}", line=line, expected=expected)
    return candidate
