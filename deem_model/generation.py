"""Inference: text generation, option scoring from logits, and text-to-image generation.

Prompts are left-padded so the last real token of every row sits at the same position; with
the attention mask and mask-derived position ids a batch gives the same outputs as one prompt
at a time. Images may be given as pixels (PIL or tensors) or as features already produced by
``encode_images``, so a caller can encode each unique image once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deem_eval.samples import IMAGE_TOKEN

from .prompting import encode_with_images, left_pad, text_ids


def to_pixels(images: Sequence[Any], size: int) -> torch.Tensor:
    """PIL images / HWC uint8 arrays / CHW [0, 1] tensors -> (B, 3, size, size) in [0, 1]."""
    from PIL import Image

    out = []
    for im in images:
        if isinstance(im, torch.Tensor):
            t = im.float()
            if t.shape[-1] != size or t.shape[-2] != size:
                t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="bicubic", antialias=True,
                                                    align_corners=False)[0].clamp(0, 1)
            out.append(t)
            continue
        if isinstance(im, np.ndarray):
            im = Image.fromarray(im)
        im = im.convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BICUBIC)
        out.append(torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out)


def to_masks(masks: Sequence[Any] | None, n: int, size: int) -> torch.Tensor | None:
    """HxW binary masks (None = whole image) -> (B, 1, size, size) float, or None when all are None."""
    if masks is None or all(m is None for m in masks):
        return None
    out = []
    for m in list(masks) + [None] * (n - len(masks)):
        if m is None:
            out.append(torch.ones(1, size, size))
            continue
        t = torch.from_numpy(np.array(m, dtype=np.float32))[None, None]
        t = (t > 0).float()
        out.append(torch.nn.functional.interpolate(t, size=(size, size), mode="nearest")[0])
    return torch.stack(out)


@torch.no_grad()
def encode_images(model: Any, images: Sequence[Any], masks: Sequence[Any] | None = None,
                  batch_size: int = 32) -> list[torch.Tensor]:
    """One (N, H) tensor of LLM image tokens per image (on the CPU)."""
    size = model.cfg.encoder.image_size
    out: list[torch.Tensor] = []
    for i in range(0, len(images), batch_size):
        chunk = images[i: i + batch_size]
        px = to_pixels(chunk, size).to(model.device)
        mk = to_masks(None if masks is None else masks[i: i + batch_size], len(chunk), size)
        feats = model.encode_images(px, None if mk is None else mk.to(model.device))["llm_tokens"]
        out.extend(f.cpu() for f in feats)
    return out


def _features(model: Any, prompts: Sequence[str], images: Sequence[Any] | None, features: Sequence[Any] | None,
              masks: Sequence[Any] | None) -> list[torch.Tensor | None]:
    """Per prompt a (k, N, H) tensor for its k ``<image>`` markers (or None)."""
    if features is None and images is not None:
        flat_imgs, flat_masks, owner = [], [], []
        for j, im in enumerate(images):
            ims = im if isinstance(im, list | tuple) else ([] if im is None else [im])
            for im1 in ims:
                flat_imgs.append(im1)
                flat_masks.append(None if masks is None else masks[j])
                owner.append(j)
        enc = encode_images(model, flat_imgs, flat_masks) if flat_imgs else []
        features = [None] * len(prompts)
        for j, f in zip(owner, enc, strict=True):
            features[j] = f[None] if features[j] is None else torch.cat([features[j], f[None]])
    out: list[torch.Tensor | None] = []
    for j, p in enumerate(prompts):
        f = None if features is None else features[j]
        if f is not None and f.dim() == 2:
            f = f[None]
        k = p.count(IMAGE_TOKEN)
        if (0 if f is None else f.shape[0]) != k:
            raise ValueError(f"prompt {j} has {k} {IMAGE_TOKEN} markers but {0 if f is None else f.shape[0]} images")
        out.append(f)
    return out


def _embed_rows(model: Any, rows: list[list[int]], feats: list[torch.Tensor | None]):
    ids, mask = left_pad(rows, model.ids["pad"])
    ids, mask = ids.to(model.device), mask.to(model.device)
    given = [f for f in feats if f is not None]
    img = torch.cat(given).to(model.device) if given else None
    return model.mm_decoder.embed(ids, img), mask


def _prompt_ids(model: Any, prompt: str, prefix: str = "") -> list[int]:
    text = prompt + (" " + prefix if prefix else "")
    return [model.ids["bos"]] + encode_with_images(model.tokenizer, text, model.ids, model.cfg.num_image_tokens)


@torch.no_grad()
def generate_text(model: Any, prompts: Sequence[str], images: Sequence[Any] | None = None,
                  features: Sequence[Any] | None = None, masks: Sequence[Any] | None = None,
                  answer_prefixes: Sequence[str] | None = None, max_new_tokens: int = 16, num_beams: int = 1,
                  batch_size: int = 8) -> list[str]:
    """Greedy (num_beams=1) or beam-search continuations, stopping at EOS or SoI."""
    feats = _features(model, prompts, images, features, masks)
    prefixes = list(answer_prefixes) if answer_prefixes is not None else [""] * len(prompts)
    llm = model.mm_decoder.llm
    stops = [model.ids["eos"], model.ids["soi"]]
    out: list[str] = []
    for i in range(0, len(prompts), batch_size):
        rows = [_prompt_ids(model, p, pre) for p, pre in zip(prompts[i: i + batch_size], prefixes[i: i + batch_size],
                                                             strict=True)]
        emb, mask = _embed_rows(model, rows, feats[i: i + batch_size])
        gen = llm.generate(inputs_embeds=emb, attention_mask=mask, max_new_tokens=max_new_tokens,
                           num_beams=num_beams, do_sample=False, eos_token_id=stops,
                           pad_token_id=model.ids["pad"], bos_token_id=model.ids["bos"])
        for row in gen.tolist():
            cut = next((k for k, t in enumerate(row) if t in stops), len(row))
            out.append(model.tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
    return out


@torch.no_grad()
def score_options(model: Any, prompts: Sequence[str], options: Sequence[Sequence[str]],
                  images: Sequence[Any] | None = None, features: Sequence[Any] | None = None,
                  masks: Sequence[Any] | None = None, answer_prefixes: Sequence[str] | None = None,
                  batch_size: int = 8) -> list[list[float]]:
    """Log-likelihood of each option after prompt + answer prefix: one forward pass per batch.

    When every option of a request is a single token, the request is one row and its options
    are read from the next-token distribution; otherwise each option is a row of the same pass.
    """
    feats = _features(model, prompts, images, features, masks)
    prefixes = list(answer_prefixes) if answer_prefixes is not None else [""] * len(prompts)
    results: list[list[float]] = []
    for i in range(0, len(prompts), batch_size):
        rows, row_feats, plan = [], [], []
        for j in range(i, min(i + batch_size, len(prompts))):
            ctx = _prompt_ids(model, prompts[j], prefixes[j])
            opts = [text_ids(model.tokenizer, o) for o in options[j]]
            if any(not o for o in opts):
                raise ValueError(f"request {j}: an option tokenizes to nothing: {options[j]!r}")
            if all(len(o) == 1 for o in opts):
                plan.append(("single", len(rows), [o[0] for o in opts]))
                rows.append(ctx)
                row_feats.append(feats[j])
            else:
                plan.append(("multi", len(rows), opts))
                for o in opts:
                    rows.append(ctx + o)
                    row_feats.append(feats[j])
        emb, mask = _embed_rows(model, rows, row_feats)
        logp = model.mm_decoder.llm(inputs_embeds=emb, attention_mask=mask, use_cache=False).logits.float()
        logp = logp.log_softmax(-1)
        for kind, start, opts in plan:
            if kind == "single":
                results.append([float(logp[start, -1, t]) for t in opts])
                continue
            scores = []
            for k, o in enumerate(opts):
                r = start + k
                n = len(o)
                # the option's tokens are the last n of the row; each is predicted one position earlier
                pos = torch.arange(logp.shape[1] - n - 1, logp.shape[1] - 1)
                scores.append(float(logp[r, pos, torch.tensor(o)].sum()))
            results.append(scores)
    return results


@torch.no_grad()
def generate_images(model: Any, prompts: Sequence[str], seed: int, steps: int = 25, guidance: float = 3.0,
                    sampler: str = "ddim", batch_size: int = 8) -> list[Any]:
    """PIL images from text: LLM hidden states up to SoI -> condition tokens -> guided sampling."""
    from PIL import Image

    out = []
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i: i + batch_size]
        rows = [_prompt_ids(model, p) + [model.ids["soi"]] for p in chunk]
        emb, mask = _embed_rows(model, rows, [None] * len(rows))
        res = model.mm_decoder.llm(inputs_embeds=emb, attention_mask=mask, output_hidden_states=True, use_cache=False)
        last = emb.shape[1] - 1
        cond = model.mm_decoder.soi_conditions(res.hidden_states[-1], mask, torch.arange(len(rows)),
                                               torch.full((len(rows),), last))
        # one generator per prompt, seeded from (seed, prompt index): independent of the batch split
        gens = [torch.Generator().manual_seed(seed * 100_003 + i + k) for k in range(len(chunk))]
        px = model.image_decoder.sample(cond, gens, steps=steps, guidance=guidance, sampler=sampler)
        arr = (px.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)
        out.extend(Image.fromarray(a) for a in arr)
    return out
