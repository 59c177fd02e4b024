"""Model inputs for a batch of rows of any Hugging Face VLM family, and the forward for logits.

A row is a prompt text, its image (a PIL image, an ``EncodedImage`` or None) and, for
PaliGemma, a suffix. ``build_inputs`` runs the family's processor on all rows at once (left
padded, images nested per sample where the family wants that) so every family-specific input
the model's forward reads is there exactly as the processor makes it: pixel values, image
sizes and grids, token types, cross-attention masks. Pre-encoded images replace the pixel
values by ``mm_encoder_outputs``, the library's own way to hand a forward the vision encoder's
output. ``position_ids`` is the one place positions are made; ``forward_logits`` is the forward.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .hf_families import Family


@dataclass
class Row:
    text: str
    image: Any = None
    suffix: str | None = None
    key: str | None = None  # the image's key, for prefill accounting (``n_prefill_floor``)
    min_suffix: int = 1  # trailing tokens whose logits are read (accounting only)


@dataclass
class EncodedImage:
    """One image and the vision encoder's output for it: per part the forward reads, one
    (image tokens x hidden) tensor (Qwen3-VL's deepstack features: one per layer)."""

    image: Any
    output_cls: type
    parts: dict[str, Any] = field(default_factory=dict)
    as_list: dict[str, bool] = field(default_factory=dict)  # the forward wants a list of per-image tensors

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.parts["pooler_output"].shape)


def pil_of(image: Any) -> Any:
    return image.image if isinstance(image, EncodedImage) else image


def _images_arg(family: Family, images: list[Any]) -> Any:
    """The processor's ``images`` argument: flat, or one list per row (empty for text-only rows)."""
    if not any(im is not None for im in images):
        return None
    if family.nested:
        return [[im] if im is not None else [] for im in images]
    return [im for im in images if im is not None]


def processor_inputs(processor, family: Family, rows: Sequence[Row]) -> dict[str, Any]:
    """The processor's full output for the rows (left padded), as tensors."""
    texts = [r.text for r in rows]
    images = [pil_of(r.image) for r in rows]
    kwargs: dict[str, Any] = {"text": texts, "images": _images_arg(family, images), "padding": True}
    bos = processor.tokenizer.bos_token
    if bos and all(t.startswith(bos) for t in texts):
        kwargs["add_special_tokens"] = False  # the chat template wrote BOS already (as apply_chat_template does)
    if any(r.suffix is not None for r in rows):
        kwargs["suffix"] = [r.suffix or "" for r in rows]
    return dict(processor(return_tensors="pt", **kwargs))


def _on(value: Any, device: str, dtype) -> Any:
    import torch

    if not torch.is_tensor(value):
        return value
    return value.to(device, dtype) if value.is_floating_point() else value.to(device)


def _encoder_only(key: str) -> bool:
    """Processor outputs only the vision encoder reads (dropped when its output is given)."""
    return key.startswith("pixel_values") or key == "pixel_attention_mask"


def image_encoder(model):
    """The model's vision-encoder entry (``get_image_features``, as ``generate`` finds it), or None."""
    return getattr(model, "get_image_features", None) or getattr(model.base_model, "get_image_features", None)


def _flat(value: Any):
    """A part of an encoder output as one (tokens x hidden) tensor, tokens in the forward's order."""
    import torch

    if isinstance(value, (list, tuple)):
        return torch.cat([t.reshape(-1, t.shape[-1]) for t in value])
    return value.reshape(-1, value.shape[-1])


