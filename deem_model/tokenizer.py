"""The DEEM tokenizer: a Hugging Face fast tokenizer plus the SoI and image-placeholder tokens.

For the tiny preset the vocabulary is built from the training corpora with the ``tokenizers``
library (a word-level model: the world's language is small and closed), and wrapped in
``PreTrainedTokenizerFast`` so it saves and loads like any other Hugging Face tokenizer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import TokenizerConfig

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"

# Splits like the word-level pre-tokenizer below, so the vocabulary matches what it sees.
WORD_PATTERN = r"\(\w\)|\w+|[^\w\s]"

# Instruction words used by the built-in training templates and the evaluation prompts.
TEMPLATE_TEXT = (
    "Based on the image, please answer the question. Please answer yes or no. The answer is yes no "
    "Answer with the option's letter from the given choices directly. Options: (a) (b) (c) (d) "
    "Describe the image briefly. A photo of Describe the region. Generate an image of "
    "What is in the highlighted region? Is there a in the image? Is the main object in this image? "
    "Describe this image in one sentence. Describe the object in the marked region. "
    "Answer the question using a single word or phrase. "
    "0 1 2 3 4 5 6 7 8 9 one two three four five"
)


def _words(text: str, lowercase: bool) -> list[str]:
    if lowercase:
        text = text.lower()
    return re.findall(WORD_PATTERN, text)


def build_word_tokenizer(texts: Iterable[str], cfg: TokenizerConfig, min_count: int = 1):
    """A word-level PreTrainedTokenizerFast over ``texts`` plus the template vocabulary."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_words(text, cfg.lowercase))
    counts.update(_words(TEMPLATE_TEXT, cfg.lowercase) * min_count)
    specials = [PAD, UNK, BOS, EOS, cfg.soi_token, cfg.image_token]
    words = sorted(w for w, c in counts.items() if c >= min_count and w not in specials)
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    tok = Tokenizer(WordLevel(vocab, unk_token=UNK))
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if cfg.lowercase else [])
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(WORD_PATTERN), behavior="isolated", invert=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), tok.pre_tokenizer])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
        additional_special_tokens=[cfg.soi_token, cfg.image_token], clean_up_tokenization_spaces=True,
        model_max_length=cfg.max_length, padding_side="left",
    )
    return fast


def load_pretrained_tokenizer(cfg: TokenizerConfig, path: str | None = None):
    """A saved or hub tokenizer with the DEEM special tokens added (Vicuna for the paper preset)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path or cfg.pretrained, use_fast=True)
    missing = [t for t in (cfg.soi_token, cfg.image_token) if t not in tok.get_vocab()]
    if missing:
        tok.add_special_tokens({"additional_special_tokens": missing})
    if tok.pad_token is None:
        tok.pad_token = tok.unk_token or tok.eos_token
    tok.padding_side = "left"
    return tok


def special_ids(tok: Any, cfg: TokenizerConfig) -> dict[str, int]:
    """Token ids of the special tokens the model needs."""
    ids = {
        "pad": tok.pad_token_id, "bos": tok.bos_token_id, "eos": tok.eos_token_id,
        "soi": tok.convert_tokens_to_ids(cfg.soi_token), "image": tok.convert_tokens_to_ids(cfg.image_token),
    }
    for name, value in ids.items():
        if value is None or (name in ("soi", "image") and value == tok.unk_token_id):
            raise ValueError(f"tokenizer lacks the {name} token")
    return ids


def save_tokenizer(tok: Any, directory: str | Path) -> None:
    tok.save_pretrained(str(directory))
