"""Prefix sharing: one prefill of the tokens a run of questions on one image has in common.

A yes/no or option question costs almost only prefill, and the image tokens (plus the system
text) come before every question about the image. ``SharedPrefixLM`` computes the key/value
cache of the longest common token prefix of the rows that share an image once, keeps it (a
small LRU, so the questions of one image may span batches), and runs only each row's suffix
against it. Rows of several images go in one batch: every stored prefix is left-padded to the
batch's longest, every suffix is left-padded too, and the attention mask and the position ids
(each row's own prefix length plus its suffix offset) make a row's result independent of its
batch-mates — the same numbers, to float rounding, as the unshared left-padded forward.

The language model must be a Hugging Face causal LM taking ``inputs_embeds``,
``attention_mask``, ``position_ids`` and ``cache`` (a ``DynamicCache``) and returning
``logits`` and ``cache``. Rows carry their token ids (to find the common prefix), their input
embeddings (images already spliced in) and optionally explicit position ids (multimodal rotary
schemes give them as (k, L)); positions default to 0..L-1.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Row:
    """One sequence to score or continue. ``key`` groups rows that may share a prefix (the image
    key); ``None`` never shares. ``min_suffix`` tokens at the end always stay in the suffix (the
    positions whose logits are read)."""

    key: str | None
    ids: Sequence[int]
    embeds: torch.Tensor  # (L, H)
    min_suffix: int = 1
    positions: torch.Tensor | None = None  # (L,) or (k, L); default arange(L)
    sub: str | None = None  # rows of one request (its options) share more than the image prefix
    extra: Any = None  # what a custom ``prefill`` needs for this row (e.g. the processor's inputs)
    image: str | None = None  # the image this row asks about, for the floor (default: ``key``)

    def __post_init__(self) -> None:
        if self.embeds.shape[0] != len(self.ids):
            raise ValueError(f"row has {len(self.ids)} ids but {self.embeds.shape[0]} embeddings")
        if not 1 <= self.min_suffix <= len(self.ids):
            raise ValueError(f"min_suffix {self.min_suffix} outside 1..{len(self.ids)}")

    def pos(self) -> torch.Tensor:
        if self.positions is not None:
            return self.positions
        return torch.arange(len(self.ids))


@dataclass
class _Prefix:
    ids: tuple[int, ...]
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (heads, P, d), unpadded


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every row."""
    first = rows[0]
    n = min(len(r) for r in rows)
    for i in range(n):
        t = first[i]
        if any(r[i] != t for r in rows[1:]):
            return i
    return n


@dataclass
class PrefillCounter:
    """Tokens pushed through the LLM and the floor (each unique prefix once plus every suffix)."""

    n_prefill_tokens: int = 0
    _rows: dict[str, list[tuple[tuple[int, ...], int]]] = field(default_factory=dict)
    _unkeyed: int = 0

    def note(self, image: str | None, ids: Sequence[int], min_suffix: int = 1) -> None:
        """One row asked about ``image`` (None: no image, never shared), for the floor."""
        if image is None:
            self._unkeyed += len(ids)
        else:
            self._rows.setdefault(image, []).append((tuple(ids), min_suffix))

    def note_rows(self, rows: Sequence[Row]) -> None:
        for r in rows:
            self.note(r.image if r.image is not None else r.key, r.ids, r.min_suffix)

    def floor(self) -> int:
        """Distinct token prefixes per image (a trie's node count), plus unshared rows in full.

        No scheme that reuses key/values of common prefixes can push fewer tokens; the last
        ``min_suffix`` tokens of a row are always its own (their logits are read).
        """
        total = self._unkeyed
        for items in self._rows.values():
            rows = sorted(set(items))
            prev: tuple[int, ...] = ()
            for ids, m in rows:
                shared = min(common_prefix([prev, ids]) if prev else 0, len(ids) - m)
                total += len(ids) - shared
                prev = ids
        return total

    def stats(self) -> dict[str, int]:
        return {"n_prefill_tokens": self.n_prefill_tokens, "n_prefill_floor": self.floor()}

    def reset(self) -> None:
        self.n_prefill_tokens, self._unkeyed = 0, 0
        self._rows.clear()


