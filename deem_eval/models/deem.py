"""The ``deem`` adapter: the bundled DEEM model package behind the harness interface.

``--model-args checkpoint=NAME|PATH,device=cpu``: NAME is a bundled checkpoint (``deem-tiny``,
``deem-tiny-nocsr``) and PATH a directory written by ``deem-train``; without a checkpoint the
adapter uses ``deem-tiny``. Images are encoded once per unique image (``encode_images``); region
masks go through DEEM's mask-aware extractor. ``prefix_cache=on`` (default) shares the common
prefix of the questions on one image (``deem_eval.models.prefix``) in option scoring and greedy
generation; ``prefix_cache=off`` runs every row in full, for comparison.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..registry import register_model
from ..samples import Request
from .base import ModelAdapter

ARGS = {"checkpoint", "device", "batch_size", "num_beams", "steps", "guidance", "sampler", "prefix_cache"}
DEFAULT_CHECKPOINT = "deem-tiny"


def resolve_checkpoint(spec: str | None) -> Path:
    """A bundled checkpoint name or a directory -> the checkpoint directory (checked to exist)."""
    from deem_model import BUNDLED, bundled_checkpoint

    spec = spec or DEFAULT_CHECKPOINT
    if spec in BUNDLED:
        path = bundled_checkpoint(spec)
        if not (path / "model.safetensors").is_file():
            raise UserError(f"the bundled checkpoint {spec!r} has not been built yet ({path}); create it with "
                            "`make checkpoints` (python -m deem_model.train.pipeline --out deem_model/checkpoints)")
        return path
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise UserError(f"checkpoint {spec!r}: neither a bundled checkpoint ({', '.join(BUNDLED[:2])}) "
                        "nor a directory")
    if not (path / "model.safetensors").is_file() or not (path / "config.json").is_file():
        raise UserError(f"{path}: not a DEEM checkpoint (expected model.safetensors, config.json and tokenizer files)")
    return path


def _int(args: dict[str, str], key: str, default: int) -> int:
    try:
        return int(args.get(key, default))
    except ValueError as exc:
        raise UserError(f"--model-args {key}={args[key]!r}: expected an integer") from exc


def _float(args: dict[str, str], key: str, default: float) -> float:
    try:
        return float(args.get(key, default))
    except ValueError as exc:
        raise UserError(f"--model-args {key}={args[key]!r}: expected a number") from exc


@register_model("deem")
class DeemAdapter(ModelAdapter):
    """The bundled DEEM model package (deem-tiny by default, or a deem-train checkpoint folder)."""

    name = "deem"
    supports_masks = True
    prefix_sharing = "yes"

    def __init__(self, **model_args: str):
        super().__init__(**model_args)
        unknown = sorted(set(model_args) - ARGS)
        if unknown:
            raise UserError(f"--model-args: unknown keys {unknown} for model 'deem' (known: {sorted(ARGS)})")
        self.path = resolve_checkpoint(model_args.get("checkpoint"))
        self.device = model_args.get("device", "cpu")
        self.batch_size = _int(model_args, "batch_size", 8)
        self.num_beams = _int(model_args, "num_beams", 1)
        self.steps = _int(model_args, "steps", 25)
        self.guidance = _float(model_args, "guidance", 3.0)
        self.sampler = model_args.get("sampler", "ddim")
        if self.sampler not in ("ddim", "ddpm"):
            raise UserError(f"--model-args sampler={self.sampler!r}: expected ddim or ddpm")
        cache = model_args.get("prefix_cache", "on").strip().lower()
        if cache not in ("on", "off"):
            raise UserError(f"--model-args prefix_cache={cache!r}: expected on or off")
        self.prefix_cache = cache == "on"
        self._model: Any = None
        self._sha: str | None = None
        self._shared: Any = None
        self._counter: Any = None

    # ---- identity ---------------------------------------------------------------------
    def checkpoint_sha256(self) -> str:
        if self._sha is None:
            from deem_model.checkpoint import sha256_file

            self._sha = sha256_file(self.path / "model.safetensors")
        return self._sha

    def fingerprint(self) -> str:
        blob = {"sha": self.checkpoint_sha256(), "config": (self.path / "config.json").read_text(),
                "tokenizer": hashlib.sha256((self.path / "tokenizer.json").read_bytes()).hexdigest(),
                "beams": self.num_beams, "steps": self.steps, "guidance": self.guidance, "sampler": self.sampler,
                "prefix_cache": self.prefix_cache}
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:32]

    def versions(self) -> dict[str, str]:
        from importlib.metadata import PackageNotFoundError, version

        out = {}
        for dist in ("deem-eval", "torch", "transformers", "diffusers", "open_clip_torch"):
            try:
                out[dist.replace("_torch", "")] = version(dist)
            except PackageNotFoundError:
                continue
        return out

    @property
    def model(self) -> Any:
        if self._model is None:
            from deem_eval.runtime import set_torch_threads
            from deem_model.checkpoint import load_pretrained

            set_torch_threads()
            self._model, self._sha = load_pretrained(self.path, device=self.device)
        return self._model

    # ---- abilities --------------------------------------------------------------------
    def encode_images(self, images: Sequence[Any], masks: Sequence[Any] | None = None) -> list[Any]:
        from deem_model.generation import encode_images

        return encode_images(self.model, list(images), None if masks is None else list(masks))

    @staticmethod
    def _split(requests: Sequence[Request]) -> tuple[list[Any], list[Any], list[Any]]:
        """Per request: features (already encoded) or an image, plus its mask."""
        import torch

        feats, imgs, masks = [], [], []
        for r in requests:
            is_feat = isinstance(r.image, torch.Tensor) and r.image.dim() == 2
            feats.append(r.image if is_feat else None)
            imgs.append(None if is_feat else r.image)
            masks.append(None if is_feat else r.mask)
        return feats, imgs, masks

    def _features(self, requests: Sequence[Request]) -> list[Any]:
        feats, imgs, masks = self._split(requests)
        todo = [i for i, im in enumerate(imgs) if im is not None]
        if todo:
            enc = self.encode_images([imgs[i] for i in todo], [masks[i] for i in todo])
            for i, f in zip(todo, enc, strict=True):
                feats[i] = f
        return feats

    # ---- prefix sharing ----------------------------------------------------------------
    @property
    def shared(self) -> Any:
        if self._shared is None:
            from .prefix import SharedPrefixLM

            self._shared = SharedPrefixLM(self.model.mm_decoder.llm, device=self.model.device)
            if self._counter is not None:
                self._shared.reset(self._counter)
        return self._shared

    def begin_task(self) -> None:
        from .prefix import PrefillCounter

        self._counter = PrefillCounter()
        if self._shared is not None:  # image keys are unique within a task only
            self._shared.reset(self._counter)

    def prefill_stats(self) -> dict[str, int] | None:
        return None if self._counter is None else self._counter.stats()

    def _count_unshared(self, rows: list[list[int]], keys: list[str | None], min_suffix: list[int]) -> None:
        """Without sharing every row is prefilled in full; the floor is counted all the same."""
        if self._counter is None:
            return
        self._counter.n_prefill_tokens += sum(len(r) for r in rows)
        for r, k, m in zip(rows, keys, min_suffix, strict=True):
            self._counter.note(k, r, m)

    def _ids(self, r: Request) -> list[int]:
        from deem_model.generation import _prompt_ids

        return _prompt_ids(self.model, r.prompt, r.answer_prefix)

    def _rows(self, requests: Sequence[Request], feats: list[Any], extra: list[list[int]] | None = None):
        """Token ids and spliced input embeddings of each request's prompt (+ answer prefix, + extra ids)."""
        import torch

        model = self.model
        out = []
        for j, r in enumerate(requests):
            ids = self._ids(r) + (extra[j] if extra else [])
            f = feats[j]
            img = None if f is None else (f[None] if f.dim() == 2 else f)
            with torch.inference_mode():
                emb = model.mm_decoder.embed(torch.tensor([ids], device=model.device),
                                             None if img is None else img.to(model.device))[0]
            out.append((ids, emb))
        return out

    def generate(self, requests: Sequence[Request]) -> list[str]:
        from deem_model.generation import _features, generate_text

        feats = self._features(requests)
        out: list[str | None] = [None] * len(requests)
        by_len: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_len.setdefault(r.max_new_tokens, []).append(i)
        share = self.prefix_cache and self.num_beams == 1
        for max_new, idx in by_len.items():
            chunk = [requests[i] for i in idx]
            if not share:
                texts = generate_text(self.model, [r.prompt for r in chunk], features=[feats[i] for i in idx],
                                      answer_prefixes=[r.answer_prefix for r in chunk], max_new_tokens=max_new,
                                      num_beams=self.num_beams, batch_size=self.batch_size)
                rows = [self._ids(r) for r in chunk]
                self._count_unshared(rows, [r.image_key for r in chunk], [1] * len(rows))
            else:
                from .prefix import Row

                f = _features(self.model, [r.prompt for r in chunk], None, [feats[i] for i in idx], None)
                texts = []
                for b in range(0, len(chunk), self.batch_size):
                    part = chunk[b: b + self.batch_size]
                    rows = [Row(r.image_key, ids, emb) for r, (ids, emb) in
                            zip(part, self._rows(part, f[b: b + self.batch_size]), strict=True)]
                    m = self.model
                    toks = self.shared.greedy(rows, max_new, [m.ids["eos"], m.ids["soi"]],
                                              m.mm_decoder.llm.get_input_embeddings())
                    texts.extend(m.tokenizer.decode(t, skip_special_tokens=True).strip() for t in toks)
            for i, t in zip(idx, texts, strict=True):
                out[i] = t
        return [t or "" for t in out]

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        from deem_model.generation import _features, score_options
        from deem_model.prompting import text_ids

        for r in requests:
            if not r.options:
                raise UserError(f"sample {r.sample_id}: option scoring needs options")
        feats = self._features(requests)
        opts = [[text_ids(self.model.tokenizer, o) for o in r.options] for r in requests]
        if not self.prefix_cache:
            if self._counter is not None:
                rows, keys, mins = [], [], []
                for r, o in zip(requests, opts, strict=True):
                    ids = self._ids(r)
                    single = all(len(x) == 1 for x in o)
                    for x in ([[]] if single else o):
                        rows.append(ids + x)
                        keys.append(r.image_key)
                        mins.append(len(x) + 1)
                self._count_unshared(rows, keys, mins)
            return score_options(self.model, [r.prompt for r in requests], [r.options for r in requests],
                                 features=feats, answer_prefixes=[r.answer_prefix for r in requests],
                                 batch_size=self.batch_size)
        from .prefix import Row

        f = _features(self.model, [r.prompt for r in requests], None, feats, None)
        results: list[list[float]] = []
        for b in range(0, len(requests), self.batch_size):
            part, part_opts = requests[b: b + self.batch_size], opts[b: b + self.batch_size]
            rows, plan = [], []
            for j, (r, o) in enumerate(zip(part, part_opts, strict=True)):
                if any(not x for x in o):
                    raise UserError(f"sample {r.sample_id}: an option tokenizes to nothing: {r.options!r}")
                single = all(len(x) == 1 for x in o)
                plan.append((single, len(rows), [x[0] for x in o] if single else o))
                for x in ([[]] if single else o):
                    ids, emb = self._rows([r], [f[b + j]], [x])[0]
                    rows.append(Row(r.image_key, ids, emb, min_suffix=len(x) + 1, sub=r.sample_id))
            logits = self.shared.logits(rows)
            for single, start, o in plan:
                if single:
                    lp = logits[start][-1].log_softmax(-1)
                    results.append([float(lp[t]) for t in o])
                    continue
                scores = []
                for k, x in enumerate(o):
                    lp = logits[start + k].log_softmax(-1)  # last len(x)+1 positions
                    scores.append(float(sum(lp[i, t] for i, t in enumerate(x))))
                results.append(scores)
        return results

    def generate_images(self, prompts: Sequence[str], seed: int) -> list[Any]:
        from deem_model.generation import generate_images

        return generate_images(self.model, list(prompts), seed=seed, steps=self.steps, guidance=self.guidance,
                               sampler=self.sampler, batch_size=self.batch_size)
