"""Building a DEEM model (and its tokenizer) from a config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import DeemConfig
from .data import corpus_texts
from .tokenizer import build_word_tokenizer, load_pretrained_tokenizer


def build_tokenizer(cfg: DeemConfig, data_dir: str | Path | None = None, texts: list[str] | None = None) -> Any:
    """The preset's tokenizer: a pretrained one, or a word-level one over the corpora of ``data_dir``."""
    if cfg.tokenizer.pretrained:
        return load_pretrained_tokenizer(cfg.tokenizer)
    if texts is None:
        if data_dir is None:
            raise ValueError("a word-level tokenizer needs the training data (data_dir) or texts")
        texts = corpus_texts(Path(data_dir) / "train")
    return build_word_tokenizer(texts, cfg.tokenizer)


def build_model(cfg: DeemConfig, tokenizer: Any = None, data_dir: str | Path | None = None) -> Any:
    """A randomly initialised (or pretrained-component) DEEM model."""
    from .model import DeemModel

    if tokenizer is None:
        tokenizer = build_tokenizer(cfg, data_dir)
    return DeemModel(cfg, tokenizer)
