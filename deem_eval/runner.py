"""The evaluation engine: shard, batch, cache, encode each image once, call the model, score.

One ``evaluate_task`` call streams a task's samples (never holding its images in memory),
answers them in batches through the model adapter, and returns scored results on rank 0.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import ResponseCache, cache_key
from .errors import SampleError, UserError
from .evaluation import Outcome, TaskResult, finalize
from .models.base import ModelAdapter
from .samples import Request, Sample
from .task import Task

OPTION_SCORE_DECIMALS = 4
"""Option scores are kept to 1e-4: enough to rank and plot, and stable across batch sizes and
prefix sharing (float sums differ in the last bits), so samples files stay byte-identical."""


@dataclass
class RunSettings:
    batch_size: int = 8
    scoring: str = "generate"  # or "logits"
    limit: int | None = None
    seed: int = 0
    n_boot: int = 1000
    feature_cache_size: int = 1024
    image_dir: Path | None = None  # where generated images are written (image tasks)


@dataclass
class Timer:
    model_s: float = 0.0

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.model_s += time.perf_counter() - t0


@dataclass
class TaskStats:
    n_image_encodes: int = 0
    n_cached: int = 0
    n_computed: int = 0
    wall_s: float = 0.0
    model_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Distributed:
    """Rank and gathering; a single process when not launched by accelerate/torchrun."""

    def __init__(self) -> None:
        import os

        self.rank, self.world_size = 0, 1
        self._state = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            import torch
            from accelerate import PartialState

            self._state = PartialState(cpu=not torch.cuda.is_available())
            self.rank, self.world_size = self._state.process_index, self._state.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def gather(self, items: list[Any]) -> list[Any]:
        if self._state is None:
            return items
        from accelerate.utils import gather_object

        return gather_object(items)

    def barrier(self) -> None:
        if self._state is not None:
            self._state.wait_for_everyone()

    def close(self, wait: bool = True) -> None:
        """Tear the process group down before the interpreter exits: a process leaving with a
        live gloo group can abort in its C++ destructors (SIGABRT), failing the whole launch."""
        if self._state is None:
            return
        if wait:
            self._state.wait_for_everyone()
        self._state.destroy_process_group()
        self._state = None


def mode_for(task: Task, model: ModelAdapter, scoring: str) -> str:
    """How a task's samples are answered: 'options', 'generate' or 'image'."""
    if task.output_type == "image":
        if not model.can_generate_images:
            raise UserError(f"task {task.name} needs image generation, which model {model.name!r} lacks")
        return "image"
    if scoring == "logits" and task.output_type in ("yesno", "options"):
        if model.can_score_options:
            return "options"
        raise UserError(f"--scoring logits: model {model.name!r} cannot score options")
    if not model.can_generate:
        if task.output_type in ("yesno", "options") and model.can_score_options:
            return "options"
        raise UserError(f"task {task.name} needs text generation, which model {model.name!r} lacks")
    return "generate"


def _chosen(req: Request, scores: Any) -> tuple[str | SampleError, dict[str, float] | None]:
    """The best-scoring option and every option's score, or a SampleError for a refused request.

    A NaN score (a model's overflow, say) would make the choice arbitrary: it is this sample's
    error instead. Equal scores go to the first option listed."""
    if isinstance(scores, SampleError):
        return scores, None
    values = [float(x) for x in scores]
    if len(values) != len(req.options):
        return SampleError(f"sample {req.sample_id}: the model scored {len(values)} options, "
                           f"the sample has {len(req.options)}"), None
    bad = [o for o, x in zip(req.options, values, strict=True) if math.isnan(x)]
    if bad:
        return SampleError(f"sample {req.sample_id}: the model's score for option {bad[0]!r} is NaN"), None
    best = max(range(len(values)), key=values.__getitem__)
    return req.options[best], dict(zip(req.options, (round(x, OPTION_SCORE_DECIMALS) for x in values), strict=True))


