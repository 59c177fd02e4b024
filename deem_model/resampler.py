"""Perceiver resampler (Flamingo-style): a fixed number of learned queries read a token sequence.

DEEM uses one on the encoder side (image features -> image tokens) and one on the decoder side
(LLM hidden states up to the start-of-image token -> diffusion condition tokens).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ResamplerConfig


class PerceiverAttention(nn.Module):
    """Queries attend to [inputs; queries], as in the Flamingo resampler."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        inner = heads * dim_head
        self.norm_x = nn.LayerNorm(dim)
        self.norm_q = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor, q: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        b, n, _ = x.shape
        x, qn = self.norm_x(x), self.norm_q(q)
        kv_in = torch.cat([x, qn], dim=1)
        k, v = self.to_kv(kv_in).chunk(2, dim=-1)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, t.shape[1], self.heads, self.dim_head).transpose(1, 2)

        mask = None
        if key_mask is not None:
            full = torch.cat([key_mask.bool(), key_mask.new_ones(b, q.shape[1]).bool()], dim=1)
            mask = full[:, None, None, :]
        out = nn.functional.scaled_dot_product_attention(split(self.to_q(qn)), split(k), split(v), attn_mask=mask)
        return self.to_out(out.transpose(1, 2).reshape(b, q.shape[1], -1))


class PerceiverResampler(nn.Module):
    """Maps (B, N, in_dim) features with an optional (B, N) mask to (B, num_queries, dim)."""

    def __init__(self, cfg: ResamplerConfig, in_dim: int):
        super().__init__()
        self.cfg = cfg
        self.proj_in = nn.Linear(in_dim, cfg.dim) if in_dim != cfg.dim else nn.Identity()
        self.queries = nn.Parameter(torch.randn(cfg.num_queries, cfg.dim) * 0.02)
        self.layers = nn.ModuleList()
        for _ in range(cfg.depth):
            ff = nn.Sequential(nn.LayerNorm(cfg.dim), nn.Linear(cfg.dim, cfg.dim * cfg.ff_mult, bias=False),
                               nn.GELU(), nn.Linear(cfg.dim * cfg.ff_mult, cfg.dim, bias=False))
            self.layers.append(nn.ModuleList([PerceiverAttention(cfg.dim, cfg.heads, cfg.dim_head), ff]))
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.proj_in(x)
        q = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)
        for attn, ff in self.layers:
            q = q + attn(x, q, mask)
            q = q + ff(q)
        return self.norm(q)
