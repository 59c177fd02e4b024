"""Shared parts of the tiny test models: a word-level tokenizer, family-style chat templates, configs.

Every tiny family in ``tiny_families`` uses these, so the vocabulary, the weight scale and the
text-model sizes are the same across families.
"""

from __future__ import annotations

from typing import Any

from tests.models.tiny_llava import _PUNCT, _WORDS

BASE_SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
INIT = 0.2  # large random weights: clear argmaxes, so batch-size equality is a real check


def _vocab(extra: list[str]) -> list[str]:
    out: list[str] = []
    for tok in [*BASE_SPECIALS, *extra, *_WORDS.split(), *"0123456789", *_PUNCT, "\n"]:
        if tok not in out:
            out.append(tok)
    return out


def tokenizer(extra: list[str], bos: bool = True, **named: str):
    """A lowercasing word-level tokenizer; ``extra`` are special tokens, ``named`` their roles."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(_vocab(extra))}
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    # Words and punctuation split on spaces; a newline is a token of its own.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"), pre_tokenizers.Whitespace()]
    )
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
        )
    tok.add_special_tokens([*BASE_SPECIALS, *extra])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens=named,
        padding_side="left",
    )


def chat_template(image: str, user: str, end: str, assistant: str, bos: str = "") -> str:
    """A family-style template: ``{bos}{user}<parts>{end}{assistant}`` with images rendered as ``image``."""
    return (
        f"{{{{ '{bos}' }}}}"
        "{% for message in messages %}"
        f"{{% if message['role'] == 'user' %}}{{{{ '{user}' }}}}{{% else %}}{{{{ '{assistant}' }}}}{{% endif %}}"
        "{% if message['content'] is string %}{{ message['content'] }}"
        "{% else %}{% for part in message['content'] %}"
        f"{{% if part['type'] == 'image' %}}{{{{ '{image}' }}}}"
        "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
        "{% endfor %}{% endif %}"
        f"{{{{ '{end}' }}}}"
        "{% endfor %}"
        f"{{% if add_generation_prompt %}}{{{{ '{assistant}' }}}}{{% endif %}}"
    )


def token_ids(tok, *names: str) -> dict[str, int]:
    return {n: tok.convert_tokens_to_ids(n) for n in names}


def llama(vocab_size: int, **kw):
    from transformers import LlamaConfig

    return LlamaConfig(**text_kwargs(vocab_size), **kw)


def text_kwargs(vocab_size: int) -> dict[str, Any]:
    return dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        initializer_range=INIT,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
    )


def siglip(image_size: int = 32, patch: int = 8, **kw):
    from transformers import SiglipVisionConfig

    return SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=image_size, patch_size=patch, **kw,
    )


def clip():
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8, projection_dim=32,
    )


def qwen2(vocab_size: int, **kw):
    from transformers import Qwen2Config

    t = text_kwargs(vocab_size)
    t.pop("head_dim")
    return Qwen2Config(**t, **kw)


def gemma_text(vocab_size: int, cls):
    t = text_kwargs(vocab_size)
    t.update(num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16)
    return cls(**t)
