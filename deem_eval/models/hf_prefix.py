"""Prefix sharing for ``hf-vlm``: the questions on one image pay for its image tokens once.

Each request is rendered and run through the family's processor on its own (unpadded), exactly
as the unshared path builds its inputs; its positions come from ``hf_inputs.position_ids`` (the
family's real scheme: 0-based over real tokens, or the model's own 3-D multimodal rotary
positions). The first prefix of an image — everything up to the longest token prefix its rows
share, image tokens included — runs through the model's own forward with the encoder output
(``mm_encoder_outputs``) and the processor's other inputs cut to that prefix; the rest of each
row is text only and runs as token embeddings against the stored key/values
(``deem_eval.models.prefix``). Rows are grouped by image and by their tokens up to the last
image token, so a prefix always holds the whole image.

Families whose attention is not plain causal over the prompt (PaliGemma's bidirectional prefix,
Gemma 3's bidirectional image blocks and sliding windows, Mllama's cross-attention) and families
outside the tested list do not share; nor does generation when the model's generation config
changes greedy decoding (a repetition penalty, say), where ``generate`` stays the reference.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ..samples import Request
from .hf_families import FAMILIES, join_text
from .hf_inputs import Row as InputRow
from .hf_inputs import build_inputs, position_ids
from .prefix import Row, SharedPrefixLM

PREFIX_FAMILIES = frozenset(f.model_type for f in FAMILIES.values() if f.shares_prefix)
_CHECKS = 8  # images per head text whose composed inputs are checked against the processor's
_SEQ_KEYS = ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids")
# Generation settings that change greedy decoding; with any of them set, generation is not shared.
_GREEDY_CHANGERS = {"repetition_penalty": 1.0, "no_repetition_ngram_size": 0, "no_repeat_ngram_size": 0,
                    "encoder_repetition_penalty": 1.0, "min_new_tokens": None, "min_length": 0,
                    "bad_words_ids": None, "suppress_tokens": None, "begin_suppress_tokens": None,
                    "forced_bos_token_id": None, "forced_eos_token_id": None, "sequence_bias": None}


def supports(adapter: Any) -> bool:
    return adapter.family.shares_prefix and adapter.splice


def greedy_is_plain(model: Any) -> bool:
    """True when the model's generation config leaves greedy decoding alone."""
    cfg = getattr(model, "generation_config", None)
    if cfg is None:
        return True
    return all(getattr(cfg, k, d) in (d, None) or (d == 1.0 and getattr(cfg, k) == 1) for k, d in
               _GREEDY_CHANGERS.items())


