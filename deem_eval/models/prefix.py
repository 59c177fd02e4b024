"""Prefix sharing: one prefill of the tokens a run of questions on one image has in common.

A yes/no or option question costs almost only prefill, and the image tokens (plus the system
text) come before every question about the image. ``SharedPrefixLM`` computes the key/value
cache of the longest common token prefix of the rows that share an image once, keeps it (a
small LRU, so the questions of one image may span batches), and runs only each row's suffix
against it. The rows continuing one prefix share a batch row: the prefix's key/values once, then
their suffixes one after another, and a 4-D mask lets each suffix token see the prefix and the
earlier tokens of its own suffix only (its position ids are its own, as if it ran alone). Rows of
several images go in one batch, prefixes left-padded to the longest: a row's result does not
depend on its batch-mates — the same numbers, to float rounding, as the unshared forward.

The language model must be a Hugging Face causal LM taking ``inputs_embeds``,
``attention_mask`` (a 4-D additive mask, used as given), ``position_ids`` and ``cache`` (a
``DynamicCache``) and returning ``logits`` and ``cache``. Rows carry their token ids (to find the common prefix), their input
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
    _room: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # buffers whose first P rows ``kv`` views

    def room(self, extra: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (heads, >= P + extra, d) buffers starting with this prefix.

        A lone batch row continuing the whole prefix writes its suffix's keys after it in place:
        otherwise every question copies the whole prefix into a fresh cache (twice: the cache is
        built by concatenation, then the suffix is concatenated), about a tenth of a 16-token
        question's forward. Rows past P are scratch, so only a row using all P tokens may write.
        """
        n = len(self.ids)
        if self._room is None or self._room[0][0].shape[1] < n + extra:
            size = n + -(-extra // 64) * 64
            room = []
            for k, v in self.kv:
                big_k, big_v = k.new_empty((k.shape[0], size, k.shape[2])), v.new_empty((v.shape[0], size, v.shape[2]))
                big_k[:, :n], big_v[:, :n] = k, v
                room.append((big_k, big_v))
            self._room, self.kv = room, [(k[:, :n], v[:, :n]) for k, v in room]
        return self._room

    def cache(self, extra: int) -> Any:
        """A ``DynamicCache`` of this prefix (batch 1) whose next ``extra`` positions are written
        into ``room`` in place."""
        from transformers import DynamicCache

        cache = DynamicCache()
        cache.layers = [_reserved_layer().over(k[None], v[None], len(self.ids)) for k, v in self.room(extra)]
        cache.layer_class_to_replicate = None
        return cache


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every row.

    Slices are compared in C (equal prefixes, the usual case, in one comparison; else a binary
    search): a Python loop over ~600 image-prompt tokens per row cost more than a question's suffix.
    """
    first = tuple(rows[0])
    n = min(len(r) for r in rows)
    for row in rows[1:]:
        row = tuple(row)
        if row[:n] == first[:n]:
            continue
        lo, hi = 0, n  # first[:lo] == row[:lo] and first[:hi] != row[:hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if row[:mid] == first[:mid]:
                lo = mid
            else:
                hi = mid
        n = lo
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
    if len(items) == 1 and items[0].shape[dim] == length:
        return items[0].unsqueeze(0)  # a view: the stored prefix is read, never written (the cache concatenates)
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
        pack = self._pack(rows, plan)
        extra = {"logits_to_keep": 1} if self._keep_arg else {}
        out = self.lm(inputs_embeds=pack.emb, attention_mask=pack.mask, position_ids=self._pos_arg(pack.pos),
                      cache=pack.cache, use_cache=True, **extra)
        layers = _cache_tensors(out.cache)
        return [self._store_entry(key, row.ids[:p], [pack.row_kv(k, v, i) for k, v in layers])
                for i, (key, row, p, _, _) in enumerate(items)]

    @staticmethod
    def _pos_arg(pos: torch.Tensor) -> torch.Tensor:
        """(B, L) stays; (B, k, L) becomes (k, B, L), the multimodal rotary layout."""
        return pos.permute(1, 0, 2) if pos.dim() == 3 else pos

    # ---- suffixes ------------------------------------------------------------------------
    def _pack(self, rows: Sequence[Row], plan: Sequence[tuple[_Prefix | None, int]], spare: int = 0) -> _Pack:
        """Cache, embeddings, 4-D mask and positions for every row's suffix after its prefix.

        Rows continuing the same stored prefix go into one batch row, their suffixes one after
        another, so the prefix's key/values are laid out once per batch row instead of once per
        question; the mask lets each suffix token see the prefix and the earlier tokens of its own
        row only. ``spare`` > 0 keeps room in the cache for that many more tokens, so that decoding
        writes each step's keys in place instead of copying the whole cache per step.
        """
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (entry, p) in enumerate(plan):  # a row without a prefix is a batch row of its own
            groups.setdefault((id(entry), p) if p else (-1, i), []).append(i)
        lengths = [len(r.ids) - p for r, (_, p) in zip(rows, plan, strict=True)]
        chunks = _chunks(list(groups.values()), lengths)
        plen = max((plan[c[0]][1] for c in chunks), default=0)
        qlen = max(sum(lengths[i] for i in c) for c in chunks)
        width = max(len(c) for c in chunks)
        cache = self._cache(plan, chunks, plen, qlen + spare * width, reserve=spare > 0)
        owner = torch.full((len(chunks), plen + qlen), _NOBODY, dtype=torch.long)
        embs, poss, where = [], [], [(0, 0, 0)] * len(rows)
        for g, chunk in enumerate(chunks):
            p = plan[chunk[0]][1]
            owner[g, plen - p:plen] = _PREFIX
            at = 0
            for j, i in enumerate(chunk):
                where[i] = (g, at, lengths[i])
                owner[g, plen + at:plen + at + lengths[i]] = j
                at += lengths[i]
            owner[g, plen + at:] = _PAD + torch.arange(qlen - at)  # each padding token sees itself only
            embs.append(_stack_right([rows[i].embeds[plan[i][1]:] for i in chunk], qlen, 0))
            poss.append(_stack_right([rows[i].pos()[..., plan[i][1]:] for i in chunk], qlen, -1))
        emb = torch.stack(embs).to(self.device)
        pos = torch.stack(poss).to(self.device)
        kidx = torch.arange(plen + qlen)
        allowed = _sees(owner, owner[:, plen:]) & (kidx[None, None, :] <= kidx[plen:][None, :, None])
        self.counter.n_prefill_tokens += sum(lengths)
        return _Pack(cache, emb, _additive(allowed, emb.dtype, self.device), pos, owner, where, plen, width,
                     [list(c) for c in chunks])

    @staticmethod
    def _cache(plan: Sequence[tuple[_Prefix | None, int]], chunks: Sequence[list[int]], plen: int, after: int,
               reserve: bool) -> Any:
        """The key/value cache the suffixes run against: each batch row's prefix, left-padded to
        ``plen``, and then ``after`` more positions (``reserve``: kept free to write into, for decoding).

        One batch row continuing the whole of a stored prefix (batch 1, or one image's questions)
        writes into the stored prefix's own spare room (``_Prefix.room``): no copy of the prefix.
        """
        from transformers import DynamicCache

        lone = plan[chunks[0][0]][0] if len(chunks) == 1 and plen else None
        if lone is not None and plen == len(lone.ids):
            return lone.cache(after)
        cache = None
        if reserve:
            cache = DynamicCache()
            cache.layer_class_to_replicate = functools.partial(_reserved_layer(), after)
        if not plen:
            return cache
        ref = next(e for e, p in plan if p).kv
        data = []
        for layer in range(len(ref)):
            parts = [(plan[c[0]][0].kv[layer] if plan[c[0]][1] else (ref[layer][0][:, :0], ref[layer][1][:, :0]),
                      plan[c[0]][1]) for c in chunks]
            data.append((_stack_left([k[:, :p] for (k, _), p in parts], plen, 1),
                         _stack_left([v[:, :p] for (_, v), p in parts], plen, 1)))
        if cache is None:
            return DynamicCache(ddp_cache_data=data)
        for layer, (k, v) in enumerate(data):
            cache.update(k, v, layer)
        return cache

    @torch.inference_mode()
    def logits(self, rows: Sequence[Row]) -> list[torch.Tensor]:
        """Per row, float32 logits of its last ``min_suffix`` positions: (min_suffix, V)."""
        self.counter.note_rows(rows)
        pack = self._pack(rows, self._plan(rows))
        need = sorted({at + n - k for (_, at, n), r in zip(pack.where, rows, strict=True)
                       for k in range(1, r.min_suffix + 1)})
        extra = {"logits_to_keep": torch.tensor(need, device=self.device)} if self._keep_arg else {}
        out = self.lm(inputs_embeds=pack.emb, attention_mask=pack.mask, position_ids=self._pos_arg(pack.pos),
                      cache=pack.cache, use_cache=pack.cache is not None, **extra)
        col = {q: c for c, q in enumerate(need)} if self._keep_arg else {q: q for q in need}
        res = []
        for (g, at, n), r in zip(pack.where, rows, strict=True):
            idx = [col[at + n - k] for k in range(r.min_suffix, 0, -1)]
            res.append(out.logits[g, idx].float())
        return res

    @torch.inference_mode()
    def greedy(self, rows: Sequence[Row], max_new_tokens: int, stop_ids: Sequence[int],
               embed_tokens: Callable[[torch.Tensor], torch.Tensor]) -> list[list[int]]:
        """Greedy continuation of every row up to a stop token (not included) or the budget.

        Each step adds one token per row in its batch row's slot; a row's new token sees its
        prefix, its own suffix and its own earlier tokens (the mask), nothing of its batch-mates.
        """
        self.counter.note_rows(rows)
        pack = self._pack(rows, self._plan(rows), spare=max_new_tokens)
        last = [at + n - 1 for _, at, n in pack.where]
        need = sorted(set(last))
        extra = {"logits_to_keep": torch.tensor(need, device=self.device)} if self._keep_arg else {}
        out = self.lm(inputs_embeds=pack.emb, attention_mask=pack.mask, position_ids=self._pos_arg(pack.pos),
                      cache=pack.cache, use_cache=True, **extra)
        col = {q: c for c, q in enumerate(need)} if self._keep_arg else {q: q for q in need}
        g_of = torch.tensor([g for g, _, _ in pack.where], device=self.device)
        logits = out.logits[g_of, torch.tensor([col[q] for q in last], device=self.device)]
        # decoding slots: batch row g, slot j holds row pack.chunks[g][j]; unused slots are padding
        n_b, width = len(pack.chunks), pack.width
        slot_of = torch.tensor([pack.chunks[g].index(i) for i, (g, _, _) in enumerate(pack.where)],
                               device=self.device)
        step_owner = _PAD + torch.arange(n_b * width).reshape(n_b, width)
        for g, chunk in enumerate(pack.chunks):
            step_owner[g, :len(chunk)] = torch.arange(len(chunk))
        last_pos = torch.stack([pack.pos[g, ..., at + n - 1] for g, at, n in pack.where])  # (R,) or (R, k)
        owner = pack.owner
        stops = torch.tensor(list(stop_ids), device=self.device)
        done = torch.zeros(len(rows), dtype=torch.bool, device=self.device)
        tokens: list[list[int]] = [[] for _ in rows]
        for step_no in range(max_new_tokens):
            nxt = logits.float().argmax(-1)
            done |= torch.isin(nxt, stops)
            for i in torch.nonzero(~done).flatten().tolist():
                tokens[i].append(int(nxt[i]))
            if bool(done.all()) or step_no == max_new_tokens - 1:
                break
            last_pos = last_pos + 1
            ids = torch.zeros(n_b, width, dtype=torch.long, device=self.device)
            ids[g_of, slot_of] = nxt
            pos = torch.zeros((n_b, width, *last_pos.shape[1:]), dtype=last_pos.dtype, device=self.device)
            pos[g_of, slot_of] = last_pos
            pos = pos.permute(0, 2, 1) if pos.dim() == 3 else pos  # (B, k, width)
            mine = step_owner + (step_no + 1) * n_b * width * (step_owner >= _PAD)  # fresh padding ids
            owner = torch.cat([owner, mine], dim=1)
            seen = _sees(owner, mine)
            mask = None if bool(seen.all()) else _additive(seen, pack.emb.dtype, self.device)  # None: SDPA's fast path
            step = embed_tokens(ids).to(pack.emb.dtype)
            out = self.lm(inputs_embeds=step, attention_mask=mask, position_ids=self._pos_arg(pos),
                          cache=out.cache, use_cache=True)
            logits = out.logits[g_of, slot_of]
        return tokens


# Key owners in a packed batch row: the shared prefix, left padding before it, padding after the
# suffixes (each padding token has its own id from _PAD up, so it attends to itself alone), and
# the suffix rows 0, 1, ... of the batch row.
_PREFIX, _NOBODY, _PAD = -1, -2, 1 << 20


def _sees(key_owner: torch.Tensor, query_owner: torch.Tensor) -> torch.Tensor:
    """(B, Q, K): a query sees the prefix and the keys of its own row."""
    k = key_owner[:, None, :]
    return (k == _PREFIX) | (k == query_owner[:, :, None])


def _additive(allowed: torch.Tensor, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """(B, 1, Q, K) additive mask (0 where seen): the form SDPA and eager attention both take."""
    mask = torch.zeros(allowed.shape, dtype=dtype)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)[:, None].to(device)


def _chunks(groups: Sequence[list[int]], lengths: Sequence[int]) -> list[list[int]]:
    """Split each group of rows sharing a prefix into batch rows of at most k rows each, the k
    that pushes the fewest tokens (padding included), then the fewest batch rows."""
    best: tuple[tuple[int, int], list[list[int]]] | None = None
    for k in range(1, max(len(g) for g in groups) + 1):
        chunks = [g[i:i + k] for g in groups for i in range(0, len(g), k)]
        cost = (len(chunks) * max(sum(lengths[i] for i in c) for c in chunks), len(chunks))
        if best is None or cost < best[0]:
            best = (cost, chunks)
    assert best is not None
    return best[1]


def _stack_right(items: Sequence[torch.Tensor], length: int, dim: int) -> torch.Tensor:
    """Concatenate along ``dim`` and pad with zeros on the right to ``length``."""
    t = torch.cat(list(items), dim=dim)
    pad = length - t.shape[dim]
    if pad:
        shape = list(t.shape)
        shape[dim] = pad
        t = torch.cat([t, torch.zeros(shape, dtype=t.dtype, device=t.device)], dim=dim)
    return t


@dataclass
class _Pack:
    """One packed batch: batch row g holds the prefix of ``chunks[g]``'s rows, then their suffixes."""

    cache: Any
    emb: torch.Tensor  # (B, Q, H)
    mask: torch.Tensor  # (B, 1, Q, plen + Q), additive
    pos: torch.Tensor  # (B, Q) or (B, k, Q)
    owner: torch.Tensor  # (B, plen + Q): whose each key is
    where: list[tuple[int, int, int]]  # per row: batch row, start of its suffix in the pack, its length
    plen: int
    width: int  # most rows in one batch row
    chunks: list[list[int]]

    def row_kv(self, keys: torch.Tensor, values: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Row i's own key/values, unpadded: its prefix, then its suffix (each (heads, L, d))."""
        g, at, n = self.where[i]
        keep = self.owner[g] == _PREFIX
        keep[self.plen + at:self.plen + at + n] = True
        return keys[g][:, keep], values[g][:, keep]


@functools.cache
def _reserved_layer() -> type:
    """A ``DynamicLayer`` that allocates room for ``spare`` more tokens on its first update and
    then writes new keys and values in place; ``keys``/``values`` are views of the filled part."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        def __init__(self, spare: int):
            super().__init__()
            self.spare = spare

        @classmethod
        def over(cls, keys: torch.Tensor, values: torch.Tensor, n: int) -> ReservedLayer:
            """A layer whose first ``n`` positions are ``keys``/``values``' and whose later
            positions are written in place (a new buffer only once they are full)."""
            layer = cls(0)
            layer._keys, layer._values = keys, values
            layer.keys, layer.values = keys[..., :n, :], values[..., :n, :]
            layer.device, layer.dtype, layer.is_initialized = keys.device, keys.dtype, True
            return layer

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
