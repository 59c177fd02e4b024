"""``hf-vlm``: any Hugging Face image-text-to-text model, with each family's own inputs and prompts.

``--model-args pretrained=NAME_OR_PATH,dtype=float32|bfloat16|float16,device=cpu|cuda,
trust_remote_code=false,image_features=auto|off``

Prompts follow the model's own chat template (the prompt's ``<image>`` marks where the image
goes; the answer prefix follows the generation prompt); PaliGemma, which has none, gets its
documented format. Every family-specific input comes from the family's processor and every
position scheme from ``hf_inputs.position_ids`` (``hf_families`` lists the families), so a
batch of left-padded rows scores exactly as each row would alone.

Where the family allows it (``hf_families.Family.reuse``) each image goes through the vision
encoder once (``encode_images``) and the model's forward gets that output as
``mm_encoder_outputs`` for every question on the image; ``image_features=off`` sends pixels
through every forward instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SampleError, UserError
from ..registry import register_model
from ..samples import IMAGE_TOKEN, Request
from .base import ModelAdapter
from .hf_families import FAMILIES, capability_rows, family_for, join_text, render
from .hf_files import checkpoint_digest, model_files_digest
from .hf_inputs import EncodedImage, Row, build_inputs, encode_images, forward_logits, image_encoder

DTYPES = ("float32", "bfloat16", "float16")
_KNOWN_ARGS = ("pretrained", "dtype", "device", "trust_remote_code", "image_features", "prefix_cache")


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise UserError(f"--model-args {name}={value!r}: expected true or false")


def _unreadable_safetensors(folder: Path) -> Path | None:
    """The first ``*.safetensors`` file in ``folder`` whose header cannot be read, to name it."""
    from safetensors import SafetensorError, safe_open

    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except (SafetensorError, OSError):
            return path
    return None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@register_model("hf-vlm")
class HFVLMAdapter(ModelAdapter):
    """A Hugging Face image-text-to-text model loaded with AutoProcessor + AutoModelForImageTextToText."""

    name = "hf-vlm"
    prefix_sharing = "per family"

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
        cache = model_args.get("prefix_cache", "on").strip().lower()
        if cache not in ("on", "off"):
            raise UserError(f"--model-args prefix_cache={cache!r}: expected on or off")
        self.prefix_cache = cache == "on"
        self._sharing: Any = None
        self._counter: Any = None
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

    def _model_type(self, src: str, kw: dict[str, Any]) -> str:
        """The checkpoint's ``model_type`` (read before loading, so every message can name it)."""
        from transformers import AutoConfig

        local = Path(src) / "config.json"
        if local.is_file():
            try:
                return str(json.loads(local.read_text()).get("model_type", "?"))
            except ValueError as exc:
                raise UserError(f"hf-vlm: {local} is not valid JSON: {exc}") from exc
        try:
            return AutoConfig.from_pretrained(src, **kw).model_type
        except (OSError, ValueError, KeyError) as exc:
            hint = " (HF_HUB_OFFLINE is set: only models already in the local Hugging Face cache load)"
            raise UserError(
                f"hf-vlm: cannot load model {self.pretrained!r}{hint if kw['local_files_only'] else ''}: {exc}"
            ) from exc

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
        self.model_type = self._model_type(src, kw)
        self.family = family_for(self.model_type)
        what = f"model type {self.model_type!r}"
        if self.family.unsupported:
            raise UserError(f"hf-vlm: {what} cannot run: {self.family.unsupported}")
        if not self.trust_remote_code:
            from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

            if self.model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
                raise UserError(
                    f"hf-vlm: {what} has no AutoModelForImageTextToText class in transformers "
                    f"{transformers.__version__} (not an image-text-to-text model, or one that needs "
                    "trust_remote_code=true)"
                )
        import pickle

        from safetensors import SafetensorError

        try:
            self.processor = AutoProcessor.from_pretrained(src, **kw)
            self.model = AutoModelForImageTextToText.from_pretrained(src, dtype=self.dtype, **kw)
        except ImportError as exc:
            raise UserError(f"hf-vlm: {what} needs a package that is not installed: {exc}") from exc
        # a truncated or corrupt weights file (safetensors header, torch.load's unpickler or zip
        # reader, a state dict of other shapes) is the checkpoint's fault, not a crash
        except (OSError, ValueError, KeyError, TypeError, SafetensorError, pickle.UnpicklingError,
                RuntimeError) as exc:
            hint = " (HF_HUB_OFFLINE is set: only models already in the local Hugging Face cache load)"
            bad = _unreadable_safetensors(local) if isinstance(exc, SafetensorError) and local is not None else None
            raise UserError(
                f"hf-vlm: cannot load model {self.pretrained!r} ({what})"
                f"{hint if offline and local is None else ''}: {exc}"
                f"{f' ({bad} is truncated or corrupt)' if bad else ''}"
            ) from exc
        if getattr(self.processor, "image_processor", None) is None or not hasattr(self.processor, "tokenizer"):
            raise UserError(f"hf-vlm: {what}: the checkpoint has no image processor + tokenizer (AutoProcessor "
                            f"gave {type(self.processor).__name__})")
        if self.family.prompt == "chat" and not getattr(self.processor, "chat_template", None):
            raise UserError(f"hf-vlm: {what}: the checkpoint's processor has no chat template")
        self.model.to(self.device).eval()
        self.model_dir = local if local is not None else _snapshot_dir(self.pretrained, offline)
        self._transformers_version = transformers.__version__

        tok = self.processor.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.tokenizer = tok
        self.splice = (
            self._want_features
            and self.family.reuse
            and image_encoder(self.model) is not None
            and getattr(self.model, "_supports_mm_encoder_outputs", lambda: False)()  # transformers 5
        )
        # Digest the files now, so both describe the weights that were loaded (cached per file).
        self._fingerprint = self._compute_fingerprint()
        self._checkpoint_sha256 = checkpoint_digest(self.model_dir)

    @classmethod
    def capabilities(cls) -> list[dict[str, str]]:
        """Per-family support (logits, feature reuse, multi-image, prompt convention) for ``models``."""
        return capability_rows()

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
        h.update(f"|dtype={self.dtype_name}|splice={self.splice}|prefix={self.prefix_cache}".encode())
        h.update((getattr(self.processor, "chat_template", None) or "").encode())
        return h.hexdigest()

    def versions(self) -> dict[str, str]:
        return {"transformers": self._transformers_version}

    # ---- prompts ---------------------------------------------------------------------------
    def render(self, req: Request) -> tuple[str, str | None]:
        """(processor text, answer lead) in the family's prompt convention (``hf_families.render``)."""
        return render(self.processor, self.family, req)

    def chat_text(self, req: Request) -> str:
        """The rendered prompt for one request, answer prefix included (chat families)."""
        text, lead = self.render(req)
        return text if lead is None else join_text(text, lead)

    # ---- images ----------------------------------------------------------------------------
    @property
    def can_encode_images(self) -> bool:
        """Only when the encoder output is reused; otherwise the runner hands over the images."""
        return self.splice

    def encode_images(self, images: Sequence[Any], masks: Sequence[Any] | None = None) -> list[Any]:
        """One vision-encoder pass over the images (``EncodedImage`` each); the images when reuse is off."""
        if not self.splice:
            return list(images)
        probe = render(self.processor, self.family, Request("encode", IMAGE_TOKEN, image=True))[0]
        return encode_images(self.model, self.processor, self.family, list(images), probe, self.device, self.dtype)

    def _images_for(self, reqs: Sequence[Request]) -> list[Any]:
        """Per request: its image as the model path wants it (raw images encoded once per object)."""
        out: list[Any] = []
        for r in reqs:
            im = r.image
            if im is None:
                out.append(None)
                continue
            if isinstance(im, EncodedImage):
                out.append(im if self.splice else im.image)
                continue
            if not hasattr(im, "convert"):
                raise SampleError(f"sample {r.sample_id}: expected an image, got {type(im).__name__}")
            out.append(im)
        raw = {id(im): im for im in out if im is not None and not isinstance(im, EncodedImage)}
        if self.splice and raw:  # raw images given directly: encode each distinct one, all in one pass
            done = dict(zip(raw, self.encode_images(list(raw.values())), strict=True))
            out = [done.get(id(im), im) if im is not None else None for im in out]
        return out

    def _inputs(self, rows: list[Row]) -> dict[str, Any]:
        inputs = build_inputs(self.model, self.processor, self.family, rows, self.device, self.dtype)
        if self._counter is not None:  # unshared: every real token of every row is prefilled
            attn = inputs["attention_mask"].bool()
            for j, row in enumerate(rows):
                ids = inputs["input_ids"][j][attn[j]].tolist()
                self._counter.note(row.key, ids, min(row.min_suffix, len(ids)))
            self._counter.n_prefill_tokens += int(attn.sum())
        return inputs

    # ---- prefix sharing ----------------------------------------------------------------
    def sharing(self) -> Any:
        """The shared-prefix engine (``hf_prefix``), or None where the family or the switch rules it out."""
        from .hf_prefix import HFPrefixSharing, supports

        if self._sharing is None and self.prefix_cache and supports(self):
            self._sharing = HFPrefixSharing(self)
            if self._counter is not None:
                self._sharing.engine.reset(self._counter)
        return self._sharing

    def begin_task(self) -> None:
        from .prefix import PrefillCounter

        self._counter = PrefillCounter()
        if self._sharing is not None:  # image keys are unique within one task only
            self._sharing.engine.reset(self._counter)

    def prefill_stats(self) -> dict[str, int] | None:
        return None if self._counter is None else self._counter.stats()

    def _shared(self, method: str, *args):
        """The shared path's answer, or None when this batch cannot share (then the unshared path runs)."""
        from .hf_prefix import NoShare

        share = self.sharing()
        if share is None:
            return None
        try:
            return self._guard(getattr(share, method), *args)
        except NoShare:
            return None

    def _chunks(self, n: int) -> list[slice]:
        """Row ranges that go through the model together (one by one for unbatched families)."""
        step = n if self.family.batched else 1
        return [slice(i, min(i + step, n)) for i in range(0, n, step)]

    def _guard(self, fn, *args):
        """Untested families: a failure inside the model becomes one message naming the model type."""
        if self.family.tested:
            return fn(*args)
        try:
            return fn(*args)
        except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            raise UserError(
                f"hf-vlm: model type {self.model_type!r} is not one of the tested families and failed in "
                f"the model ({type(exc).__name__}: {exc}); tested: {', '.join(sorted(FAMILIES))}"
            ) from exc

    # ---- abilities -------------------------------------------------------------------------
    def generate(self, requests: Sequence[Request]) -> list[str]:
        """Greedy decoding; only the new tokens are decoded, special tokens skipped, stripped."""
        if not requests:
            return []
        images = self._images_for(requests)
        shared = self._shared("generate", requests, images)
        if shared is not None:
            return shared
        rows = []
        for r, im in zip(requests, images, strict=True):
            text, lead = self.render(r)
            rows.append(Row(text, im, lead or None, key=r.image_key))
        if not any(row.suffix for row in rows):
            for row in rows:
                row.suffix = None
        out: list[str] = []
        for part in self._chunks(len(rows)):
            out.extend(self._guard(self._generate_rows, rows[part], requests[part]))
        return out

    def _generate_rows(self, rows: list[Row], requests: Sequence[Request]) -> list[str]:
        import torch

        inputs = self._inputs(rows)
        if any(row.suffix is not None for row in rows):  # PaliGemma: drop the EOS ending each suffix
            for k in ("input_ids", "attention_mask", "token_type_ids"):
                if k in inputs:
                    inputs[k] = inputs[k][:, :-1]
        n_prompt = inputs["input_ids"].shape[1]
        budget = max(r.max_new_tokens for r in requests)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=budget,
                do_sample=False,
                num_beams=1,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        out = out[:, n_prompt:]
        rows_out = [row[: r.max_new_tokens].tolist() for row, r in zip(out, requests, strict=True)]
        return [t.strip() for t in self.tokenizer.batch_decode(rows_out, skip_special_tokens=True)]

    def _continuations(self, bases: list[str], requests: Sequence[Request]) -> list[list[list[int]]]:
        """Token ids each option adds after its base text: tokens(base + option) minus tokens(base)."""
        joined = [join_text(b, o) for b, r in zip(bases, requests, strict=True) for o in r.options]
        base_ids = self.tokenizer(bases, add_special_tokens=False)["input_ids"]
        full_ids = self.tokenizer(joined, add_special_tokens=False)["input_ids"]
        out: list[list[list[int]]] = []
        k = 0
        for i, r in enumerate(requests):
            conts = []
            for opt in r.options:
                cont = full_ids[k][len(base_ids[i]) :]
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
        rendered = [self.render(r) for r in requests]
        images = self._images_for(requests)
        conts = self._continuations([text if lead is None else lead for text, lead in rendered], requests)
        lengths = [[len(c) for c in per_req] for per_req in conts]
        shared = self._shared("score_options", requests, images, conts, rendered)
        if shared is not None:
            return shared
        if not self.family.suffix_eos and all(n == 1 for ns in lengths for n in ns):
            # Every option is one token: read them all off the last position of each prompt.
            rows = [Row(text, im, key=r.image_key) for (text, _), im, r in zip(rendered, images, requests, strict=True)]
            logp = torch.cat([self._guard(self._last_logp, rows[p]) for p in self._chunks(len(rows))])
            return [[float(logp[i, c[0]]) for c in per_req] for i, per_req in enumerate(conts)]
        # General case: one row per (request, option), all in one forward.
        rows, row_len = [], []
        for (text, lead), r, im, ns in zip(rendered, requests, images, lengths, strict=True):
            for opt, n in zip(r.options, ns, strict=True):
                tail = 2 if self.family.suffix_eos else 1
                if lead is None:
                    rows.append(Row(join_text(text, opt), im, key=r.image_key, min_suffix=n + tail))
                else:
                    rows.append(Row(text, im, join_text(lead, opt), key=r.image_key, min_suffix=n + tail))
                row_len.append(n)
        scores: list[float] = []
        for p in self._chunks(len(rows)):
            scores.extend(self._guard(self._option_logp, rows[p], row_len[p]))
        out, k = [], 0
        for r in requests:
            out.append(scores[k : k + len(r.options)])
            k += len(r.options)
        return out

    def _last_logp(self, rows: list[Row]):
        import torch

        inputs = self._inputs(rows)
        return torch.log_softmax(forward_logits(self.model, self.family, inputs, 1)[:, -1], dim=-1)

    def _option_logp(self, rows: list[Row], row_len: list[int]) -> list[float]:
        """Summed log-probability of each row's last ``n`` tokens (before PaliGemma's suffix EOS)."""
        import torch

        inputs = self._inputs(rows)
        ids = inputs["input_ids"]
        tail = 1 if self.family.suffix_eos else 0
        keep = max(row_len) + tail + 1
        logp = torch.log_softmax(forward_logits(self.model, self.family, inputs, keep), dim=-1)
        length = ids.shape[1]
        out = []
        for j, n in enumerate(row_len):
            targets = ids[j, length - n - tail : length - tail]
            preds = logp[j, keep - n - tail - 1 : keep - tail - 1]
            out.append(float(preds.gather(-1, targets.unsqueeze(-1)).sum()))
        return out


def _snapshot_dir(repo_id: str, offline: bool) -> Path | None:
    """The local snapshot folder of a Hub model that from_pretrained just resolved."""
    try:
        from transformers.utils import cached_file

        path = cached_file(repo_id, "config.json", local_files_only=offline)
    except (OSError, ValueError):
        return None
    return Path(path).parent if path else None