def _stack_left(items: Sequence[torch.Tensor], length: int, dim: int, fill: float = 0.0) -> torch.Tensor:
    """Left-pad tensors along ``dim`` to ``length`` and stack them on a new first axis."""
    out = []
    for t in items:
        pad = length - t.shape[dim]
        if pad:
            shape = list(t.shape)
            shape[dim] = pad
            t = torch.cat([torch.full(shape, fill, dtype=t.dtype, device=t.device), t], dim=dim)
        out.append(t)
    return torch.stack(out)


class SharedPrefixLM:
    """Score or greedily continue rows, sharing each image's common prefix (see the module doc)."""

    def __init__(self, lm: Any, store_size: int = 16, device: Any = "cpu",
                 prefill: Callable[[Row, int], list[tuple[torch.Tensor, torch.Tensor]]] | None = None):
        """``prefill(row, p)``, when given, computes a new image-level prefix (the first ``p`` tokens
        of ``row``) with the model's own forward and returns its key/values per layer, each
        (heads, p, d); then only text after such a prefix goes in as embeddings."""
        self.lm = lm
        self._custom_prefill = prefill
        self.device = device
        self.store_size = store_size
        self._store: OrderedDict[tuple[str, tuple[int, ...]], _Prefix] = OrderedDict()
        self.counter = PrefillCounter()
        import inspect

        self._keep_arg = "logits_to_keep" in inspect.signature(lm.forward).parameters

    def reset(self, counter: PrefillCounter | None = None) -> None:
        """Forget every stored prefix (image keys are only unique within one task) and count anew."""
        self._store.clear()
        self.counter = counter if counter is not None else PrefillCounter()

    # ---- prefixes ------------------------------------------------------------------------
    def _lookup(self, key: str, rows: Sequence[Row], cap: int) -> tuple[_Prefix | None, int]:
        """The stored prefix of this image sharing the most leading tokens with every row.

        A stored prefix's first m key/value rows depend on its first m tokens only (causal
        attention), so any stored prefix can serve, cut to the part the rows have in common.
        """
        best, best_m = None, 0
        for (k, ids), entry in self._store.items():
            if k != key:
                continue
            m = min(common_prefix([ids, *(r.ids for r in rows)]), cap)
            if m > best_m:
                best, best_m = entry, m
        if best is not None:
            self._store.move_to_end((key, best.ids))
        return best, best_m

    def _plan(self, rows: Sequence[Row]) -> list[tuple[_Prefix | None, int]]:
        """Per row: the prefix it continues (or None) and how many of its tokens that covers.

        Two levels: the rows of one image share its prefix; rows of one request (the options of
        a question) then share the rest of the question, continuing from the image's prefix.
        """
        plan: list[tuple[_Prefix | None, int]] = [(None, 0)] * len(rows)
        for level in (0, 1):
            groups: dict[tuple[str, str | None], list[int]] = {}
            for i, r in enumerate(rows):
                if r.key is not None and (level == 0 or r.sub is not None):
                    groups.setdefault((r.key, r.sub if level else None), []).append(i)
            todo: list[tuple[str, int, list[int], _Prefix | None, int]] = []
            for (key, _), idx in groups.items():
                if level and len(idx) < 2:
                    continue
                members = [rows[i] for i in idx]
                cap = min(len(r.ids) - r.min_suffix for r in members)
                p = min(common_prefix([r.ids for r in members]), cap)
                stored, m = self._lookup(key, members, cap)
                # one row alone gains nothing from extending a stored prefix first (its suffix would
                # cost the same tokens in one more forward): it continues the stored part directly
                if stored is not None and (m >= p or (len(idx) == 1 and m > 0)):
                    for i in idx:
                        plan[i] = (stored, m)
                elif p > 0:  # a new (or longer) prefix, continuing the stored one where it can
                    todo.append((key, p, idx, stored, m))
            if todo:
                fresh = self._prefill([(key, rows[idx[0]], p, base, m) for key, p, idx, base, m in todo])
                for (_, p, idx, _, _), entry in zip(todo, fresh, strict=True):
                    for i in idx:
                        plan[i] = (entry, p)
        return plan

    @torch.inference_mode()
    def _prefill(self, items: Sequence[tuple[str, Row, int, _Prefix | None, int]]) -> list[_Prefix]:
        """One batched forward over the new prefixes (each after the stored part it extends);
        the resulting key/values are stored unpadded."""
        if self._custom_prefill is not None:
            fresh = [(i, it) for i, it in enumerate(items) if it[3] is None]
            done = {i: self._store_entry(key, r.ids[:p], self._custom_prefill(r, p)) for i, (key, r, p, _, _) in fresh}
            self.counter.n_prefill_tokens += sum(p for _, (_, _, p, _, _) in fresh)
            rest = [it for i, it in enumerate(items) if i not in done]
            more = iter(self._prefill_rows(rest)) if rest else iter(())
            return [done[i] if i in done else next(more) for i in range(len(items))]
        return self._prefill_rows(items)

    def _store_entry(self, key: str, ids: Sequence[int], kv: list[tuple[torch.Tensor, torch.Tensor]]) -> _Prefix:
        entry = _Prefix(tuple(ids), kv)
        self._store[(key, entry.ids)] = entry
        self._store.move_to_end((key, entry.ids))
        while len(self._store) > self.store_size:
            self._store.popitem(last=False)
        return entry

    def _prefill_rows(self, items: Sequence[tuple[str, Row, int, _Prefix | None, int]]) -> list[_Prefix]:
        rows = [Row(key, r.ids[:p], r.embeds[:p], 1, None if r.positions is None else r.positions[..., :p])
                for key, r, p, _, _ in items]
        plan = [(base, m) if base is not None else (None, 0) for _, _, _, base, m in items]
        cache, emb, mask, pos = self._suffix_batch(rows, plan)
        out = self.lm(inputs_embeds=emb, attention_mask=mask, position_ids=self._pos_arg(pos), cache=cache,
                      use_cache=True)
        layers = _cache_tensors(out.cache)
        entries = []
        for b, (key, row, p, _, _) in enumerate(items):
            keep = mask[b].bool()
            entries.append(self._store_entry(key, row.ids[:p], [(k[b][:, keep], v[b][:, keep]) for k, v in layers]))
        return entries

    @staticmethod
    def _pos_arg(pos: torch.Tensor) -> torch.Tensor:
        """(B, L) stays; (B, k, L) becomes (k, B, L), the multimodal rotary layout."""
        return pos.permute(1, 0, 2) if pos.dim() == 3 else pos

    # ---- suffixes ------------------------------------------------------------------------
    def _suffix_batch(self, rows: Sequence[Row], plan: Sequence[tuple[_Prefix | None, int]], spare: int = 0):
        """Cache, embeddings, 2-D mask and positions for every row's suffix after its prefix.

        ``spare`` > 0 makes the cache keep room for the suffix and that many more tokens, so that
        decoding writes each step's keys in place instead of copying the whole cache per step.
        """
        from transformers import DynamicCache

        plen = max((p for _, p in plan), default=0)
        slen = max(len(r.ids) - p for r, (_, p) in zip(rows, plan, strict=True))
        cache = None
        if spare:
            cache = DynamicCache()
            cache.layer_class_to_replicate = functools.partial(_reserved_layer(), slen + spare)
        if plen:
            ref = next(e for e, p in plan if p).kv
            data = []
            for layer in range(len(ref)):
                ks = [ref[layer][0][:, :0] if not p else e.kv[layer][0][:, :p] for e, p in plan]
                vs = [ref[layer][1][:, :0] if not p else e.kv[layer][1][:, :p] for e, p in plan]
                data.append((_stack_left(ks, plen, 1), _stack_left(vs, plen, 1)))
            if cache is None:
                cache = DynamicCache(ddp_cache_data=data)
            else:
                for layer, (k, v) in enumerate(data):
                    cache.update(k, v, layer)
        embs, masks, poss = [], [], []
        for r, (_, p) in zip(rows, plan, strict=True):
            n = len(r.ids) - p
            embs.append(r.embeds[p:])
            masks.append(torch.cat([torch.zeros(plen - p, dtype=torch.long), torch.ones(p, dtype=torch.long),
                                    torch.zeros(slen - n, dtype=torch.long), torch.ones(n, dtype=torch.long)]))
            poss.append(r.pos()[..., p:])
        emb = _stack_left(embs, slen, 0).to(self.device)
        mask = torch.stack(masks).to(self.device)
        pos = _stack_left(poss, slen, -1).to(self.device)
        self.counter.n_prefill_tokens += sum(len(r.ids) - p for r, (_, p) in zip(rows, plan, strict=True))
        return cache, emb, mask, pos

    @torch.inference_mode()
    def logits(self, rows: Sequence[Row]) -> list[torch.Tensor]:
        """Per row, float32 logits of its last ``min_suffix`` positions: (min_suffix, V)."""
        self.counter.note_rows(rows)
        plan = self._plan(rows)
        cache, emb, mask, pos = self._suffix_batch(rows, plan)
        keep = max(r.min_suffix for r in rows)
        extra = {"logits_to_keep": keep} if self._keep_arg else {}
        out = self.lm(inputs_embeds=emb, attention_mask=mask, position_ids=self._pos_arg(pos), cache=cache,
                      use_cache=cache is not None, **extra)
        logits = out.logits[:, -keep:].float()
        return [lg[keep - r.min_suffix:] for lg, r in zip(logits, rows, strict=True)]

    @torch.inference_mode()
    def greedy(self, rows: Sequence[Row], max_new_tokens: int, stop_ids: Sequence[int],
               embed_tokens: Callable[[torch.Tensor], torch.Tensor]) -> list[list[int]]:
        """Greedy continuation of every row up to a stop token (not included) or the budget."""
        self.counter.note_rows(rows)
        plan = self._plan(rows)
        cache, emb, mask, pos = self._suffix_batch(rows, plan, spare=max_new_tokens)
        extra = {"logits_to_keep": 1} if self._keep_arg else {}
        out = self.lm(inputs_embeds=emb, attention_mask=mask, position_ids=self._pos_arg(pos), cache=cache,
                      use_cache=True, **extra)
        stops = torch.tensor(list(stop_ids), device=self.device)
        done = torch.zeros(len(rows), dtype=torch.bool, device=self.device)
        tokens: list[list[int]] = [[] for _ in rows]
        last_pos = pos[..., -1:]
        for step_no in range(max_new_tokens):
            nxt = out.logits[:, -1].float().argmax(-1)
            done |= torch.isin(nxt, stops)
            for i in torch.nonzero(~done).flatten().tolist():
                tokens[i].append(int(nxt[i]))
            if bool(done.all()) or step_no == max_new_tokens - 1:
                break
            last_pos = last_pos + 1
            mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=mask.dtype, device=mask.device)], dim=1)
            step = embed_tokens(nxt[:, None]).to(emb.dtype)
            out = self.lm(inputs_embeds=step, attention_mask=mask, position_ids=self._pos_arg(last_pos),
                          cache=out.cache, use_cache=True)
        return tokens


