"""The multimodal decoder: a Llama LLM reading spliced image tokens, and the decoder-side resampler.

Prompts carry a start-of-image token (SoI) followed by N image placeholder tokens per image;
the placeholders' input embeddings are replaced by the visual tokenizer's image tokens. The
LLM hidden states up to each SoI are resampled into diffusion condition tokens (NIP and
text-to-image generation).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DeemConfig
from .resampler import PerceiverResampler


def build_llm(cfg: DeemConfig, vocab_size: int) -> nn.Module:
    """A LlamaForCausalLM from a local/hub checkpoint or from LlamaConfig arguments."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if cfg.llm.pretrained:
        llm = LlamaForCausalLM.from_pretrained(cfg.llm.pretrained)
        if llm.get_input_embeddings().num_embeddings < vocab_size:
            llm.resize_token_embeddings(vocab_size)
        return llm
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **cfg.llm.llama))


def image_runs(input_ids: torch.Tensor, image_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, start) of every run of image placeholders, in row-major order."""
    is_img = input_ids == image_id
    prev = torch.zeros_like(is_img)
    prev[:, 1:] = is_img[:, :-1]
    starts = torch.nonzero(is_img & ~prev, as_tuple=False)
    return starts[:, 0], starts[:, 1]


class MultimodalDecoder(nn.Module):
    def __init__(self, cfg: DeemConfig, vocab_size: int, image_id: int, soi_id: int):
        super().__init__()
        self.llm = build_llm(cfg, vocab_size)
        hidden = self.llm.config.hidden_size
        self.decoder_resampler = PerceiverResampler(cfg.decoder_resampler, hidden)
        self.decoder_proj = nn.Linear(cfg.decoder_resampler.dim, cfg.diffusion.cond_dim)
        self.num_image_tokens = cfg.num_image_tokens
        self.image_id, self.soi_id = image_id, soi_id

    @property
    def hidden_size(self) -> int:
        return self.llm.config.hidden_size

    def embed(self, input_ids: torch.Tensor, image_tokens: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings with the placeholders replaced by ``image_tokens`` (n_images, N, H)."""
        emb = self.llm.get_input_embeddings()(input_ids)
        slots = input_ids == self.image_id
        n_slots = int(slots.sum())
        n_given = 0 if image_tokens is None else image_tokens.shape[0] * image_tokens.shape[1]
        if n_slots != n_given:
            raise ValueError(f"prompt has {n_slots} image placeholder tokens but {n_given} image tokens were given "
                             f"({self.num_image_tokens} per image)")
        if n_slots == 0:
            return emb
        flat = image_tokens.reshape(-1, image_tokens.shape[-1]).to(emb.dtype)
        return emb.masked_scatter(slots.unsqueeze(-1), flat)

    def soi_conditions(self, hidden: torch.Tensor, attention_mask: torch.Tensor, rows: torch.Tensor,
                       soi_pos: torch.Tensor) -> torch.Tensor:
        """Diffusion condition tokens from the hidden states up to (and including) each SoI."""
        h = hidden[rows]
        pos = torch.arange(h.shape[1], device=h.device)
        mask = attention_mask[rows].bool() & (pos[None, :] <= soi_pos[:, None])
        return self.decoder_proj(self.decoder_resampler(h, mask))
