"""Typed configuration for every DEEM component, the presets, and JSON/YAML I/O.

A checkpoint directory stores its config as ``config.json`` next to the weights, so a
directory is self-describing. ``paper`` mirrors the published model (ConvNeXt-B CLIP
encoder, Vicuna-7B v1.5, Stable Diffusion 2.1-base, 77 image tokens, lambda = 5, Table-11
optimiser settings); ``tiny`` uses the same classes at toy size for the built-in world;
``micro`` shrinks tiny further for tests and smoke runs; ``mining-vit`` is the small open_clip ViT used to mine RobustVQA hard negatives on the world.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deem_eval.errors import UserError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class EncoderConfig:
    """The open_clip image tower. Either a built-in open_clip name or an explicit model_cfg."""

    open_clip_model: str | None = None  # built-in open_clip config name, e.g. "convnext_base_w"
    pretrained: str | None = None  # open_clip tag or a local weights file
    model_cfg: dict[str, Any] | None = None  # explicit open_clip model_cfg (embed_dim, vision_cfg, text_cfg)
    image_size: int = 64
    feature_stages: tuple[int, ...] = (1, 2, 3)  # trunk stages whose maps feed the resampler
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD


@dataclass
class ResamplerConfig:
    """A Perceiver resampler: learned queries cross-attending to a feature sequence."""

    dim: int = 128
    depth: int = 2
    heads: int = 4
    dim_head: int = 32
    num_queries: int = 16
    ff_mult: int = 2


@dataclass
class LLMConfig:
    """The language model: a local/hub Llama checkpoint, or LlamaConfig keyword arguments."""

    pretrained: str | None = None  # e.g. "lmsys/vicuna-7b-v1.5"
    llama: dict[str, Any] = field(default_factory=dict)


@dataclass
class TokenizerConfig:
    """Tokenizer source and the two DEEM special tokens."""

    pretrained: str | None = None  # None: a word-level tokenizer built from the training corpora
    soi_token: str = "<|startofimage|>"
    image_token: str = "<|image|>"
    max_length: int = 96
    lowercase: bool = True


@dataclass
class TextEncoderConfig:
    """Small text encoder that conditions the UNet during text-to-image pre-training (stage dm)."""

    width: int = 128
    layers: int = 2
    heads: int = 4


@dataclass
class DiffusionConfig:
    """The image decoder: a UNet2DConditionModel, optionally over an AutoencoderKL latent."""

    pretrained: str | None = None  # e.g. "stabilityai/stable-diffusion-2-1-base"
    unet: dict[str, Any] = field(default_factory=dict)
    vae: dict[str, Any] | None = None
    vae_scaling_factor: float = 0.18215
    text_encoder: TextEncoderConfig | None = None
    resolution: int = 32  # pixel size the decoder models (before the VAE, if any)
    patch_size: int = 1  # >1: diffuse over pixel-unshuffled patches (lossless space-to-depth, no VAE)
    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    prediction_type: str = "epsilon"
    csr_t_min: int = 200
    csr_t_max: int = 800  # exclusive: CSR timesteps lie in [200, 799]
    # CSR on the first ceil(fraction * B) samples of each batch (their NIP latents and noise are
    # reused); below 1 it trades gradient variance for step time when the UNet rivals the LLM
    csr_fraction: float = 1.0
    cfg_dropout: float = 0.1
    cond_dim: int = 64  # cross-attention width
    num_cond_tokens: int = 16


@dataclass
class ParamGroup:
    """Parameters whose names match any fnmatch pattern get this learning rate."""

    name: str
    patterns: list[str]
    lr: float


@dataclass
class StageConfig:
    """One training stage: data, loss weights, which parameters train and how fast."""

    data: str  # corpus file under <data>/train/
    losses: dict[str, float]  # subset of ntp, nip, csr, clip, dm, vae
    lr: float
    trainable: list[str]  # fnmatch patterns over parameter names; the rest is frozen
    groups: list[ParamGroup] = field(default_factory=list)
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    max_steps: int = 1000
    batch_size: int = 32
    grad_accum: int = 1
    save_every: int = 500
    log_every: int = 10
    max_grad_norm: float = 1.0
    image_first_prob: float = 0.5  # interleaved documents: image before its text with this probability
    # instruction stage: the first N optimiser steps train on single questions matching the regex
    # (one per sequence) before the full conversations -- the simplest grounding skill first
    curriculum_steps: int = 0
    curriculum_match: str = ""


@dataclass
class DeemConfig:
    """The whole DEEM model and its training stages."""

    name: str
    encoder: EncoderConfig
    resampler: ResamplerConfig
    llm: LLMConfig
    tokenizer: TokenizerConfig
    diffusion: DiffusionConfig
    decoder_resampler: ResamplerConfig
    num_image_tokens: int = 16
    stages: dict[str, StageConfig] = field(default_factory=dict)
    mixed_precision: str = "no"  # no | bf16 | fp16 (GPU only)
    deepspeed_config: str | None = None
    seed: int = 0
    kind: str = "deem"


@dataclass
class MiningConfig:
    """A standard open_clip model trained contrastively (RobustVQA hard-negative miner)."""

    name: str
    model_cfg: dict[str, Any]
    stages: dict[str, StageConfig] = field(default_factory=dict)
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD
    mixed_precision: str = "no"
    deepspeed_config: str | None = None
    seed: int = 0
    kind: str = "mining"


AnyConfig = DeemConfig | MiningConfig

# --------------------------------------------------------------------------------------- presets

_ENC = "visual_tokenizer.encoder.*"
_VTOK = "visual_tokenizer.*"  # encoder, multiscale adapters, resampler and both projections
_DRES = "mm_decoder.decoder_*"
_LLM = "mm_decoder.llm.*"
_NULL = "image_decoder.null_condition"


def _paper() -> DeemConfig:
    stage1 = StageConfig(
        data="interleaved.jsonl", losses={"ntp": 1.0, "nip": 5.0, "csr": 5.0}, lr=1e-4,
        trainable=[_VTOK, _DRES, _NULL],
        groups=[ParamGroup("encoder", [_ENC], 2e-5), ParamGroup("decoder", [_DRES, _NULL], 2e-5)],
        weight_decay=0.05, betas=(0.9, 0.995), warmup_steps=1000, max_steps=100_000, batch_size=128,
        save_every=5000,
    )
    stage2 = StageConfig(
        data="instruct.jsonl", losses={"ntp": 1.0, "csr": 5.0}, lr=1e-5,
        trainable=[_VTOK, _LLM], groups=[ParamGroup("llm", [_LLM], 1e-6)],
        weight_decay=0.05, betas=(0.9, 0.999), warmup_steps=1000, max_steps=20_000, batch_size=128,
        save_every=5000,
    )
    stage3 = dataclasses.replace(stage2, data="region.jsonl", losses={"ntp": 1.0}, groups=[ParamGroup("llm", [_LLM], 1e-6)])
    return DeemConfig(
        name="paper",
        encoder=EncoderConfig(open_clip_model="convnext_base_w", pretrained="laion2b_s13b_b82k_augreg",
                              image_size=256, feature_stages=(1, 2, 3)),
        resampler=ResamplerConfig(dim=1024, depth=6, heads=16, dim_head=64, num_queries=77, ff_mult=4),
        llm=LLMConfig(pretrained="lmsys/vicuna-7b-v1.5"),
        tokenizer=TokenizerConfig(pretrained="lmsys/vicuna-7b-v1.5", max_length=2048, lowercase=False),
        diffusion=DiffusionConfig(pretrained="stabilityai/stable-diffusion-2-1-base", resolution=512,
                                  cond_dim=1024, num_cond_tokens=77, text_encoder=None),
        decoder_resampler=ResamplerConfig(dim=1024, depth=6, heads=16, dim_head=64, num_queries=77, ff_mult=4),
        num_image_tokens=77,
        stages={"1": stage1, "2": stage2, "3": stage3},
        mixed_precision="bf16",
    )


def _tiny_clip_cfg() -> dict[str, Any]:
    return {
        "embed_dim": 128,
        "vision_cfg": {"timm_model_name": "deem_convnext_pico", "timm_model_pretrained": False, "timm_pool": "",
                       "timm_proj": "linear", "timm_drop": 0.0, "timm_drop_path": 0.0, "image_size": 64},
        # vocab_size and context_length are filled in from the tokenizer when the model is built
        "text_cfg": {"context_length": 24, "vocab_size": 0, "width": 128, "heads": 4, "layers": 2,
                     "pool_type": "argmax"},
    }


def _tiny() -> DeemConfig:
    common = {"weight_decay": 0.05, "warmup_steps": 30, "save_every": 200, "log_every": 10}
    stages = {
        "clip": StageConfig(data="captions.jsonl", losses={"clip": 1.0}, lr=1e-3,
                            trainable=[_ENC, "clip_text.*"], betas=(0.9, 0.98), max_steps=400, batch_size=64,
                            **common),
        "dm": StageConfig(data="t2i.jsonl", losses={"dm": 1.0}, lr=1e-3,
                          trainable=["image_decoder.unet.*", "image_decoder.text_encoder.*", _NULL],
                          max_steps=400, batch_size=32, **common),
        "lm": StageConfig(data="text", losses={"ntp": 1.0}, lr=2e-3, trainable=[_LLM], max_steps=300,
                          batch_size=32, **common),
        "1": StageConfig(data="interleaved.jsonl", losses={"ntp": 1.0, "nip": 5.0, "csr": 5.0}, lr=5e-4,
                         trainable=[_VTOK, _DRES, _NULL], groups=[ParamGroup("encoder", [_ENC], 1e-4)],
                         betas=(0.9, 0.995), max_steps=250, batch_size=32, **common),
        # stage 2 trains the LLM alone (so CSR, which only reaches the visual tokenizer, acts in stage 1):
        # at the LLM's rate the image tokens collapse to one constant vector (spread across images
        # 0.41 -> 0.05), and even at 2e-5 the moving tokens slow the LLM's grounding (POPE-random 70.1%
        # against 80.4% frozen). Existence questions come first, one per sequence: with every question
        # type mixed in from the start the tiny LLM stays at chance on them for 900+ steps.
        "2": StageConfig(data="instruct.jsonl", losses={"ntp": 1.0}, lr=5e-4, trainable=[_LLM],
                         max_steps=700, batch_size=32, curriculum_steps=400, curriculum_match=r"^Is there an? ",
                         **common),
        # the LLM alone here too: with the visual tokenizer at 2e-5, POPE-random fell from 80.4% to 72.6%
        # over these 150 steps (LLM alone: 77.9%) for the same RefCOCOg CIDEr (4.8)
        "3": StageConfig(data="region.jsonl", losses={"ntp": 1.0}, lr=1e-4, trainable=[_LLM],
                         max_steps=150, batch_size=32, **common),
    }
    return DeemConfig(
        name="tiny",
        encoder=EncoderConfig(model_cfg=_tiny_clip_cfg(), image_size=64, feature_stages=(1, 2, 3)),
        resampler=ResamplerConfig(dim=128, depth=2, heads=4, dim_head=32, num_queries=16, ff_mult=2),
        llm=LLMConfig(llama={"hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 3,
                             "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 160,
                             "rms_norm_eps": 1e-5, "tie_word_embeddings": True}),
        tokenizer=TokenizerConfig(max_length=128),
        diffusion=DiffusionConfig(
            # 64 px images as 16x16 grids of 4x4x3 patches (48 channels): lossless, so CSR sees every
            # detail, and cheap, with attention only at 8x8
            unet={"sample_size": 16, "in_channels": 48, "out_channels": 48, "layers_per_block": 1,
                  "block_out_channels": [32, 64],
                  "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
                  "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
                  # diffusers reads attention_head_dim as the number of heads: 2 heads of width 32
                  "attention_head_dim": 2, "norm_num_groups": 16},
            vae=None, text_encoder=TextEncoderConfig(width=128, layers=2, heads=4), resolution=64, patch_size=4,
            beta_schedule="squaredcos_cap_v2", cond_dim=64, num_cond_tokens=16, csr_fraction=0.25,
        ),
        decoder_resampler=ResamplerConfig(dim=128, depth=2, heads=4, dim_head=32, num_queries=16, ff_mult=2),
        num_image_tokens=16,
        stages=stages,
    )


def _micro() -> DeemConfig:
    """The tiny architecture shrunk further: for unit tests and smoke runs (seconds per stage)."""
    cfg = _tiny()
    cfg.name = "micro"
    cfg.llm.llama.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2)
    for res in (cfg.resampler, cfg.decoder_resampler):
        res.dim, res.depth, res.num_queries = 64, 1, 4
    cfg.num_image_tokens = cfg.diffusion.num_cond_tokens = 4
    cfg.diffusion.resolution, cfg.diffusion.patch_size = 32, 4
    cfg.diffusion.unet.update(sample_size=8, block_out_channels=[16, 32], norm_num_groups=8, attention_head_dim=2)
    cfg.diffusion.cond_dim = 32
    cfg.diffusion.csr_fraction = 1.0
    cfg.diffusion.text_encoder = TextEncoderConfig(width=32, layers=1, heads=2)
    for st in cfg.stages.values():
        st.batch_size, st.warmup_steps, st.log_every, st.max_steps, st.save_every = 4, 2, 1, 20, 10
        st.curriculum_steps = min(st.curriculum_steps, 10)
    return cfg


def _mining_vit() -> MiningConfig:
    cfg = {
        "embed_dim": 128,
        "vision_cfg": {"image_size": 64, "layers": 4, "width": 192, "head_width": 48, "patch_size": 8,
                       "mlp_ratio": 2.0},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2},
    }
    stage = StageConfig(data="captions.jsonl", losses={"clip": 1.0}, lr=1e-3, trainable=["*"],
                        betas=(0.9, 0.98), weight_decay=0.1, warmup_steps=30, max_steps=400, batch_size=64,
                        save_every=200)
    return MiningConfig(name="mining-vit", model_cfg=cfg, stages={"clip": stage})


_PRESETS = {"paper": _paper, "tiny": _tiny, "micro": _micro, "mining-vit": _mining_vit}


def list_presets() -> list[str]:
    """Names accepted by ``get_preset`` and ``deem-train --preset``."""
    return sorted(_PRESETS)


def get_preset(name: str) -> AnyConfig:
    """A fresh config object for a preset (callers may mutate it)."""
    if name not in _PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(list_presets())}")
    return _PRESETS[name]()


# ------------------------------------------------------------------------------------ (de)serialise

def config_to_dict(cfg: AnyConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _build(args[0], value, where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"config {where}: expected a mapping for {tp.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise UserError(f"config {where}: unknown keys {unknown} (expected some of {sorted(names)})")
        return tp(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in value.items()})
    if origin is dict:
        _, vt = typing.get_args(tp)
        _expect(isinstance(value, dict), where, "a mapping", value)
        return {str(k): _build(vt, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        (it,) = typing.get_args(tp)
        _expect(isinstance(value, list), where, "a list", value)
        return [_build(it, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        _expect(isinstance(value, (list, tuple)), where, "a list", value)
        return tuple(value)
    if tp is bool:
        _expect(isinstance(value, bool), where, "true or false", value)
    elif tp is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), where, "an integer", value)
    elif tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                where, "a finite number", value)
    elif tp is str:
        _expect(isinstance(value, str), where, "a string", value)
    return value


def _expect(ok: bool, where: str, what: str, value: Any) -> None:
    """A config value of the wrong type fails here, naming its key, not later inside the model."""
    if not ok:
        raise UserError(f"{where}: expected {what}, got {json.dumps(value, default=str)[:60]}")


def config_from_dict(data: dict[str, Any]) -> AnyConfig:
    kind = data.get("kind", "deem")
    cls = {"deem": DeemConfig, "mining": MiningConfig}.get(kind)
    if cls is None:
        raise UserError(f"config: unknown kind {kind!r} (expected 'deem' or 'mining')")
    return _build(cls, data, "config")


def save_config(cfg: AnyConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(cfg), indent=2, sort_keys=True) + "\n")


def load_config(path: str | Path) -> AnyConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"{path}: config file not found") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}, line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object at the top level")
    try:
        return config_from_dict(data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from exc


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_yaml_config(path: str | Path) -> AnyConfig:
    """A YAML file: either a full config, or ``base: <preset>`` plus nested overrides."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}{line}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is not None:
        data = _deep_merge(config_to_dict(get_preset(str(base))), data)
    try:
        return config_from_dict(data)
    except (TypeError, UserError) as exc:
        raise UserError(f"{path}: {exc}") from exc
