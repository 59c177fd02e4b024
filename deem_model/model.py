"""DEEM: visual tokenizer + multimodal decoder + image decoder, and its training losses.

``forward(batch)`` returns named losses. Stage I uses NTP + 5 NIP + 5 CSR, stage II NTP + 5 CSR,
stage III NTP; the pre-training stages of the tiny world use ``clip`` (contrastive encoder),
``dm`` (text-to-image UNet) and text-only ``ntp``. NIP and CSR share the diffusion latents and
the noise draw and run as ONE batched UNet call; CSR conditions the frozen UNet on the encoder's
own resampled tokens, with timesteps in the middle band, so its gradient reaches the encoder.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.profiler import record_function

from .config import DeemConfig
from .image_decoder import ImageDecoder
from .mm_decoder import MultimodalDecoder, image_runs
from .tokenizer import special_ids
from .visual import ClipText, VisualTokenizer, build_open_clip, contrastive_loss

LOSS_NAMES = ("ntp", "nip", "csr", "clip", "dm")


class DeemModel(nn.Module):
    def __init__(self, cfg: DeemConfig, tokenizer: Any):
        super().__init__()
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.ids = special_ids(tokenizer, cfg.tokenizer)
        vocab = len(tokenizer)
        clip = build_open_clip(cfg.encoder, text_vocab_size=vocab + 1)
        self.mm_decoder = MultimodalDecoder(cfg, vocab, self.ids["image"], self.ids["soi"])
        self.visual_tokenizer = VisualTokenizer(cfg, clip.visual, self.mm_decoder.hidden_size)
        # the CLIP text tower exists only when we pre-train the encoder ourselves (tiny world)
        self.clip_text = ClipText(clip.text, clip.logit_scale) if cfg.encoder.model_cfg is not None else None
        self.clip_eot_id = vocab  # one past the tokenizer: the highest id, so argmax pooling finds it
        self.image_decoder = ImageDecoder(cfg.diffusion, vocab)
        self.loss_weights: dict[str, float] = dict(cfg.stages["1"].losses) if "1" in cfg.stages else {"ntp": 1.0}

    # ------------------------------------------------------------------------------ helpers
    def set_loss_weights(self, weights: dict[str, float], no_csr: bool = False) -> None:
        unknown = sorted(set(weights) - set(LOSS_NAMES))
        if unknown:
            raise ValueError(f"unknown losses {unknown}; known: {list(LOSS_NAMES)}")
        self.loss_weights = {k: float(v) for k, v in weights.items() if not (no_csr and k == "csr")}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_images(self, pixels: torch.Tensor, masks: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """[0, 1] pixels (B, 3, H, W) and optional masks (B, 1, H, W) -> image and condition tokens."""
        return self.visual_tokenizer(pixels, masks)

    # ------------------------------------------------------------------------------ forward
    def forward(self, batch: dict[str, torch.Tensor], weights: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
        w = self.loss_weights if weights is None else weights
        out: dict[str, torch.Tensor] = {}
        if "clip" in w:
            out["clip"] = self._clip_loss(batch)
        if "dm" in w:
            out["dm"] = self._dm_loss(batch)
        vis = None
        if "pixel_values" in batch and any(k in w for k in ("ntp", "nip", "csr")):
            with record_function("deem.visual_tokenizer"):
                vis = self.encode_images(batch["pixel_values"], batch.get("masks"))
        hidden = None
        if "ntp" in w or "nip" in w:
            with record_function("deem.llm"):
                emb = self.mm_decoder.embed(batch["input_ids"], None if vis is None else vis["llm_tokens"])
                res = self.mm_decoder.llm(inputs_embeds=emb, attention_mask=batch["attention_mask"],
                                          output_hidden_states="nip" in w, use_cache=False)
            if "ntp" in w:
                out["ntp"] = self._ntp(res.logits, batch["labels"])
            if "nip" in w:
                hidden = res.hidden_states[-1]
        if ("nip" in w or "csr" in w) and vis is not None:
            with record_function("deem.diffusion"):
                out.update(self._diffusion_losses(batch, vis, hidden, w))
        total = sum(w[k] * v for k, v in out.items())
        out["total"] = total if isinstance(total, torch.Tensor) else torch.zeros((), device=self.device)
        return out

    @staticmethod
    def _ntp(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shift_logits = logits[:, :-1].float()
        shift_labels = labels[:, 1:]
        return nn.functional.cross_entropy(shift_logits.reshape(-1, shift_logits.shape[-1]), shift_labels.reshape(-1),
                                           ignore_index=-100)

    def _diffusion_losses(self, batch: dict[str, torch.Tensor], vis: dict[str, torch.Tensor],
                          hidden: torch.Tensor | None, w: dict[str, float]) -> dict[str, torch.Tensor]:
        dec = self.image_decoder
        x0 = dec.to_latent(batch["pixel_values"])  # shared by NIP and CSR: one resize/VAE encode
        noise = torch.randn_like(x0)  # shared noise draw
        n = x0.shape[0]
        xs, ts, conds, parts = [], [], [], []
        if "nip" in w:
            rows, starts = image_runs(batch["input_ids"], self.ids["image"])
            cond = self.mm_decoder.soi_conditions(hidden, batch["attention_mask"], rows, starts - 1)
            xs.append(x0)
            ts.append(torch.randint(0, dec.cfg.num_train_timesteps, (n,), device=x0.device))
            conds.append(dec.cfg_dropout(cond))
            parts.append("nip")
        noises = [noise] * len(parts)
        if "csr" in w:
            k = max(1, math.ceil(dec.cfg.csr_fraction * n))
            xs.append(x0[:k])
            noises.append(noise[:k])
            ts.append(torch.randint(dec.cfg.csr_t_min, dec.cfg.csr_t_max, (k,), device=x0.device))
            conds.append(vis["cond_tokens"][:k])
            parts.append("csr")
        per = dec.noise_loss(torch.cat(xs), torch.cat(noises), torch.cat(ts),
                             torch.cat([c.to(x0.dtype) for c in conds]))
        sizes = [len(x) for x in xs]
        return {name: chunk.mean() for name, chunk in zip(parts, per.split(sizes), strict=True)}

    def _clip_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.clip_text is None:
            raise ValueError("the clip stage needs an encoder built from model_cfg (with a text tower)")
        img = self.visual_tokenizer.clip_embed(batch["pixel_values"])
        ids = batch["clip_ids"]
        txt = self.clip_text(ids)
        same = (ids[:, None, :] == ids[None, :, :]).all(-1)
        return contrastive_loss(img, txt, self.clip_text.logit_scale, same)

    def _dm_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        dec = self.image_decoder
        if dec.text_encoder is None:
            raise ValueError("the dm stage needs diffusion.text_encoder in the config")
        cond = dec.cfg_dropout(dec.text_encoder(batch["cond_ids"], batch["cond_mask"]))
        x0 = dec.to_latent(batch["pixel_values"])
        t = torch.randint(0, dec.cfg.num_train_timesteps, (x0.shape[0],), device=x0.device)
        return dec.noise_loss(x0, torch.randn_like(x0), t, cond).mean()
