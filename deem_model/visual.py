"""The visual tokenizer: open_clip ConvNeXt encoder, mask-aware multiscale features, resampler.

The encoder is the image tower of an open_clip CLIP model (a timm ConvNeXt trunk). Its stage
feature maps (multiscale) plus the pooled CLIP embedding are read by a Perceiver resampler;
the resampled queries are projected twice: into the LLM width (image tokens) and into the
diffusion cross-attention width (the CSR condition).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .config import DeemConfig, EncoderConfig
from .resampler import PerceiverResampler

TINY_CONVNEXTS = {
    # name: (depths, dims, layer-scale init) -- ConvNeXt trunks smaller than timm's convnext_atto, for
    # 64 px worlds. timm's layer-scale init of 1e-6 starts every block as the identity, which suits
    # long ImageNet schedules; a few hundred steps from scratch need the blocks active from step one.
    "deem_convnext_pico": ((2, 2, 4, 2), (32, 64, 128, 256), 1.0),
}


def register_tiny_convnexts() -> None:
    """Register the tiny ConvNeXt trunks with timm, so open_clip configs can name them."""
    import timm
    from timm.models import register_model
    from timm.models.convnext import ConvNeXt

    for name, (depths, dims, ls_init) in TINY_CONVNEXTS.items():
        if name in timm.list_models(name):
            continue

        def make(pretrained: bool = False, _d=depths, _w=dims, _ls=ls_init, **kwargs):
            if pretrained:
                raise ValueError("the tiny ConvNeXt trunks have no pretrained weights")
            for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
                kwargs.pop(key, None)
            model = ConvNeXt(depths=_d, dims=_w, conv_mlp=True, ls_init_value=_ls, **kwargs)
            model.pretrained_cfg = model.default_cfg = {"num_classes": 0, "pool_size": None}
            return model

        make.__name__ = name
        register_model(make)


def build_open_clip(cfg: EncoderConfig, text_vocab_size: int = 0, context_length: int = 0) -> nn.Module:
    """An open_clip CustomTextCLIP (separate ``visual`` and ``text`` towers) from the config."""
    import open_clip

    register_tiny_convnexts()

    if cfg.model_cfg is not None:
        mc = copy.deepcopy(cfg.model_cfg)
        text_cfg = mc.setdefault("text_cfg", {})
        if text_vocab_size:
            text_cfg["vocab_size"] = text_vocab_size
        if context_length:
            text_cfg["context_length"] = context_length
        return open_clip.model.CustomTextCLIP(**mc)
    if cfg.open_clip_model is None:
        raise ValueError("encoder config needs open_clip_model or model_cfg")
    return open_clip.create_model(cfg.open_clip_model, pretrained=cfg.pretrained, force_custom_text=True)


def _trunk(visual: nn.Module) -> nn.Module:
    trunk = getattr(visual, "trunk", None)
    if trunk is None or not hasattr(trunk, "stages"):
        raise ValueError("the DEEM visual tokenizer needs an open_clip timm ConvNeXt image tower")
    return trunk


class VisualTokenizer(nn.Module):
    """Image (+ optional region mask) -> image tokens for the LLM and condition tokens for the UNet."""

    def __init__(self, cfg: DeemConfig, encoder: nn.Module, llm_dim: int):
        super().__init__()
        self.cfg = cfg.encoder
        self.encoder = encoder
        trunk = _trunk(encoder)
        res = cfg.resampler
        self.register_buffer("mean", torch.tensor(cfg.encoder.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.encoder.std).view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            shapes = [f.shape for f in self._stage_maps(torch.zeros(1, 3, self.cfg.image_size, self.cfg.image_size))]
        self.stage_proj = nn.ModuleList(nn.Linear(s[1], res.dim) for s in shapes)
        self.stage_pos = nn.ParameterList(nn.Parameter(torch.randn(s[2] * s[3], res.dim) * 0.02) for s in shapes)
        embed_dim = encoder.head.proj.out_features if hasattr(encoder.head, "proj") else trunk.num_features
        self.pooled_proj = nn.Linear(embed_dim, res.dim)
        self.resampler = PerceiverResampler(res, res.dim)
        self.proj_llm = nn.Linear(res.dim, llm_dim)
        self.proj_cond = nn.Linear(res.dim, cfg.diffusion.cond_dim)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """CLIP normalisation of [0, 1] pixels; returns a new tensor (never in place)."""
        return (pixels - self.mean) / self.std

    def _stage_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        trunk = _trunk(self.encoder)
        x = trunk.stem(x)
        maps = []
        for i, stage in enumerate(trunk.stages):
            x = stage(x)
            if i in self.cfg.feature_stages:
                maps.append(x)
        return maps

    def features(self, pixels: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """Mask-aware multiscale feature tokens (B, N, dim) plus the pooled token."""
        trunk = _trunk(self.encoder)
        x = trunk.stem(self.normalize(pixels))
        tokens, last = [], x
        proj_i = 0
        for i, stage in enumerate(trunk.stages):
            x = stage(x)
            if masks is not None:
                # the mask-aware extractor: features times the resized region mask
                x = x * nn.functional.interpolate(masks.to(x.dtype), size=x.shape[-2:], mode="area")
            if i in self.cfg.feature_stages:
                t = x.flatten(2).transpose(1, 2)
                tokens.append(self.stage_proj[proj_i](t) + self.stage_pos[proj_i])
                proj_i += 1
            last = x
        pooled = self.encoder.head(trunk.forward_head(trunk.norm_pre(last), pre_logits=True))
        tokens.append(self.pooled_proj(pooled).unsqueeze(1))
        return torch.cat(tokens, dim=1)

    def forward(self, pixels: torch.Tensor, masks: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        latents = self.resampler(self.features(pixels, masks))
        return {"llm_tokens": self.proj_llm(latents), "cond_tokens": self.proj_cond(latents)}

    def clip_embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """The CLIP image embedding (for contrastive pre-training)."""
        return self.encoder(self.normalize(pixels))


class ClipText(nn.Module):
    """The CLIP text tower and temperature, used only by the contrastive ``clip`` stage."""

    def __init__(self, text: nn.Module, logit_scale: torch.Tensor):
        super().__init__()
        self.text = text
        self.logit_scale = nn.Parameter(logit_scale.detach().clone())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text(ids)


def contrastive_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor,
                     same: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE; pairs whose captions are identical (``same``) all count as positives."""
    img = nn.functional.normalize(img, dim=-1)
    txt = nn.functional.normalize(txt, dim=-1)
    logits = scale.exp().clamp(max=100) * img @ txt.t()
    target = torch.eye(len(img), device=img.device) if same is None else same.float()
    target = target / target.sum(dim=1, keepdim=True)
    li = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    lt = -(target.t() * logits.t().log_softmax(dim=1)).sum(dim=1).mean()
    return (li + lt) / 2

