"""Turning text with ``<image>`` markers into token ids with SoI + image placeholders.

Used identically by training and inference, so the model sees the same layout in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from deem_eval.samples import IMAGE_TOKEN

POPE_TEMPLATE = "Based on the image, please answer the question. {image}{question} Please answer yes or no."
POPE_PREFIX = "The answer is"


def text_ids(tokenizer: Any, text: str) -> list[int]:
    if not text.strip():
        return []
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_with_images(tokenizer: Any, text: str, ids: dict[str, int], n_image_tokens: int) -> list[int]:
    """Token ids of ``text`` where every ``<image>`` becomes SoI followed by N placeholders."""
    out: list[int] = []
    pieces = text.split(IMAGE_TOKEN)
    for i, piece in enumerate(pieces):
        out.extend(text_ids(tokenizer, piece))
        if i < len(pieces) - 1:
            out.append(ids["soi"])
            out.extend([ids["image"]] * n_image_tokens)
    return out


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and attention mask: the last real token is always at position -1."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, length - len(r):] = torch.tensor(list(r), dtype=torch.long)
            mask[i, length - len(r):] = 1
    return ids, mask


def right_pad(rows: Sequence[Sequence[int]], pad_id: int, labels: Sequence[Sequence[int]] | None = None
              ) -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask and labels (-100 where no loss), for training."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    lab = torch.full((len(rows), length), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
        if labels is not None:
            lab[i, : len(r)] = torch.tensor(list(labels[i]), dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": lab}