def encode_images(
    model, processor, family: Family, images: Sequence[Any], text: str, device: str, dtype
) -> list[EncodedImage]:
    """One vision-encoder pass over the images, each preprocessed exactly as a prompt with it would be.

    The output is split per image by the image-placeholder tokens the processor gave each one.
    """
    import torch

    if not images:
        return []
    enc = processor_inputs(processor, family, [Row(text, im) for im in images])
    counts = (enc["input_ids"] == model.config.image_token_id).sum(-1).tolist()
    encoder = image_encoder(model)
    params = set(inspect.signature(encoder).parameters)
    kwargs = {k: _on(v, device, dtype) for k, v in enc.items() if k in params}
    with torch.inference_mode():
        out = encoder(**kwargs, return_dict=True)
    split: dict[str, list[Any]] = {}
    as_list: dict[str, bool] = {}
    for name in family.feature_fields:
        value = getattr(out, name)
        if name == "deepstack_features":  # per layer, tokens of all images
            layers = [_flat(layer).split(counts) for layer in value]
            split[name] = [[layer[i] for layer in layers] for i in range(len(images))]
        else:
            as_list[name] = isinstance(value, (list, tuple))
            split[name] = list(_flat(value).split(counts))
    return [
        EncodedImage(im, type(out), {name: split[name][i] for name in split}, as_list)
        for i, im in enumerate(images)
    ]


def merge_encoded(encoded: Sequence[EncodedImage]) -> Any:
    """One encoder output for several images in row order, shaped as the forward reads it."""
    import torch

    merged: dict[str, Any] = {}
    first = encoded[0]
    for name in first.parts:
        values = [e.parts[name] for e in encoded]
        if name == "deepstack_features":  # per layer, one tensor per image (Qwen3-VL)
            merged[name] = [tuple(layer) for layer in zip(*values, strict=True)]
        elif first.as_list.get(name):
            merged[name] = values
        else:
            merged[name] = torch.cat(values)
    return first.output_cls(**merged)


def build_inputs(model, processor, family: Family, rows: Sequence[Row], device: str, dtype) -> dict[str, Any]:
    """Every keyword the model's forward/generate needs for these rows (no position ids)."""
    enc = processor_inputs(processor, family, rows)
    enc.pop("labels", None)  # PaliGemma's processor adds training labels for suffixes
    encoded = [r.image for r in rows if isinstance(r.image, EncodedImage)]
    if encoded:
        if len(encoded) != sum(r.image is not None for r in rows):
            raise ValueError("a batch mixes pre-encoded and raw images")
        for k in [k for k in enc if _encoder_only(k)]:
            del enc[k]
        enc["mm_encoder_outputs"] = {"image": merge_encoded(encoded)}
    return {k: _on(v, device, dtype) if k != "mm_encoder_outputs" else v for k, v in enc.items()}


def position_ids(model, family: Family, inputs: dict[str, Any]):
    """Position ids for left-padded rows, equal to what the model uses for one unpadded row.

    None for ``model``: the model makes its own (such families run one unpadded row at a time).
    """
    if family.positions == "model":
        return None
    attn = inputs["attention_mask"].long()
    if family.positions == "mrope":
        base = getattr(model, "model", model)
        kwargs = {
            k: inputs[k]
            for k in ("mm_token_type_ids", "image_grid_thw", "video_grid_thw", "second_per_grid_ts")
            if inputs.get(k) is not None
        }
        pos, _ = base.get_rope_index(inputs["input_ids"], attention_mask=attn, **kwargs)
        return pos
    pos = attn.cumsum(-1)
    if family.positions == "cumsum":
        pos = pos - 1
    return pos.masked_fill(attn == 0, 1)


def forward_logits(model, family: Family, inputs: dict[str, Any], keep: int):
    """Float32 logits of the last ``keep`` positions of every row (one forward)."""
    import torch

    kwargs = dict(inputs)
    params = inspect.signature(model.forward).parameters
    pos = position_ids(model, family, inputs) if "position_ids" in params else None
    if pos is not None:
        kwargs["position_ids"] = pos
    if "logits_to_keep" in params:
        kwargs["logits_to_keep"] = keep
    if "mm_encoder_outputs" in kwargs:  # the forward fills this dict in; keep the caller's intact
        kwargs["mm_encoder_outputs"] = dict(kwargs["mm_encoder_outputs"])
    with torch.inference_mode():
        logits = model(**kwargs).logits
    return logits[:, -keep:].float()
