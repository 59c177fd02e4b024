"""What ``hf-vlm`` knows about each Hugging Face VLM family: prompts, image nesting, positions, reuse.

One ``Family`` per ``config.model_type``. The shared scoring code (``hf_vlm.py``) and the input
builder (``hf_inputs.py``) read these facts instead of branching on model names, and
``deem-eval models`` prints them (``capability_rows``).

- ``prompt``: ``chat`` renders the processor's own chat template; ``paligemma`` is PaliGemma's
  documented format (image tokens, ``<bos>``, the prompt, ``\\n``; the answer is the "suffix").
- ``nested``: the processor wants ``images`` as one list per sample (a flat list crashes or
  mis-assigns images once a batch holds more than one).
- ``positions``: how position ids are made for left-padded rows (see ``hf_inputs.position_ids``):
  ``cumsum`` (0-based over real tokens), ``cumsum1`` (PaliGemma's 1-based positions) or
  ``mrope`` (the model's own ``get_rope_index``: 3-D multimodal rotary positions) or ``model``
  (none passed: the model's defaults, right only for unpadded rows, so such families are unbatched).
- ``reuse``: the vision encoder's output can be computed once per image and handed to the
  model's forward as ``mm_encoder_outputs`` (the library's own pre-encoded input);
  ``feature_fields`` names the parts of that output the forward reads.
- ``shares_prefix``: plain causal attention over the whole prompt and a plain key/value cache,
  so the questions on one image can reuse its prefix's keys and values (``hf_prefix``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SampleError
from ..samples import IMAGE_TOKEN, Request


@dataclass(frozen=True)
class Family:
    model_type: str
    prompt: str = "chat"
    nested: bool = False
    positions: str = "cumsum"
    reuse: bool = True
    feature_fields: tuple[str, ...] = ("pooler_output",)
    multi_image: bool = True  # the family takes several images in one prompt (hf-vlm sends one per row)
    batched: bool = True  # False: rows go through the model one at a time (no padding to get wrong)
    tested: bool = True
    note: str = ""
    unsupported: str = ""  # non-empty: why this family cannot run (one clear message instead)
    shares_prefix: bool = False  # causal attention over the prompt: the image prefix can be shared

    @property
    def suffix_eos(self) -> bool:
        """PaliGemma's processor ends every suffix with EOS; option tokens sit just before it."""
        return self.prompt == "paligemma"


_MROPE = dict(positions="mrope", note="3-D multimodal rotary positions from the model's get_rope_index")

FAMILIES: dict[str, Family] = {
    f.model_type: f
    for f in (
        Family("llava", shares_prefix=True),
        Family("llava_next", shares_prefix=True, note="anyres: image-size-dependent token count"),
        Family("llava_onevision", shares_prefix=True, note="anyres"),
        Family("qwen2_vl", shares_prefix=True, **_MROPE),
        Family("qwen2_5_vl", shares_prefix=True, **_MROPE),
        Family("qwen3_vl", shares_prefix=True, feature_fields=("pooler_output", "deepstack_features"), **_MROPE),
        Family("idefics3", shares_prefix=True, nested=True, note="image splitting into tiles plus a global image"),
        Family("smolvlm", shares_prefix=True, nested=True, note="image splitting; the processor needs num2words"),
        Family(
            "paligemma", prompt="paligemma", positions="cumsum1", multi_image=False,
            note="no chat template; bidirectional attention over image + prompt (token_type_ids)",
        ),
        Family("gemma3", nested=True, note="token_type_ids: bidirectional attention within each image"),
        Family(
            "mllama", nested=True, reuse=False,
            note="cross-attention: image features enter only as cross_attention_states, which generate "
            "would feed to every decoding step, so the vision encoder runs in every forward",
        ),
        Family("internvl", shares_prefix=True, note="dynamic tiling"),
        Family("aya_vision", shares_prefix=True, note="dynamic tiling"),
        Family("mistral3", shares_prefix=True, note="Pixtral encoder, image-size-dependent tokens"),
        Family("llava_next_video", shares_prefix=True, note="anyres images (videos are not used)"),
        Family("idefics2", shares_prefix=True, nested=True, note="perceiver resampler"),
        Family("qwen3_vl_moe", shares_prefix=True, feature_fields=("pooler_output", "deepstack_features"), **_MROPE),
        Family("glm4v", **_MROPE),
        Family("glm4v_moe", **_MROPE),
        Family("cohere2_vision", note="dynamic tiling"),
        Family("deepseek_vl"),
        Family("paddleocr_vl", **_MROPE),
        Family(
            "llama4", reuse=False, feature_fields=("last_hidden_state",),
            unsupported="transformers' Llama4ForConditionalGeneration fails in its own forward and generate "
            "(its MoE output has no image_outputs)",
        ),
    )
}


