"""A tiny LLaVA-1.5-style model built from configs alone, saved like a Hugging Face checkpoint.

Tests need a real image-text-to-text model that loads offline through AutoProcessor and
AutoModelForImageTextToText. This builds one in well under a second: a 2-layer CLIP vision
tower (32 px images, 8 px patches), a 2-layer Llama, a word-level tokenizer whose vocabulary is
written here, a CLIP image processor and a LLaVA processor with a LLaVA-1.5 style chat template.
"""

from __future__ import annotations

from pathlib import Path

IMAGE_SIZE = 32
PATCH_SIZE = 8
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

# LLaVA-1.5 conversation format: "USER: <image>\n{text} ASSISTANT:". Content parts are rendered
# in the order given, so a prompt may place the image between two pieces of text.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'].upper() + ': ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>\n' }}{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ '</s>' }}{% endif %}{{ ' ' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_WORDS = """
user assistant system based on the image please answer question is are there a an in this that
of yes no or and not main object photo picture what which how many color colour shape size
left right top bottom middle center front behind above below next to with without
one two three four five six seven eight nine ten
dog cat car person bus truck bird horse sheep cow bottle chair cup table tree
red green blue yellow black white orange purple pink brown gray grey
circle square triangle star heart arrow round small large big
do does see can you describe caption short sentence letter option options correct
open closed up down facing direction count number
"""
_PUNCT = list(".,:;?!()'\"-/[]")


def vocabulary() -> list[str]:
    """Special tokens first (fixed ids 0-4), then words, digits and punctuation, no repeats."""
    out: list[str] = []
    for tok in [*SPECIAL_TOKENS, *_WORDS.split(), *"0123456789", *_PUNCT]:
        if tok not in out:
            out.append(tok)
    return out


def build_tokenizer():
    """A lowercasing word-level tokenizer that prepends <s>, with <image> as a special token."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(vocabulary())}
    tok = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    tok.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
    )


def build_processor(image_size: int = IMAGE_SIZE, patch_size: int = PATCH_SIZE):
    """LlavaProcessor: CLIP preprocessing (32 px by default) plus the tokenizer and chat template."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=build_tokenizer(),
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,  # the CLS token of the CLIP tower, dropped by "default"
    )


def build_model(vocab_size: int, image_token_id: int, seed: int = 0, image_size: int = IMAGE_SIZE,
                patch_size: int = PATCH_SIZE, text_hidden: int = 64, text_layers: int = 2):
    """LlavaForConditionalGeneration with seeded random weights (large enough init for clear argmaxes).

    A random model never ends its answer: greedy decoding writes the whole token budget."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=32,
    )
    text = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=text_hidden,
        intermediate_size=2 * text_hidden,
        num_hidden_layers=text_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max(512, 2 * (image_size // patch_size) ** 2),
        initializer_range=0.2,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
        projector_hidden_act="gelu",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.bos_token_id = 1
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 3
    return model


def answer_in_one_word(model, vocab: list[str], word: str = "yes") -> None:
    """Make a random model end its answer as a trained one does on a yes/no question: ``word``,
    then end of sequence, after any prompt that does not itself end in ``word``.

    Every other token's input embedding gets a large shared component c, ``word``'s a large
    component d orthogonal to it, and the output rows of ``word`` and of ``</s>`` point along c and
    d. The residual stream at a position is then dominated by its own token's embedding (the
    layers see it normalised, so their compute is unchanged) and the greedy choice is fixed."""
    import torch

    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    gen = torch.Generator().manual_seed(0)
    c, d = torch.linalg.qr(torch.randn(emb.shape[1], 2, generator=gen))[0].T  # orthonormal
    w, eos = vocab.index(word), vocab.index("</s>")
    with torch.no_grad():
        emb += 1e6 * c
        emb[w] = 1e6 * d
        head[w], head[eos] = 4.0 * c, 4.0 * d


def build_tiny_llava(out_dir: Path, seed: int = 0, image_size: int = IMAGE_SIZE, patch_size: int = PATCH_SIZE,
                     text_hidden: int = 64, text_layers: int = 2, one_word: bool = False) -> Path:
    """Write a tiny LLaVA (weights as safetensors, processor, chat template) to ``out_dir``.

    ``image_size=336, patch_size=14`` gives LLaVA-1.5's 576 image tokens per image (benchmarks);
    ``one_word`` makes it answer "yes" and stop (``answer_in_one_word``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    processor = build_processor(image_size, patch_size)
    vocab = vocabulary()
    model = build_model(len(vocab), vocab.index("<image>"), seed=seed, image_size=image_size, patch_size=patch_size,
                        text_hidden=text_hidden, text_layers=text_layers)
    if one_word:
        answer_in_one_word(model, vocab)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