class HFPrefixSharing:
    """The shared-prefix engine wired to one hf-vlm adapter's model, processor and family."""

    def __init__(self, adapter: Any):
        self.a = adapter
        model = adapter.model
        cfg = model.config
        self.image_token_id = getattr(cfg, "image_token_id", None)
        if self.image_token_id is None:
            self.image_token_id = getattr(cfg, "image_token_index", None)
        self.embed = model.get_input_embeddings()
        self.engine = SharedPrefixLM(model, device=adapter.device, prefill=self._prefill)
        self._keep_arg = self.engine._keep_arg
        self._heads: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._composing = True  # off for good once a composed row differs from the processor's own
        self._checked: dict[str, int] = {}  # head text -> images on which composition was checked

    # ---- inputs ----------------------------------------------------------------------------
    def _inputs(self, req: Request, text: str, image: Any) -> dict[str, Any]:
        """The processor's inputs for one row. The image part is processed once per image: a row's
        inputs are its image head (text up to the image token, processed with the image) followed
        by the tokens of the text after it. The first row of a head is checked against the
        processor's own output for the whole text, on the first few images of each head text (the
        tokens after the image do not depend on it); one difference turns composition off."""
        a = self.a
        full = lambda: build_inputs(a.model, a.processor, a.family, [InputRow(text, image)], a.device, a.dtype)  # noqa: E731
        mark = getattr(a.processor, "image_token", None)
        if not (self._composing and image is not None and req.image_key is not None and mark
                and text.count(mark) == 1):
            return full()
        cut = text.index(mark) + len(mark)
        key = (req.image_key, text[:cut])
        head = self._heads.get(key)
        if head is not None:
            self._heads.move_to_end(key)
            return self._compose(head, text[cut:])
        head = build_inputs(a.model, a.processor, a.family, [InputRow(text[:cut], image)], a.device, a.dtype)
        self._heads[key] = head
        while len(self._heads) > 64:
            self._heads.popitem(last=False)
        checks = self._checked.get(text[:cut], 0)
        if checks >= _CHECKS:
            return self._compose(head, text[cut:])
        whole = full()
        if not _same_inputs(self._compose(head, text[cut:]), whole):
            self._composing = False
            self._heads.clear()
            return whole
        self._checked[text[:cut]] = checks + 1
        return whole

    def _compose(self, head: dict[str, Any], tail: str) -> dict[str, Any]:
        import torch

        ids = self.a.tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
        out = dict(head)
        for k in _SEQ_KEYS:
            if k not in head or not torch.is_tensor(head[k]):
                continue
            t = head[k]
            if k == "input_ids":
                more = torch.tensor([ids], dtype=t.dtype, device=t.device)
            else:  # attention: ones; token types: text
                more = torch.full((1, len(ids)), 1 if k == "attention_mask" else 0, dtype=t.dtype, device=t.device)
            out[k] = torch.cat([t, more], dim=-1)
        return out

    # ---- rows ------------------------------------------------------------------------------
    def _row(self, req: Request, text: str, image: Any, min_suffix: int, sub: str | None = None) -> Row:
        import torch

        a = self.a
        inputs = self._inputs(req, text, image)
        ids = inputs["input_ids"][0].tolist()
        pos = position_ids(a.model, a.family, inputs)
        if pos is not None:
            pos = pos[:, 0] if pos.dim() == 3 else pos[0]
        where = [i for i, t in enumerate(ids) if t == self.image_token_id]
        if (image is not None and (not where or req.image_key is None)) or (where and image is None):
            # image tokens this module cannot see, or an image without a key to group by
            raise NoShare
        end = where[-1] + 1 if where else 0
        if end > len(ids) - min_suffix:
            raise NoShare
        head = hashlib.sha1(repr(ids[:end]).encode()).hexdigest()[:12]
        key = None if image is None else f"{req.image_key}|{head}"
        with torch.inference_mode():
            emb = self.embed(torch.tensor(ids, device=a.device))
        return Row(key, ids, emb, min_suffix=min_suffix, positions=None if pos is None else pos.cpu(), sub=sub,
                   extra=inputs, image=req.image_key)

    def _prefill(self, row: Row, p: int) -> list[tuple[Any, Any]]:
        """The image prefix through the model's own forward (encoder output, processor inputs cut at p)."""
        import torch

        inputs = dict(row.extra)
        for k in _SEQ_KEYS:
            if k in inputs and torch.is_tensor(inputs[k]):
                inputs[k] = inputs[k][..., :p]
        if "mm_encoder_outputs" in inputs:
            inputs["mm_encoder_outputs"] = dict(inputs["mm_encoder_outputs"])
        pos = row.pos()[..., :p].to(self.a.device)
        inputs["position_ids"] = pos[:, None] if pos.dim() == 2 else pos[None]
        if self._keep_arg:
            inputs["logits_to_keep"] = 1
        with torch.inference_mode():
            out = self.a.model(**inputs, use_cache=True)
        return [(layer.keys[0], layer.values[0]) for layer in out.cache.layers]

    # ---- abilities -------------------------------------------------------------------------
    def score_options(self, requests: Sequence[Request], images: Sequence[Any],
                      conts: Sequence[Sequence[Sequence[int]]],
                      rendered: Sequence[tuple[str, str | None]]) -> list[list[float]]:
        """Summed log-probability of each option's tokens (``conts``: the ids each option adds;
        ``rendered``: the adapter's ``render`` of each request, already made for ``conts``)."""
        if any(lead is not None for _, lead in rendered):
            raise NoShare
        if all(len(c) == 1 for per_req in conts for c in per_req):
            # Every option is one token: one row per request, the options read off its last position.
            rows = [self._row(r, text, im, 1) for r, (text, _), im in zip(requests, rendered, images, strict=True)]
            logits = self.engine.logits(rows)
            return [[float(lg[-1].log_softmax(-1)[c[0]]) for c in per_req]
                    for lg, per_req in zip(logits, conts, strict=True)]
        rows, plan = [], []
        for r, (text, _), im, per_req in zip(requests, rendered, images, conts, strict=True):
            plan.append((len(rows), [len(c) for c in per_req]))
            for opt, c in zip(r.options, per_req, strict=True):
                rows.append(self._row(r, join_text(text, opt), im, len(c) + 1, sub=r.sample_id))
        logits = self.engine.logits(rows)
        out = []
        for start, ns in plan:
            scores = []
            for k, n in enumerate(ns):
                row, lg = rows[start + k], logits[start + k]
                lp = lg.log_softmax(-1)  # positions -(n+1) .. -1; position j predicts token j+1
                targets = row.ids[len(row.ids) - n:]
                scores.append(float(sum(lp[j, t] for j, t in enumerate(targets))))
            out.append(scores)
        return out

    def generate(self, requests: Sequence[Request], images: Sequence[Any]) -> list[str]:
        a = self.a
        if not greedy_is_plain(a.model):
            raise NoShare
        rows = []
        for r, im in zip(requests, images, strict=True):
            text, lead = a.render(r)
            if lead is not None:
                raise NoShare
            rows.append(self._row(r, text, im, 1))
        eos = a.model.generation_config.eos_token_id  # what ``generate`` stops at, and nothing else
        stops = [eos] if isinstance(eos, int) else list(eos or [])
        budget = max(r.max_new_tokens for r in requests)
        toks = self.engine.greedy(rows, budget, stops, self.embed)
        toks = [t[: r.max_new_tokens] for t, r in zip(toks, requests, strict=True)]
        return [t.strip() for t in a.tokenizer.batch_decode(toks, skip_special_tokens=True)]


def _same_inputs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal keys and equal tensors (the encoder output, shared by both, is not compared)."""
    import torch

    if set(a) != set(b):
        return False
    for k, v in a.items():
        w = b[k]
        if torch.is_tensor(v):
            if not torch.is_tensor(w) or v.shape != w.shape or not torch.equal(v, w):
                return False
        elif k != "mm_encoder_outputs" and v != w:
            return False
    return True


class NoShare(Exception):
    """This batch cannot share (a prompt with the image at its very end, a PaliGemma-style suffix)."""