def _batches(it: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class TaskRunner:
    def __init__(self, task: Task, model: ModelAdapter, settings: RunSettings, cache: ResponseCache, dist: Distributed):
        self.task, self.model, self.s, self.cache, self.dist = task, model, settings, cache, dist
        self.mode = mode_for(task, model, settings.scoring)
        self.timer = Timer()
        self.stats = TaskStats()
        self._features: OrderedDict[str, Any] = OrderedDict()
        self._encoded: set[str] = set()
        self._key_prefix: str | None = None
        self._key_base = dict(
            model=model.fingerprint(),
            task=task.name,
            data=task.data_fingerprint(),
            prompt=task.prompt_fingerprint(),
            mode=self.mode,
            max_new_tokens=task.max_new_tokens,
            seed=settings.seed if self.mode == "image" else None,
        )

    # ---- sample stream -------------------------------------------------------------------
    def my_samples(self) -> Iterator[tuple[int, Sample]]:
        """This rank's share: runs of consecutive samples on the same image go to one rank,
        so an image asked about several times (POPE: six) is encoded by one process only."""
        stream = enumerate(self.task.samples())
        if self.s.limit is not None:
            stream = itertools.islice(stream, self.s.limit)
        unit, last_key = -1, object()
        for i, sample in stream:
            key = sample.image.key if sample.image is not None else None
            if key is None or key != last_key:
                unit += 1
            last_key = key
            if unit % self.dist.world_size == self.dist.rank:
                yield i, sample

    def key(self, sample: Sample) -> str:
        if self._key_prefix is None:
            self._key_prefix = cache_key(**self._key_base)
        image = sample.image.fingerprint() if sample.image is not None else None
        return cache_key(base=self._key_prefix, sample=sample.id, options=sample.options, image=image)

    # ---- images ----------------------------------------------------------------------------
    def _region_key(self, sample: Sample) -> str:
        assert sample.image is not None
        if sample.region is None:
            return sample.image.key
        r = sample.region
        h = hashlib.sha1(repr((r.bbox, r.polygons)).encode()).hexdigest()[:12]
        return f"{sample.image.key}#{h}"

    def load_image(self, sample: Sample) -> tuple[Any, Any]:
        """Decode a sample's image (and its region as a mask or a drawn box); SampleError if bad."""
        assert sample.image is not None
        image = sample.image.load()
        mask = None
        if sample.region is not None:
            if self.model.supports_masks:
                mask = sample.region.mask(image.width, image.height)
            elif hasattr(self.task, "render_region"):
                image = self.task.render_region(image, sample.region)
        return image, mask

    def preload(self, batch: list[tuple[int, Sample]]) -> dict[int, Any]:
        """Images a batch will need (run one batch ahead in a thread, overlapping the model)."""
        out: dict[int, Any] = {}
        if self.mode == "image":
            return out
        for i, sample in batch:
            if sample.image is None or self._region_key(sample) in self._features:
                continue
            try:
                out[i] = self.load_image(sample)
            except SampleError as exc:
                out[i] = exc
        return out

    def _encode(self, needed: dict[str, tuple[Any, Any]]) -> None:
        """Encode each not-yet-encoded image of the batch in one call and keep the features."""
        keys = list(needed)
        feats = self.timer.call(self.model.encode_images, [needed[k][0] for k in keys], [needed[k][1] for k in keys])
        for k, f in zip(keys, feats, strict=True):
            if k not in self._encoded:
                self._encoded.add(k)
                self.stats.n_image_encodes += 1
            self._features[k] = f
            if len(self._features) > self.s.feature_cache_size:
                self._features.popitem(last=False)

    # ---- answering --------------------------------------------------------------------------
    def answer(self, batch: list[tuple[int, Sample]], loaded: dict[int, Any] | None = None) -> list[tuple[int, Outcome]]:
        loaded = loaded or {}
        keys = [self.key(s) for _, s in batch]
        cached = self.cache.get_many(keys)
        out: dict[int, Outcome] = {}
        todo: list[tuple[int, Sample, Request, str]] = []
        fresh: dict[str, Any] = {}
        needed: dict[str, tuple[Any, Any]] = {}
        for (i, sample), k in zip(batch, keys, strict=True):
            hit = cached.get(k)
            if hit is not None and self.mode == "image" and not hit.get("error"):
                hit = self._adopt_image(hit)
            if hit is not None and (self.mode != "options" or hit.get("error") or "option_scores" in hit):
                self.stats.n_cached += 1
                out[i] = Outcome(
                    sample, self.task.prompt(sample), hit["prediction"], hit.get("error"), hit.get("option_scores")
                )
                continue
            req = self.task.request(sample)
            if self.mode != "image" and sample.image is not None:
                rk = req.image_key = self._region_key(sample)
                if rk not in self._features and rk not in needed:
                    got = loaded.get(i)
                    try:
                        if got is None:
                            got = self.load_image(sample)
                        elif isinstance(got, SampleError):
                            raise got
                    except SampleError as exc:
                        out[i] = Outcome(sample, req.prompt, None, str(exc))
                        fresh[k] = {"prediction": None, "error": str(exc)}
                        continue
                    needed[rk] = got
            todo.append((i, sample, req, k))
        if needed and self.model.can_encode_images:
            self._encode(needed)
        for _, _, req, _ in todo:
            if req.image_key is None or self.mode == "image":
                continue
            if self.model.can_encode_images:
                req.image = self._features[req.image_key]
            else:
                req.image, req.mask = needed[req.image_key]
        if todo:
            reqs = [t[2] for t in todo]
            preds = self._predict(reqs, [t[1] for t in todo])
            for (i, sample, req, k), (pred, opt) in zip(todo, preds, strict=True):
                if isinstance(pred, SampleError):  # the model refused this one request: not cached
                    out[i] = Outcome(sample, req.prompt, None, str(pred))
                    continue
                out[i] = Outcome(sample, req.prompt, pred, None, opt)
                fresh[k] = {"prediction": pred, "error": None} | ({"option_scores": opt} if opt is not None else {})
            self.stats.n_computed += len(todo)
        self.cache.put_many(fresh)
        return sorted(out.items(), key=lambda kv: kv[0])

    def _adopt_image(self, hit: dict[str, Any]) -> dict[str, Any] | None:
        """A cached generated image, copied into this run's image folder (a miss if it is gone),
        so a run never points into another run's folder."""
        import shutil

        src = Path(str(hit.get("prediction") or ""))
        if not src.is_file():
            return None
        assert self.s.image_dir is not None, "image tasks need an image_dir"
        dst = self.s.image_dir / src.name
        if dst.resolve() != src.resolve():
            self.s.image_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        return {**hit, "prediction": str(dst)}

    def _predict(self, reqs: list[Request], samples: list[Sample]
                 ) -> list[tuple[str | SampleError, dict[str, float] | None]]:
        """(prediction, each option's score or None) per request; a SampleError for a refused one."""
        if self.mode == "options":
            scores = self.timer.call(self.model.score_options, reqs)
            return [_chosen(r, sc) for r, sc in zip(reqs, scores, strict=True)]
        if self.mode == "generate":
            return [(p, None) for p in self.timer.call(self.model.generate, reqs)]
        images = self.timer.call(self.model.generate_images, [s.question for s in samples], self.s.seed)
        assert self.s.image_dir is not None, "image tasks need an image_dir"
        self.s.image_dir.mkdir(parents=True, exist_ok=True)
        names = []
        for s, im in zip(samples, images, strict=True):
            name = hashlib.sha1(s.id.encode()).hexdigest()[:16] + ".png"
            im.save(self.s.image_dir / name)
            names.append(str(self.s.image_dir / name))
        return [(n, None) for n in names]

    def _finish(self, pending, results: list, progress: Callable[[int], None] | None) -> None:
        batch, ahead = pending
        results.extend(self.answer(batch, ahead.result()))
        if progress:
            progress(len(batch))

    def run(self, progress: Callable[[int], None] | None = None) -> list[tuple[int, Outcome]]:
        t0 = time.perf_counter()
        self.model.begin_task()
        results: list[tuple[int, Outcome]] = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for batch in _batches(self.my_samples(), self.s.batch_size):
                ahead = pool.submit(self.preload, batch)
                if pending is not None:
                    self._finish(pending, results, progress)
                pending = (batch, ahead)
            if pending is not None:
                self._finish(pending, results, progress)
        self.stats.wall_s = time.perf_counter() - t0
        self.stats.model_s = self.timer.model_s
        self.stats.extra.update(self.model.prefill_stats() or {})
        return results


def evaluate_task(
    task: Task,
    model: ModelAdapter,
    settings: RunSettings,
    cache: ResponseCache,
    dist: Distributed,
    progress: Callable[[int], None] | None = None,
) -> tuple[TaskResult | None, TaskStats]:
    """Run one task on this rank, gather on rank 0 and score there (other ranks get None)."""
    runner = TaskRunner(task, model, settings, cache, dist)
    local = runner.run(progress)
    payload = [(i, o.sample.id, o.prediction, o.error, o.option_scores) for i, o in local]
    stats = [runner.stats]
    gathered = dist.gather(payload)
    all_stats = dist.gather(stats)
    if not dist.is_main:
        return None, runner.stats
    seen: dict[int, tuple[str, str | None, str | None, dict[str, float] | None]] = {}
    for i, sid, pred, err, opt in gathered:
        seen.setdefault(i, (sid, pred, err, opt))  # a sample appears once per rank at most; keep one
    by_index = dict(local) if dist.world_size == 1 else None
    outcomes: list[Outcome] = []
    if by_index is not None:
        outcomes = [by_index[i] for i in sorted(by_index)]
    else:
        # Rank 0 re-reads the sample stream to pair gathered predictions with their samples.
        stream = enumerate(task.samples())
        if settings.limit is not None:
            stream = itertools.islice(stream, settings.limit)
        for i, sample in stream:
            sid, pred, err, opt = seen[i]
            assert sid == sample.id, f"sample order differs across ranks at {i}: {sid} != {sample.id}"
            outcomes.append(Outcome(sample, task.prompt(sample), pred, err, opt))
    if not outcomes:
        raise UserError(f"task {task.name}: no samples found under {task.data_dir}")
    merged = TaskStats(
        n_image_encodes=sum(s.n_image_encodes for s in all_stats),
        n_cached=sum(s.n_cached for s in all_stats),
        n_computed=sum(s.n_computed for s in all_stats),
        wall_s=max(s.wall_s for s in all_stats),
        model_s=max(s.model_s for s in all_stats),
        extra={k: sum(s.extra[k] for s in all_stats) for k in all_stats[0].extra},
    )
    result = finalize(task, outcomes, n_boot=settings.n_boot, seed=settings.seed)
    return result, merged
