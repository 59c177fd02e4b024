"""Per-split checkpoint of computed image features, so an interrupted build resumes.

Features are computed in fixed batches (batch b = items [b*B, (b+1)*B) of the sorted list), so a
batch has the same content whether it is computed in a fresh run, a resumed run or on another rank.
Each flush writes one new part file atomically; a part belongs to a run configuration by its key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class BatchResult:
    """Features of one batch: `indices` of decoded items, their rows, content digests, errors."""

    indices: list[int]
    features: Any  # torch.Tensor [len(indices), D] (or [0] when nothing decoded)
    digests: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)


class FeatureStore:
    """Part files under `<out>/.features/<split>/` holding BatchResults for one configuration key."""

    def __init__(self, folder: Path, key: str, rank: int = 0):
        self.folder = Path(folder)
        self.key = key
        self.rank = rank
        self._pending: dict[int, BatchResult] = {}

    def prune(self) -> None:
        """Delete parts written for another configuration (main rank only, before any reads)."""
        for path in sorted(self.folder.glob("part-*.safetensors")):
            if self._read_key(path) != self.key:
                path.unlink(missing_ok=True)

    def load(self) -> dict[int, BatchResult]:
        """All batches stored for this key (by any rank, in any earlier run)."""
        from safetensors.torch import load_file

        found: dict[int, BatchResult] = {}
        for path in sorted(self.folder.glob("part-*.safetensors")):
            meta = self._read_meta(path)
            if meta is None or meta.get("key") != self.key:
                continue
            try:
                tensors = load_file(str(path))
            except Exception:  # a damaged part is recomputed, not trusted
                continue
            digests, errors = json.loads(meta["digests"]), json.loads(meta["errors"])
            for b in json.loads(meta["batches"]):
                found[b] = BatchResult(
                    indices=tensors[f"i{b}"].tolist(),
                    features=tensors[f"f{b}"],
                    digests={int(k): v for k, v in digests[str(b)].items()},
                    errors={int(k): v for k, v in errors[str(b)].items()},
                )
        return found

    def add(self, batch: int, result: BatchResult) -> None:
        self._pending[batch] = result

    def flush(self) -> None:
        """Write the pending batches as one new part file (temp file + rename)."""
        if not self._pending:
            return
        import torch
        from safetensors.torch import save_file

        tensors, digests, errors = {}, {}, {}
        for b, r in sorted(self._pending.items()):
            tensors[f"f{b}"] = r.features.contiguous()
            tensors[f"i{b}"] = torch.tensor(r.indices, dtype=torch.int64)
            digests[str(b)] = {str(k): v for k, v in sorted(r.digests.items())}
            errors[str(b)] = {str(k): v for k, v in sorted(r.errors.items())}
        meta = {"key": self.key, "batches": json.dumps(sorted(self._pending)),
                "digests": json.dumps(digests), "errors": json.dumps(errors)}
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"part-{min(self._pending):07d}-r{self.rank}.safetensors"
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
        self._pending.clear()

    @staticmethod
    def _read_meta(path: Path) -> dict | None:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return f.metadata() or {}
        except Exception:
            return None

    def _read_key(self, path: Path) -> str | None:
        meta = self._read_meta(path)
        return None if meta is None else meta.get("key")
