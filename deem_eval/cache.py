"""SQLite response cache, so an interrupted run resumes without recomputing answered samples.

The key covers everything that can change an answer: the model fingerprint, the task with
its data and prompt fingerprints, the sample id, its image file's size and modification time
(or its bytes' hash) and the generation settings. A changed prompt, checkpoint or image file
therefore never hits an old entry.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import UserError


def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


_BUSY_TIMEOUT_S = 60.0


def _use_wal(db: sqlite3.Connection, path: Path) -> None:
    """Switch to write-ahead logging, waiting out the other ranks that open the same new file.

    SQLite does not run its busy handler for a journal-mode change, so two processes that
    create the cache together (the ranks of one torchrun launch) get "database is locked" at
    once; the mode is stored in the file, so only the first opening has to change it.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise UserError(f"{path}: the response cache stayed locked ({err}); "
                                "another process holds it, or pass --no-cache") from err
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class ResponseCache:
    def __init__(self, path: Path | None):
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            _use_wal(self._db, path)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        if self._db is None:
            return {}
        keys = list(keys)
        out: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for k, v in self._db.execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk):
                out[k] = json.loads(v)
        return out

    def put_many(self, items: Mapping[str, Any]) -> None:
        """Write a batch in one transaction, so a kill leaves either all or none of it."""
        if self._db is None or not items:
            return
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in items.items()],
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
