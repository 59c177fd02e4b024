"""The Task interface: a small typed object per benchmark.

A task knows where its data lives under a data root and which files it expects, how to
stream samples, how to build a prompt, how to score one prediction and how to aggregate
per-sample scores into metrics. Task options come from ``--task-args name.key=value`` and
are validated against the task's ``Config`` dataclass at load time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from .errors import UserError
from .samples import Request, Sample

OutputType = Literal["yesno", "options", "generate", "image"]


@dataclasses.dataclass
class TaskConfig:
    """Options every task accepts; subclasses add their own fields."""


class Task:
    name: ClassVar[str] = ""
    folder: ClassVar[str] = ""  # sub-folder of the data root
    expected: ClassVar[tuple[str, ...]] = ()  # files/folders relative to folder, for `deem-eval tasks`
    source: ClassVar[str] = ""  # one line: where the public data comes from
    metrics: ClassVar[tuple[str, ...]] = ()
    headline: ClassVar[str] = "accuracy"  # the metric shown on the leaderboard
    chance: ClassVar[float | None] = None  # the headline's value for a random guesser, where defined
    chance_metrics: ClassVar[Mapping[str, float]] = {}  # chance levels of other metrics (e.g. per question)
    output_type: ClassVar[OutputType] = "generate"
    prompt_template: ClassVar[str] = "{image}{question}"
    answer_prefix: ClassVar[str] = ""
    max_new_tokens: ClassVar[int] = 16
    Config: ClassVar[type[TaskConfig]] = TaskConfig
    judge_mode: ClassVar[str] = "none"  # "none" | "optional" | "required": does scoring use an LLM judge
    judge: Any = None  # the run's judge (set by `run`/`score` from --judge), or None

    def __init__(self, data_root: Path, config: TaskConfig | None = None):
        self.data_root = Path(data_root)
        self.config = config if config is not None else self.Config()
        self.task_args: dict[str, str] = {}  # the --task-args it was built with (recorded in results.json)

    # ---- data -------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.data_root / self.folder

    def missing(self) -> list[str]:
        """Expected files or folders that are absent (empty list when the data is found)."""
        return [e for e in self.expected if not (self.data_dir / e).exists()]

    def samples(self) -> Iterator[Sample]:
        """Stream samples in a fixed order; raise DataError for malformed input."""
        raise NotImplementedError

    def count(self) -> int:
        """How many samples ``samples()`` yields, for progress totals and ETAs.

        Cheap by default: a Sample holds a lazy ImageRef, so counting the stream decodes no image.
        Tasks whose stream costs more than reading their index may override it.
        """
        return sum(1 for _ in self.samples())

    def chance_for(self, metric: str) -> float | None:
        """Chance level of ``metric`` (the headline's is ``chance``), or None when undefined."""
        if metric in self.chance_metrics:
            return self.chance_metrics[metric]
        return self.chance if metric == self.headline else None

    def data_fingerprint(self) -> str:
        """The expected files' names, sizes and mtimes and the folders' entry counts: cheap, and
        changes when the data does (a replaced image file changes its samples' cache keys)."""
        from .io import files_fingerprint

        paths = [self.data_dir / rel for rel in self.expected]
        folders = "".join(f"{p.relative_to(self.data_dir)}/:{sum(1 for _ in p.iterdir())}" for p in paths if p.is_dir())
        return files_fingerprint(self.data_dir, [p for p in paths if p.is_file()], salt=folders)

    # ---- prompting --------------------------------------------------------------------
    def prompt(self, sample: Sample) -> str:
        from .samples import IMAGE_TOKEN

        return self.prompt_template.format(image=IMAGE_TOKEN, question=sample.question)

    def prompt_fingerprint(self) -> str:
        blob = json.dumps(
            {"template": self.prompt_template, "prefix": self.answer_prefix, "max_new": self.max_new_tokens},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def request(self, sample: Sample) -> Request:
        return Request(
            sample_id=sample.id,
            prompt=self.prompt(sample),
            image_key=sample.image.key if sample.image else None,
            options=sample.options,
            answer_prefix=self.answer_prefix,
            max_new_tokens=self.max_new_tokens,
        )

    # ---- scoring ----------------------------------------------------------------------
    def score(self, sample: Sample, prediction: str) -> dict[str, Any]:
        """Per-sample record fields; must include ``score`` (float, or None for corpus-level metrics)."""
        raise NotImplementedError

    def stats(self, record: dict[str, Any]) -> dict[str, float]:
        """Summable sufficient statistics of one scored record (torchmetrics-style state).

        Sums of these over records (or over ranks) are all ``compute`` needs, which makes
        aggregation across processes and the bootstrap exact and cheap.
        """
        raise NotImplementedError

    def compute(self, totals: Mapping[str, Any]) -> dict[str, Any]:
        """Metrics from summed statistics; must also work element-wise on numpy arrays (bootstrap)."""
        raise NotImplementedError

    def judge_prompt(self, record: dict[str, Any]) -> str | None:
        """The judge's prompt for one scored record, or None when this record needs no judge."""
        return None

    def apply_verdict(self, record: dict[str, Any], verdict: str) -> None:
        """Update the record's scoring fields from the judge's raw verdict text."""
        raise NotImplementedError(f"task {self.name} asks a judge but does not read its verdicts")

    def prepare(self, records: list[dict[str, Any]]) -> None:
        """Hook for corpus-level scorers (captions, FID) to fill per-record fields before ``stats``."""

    def bootstrap_units(self, records: Sequence[dict[str, Any]]) -> list[list[int]]:
        """Groups of record indices resampled together (default: each record alone)."""
        return [[i] for i in range(len(records))]

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        from .bootstrap import sum_stats

        totals = sum_stats([self.stats(r) for r in records])
        return {k: float(v) for k, v in self.compute(totals).items()}

    def confidence_intervals(
        self, records: list[dict[str, Any]], n_boot: int = 1000, seed: int = 0
    ) -> dict[str, list[float]]:
        """95% percentile bootstrap over ``bootstrap_units`` (fixed seed)."""
        from .bootstrap import bootstrap_ci

        return bootstrap_ci(self, records, n_boot=n_boot, seed=seed)


def key_value_pairs(spec: str | None, flag: str, form: str) -> list[tuple[str, str]]:
    """Split 'k=v,k2=v2' (blank items ignored, whitespace stripped); a bad item names the flag."""
    pairs = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or (form.startswith("task.") and "." not in key):
            raise UserError(f"{flag}: {item!r} is not of the form {form}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_task_args(spec: str | None, task_names: Sequence[str]) -> dict[str, dict[str, str]]:
    """'mmvp.original_labels=true,fid_coco.inception=/p' -> {'mmvp': {...}, 'fid_coco': {...}}."""
    out: dict[str, dict[str, str]] = {}
    for lhs, value in key_value_pairs(spec, "--task-args", "task.key=value"):
        task, key = lhs.split(".", 1)
        out.setdefault(task, {})[key] = value
    return out


def build_config(task_cls: type[Task], args: dict[str, str]) -> TaskConfig:
    """Validate string task args against the task's Config dataclass (types coerced, unknown keys rejected)."""
    cfg_cls = task_cls.Config
    fields = {f.name: f for f in dataclasses.fields(cfg_cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in args.items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise UserError(f"task {task_cls.name}: unknown option {key!r} (known: {known})")
        kwargs[key] = coerce(raw, fields[key].type, f"{task_cls.name}.{key}")
    return cfg_cls(**kwargs)


def coerce(raw: str, typ: Any, what: str) -> Any:
    t = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    t = t.replace(" ", "")
    try:
        if t.startswith("bool"):
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise UserError(f"{what}: cannot read {raw!r} as {t}") from exc
    if raw.lower() in ("none", "null") and "None" in t:
        return None
    return raw