@functools.cache
def _reserved_layer() -> type:
    """A ``DynamicLayer`` that allocates room for ``spare`` more tokens on its first update and
    then writes new keys and values in place; ``keys``/``values`` are views of the filled part."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        def __init__(self, spare: int):
            super().__init__()
            self.spare = spare

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
            n, add = self.get_seq_length(), key_states.shape[-2]
            if not self.is_initialized or self._keys.shape[-2] < n + add:
                room = n + add + (0 if self.is_initialized else self.spare)
                keys = key_states.new_empty((*key_states.shape[:-2], room, key_states.shape[-1]))
                values = value_states.new_empty((*value_states.shape[:-2], room, value_states.shape[-1]))
                if n:
                    keys[..., :n, :], values[..., :n, :] = self.keys, self.values
                self._keys, self._values = keys, values
                self.device, self.is_initialized = key_states.device, True
            self._keys[..., n:n + add, :] = key_states
            self._values[..., n:n + add, :] = value_states
            self.keys, self.values = self._keys[..., :n + add, :], self._values[..., :n + add, :]
            return self.keys, self.values

    return ReservedLayer


def _cache_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(keys, values) per layer of a DynamicCache, each (B, heads, L, d)."""
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise TypeError(f"prefix sharing needs a DynamicCache, got {type(cache).__name__}")
    return [(layer.keys, layer.values) for layer in layers]
