"""Checkpoint directories: ``model.safetensors`` + ``config.json`` + tokenizer files.

Weights load from safetensors only. A truncated file, or one whose tensors do not match the
config's model, raises a UserError naming the file and the missing/unexpected keys. The file's
sha256 identifies the checkpoint in results.json and cache keys.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from deem_eval.errors import UserError

from .config import DeemConfig, load_config, save_config

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _dedup_state(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Drop tensors that share storage with an earlier one (tied weights); remember the aliases."""
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    out, aliases = {}, {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        out[name] = t
    return out, aliases


def save_weights(model: Any, path: str | Path) -> str:
    """Write the model's state dict as safetensors; returns the file's sha256."""
    from safetensors.torch import save_file

    tensors, aliases = _dedup_state(model.state_dict())
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(tensors, str(path), metadata={"format": "pt", "aliases": json.dumps(aliases, sort_keys=True)})
    return sha256_file(path)


def load_weights(model: Any, path: str | Path) -> str:
    """Load safetensors weights into ``model`` strictly; returns the file's sha256."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint weights not found (expected a {WEIGHTS} file)")
    try:
        tensors, meta = {}, {}
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            for k in fh.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[k] = fh.get_tensor(k)
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: truncated or corrupt safetensors file ({exc})") from exc
    expected = model.state_dict()
    # tied weights (e.g. the LM head sharing the input embedding) are stored once
    _, aliases = _dedup_state(expected)
    aliases.update(json.loads(meta.get("aliases", "{}")))
    missing = sorted(k for k in expected if k not in tensors and aliases.get(k) not in tensors)
    unexpected = sorted(k for k in tensors if k not in expected)
    wrong = sorted(k for k in tensors if k in expected and tuple(tensors[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" ... ({len(keys)} in all)" if len(keys) > 8 else "")

        parts = [f"missing keys: {show(missing)}" if missing else "",
                 f"unexpected keys: {show(unexpected)}" if unexpected else "",
                 f"shape mismatch: {show(wrong)}" if wrong else ""]
        raise UserError(f"{path}: weights do not match the config's model; " + "; ".join(p for p in parts if p))
    for name, target in aliases.items():
        if name in expected and name not in tensors:
            tensors[name] = tensors[target]
    model.load_state_dict(tensors, strict=True)
    return sha256_file(path)


def save_pretrained(model: Any, directory: str | Path) -> str:
    """Weights + config + tokenizer in one self-describing directory; returns the weights' sha256."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_config(model.cfg, directory / CONFIG)
    model.tokenizer.save_pretrained(str(directory))
    return save_weights(model, directory / WEIGHTS)


def load_tokenizer(directory: str | Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file():
        raise UserError(f"{directory}: tokenizer.json not found (a checkpoint directory holds "
                        f"{WEIGHTS}, {CONFIG} and the tokenizer files)")
    try:
        tok = PreTrainedTokenizerFast.from_pretrained(str(directory))
    except Exception as exc:  # noqa: BLE001 - the tokenizers library raises plain Exception for bad files
        raise UserError(f"{directory}: the tokenizer files (tokenizer.json, tokenizer_config.json) cannot be "
                        f"read: {type(exc).__name__}: {exc}") from exc
    tok.padding_side = "left"
    return tok


def load_pretrained(directory: str | Path, device: str = "cpu") -> tuple[Any, str]:
    """(model in eval mode, sha256 of its weights) from a checkpoint directory."""
    from .model import DeemModel

    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: checkpoint directory not found")
    cfg = load_config(directory / CONFIG)
    if not isinstance(cfg, DeemConfig):
        raise UserError(f"{directory / CONFIG}: not a DEEM config (kind {cfg.kind!r})")
    model = DeemModel(cfg, load_tokenizer(directory))
    sha = load_weights(model, directory / WEIGHTS)
    return model.to(device).eval(), sha
