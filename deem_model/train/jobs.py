"""What a stage trains: the DEEM model (stages clip, dm, lm, 1, 2, 3) or the mining CLIP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deem_eval.errors import UserError

from ..config import DeemConfig, MiningConfig
from ..data import StageData

DEEM_STAGES = ("clip", "dm", "lm", "1", "2", "3")
STAGE_ORDER = {s: i for i, s in enumerate(DEEM_STAGES)}


class DeemJob:
    """A DEEM stage: fresh weights, ``init`` from a previous stage's output, or ``resume``."""

    def __init__(self, cfg: DeemConfig, stage_name: str, data_dir: Path, no_csr: bool = False,
                 init: Path | None = None, resume: Path | None = None):
        from ..build import build_model
        from ..checkpoint import load_pretrained

        if stage_name not in DEEM_STAGES:
            raise UserError(f"unknown stage {stage_name!r}; expected one of {', '.join(DEEM_STAGES)}")
        torch.manual_seed(cfg.seed * 1_000 + STAGE_ORDER[stage_name])
        if resume is not None:
            model, _ = load_pretrained(resume)
        elif init is not None:
            model, _ = load_pretrained(init)
            # architecture from the checkpoint; stage recipes and runtime options from the given config
            model.cfg.stages = cfg.stages
            model.cfg.mixed_precision, model.cfg.deepspeed_config = cfg.mixed_precision, cfg.deepspeed_config
        else:
            model = build_model(cfg, data_dir=data_dir)
        if stage_name not in model.cfg.stages:
            raise UserError(f"the config has no recipe for stage {stage_name!r} "
                            f"(it defines {', '.join(model.cfg.stages) or 'none'})")
        self.stage = model.cfg.stages[stage_name]
        if no_csr and "csr" not in self.stage.losses:
            raise UserError(f"--no-csr: stage {stage_name} has no CSR loss to remove")
        model.set_loss_weights(self.stage.losses, no_csr=no_csr)
        self.model = model
        self.cfg = model.cfg
        self.stage_name = stage_name
        self.mixed_precision = model.cfg.mixed_precision
        self.deepspeed_config = model.cfg.deepspeed_config
        self.extra_state = {"no_csr": no_csr, "losses": model.loss_weights}
        self.data = StageData(stage_name, data_dir, model, self.stage.batch_size, cfg.seed * 1_000 + STAGE_ORDER[stage_name],
                              self.stage.image_first_prob, self.stage.curriculum_steps, self.stage.curriculum_match,
                              corpus=None if stage_name == "lm" else self.stage.data)

    def save(self, model: torch.nn.Module, directory: Path) -> str:
        from ..checkpoint import save_pretrained

        return save_pretrained(model, directory)


class MiningCLIP(torch.nn.Module):
    """A standard open_clip CLIP plus its contrastive loss (identical captions count as positives)."""

    def __init__(self, cfg: MiningConfig):
        super().__init__()
        import open_clip

        self.clip = open_clip.model.CLIP(**cfg.model_cfg)
        self.register_buffer("mean", torch.tensor(cfg.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from ..visual import contrastive_loss

        img = self.clip.encode_image((batch["pixel_values"] - self.mean) / self.std)
        ids = batch["clip_ids"]
        txt = self.clip.encode_text(ids)
        same = (ids[:, None, :] == ids[None, :, :]).all(-1)
        loss = contrastive_loss(img, txt, self.clip.logit_scale, same)
        return {"clip": loss, "total": loss}


class MiningData:
    """Deterministic (image, caption) batches tokenised with open_clip's standard BPE tokenizer."""

    def __init__(self, data_dir: Path, cfg: MiningConfig, batch_size: int, seed: int):
        import open_clip

        from ..data import REQUIRED, EpochSampler, ImageStore, read_jsonl

        train = Path(data_dir) / "train"
        self.rows = read_jsonl(train / cfg.stages["clip"].data, REQUIRED["captions.jsonl"])
        self.images = ImageStore(train, int(cfg.model_cfg["vision_cfg"]["image_size"]))
        self.tokenize = open_clip.SimpleTokenizer(context_length=int(cfg.model_cfg["text_cfg"]["context_length"]))
        self.sampler = EpochSampler(len(self.rows), batch_size, seed)

    def batch(self, micro_step: int) -> dict[str, torch.Tensor]:
        rows = [self.rows[i] for i in self.sampler.indices(micro_step)]
        return {"pixel_values": self.images.batch([r["image"] for r in rows]),
                "clip_ids": self.tokenize([r["caption"] for r in rows])}


class MiningJob:
    """The RobustVQA mining model, saved in open_clip's ``local-dir:`` format."""

    def __init__(self, cfg: MiningConfig, stage_name: str, data_dir: Path, resume: Path | None = None):
        if stage_name != "clip":
            raise UserError(f"preset {cfg.name!r} trains only the 'clip' stage (got {stage_name!r})")
        torch.manual_seed(cfg.seed)
        self.model = MiningCLIP(cfg)
        if resume is not None:
            from ..mining import load_open_clip_weights

            load_open_clip_weights(self.model.clip, Path(resume))
        self.cfg = cfg
        self.stage = cfg.stages["clip"]
        self.stage_name = stage_name
        self.mixed_precision, self.deepspeed_config = cfg.mixed_precision, cfg.deepspeed_config
        self.extra_state: dict[str, Any] = {"kind": "mining"}
        self.data = MiningData(data_dir, cfg, self.stage.batch_size, cfg.seed)

    def save(self, model: torch.nn.Module, directory: Path) -> str:
        from ..mining import save_open_clip

        return save_open_clip(model.clip, self.cfg, directory)