def family_for(model_type: str) -> Family:
    """The family entry; a model type not listed runs unbatched on the model's own defaults."""
    fam = FAMILIES.get(model_type)
    if fam is not None:
        return fam
    return Family(
        model_type, positions="model", reuse=False, batched=False, tested=False,
        note="not a listed family: one row per forward with the model's own position ids",
    )


_POSITION_NAMES = {
    "cumsum": "0-based over real tokens",
    "cumsum1": "1-based over real tokens",
    "mrope": "3-D rotary (get_rope_index)",
    "model": "the model's own",
}


def capability_rows() -> list[dict[str, str]]:
    """One row per listed family for ``deem-eval models`` and the README table."""
    rows = []
    for f in FAMILIES.values():
        rows.append(
            {
                "family": f.model_type,
                "logits": "-" if f.unsupported else "yes",
                "feature reuse": "-" if f.unsupported or not f.reuse else "yes",
                "masks": "-",  # region tasks draw the region on the image instead
                "multi-image": "-" if f.unsupported or not f.multi_image else "yes",
                "prefix sharing": "yes" if f.shares_prefix else "-",
                "prompt": "PaliGemma format" if f.prompt == "paligemma" else "chat template",
                "positions": _POSITION_NAMES[f.positions],
                "note": f.unsupported or f.note,
            }
        )
    return rows


# ---- prompts ----------------------------------------------------------------------------------


def split_prompt(req: Request) -> list[str]:
    """The prompt's text pieces around its (at most one) image mark; checks the mark fits the image."""
    pieces = req.prompt.split(IMAGE_TOKEN)
    n_marks = len(pieces) - 1
    if n_marks > 1:
        raise SampleError(f"sample {req.sample_id}: prompt has {n_marks} {IMAGE_TOKEN} marks for one image")
    if n_marks and req.image is None:
        raise SampleError(f"sample {req.sample_id}: prompt has {IMAGE_TOKEN} but the request has no image")
    return pieces


def join_text(ctx: str, more: str) -> str:
    """``ctx`` then ``more`` with one space between, unless either side already has whitespace."""
    if not ctx or not more:
        return ctx + more
    return ctx + ("" if ctx[-1:].isspace() or more[:1].isspace() else " ") + more


def render(processor, family: Family, req: Request) -> tuple[str, str | None]:
    """(prompt text for the processor, answer lead) for one request.

    Chat families: the chat template's rendering with the generation prompt, the answer prefix
    appended; the lead is None. PaliGemma: ``<image>`` then the prompt text (the processor adds
    ``<bos>`` after the image tokens and ``\\n`` after the prompt); the answer prefix is returned as
    the lead, because in PaliGemma's format the answer is the causal suffix after the ``\\n``.
    """
    pieces = split_prompt(req)
    has_image = req.image is not None
    if family.prompt == "paligemma":
        text = " ".join(p.strip() for p in pieces if p.strip())
        return (processor.image_token if has_image else "") + text, req.answer_prefix
    content: list[dict[str, str]] = []
    if has_image and len(pieces) == 1:
        content.append({"type": "image"})  # no mark: the image goes before the text
    for i, piece in enumerate(pieces):
        if i:
            content.append({"type": "image"})
        if piece:
            content.append({"type": "text", "text": piece})
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return join_text(text, req.answer_prefix), None
