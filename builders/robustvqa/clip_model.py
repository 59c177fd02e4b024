"""Load the open_clip mining model offline-safely and compute cached class text embeddings.

A missing weight file must fail fast with a message on how to pass a local checkpoint,
never hang on a network that is not there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deem_eval.errors import UserError
from deem_eval.runtime import cache_dir

from .classnames import fill

LOCAL_DIR = "local-dir:"
_WEIGHT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                 "open_clip_pytorch_model.bin", "model.safetensors", "pytorch_model.bin")
_HINT = ("pass a local checkpoint: --clip-pretrained /path/to/open_clip_model.safetensors (with the matching "
         "--clip-model NAME), or --clip-model local-dir:/path to a folder holding open_clip_config.json and "
         "open_clip_model.safetensors")


@dataclass
class ClipBundle:
    """A ready mining model with its eval transform, tokenizer and a stable fingerprint."""

    model: Any
    preprocess: Callable
    tokenizer: Callable
    name: str
    pretrained: str | None
    fingerprint: str
    device: str


def sha256_file(path: Path | str, h: Any = None) -> str:
    """Stream a file into a sha256 (or into `h`) and return the hex digest."""
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Force huggingface_hub into offline mode (cache only) for the duration of the block."""
    import huggingface_hub.constants as hc

    old_env, old_flag = os.environ.get("HF_HUB_OFFLINE"), hc.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = "1"
    hc.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hc.HF_HUB_OFFLINE = old_flag
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env


def network_available(timeout: float = 3.0) -> bool:
    """False when offline mode is requested or the Hub endpoint cannot be reached quickly."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    import huggingface_hub.constants as hc

    if hc.HF_HUB_OFFLINE:
        return False
    url = urlparse(hc.ENDPOINT)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_weights(cfg: dict) -> str | None:
    """Path of the tag's weights when already in the local cache, else None (no network use)."""
    from huggingface_hub import try_to_load_from_cache
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    if cfg.get("file"):
        return cfg["file"] if os.path.isfile(cfg["file"]) else None
    if cfg.get("hf_hub"):
        repo, filename = os.path.split(cfg["hf_hub"])
        candidates = [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME] if not filename else [filename]
        if filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for name in candidates:
            hit = try_to_load_from_cache(repo, name)
            if isinstance(hit, str):
                return hit
    if cfg.get("url"):
        target = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        if target.is_file():
            return str(target)
    return None


def _local_dir(path_text: str) -> tuple[Path, str]:
    path = Path(path_text).expanduser()
    config = path / "open_clip_config.json"
    if not config.is_file():
        raise UserError(f"{path}: --clip-model local-dir: needs a folder holding open_clip_config.json "
                        f"and open_clip_model.safetensors")
    weights = next((path / n for n in _WEIGHT_NAMES if (path / n).is_file()), None)
    if weights is None:
        raise UserError(f"{path}: no weights found (expected open_clip_model.safetensors next to "
                        f"open_clip_config.json)")
    h = hashlib.sha256(config.read_bytes())
    return path, f"local-dir/sha256:{sha256_file(weights, h)}"


def _resolve(name: str, pretrained: str | None) -> tuple[str | None, str, bool]:
    """(pretrained argument for open_clip, fingerprint, whether to load hub files offline)."""
    import open_clip

    if name.startswith(LOCAL_DIR):
        _, fp = _local_dir(name[len(LOCAL_DIR):])
        return None, fp, True
    if name.startswith("hf-hub:"):
        return None, f"{name}", not network_available()
    if name not in open_clip.list_models():
        raise UserError(f"--clip-model {name!r} is not an open_clip model name; see open_clip.list_models(), "
                        f"or {_HINT}")
    if not pretrained:
        raise UserError(f"--clip-pretrained is required with --clip-model {name} (a tag such as 'openai' or "
                        f"a checkpoint path); random weights cannot mine negatives")
    path = Path(pretrained).expanduser()
    if path.is_file():
        return str(path), f"{name}/sha256:{sha256_file(path)}", True
    cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if not cfg:
        if os.sep in pretrained or path.suffix in {".safetensors", ".pt", ".pth", ".bin"}:
            raise UserError(f"{pretrained}: checkpoint file not found")
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise UserError(f"--clip-pretrained {pretrained!r} is neither a file nor a known tag for {name} "
                        f"(known tags: {tags})")
    if _cached_weights(cfg) is not None:
        return pretrained, f"{name}/{pretrained}", True
    if not network_available():
        raise UserError(f"CLIP weights for {name} ({pretrained}) are not in the local cache and the network is "
                        f"unavailable or HF_HUB_OFFLINE is set; {_HINT}")
    return pretrained, f"{name}/{pretrained}", False


def load_clip(name: str, pretrained: str | None, device: str) -> ClipBundle:
    """Create the open_clip model in eval mode; user errors become UserError with the local-checkpoint hint."""
    import open_clip
    import torch

    arg, fingerprint, offline = _resolve(name, pretrained)
    guard = hub_offline() if offline else contextlib.nullcontext()
    try:
        with guard:
            torch.manual_seed(0)
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=arg, device=device)
            tokenizer = open_clip.get_tokenizer(name)
    except UserError:
        raise
    except Exception as e:  # open_clip reports bad configs, checkpoints and downloads with many types
        raise UserError(f"could not load CLIP model {name} ({pretrained}): {e}; {_HINT}") from e
    model.eval()
    used = None if name.startswith((LOCAL_DIR, "hf-hub:")) else pretrained
    return ClipBundle(model, preprocess, tokenizer, name, used, fingerprint, str(device))


def text_cache_path(fingerprint: str, names: list[str], template_list: list[str]) -> Path:
    """Cache file for class embeddings, keyed by model fingerprint, class list and templates."""
    key = json.dumps({"model": fingerprint, "names": names, "templates": template_list}, ensure_ascii=False)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return Path(cache_dir()) / "robustvqa" / "text" / f"{digest}.safetensors"


def class_embeddings(bundle: ClipBundle, names: list[str], template_list: list[str],
                     batch_size: int = 256, use_cache: bool = True,
                     advance: Callable[[int], None] | None = None) -> Any:
    """[C, D] float32 class embeddings: per-template L2-normalised, averaged, normalised again."""
    import torch
    from safetensors.torch import load_file, save_file

    path = text_cache_path(bundle.fingerprint, names, template_list)
    if use_cache and path.is_file():
        with contextlib.suppress(Exception):
            emb = load_file(str(path))["embeddings"]
            if emb.shape[0] == len(names):
                if advance:
                    advance(len(names))
                return emb
    per_chunk = max(1, batch_size // len(template_list))
    rows = []
    with torch.inference_mode():
        for start in range(0, len(names), per_chunk):
            chunk = names[start:start + per_chunk]
            texts = [fill(t, n) for n in chunk for t in template_list]
            tokens = bundle.tokenizer(texts).to(bundle.device)
            feats = bundle.model.encode_text(tokens).float()
            feats = torch.nn.functional.normalize(feats, dim=-1)
            feats = feats.reshape(len(chunk), len(template_list), -1).mean(dim=1)
            rows.append(torch.nn.functional.normalize(feats, dim=-1).cpu())
            if advance:
                advance(len(chunk))
    emb = torch.cat(rows).contiguous()
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({"embeddings": emb}, str(tmp))
        os.replace(tmp, path)
    return emb
