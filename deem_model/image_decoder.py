"""The image decoder: diffusers UNet2DConditionModel (+ optional AutoencoderKL) and its schedulers.

Training uses a DDPM noise schedule; sampling uses DDIM (or DDPM) with classifier-free guidance
against a learned null condition. For the tiny preset a small text encoder conditions the UNet
during text-to-image pre-training, playing the part of Stable Diffusion's text encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DiffusionConfig, TextEncoderConfig


class TextConditionEncoder(nn.Module):
    """Token ids (B, T) -> condition tokens (B, T, cond_dim) with a small bidirectional transformer."""

    def __init__(self, cfg: TextEncoderConfig, vocab_size: int, length: int, cond_dim: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.width)
        self.pos = nn.Parameter(torch.randn(length, cfg.width) * 0.02)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, cfg.width * 4, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, cond_dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.pos[: ids.shape[1]]
        x = self.blocks(x, src_key_padding_mask=~mask.bool())
        return self.proj(self.norm(x))


class ImageDecoder(nn.Module):
    def __init__(self, cfg: DiffusionConfig, vocab_size: int = 0):
        super().__init__()
        from diffusers import AutoencoderKL, UNet2DConditionModel

        self.cfg = cfg
        if cfg.pretrained:
            self.unet = UNet2DConditionModel.from_pretrained(cfg.pretrained, subfolder="unet")
            self.vae = AutoencoderKL.from_pretrained(cfg.pretrained, subfolder="vae")
        else:
            self.unet = UNet2DConditionModel(cross_attention_dim=cfg.cond_dim, **cfg.unet)
            self.vae = AutoencoderKL(**cfg.vae) if cfg.vae else None
        self.text_encoder = (TextConditionEncoder(cfg.text_encoder, vocab_size, cfg.num_cond_tokens, cfg.cond_dim)
                             if cfg.text_encoder is not None and vocab_size else None)
        self.null_condition = nn.Parameter(torch.randn(cfg.num_cond_tokens, cfg.cond_dim) * 0.02)
        self.train_scheduler = self.make_scheduler("ddpm")

    def make_scheduler(self, kind: str):
        from diffusers import DDIMScheduler, DDPMScheduler

        cls = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler}.get(kind)
        if cls is None:
            raise ValueError(f"unknown sampler {kind!r} (expected ddim or ddpm)")
        c = self.cfg
        return cls(num_train_timesteps=c.num_train_timesteps, beta_schedule=c.beta_schedule,
                   beta_start=c.beta_start, beta_end=c.beta_end, prediction_type=c.prediction_type,
                   clip_sample=False)

    @torch.no_grad()
    def to_latent(self, pixels: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels -> the diffusion space (resized, scaled to [-1, 1], VAE-encoded if any).

        Returns a new tensor; the input is never modified.
        """
        x = pixels
        if x.shape[-1] != self.cfg.resolution or x.shape[-2] != self.cfg.resolution:
            x = nn.functional.interpolate(x, size=(self.cfg.resolution, self.cfg.resolution), mode="bilinear",
                                          antialias=True, align_corners=False)
        x = x * 2.0 - 1.0
        if self.vae is not None:
            x = self.vae.encode(x).latent_dist.mode() * self.cfg.vae_scaling_factor
        if self.cfg.patch_size > 1:
            x = nn.functional.pixel_unshuffle(x, self.cfg.patch_size)
        return x

    @torch.no_grad()
    def to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        x = latents
        if self.cfg.patch_size > 1:
            x = nn.functional.pixel_shuffle(x, self.cfg.patch_size)
        if self.vae is not None:
            x = self.vae.decode(x / self.cfg.vae_scaling_factor).sample
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0)

    def null(self, batch: int) -> torch.Tensor:
        return self.null_condition.unsqueeze(0).expand(batch, -1, -1)

    def cfg_dropout(self, cond: torch.Tensor, p: float | None = None) -> torch.Tensor:
        """Replace whole conditions by the learned null condition with probability ``p``."""
        p = self.cfg.cfg_dropout if p is None else p
        if p <= 0:
            return cond
        drop = torch.rand(cond.shape[0], device=cond.device) < p
        return torch.where(drop[:, None, None], self.null(cond.shape[0]).to(cond.dtype), cond)

    def noise_loss(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Per-sample noise-prediction MSE for one batched UNet call."""
        xt = self.train_scheduler.add_noise(x0, noise, t)
        pred = self.unet(xt, t, encoder_hidden_states=cond).sample
        target = noise if self.cfg.prediction_type == "epsilon" else self.train_scheduler.get_velocity(x0, noise, t)
        return (pred.float() - target.float()).pow(2).flatten(1).mean(dim=1)

    def latent_shape(self) -> tuple[int, int, int]:
        c = self.unet.config.in_channels
        s = self.cfg.resolution // (2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1)
        return c, s // self.cfg.patch_size, s // self.cfg.patch_size

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generators: list[torch.Generator], steps: int = 25, guidance: float = 3.0,
               sampler: str = "ddim") -> torch.Tensor:
        """Images in [0, 1] from condition tokens with classifier-free guidance.

        One generator per image, so an image depends only on its own seed, not on the batch.
        """
        from diffusers.utils.torch_utils import randn_tensor

        sched = self.make_scheduler(sampler)
        sched.set_timesteps(steps)
        b = cond.shape[0]
        generator = list(generators)
        x = randn_tensor((b, *self.latent_shape()), generator=generator, dtype=torch.float32).to(cond.device)
        x = x * sched.init_noise_sigma
        null = self.null(b).to(cond.dtype)
        for t in sched.timesteps:
            inp = sched.scale_model_input(torch.cat([x, x]), t)
            eps = self.unet(inp, t, encoder_hidden_states=torch.cat([null, cond])).sample
            e_u, e_c = eps.chunk(2)
            eps = e_u + guidance * (e_c - e_u)
            x = sched.step(eps, t, x, generator=generator).prev_sample
        return self.to_pixels(x)
