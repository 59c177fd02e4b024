"""``hf-vlm``: any Hugging Face image-text-to-text model (LLaVA-1.5 style) with its chat template.

``--model-args pretrained=NAME_OR_PATH,dtype=float32|bfloat16|float16,device=cpu|cuda,
trust_remote_code=false,image_features=auto|off``

The prompt's ``<image>`` marks where the image goes; the prompt becomes one user message whose
content parts (text, image, text) keep that order, the processor's chat template renders it
with the generation prompt, and the request's answer prefix follows. Batches are LEFT padded
with position ids taken from the attention mask, so a row's result does not depend on its
batch-mates.

Images are encoded once (vision tower + projector, ``get_image_features``) and the features
are spliced into the token embeddings at the image-token positions, exactly as LLaVA's own
forward does, so the runner can reuse them across the questions of one image. For model
classes whose image features are not a plain one-feature-per-placeholder splice (e.g. models
with image-size-dependent tokens or multimodal rotary positions) ``encode_images`` returns the
image unchanged and the processor's ``pixel_values`` go through the model's forward instead.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SampleError, UserError
from ..registry import register_model
from ..samples import IMAGE_TOKEN, Request
from .base import ModelAdapter
from .hf_files import checkpoint_digest, model_files_digest

# Model types whose forward replaces each image placeholder token by one row of
# get_image_features(...) and nothing else; for these the splice path is exact.
SPLICE_MODEL_TYPES = frozenset({"llava"})
DTYPES = ("float32", "bfloat16", "float16")
_KNOWN_ARGS = ("pretrained", "dtype", "device", "trust_remote_code", "image_features")


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise UserError(f"--model-args {name}={value!r}: expected true or false")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@register_model("hf-vlm")
class HFVLMAdapter(ModelAdapter):
    """A Hugging Face image-text-to-text model loaded with AutoProcessor + AutoModelForImageTextToText."""

    name = "hf-vlm"

    def __init__(self, **model_args: str):
        super().__init__(**model_args)
        unknown = sorted(set(model_args) - set(_KNOWN_ARGS))
        if unknown:
            raise UserError(
                f"hf-vlm: unknown --model-args {', '.join(unknown)}; known: {', '.join(_KNOWN_ARGS)}"
            )
        self.pretrained = model_args.get("pretrained", "").strip()
        if not self.pretrained:
            raise UserError("hf-vlm needs --model-args pretrained=NAME_OR_PATH (a Hub id or a local folder)")
        self.dtype_name = model_args.get("dtype", "float32").strip()
        if self.dtype_name not in DTYPES:
            raise UserError(f"--model-args dtype={self.dtype_name!r}: expected one of {', '.join(DTYPES)}")
        self.trust_remote_code = _flag("trust_remote_code", model_args.get("trust_remote_code", "false"))
        feats = model_args.get("image_features", "auto").strip().lower()
        if feats not in ("auto", "off"):
            raise UserError(f"--model-args image_features={feats!r}: expected auto or off")
        self._want_features = feats == "auto"
        self._device_arg = model_args.get("device", "").strip()
        self._load()

    # ---- loading ---------------------------------------------------------------------------
    def _resolve_device(self) -> str:
        import torch

        dev = self._device_arg or ("cuda" if torch.cuda.is_available() else "cpu")
        if dev == "cuda" and "LOCAL_RANK" in os.environ:
            dev = f"cuda:{int(os.environ['LOCAL_RANK'])}"  # one GPU per distributed rank
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"--model-args device={dev}: CUDA is not available on this machine")
        if not (dev == "cpu" or dev.startswith("cuda")):
            raise UserError(f"--model-args device={dev!r}: expected cpu or cuda")
        return dev

    def _check_local(self) -> Path | None:
        """The local folder named by ``pretrained``, or None for a Hub id; bad folders are user errors."""
        p = Path(self.pretrained).expanduser()
        looks_local = p.is_absolute() or self.pretrained.startswith((".", "~")) or p.exists()
        if not looks_local:
            return None
        if not p.is_dir():
            raise UserError(f"hf-vlm: model folder not found: {p}")
        if not (p / "config.json").is_file():
            raise UserError(f"hf-vlm: {p} is not a Hugging Face model folder (expected a config.json in it)")
        if not any(p.glob("*.safetensors")) and not any(p.glob("*.bin")):
            raise UserError(f"hf-vlm: no weights in {p} (expected *.safetensors or pytorch_model*.bin files)")
        return p.resolve()

    def _load(self) -> None:
        import torch
        import transformers
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from ..runtime import set_torch_threads

        set_torch_threads()
        self.device = self._resolve_device()
        self.dtype = getattr(torch, self.dtype_name)
        local = self._check_local()
        src = str(local) if local is not None else self.pretrained
        offline = _offline()
        kw: dict[str, Any] = {"trust_remote_code": self.trust_remote_code, "local_files_only": offline}
        try:
            self.processor = AutoProcessor.from_pretrained(src, **kw)
            self.model = AutoModelForImageTextToText.from_pretrained(src, dtype=self.dtype, **kw)
        except (OSError, ValueError, KeyError) as exc:
            hint = " (HF_HUB_OFFLINE is set: only models already in the local Hugging Face cache load)"
            raise UserError(
                f"hf-vlm: cannot load model {self.pretrained!r}{hint if offline and local is None else ''}: {exc}"
            ) from exc
        self.model.to(self.device).eval()
        self.model_dir = local if local is not None else _snapshot_dir(self.pretrained, offline)
        self._transformers_version = transformers.__version__

        tok = self.processor.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.tokenizer = tok
        self.image_token = getattr(self.processor, "image_token", IMAGE_TOKEN)
        cfg = self.model.config
        self.image_token_id = getattr(cfg, "image_token_id", None)
        if self.image_token_id is None:
            self.image_token_id = getattr(cfg, "image_token_index", None)
        self.splice = (
            self._want_features
            and cfg.model_type in SPLICE_MODEL_TYPES
            and self.image_token_id is not None
            and hasattr(self.model, "get_image_features")
        )
        params = inspect.signature(self.model.forward).parameters
        self._takes_logits_to_keep = "logits_to_keep" in params
        self._takes_position_ids = "position_ids" in params
        # Digest the files now, so both describe the weights that were loaded (cached per file).
        self._fingerprint = self._compute_fingerprint()
        self._checkpoint_sha256 = checkpoint_digest(self.model_dir)

    # ---- identity --------------------------------------------------------------------------
    def fingerprint(self) -> str:
        return self._fingerprint

    def checkpoint_sha256(self) -> str | None:
        return self._checkpoint_sha256

    def _compute_fingerprint(self) -> str:
        """Weights (content hashes), processor/tokenizer/chat-template files and dtype."""
        h = hashlib.sha256()
        if self.model_dir is not None:
            h.update(model_files_digest(self.model_dir).encode())
        else:  # no folder to read: hash the loaded tensors themselves
            for name, t in sorted(self.model.state_dict().items()):
                h.update(name.encode())
                h.update(t.detach().float().cpu().numpy().tobytes())
        h.update(f"|dtype={self.dtype_name}|splice={self.splice}".encode())
        h.update((getattr(self.processor, "chat_template", None) or "").encode())
        return h.hexdigest()

    def versions(self) -> dict[str, str]:
        return {"transformers": self._transformers_version}

    # ---- prompts ---------------------------------------------------------------------------
    def chat_text(self, req: Request) -> str:
        """The rendered chat text for one request, answer prefix included (one image placeholder)."""
        pieces = req.prompt.split(IMAGE_TOKEN)
        n_marks = len(pieces) - 1
        has_image = req.image is not None
        if n_marks > 1:
            raise SampleError(
                f"sample {req.sample_id}: prompt has {n_marks} {IMAGE_TOKEN} marks for one image"
            )
        if n_marks and not has_image:
            raise SampleError(
                f"sample {req.sample_id}: prompt has {IMAGE_TOKEN} but the request has no image"
            )
        content: list[dict[str, str]] = []
        if has_image and not n_marks:
            content.append({"type": "image"})  # LLaVA convention: image before the text
        for i, piece in enumerate(pieces):
            if i:
                content.append({"type": "image"})
            if piece:
                content.append({"type": "text", "text": piece})
        messages = [{"role": "user", "content": content}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prefix = req.answer_prefix
        if prefix:
            sep = "" if text[-1:].isspace() or prefix[:1].isspace() else " "
            text = f"{text}{sep}{prefix}"
        return text

    # ---- images ----------------------------------------------------------------------------
    def encode_images(self, images: Sequence[Any], masks: Sequence[Any] | None = None) -> list[Any]:
        """Features (placeholders x hidden) per image; the images themselves when splicing is off."""
        if not self.splice:
            return list(images)
        import torch

        if not images:
            return []
        pixels = self.processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        cfg = self.model.config
        kwargs = {
            k: getattr(cfg, k)
            for k in ("vision_feature_layer", "vision_feature_select_strategy")
            if getattr(cfg, k, None) is not None
        }
        with torch.inference_mode():
            out = self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype), **kwargs)
        feats = getattr(out, "pooler_output", out)
        return [f for f in feats]

    def _features_for(self, reqs: Sequence[Request]) -> list[Any]:
        """Per request: its features (encoding any PIL images in one call), or None."""
        import torch

        raw = [
            (i, r.image) for i, r in enumerate(reqs) if r.image is not None and not torch.is_tensor(r.image)
        ]
        encoded = dict(zip([i for i, _ in raw], self.encode_images([im for _, im in raw]), strict=True))
        return [encoded.get(i, r.image) for i, r in enumerate(reqs)]

    # ---- batching --------------------------------------------------------------------------
    def _tokenize(self, texts: list[str]):
        bos = self.tokenizer.bos_token
        add_special = not (bos and all(t.startswith(bos) for t in texts))
        return self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=add_special)

    def _model_inputs(self, texts: list[str], images: list[Any]) -> tuple[dict[str, Any], Any]:
        """Model keyword inputs for left-padded rows, and the rows' token ids."""
        import torch

        if self.splice:
            expanded = []
            for t, f in zip(texts, images, strict=True):
                if f is not None and not torch.is_tensor(f):
                    raise SampleError("image features expected; got an unencoded image")
                expanded.append(
                    t if f is None else t.replace(self.image_token, self.image_token * f.shape[0], 1)
                )
            enc = self._tokenize(expanded)
            ids = enc["input_ids"].to(self.device)
            attn = enc["attention_mask"].to(self.device)
            with torch.inference_mode():
                embeds = self.model.get_input_embeddings()(ids)
                feats = [f for f in images if f is not None]
                if feats:
                    flat = torch.cat(feats).to(self.device, embeds.dtype)
                    where = ids == self.image_token_id
                    if int(where.sum()) != flat.shape[0]:
                        raise RuntimeError(
                            f"{int(where.sum())} image placeholder tokens but {flat.shape[0]} feature rows"
                        )
                    embeds = embeds.masked_scatter(where.unsqueeze(-1), flat)
            return {"inputs_embeds": embeds, "attention_mask": attn}, ids
        for im in images:
            if im is not None and hasattr(im, "shape") and not hasattr(im, "convert"):
                raise SampleError("this model takes images, not pre-encoded features")
        pil = [im for im in images if im is not None]
        enc = self.processor(text=texts, images=pil or None, padding=True, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in enc.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs, inputs["input_ids"]

    def _forward_logits(self, inputs: dict[str, Any], keep: int):
        """Logits (float32) of the last ``keep`` positions of every row."""
        import torch

        kwargs = dict(inputs)
        if self._takes_position_ids:
            attn = inputs["attention_mask"]
            kwargs["position_ids"] = (attn.long().cumsum(-1) - 1).clamp(min=0)
        if self._takes_logits_to_keep:
            kwargs["logits_to_keep"] = keep
        with torch.inference_mode():
            logits = self.model(**kwargs).logits
        return logits[:, -keep:].float()

    # ---- abilities -------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> list[str]:
        """Greedy decoding; only the new tokens are decoded, special tokens skipped, stripped."""
        import torch

        if not requests:
            return []
        texts = [self.chat_text(r) for r in requests]
        inputs, ids = self._model_inputs(texts, self._features_for(requests))
        budget = max(r.max_new_tokens for r in requests)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=budget,
                do_sample=False,
                num_beams=1,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        if "input_ids" in inputs:  # given token ids, generate returns prompt + new tokens
            out = out[:, ids.shape[1] :]
        rows = [row[: r.max_new_tokens].tolist() for row, r in zip(out, requests, strict=True)]
        texts_out = self.tokenizer.batch_decode(rows, skip_special_tokens=True)
        return [t.strip() for t in texts_out]

    @staticmethod
    def _join(ctx: str, option: str) -> str:
        return ctx + ("" if ctx[-1:].isspace() or option[:1].isspace() else " ") + option

    def _continuations(self, contexts: list[str], requests: Sequence[Request]) -> list[list[list[int]]]:
        """Token ids each option adds after its context: tokens(context + option) minus tokens(context)."""
        joined = [self._join(ctx, o) for ctx, r in zip(contexts, requests, strict=True) for o in r.options]
        ctx_ids = self.tokenizer(contexts, add_special_tokens=False)["input_ids"]
        full_ids = self.tokenizer(joined, add_special_tokens=False)["input_ids"]
        out: list[list[list[int]]] = []
        k = 0
        for i, r in enumerate(requests):
            conts = []
            for opt in r.options:
                cont = full_ids[k][len(ctx_ids[i]) :]
                if not cont:
                    raise SampleError(f"sample {r.sample_id}: option {opt!r} adds no tokens")
                conts.append(cont)
                k += 1
            out.append(conts)
        return out

    def score_options(self, requests: Sequence[Request]) -> list[list[float]]:
        """Summed log-probability of each option's tokens after prompt + answer prefix (one forward)."""
        import torch

        if not requests:
            return []
        for r in requests:
            if not r.options:
                raise SampleError(f"sample {r.sample_id}: no options to score")
        contexts = [self.chat_text(r) for r in requests]
        conts = self._continuations(contexts, requests)
        feats = self._features_for(requests)
        if all(len(c) == 1 for per_req in conts for c in per_req):
            # Every option is one token: read them all off the last position of the prompt.
            inputs, _ = self._model_inputs(contexts, feats)
            logp = torch.log_softmax(self._forward_logits(inputs, 1)[:, -1], dim=-1)
            return [[float(logp[i, c[0]]) for c in per_req] for i, per_req in enumerate(conts)]
        # General case: one row per (request, option), all in one forward.
        rows, row_feats, row_len = [], [], []
        for ctx, r, f, per_req in zip(contexts, requests, feats, conts, strict=True):
            for opt, c in zip(r.options, per_req, strict=True):
                rows.append(self._join(ctx, opt))
                row_feats.append(f)
                row_len.append(len(c))
        inputs, ids = self._model_inputs(rows, row_feats)
        keep = max(row_len) + 1
        logp = torch.log_softmax(self._forward_logits(inputs, keep), dim=-1)
        scores: list[float] = []
        for j, n in enumerate(row_len):
            targets = ids[j, -n:]
            preds = logp[j, keep - n - 1 : keep - 1]
            scores.append(float(preds.gather(-1, targets.unsqueeze(-1)).sum()))
        out, k = [], 0
        for r in requests:
            out.append(scores[k : k + len(r.options)])
            k += len(r.options)
        return out


def _snapshot_dir(repo_id: str, offline: bool) -> Path | None:
    """The local snapshot folder of a Hub model that from_pretrained just resolved."""
    try:
        from transformers.utils import cached_file

        path = cached_file(repo_id, "config.json", local_files_only=offline)
    except (OSError, ValueError):
        return None
    return Path(path).parent if path else None
