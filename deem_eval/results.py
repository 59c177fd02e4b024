"""results.json and samples_<task>.jsonl: the run's outputs, written atomically."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .evaluation import TaskResult, sample_line
from .io import atomic_write_text


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, dist in (
        ("deem-eval", "deem-eval"),
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("diffusers", "diffusers"),
        ("open_clip", "open_clip_torch"),
    ):
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = None
    return out


def git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent.parent
        res = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_samples(path: Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(sample_line(r), ensure_ascii=False, default=str) + "\n" for r in records)
    atomic_write_text(path, text)


def write_results(path: Path, header: dict[str, Any], tasks: dict[str, TaskResult], stats: dict[str, Any]) -> dict:
    doc = dict(header)
    doc["tasks"] = {}
    for name, res in tasks.items():
        entry = res.summary()
        entry.update(stats.get(name, {}))
        doc["tasks"][name] = entry
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    return doc


def load_results(path: Path) -> dict[str, Any]:
    from .errors import DataError

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(path, "not found", expected="a results.json written by `deem-eval run`") from exc
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", line=exc.lineno) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), dict):
        raise DataError(path, "has no 'tasks' object", expected="a results.json written by `deem-eval run`")
    return doc
