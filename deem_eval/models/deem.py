"""The ``deem`` adapter: the bundled DEEM model package behind the harness interface.

``--model-args checkpoint=NAME|PATH,device=cpu``: NAME is a bundled checkpoint (``deem-tiny``,
``deem-tiny-nocsr``) and PATH a directory written by ``deem-train``; without a checkpoint the
adapter uses ``deem-tiny``. Images are encoded once per unique image (``encode_images``); region
masks go through DEEM's mask-aware extractor.
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

ARGS = {"checkpoint", "device", "batch_size", "num_beams", "steps", "guidance", "sampler"}
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
    name = "deem"
    supports_masks = True

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
        self._model: Any = None
        self._sha: str | None = None

    # ---- identity ---------------------------------------------------------------------
    def checkpoint_sha256(self) -> str:
        if self._sha is None:
            from deem_model.checkpoint import sha256_file

            self._sha = sha256_file(self.path / "model.safetensors")
        return self._sha

    def fingerprint(self) -> str:
        blob = {"sha": self.checkpoint_sha256(), "config": (self.path / "config.json").read_text(),
                "tokenizer": hashlib.sha256((self.path / "tokenizer.json").read_bytes()).hexdigest(),
                "beams": self.num_beams, "steps": self.steps, "guidance": self.guidance, "sampler": self.sampler}
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

    def generate(self, requests: Sequence[Request]) -> list[str]:
        from deem_model.generation import generate_text

        feats = self._features(requests)
        out: list[str | None] = [None] * len(requests)
        by_len: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_len.setdefault(r.max_new_tokens, []).append(i)
        for max_new, idx in by_len.items():
            texts = generate_text(self.model, [requests[i].prompt for i in idx], features=[feats[i] for i in idx],
                                  answer_prefixes=[requests[i].answer_prefix for i in idx], max_new_tokens=max_new,
                                  num_beams=self.num_beams, batch_size=self.batch_size)
            for i, t in zip(idx, texts, strict=True):
                out[i] = t
        return [t or "" for t in out]

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        from deem_model.generation import score_options

        for r in requests:
            if not r.options:
                raise UserError(f"sample {r.sample_id}: option scoring needs options")
        return score_options(self.model, [r.prompt for r in requests], [r.options for r in requests],
                             features=self._features(requests), answer_prefixes=[r.answer_prefix for r in requests],
                             batch_size=self.batch_size)

    def generate_images(self, prompts: Sequence[str], seed: int) -> list[Any]:
        from deem_model.generation import generate_images

        return generate_images(self.model, list(prompts), seed=seed, steps=self.steps, guidance=self.guidance,
                               sampler=self.sampler, batch_size=self.batch_size)
