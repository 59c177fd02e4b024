"""Reading finished runs back: a run folder's results.json and samples files, and which run a
leaderboard model name stands for. Used by ``report`` and ``leaderboard --compare``.

A missing or corrupt folder or file is a located DataError (exit 2), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError, UserError
from .io import field as json_field
from .io import iter_jsonl
from .results import load_results

SAMPLE_LINE = '{"id", "prompt", "prediction", "target", "score", "error"} as written by `deem-eval run`'


@dataclass
class RunDir:
    path: Path
    doc: dict[str, Any]
    _samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return str(self.doc.get("model_label") or self.doc.get("model") or self.path.name)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.doc["tasks"]

    def samples(self, task: str) -> list[dict[str, Any]]:
        """The task's samples lines (read once); a missing file or a bad line names the file."""
        if task not in self._samples:
            self._samples[task] = read_samples(self.path / f"samples_{task}.jsonl")
        return self._samples[task]


def read_samples(path: Path) -> list[dict[str, Any]]:
    lines = []
    for lineno, obj in iter_jsonl(path, expected=SAMPLE_LINE):
        obj["id"] = str(json_field(obj, "id", path, lineno, (str, int)))
        lines.append(obj)
    return lines


def load_run(path: Path) -> RunDir:
    """A run folder written by ``deem-eval run``: results.json plus one samples file per task."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(path, "run folder not found", expected="a folder holding results.json and samples_<task>.jsonl")
    doc = load_results(path / "results.json")
    for name, entry in doc["tasks"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), dict):
            raise DataError(path / "results.json", f"task {name!r} has no 'metrics' object")
        if not (path / f"samples_{name}.jsonl").is_file():
            raise DataError(path / f"samples_{name}.jsonl", "not found", expected=f"the samples of task {name}")
    return RunDir(path, doc)


@dataclass
class Side:
    """One side of a comparison: for each task, the run that holds it."""

    name: str
    runs: dict[str, RunDir]


def resolve_side(spec: str, runs_root: Path) -> Side:
    """A run folder, or a leaderboard model name (its latest run per task, as the leaderboard takes)."""
    p = Path(spec)
    if p.is_dir() and (p / "results.json").exists():
        run = load_run(p)
        return Side(f"{run.label} ({p.name})", dict.fromkeys(run.tasks, run))
    if not runs_root.is_dir():
        raise UserError(f"{spec!r} is not a run folder and the runs folder {runs_root} is not found")
    found: list[RunDir] = []
    labels: set[str] = set()
    for res in sorted(runs_root.rglob("results.json")):
        doc = load_results(res)
        label = str(doc.get("model_label") or doc.get("model") or "?")
        labels.add(label)
        if label == spec:
            found.append(load_run(res.parent))
    if not found:
        known = ", ".join(sorted(labels)) or "none"
        raise UserError(f"{spec!r} is neither a run folder nor a model of the runs under {runs_root} (models: {known})")
    found.sort(key=lambda r: r.doc.get("created", ""))
    per_task: dict[str, RunDir] = {}
    for run in found:  # later runs win, task by task
        per_task.update(dict.fromkeys(run.tasks, run))
    return Side(spec, per_task)
