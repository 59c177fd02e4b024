"""Content digests of a Hugging Face model folder, for cache keys and results.json.

Weight files are hashed in full (a changed weight must change the fingerprint even when the
shapes, and so the safetensors header, stay the same). Hashing gigabytes on every run would be
slow, so each file's sha256 is remembered in the user cache under its resolved path, size and
modification time; a rewritten file gets a new entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# Files that change how text or images are processed (tokenizer, processor, chat template, config).
CONFIG_SUFFIXES = (".json", ".jinja", ".model", ".txt", ".tiktoken", ".py")
_CHUNK = 1 << 22


def _hash_cache_path() -> Path:
    from ..runtime import cache_dir

    return Path(cache_dir()) / "file_sha256.json"


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(_hash_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(entries: dict[str, str]) -> None:
    path = _hash_cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {**_read_cache(), **entries}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".file_sha256.")
        with os.fdopen(fd, "w") as fh:
            json.dump(merged, fh)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time


def file_sha256(path: Path, _memo: dict[str, str] | None = None) -> str:
    """sha256 of a file's bytes, remembered across runs by (real path, size, mtime)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = f"{real}|{st.st_size}|{st.st_mtime_ns}"
    memo = _read_cache() if _memo is None else _memo
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(real, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    memo[key] = digest
    _write_cache({key: digest})
    return digest


def weight_files(model_dir: Path) -> list[Path]:
    """Weight files directly in the folder, sorted by name."""
    return sorted(p for p in Path(model_dir).iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def checkpoint_digest(model_dir: Path | None) -> str | None:
    """sha256 of the single weights file, or of the sorted shards' hex digests joined by newlines."""
    if model_dir is None:
        return None
    files = weight_files(model_dir)
    if not files:
        return None
    memo = _read_cache()
    digests = [file_sha256(p, memo) for p in files]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def model_files_digest(model_dir: Path | None) -> str:
    """One digest over every weight and configuration file of the folder (names, sizes, contents)."""
    if model_dir is None:
        return "unknown-model-files"
    memo = _read_cache()
    h = hashlib.sha256()
    for p in sorted(Path(model_dir).iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        if p.name.endswith(WEIGHT_SUFFIXES):
            h.update(f"{p.name}|{p.stat().st_size}|{file_sha256(p, memo)}\n".encode())
        elif p.name.endswith(CONFIG_SUFFIXES) and p.name.lower() != "readme.md":
            h.update(f"{p.name}|{hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    return h.hexdigest()
