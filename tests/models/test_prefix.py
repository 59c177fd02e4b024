"""Prefix sharing: the shared-prefix forward equals the full forward row by row."""

from __future__ import annotations

import pytest
import torch

from deem_eval.models.prefix import PrefillCounter, Row, SharedPrefixLM, common_prefix


@pytest.fixture(scope="module")
def lm():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    return LlamaForCausalLM(cfg).eval()


def _row(lm, key, ids, **kw) -> Row:
    with torch.no_grad():
        emb = lm.get_input_embeddings()(torch.tensor(ids))
    return Row(key, ids, emb, **kw)


def _full_logits(lm, ids) -> torch.Tensor:
    with torch.no_grad():
        return lm(input_ids=torch.tensor([ids])).logits[0].float()


# Image A asked three questions (shared prefix 1 2 3 4), image B once, image C with a prefix that
# starts like A's but is another image: no false sharing across keys.
ROWS = [("A", [1, 2, 3, 4, 5, 6, 7]), ("A", [1, 2, 3, 4, 5, 9]), ("A", [1, 2, 3, 4, 8, 8, 8, 8]),
        ("B", [1, 3, 3, 3, 5, 6, 7, 10, 11, 12, 13]), ("C", [1, 2, 3, 4, 5, 6, 7]), (None, [7, 7, 2])]


def test_common_prefix():
    assert common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix([[5], [6]]) == 0
    assert common_prefix([[1, 2], [1, 2]]) == 2
    assert common_prefix([[], [1]]) == 0


@pytest.mark.parametrize("at", [0, 1, 299, 300, 598, 599])
def test_common_prefix_of_long_rows_finds_the_first_difference(at):
    base = list(range(1000, 1600))  # 600 tokens, like an image prompt
    other = base.copy()
    other[at] = -1
    # the rows differ first at ``at``, the third row is longer and agrees with the first throughout
    assert common_prefix([base, tuple(other), [*base, 7]]) == at
    assert common_prefix([tuple(base), base[:at + 3], other]) == at
    assert common_prefix([base, other[:at]]) == at  # a row that ends before the difference


@pytest.mark.parametrize("order", [list(range(6)), [5, 3, 0, 4, 2, 1]])
def test_logits_match_full_forward(lm, order):
    eng = SharedPrefixLM(lm)
    rows = [_row(lm, *ROWS[i], min_suffix=2) for i in order]
    out = eng.logits(rows)
    for i, got in zip(order, out, strict=True):
        want = _full_logits(lm, ROWS[i][1])[-2:]
        assert got.shape == want.shape
        assert (got - want).abs().max() < 1e-4


def test_batches_reuse_stored_prefix_and_stay_exact(lm):
    """A's questions split over two calls: the second continues A's stored prefix."""
    eng = SharedPrefixLM(lm)
    first = eng.logits([_row(lm, *ROWS[0])])
    tokens_after_first = eng.counter.n_prefill_tokens
    second = eng.logits([_row(lm, *ROWS[1]), _row(lm, *ROWS[2])])
    assert tokens_after_first == 7  # 6 prefix tokens + the last one
    # rows 1 and 2 share 1 2 3 4 with the stored prefix: only their 2 + 4 remaining tokens run
    assert eng.counter.n_prefill_tokens - tokens_after_first == 2 + 4
    for (_, ids), got in zip(ROWS[:3], first + second, strict=True):
        assert (got[-1] - _full_logits(lm, ids)[-1]).abs().max() < 1e-4


def test_greedy_equals_hf_generate(lm):
    eng = SharedPrefixLM(lm)
    rows = [_row(lm, *r) for r in ROWS]
    got = eng.greedy(rows, max_new_tokens=6, stop_ids=[0], embed_tokens=lm.get_input_embeddings())
    for (_, ids), toks in zip(ROWS, got, strict=True):
        ref = lm.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False, eos_token_id=0,
                          pad_token_id=0)[0, len(ids):].tolist()
        cut = ref.index(0) if 0 in ref else len(ref)
        assert toks == ref[:cut]


def test_floor_is_the_trie_of_each_images_rows():
    c = PrefillCounter()

    def e(n: int) -> torch.Tensor:
        return torch.zeros(n, 0)

    rows = [Row("A", [1, 2, 3], e(3)), Row("A", [1, 2, 4], e(3)), Row("A", [1, 5], e(2)),
            Row("A", [1, 2, 3], e(3)),  # a repeat
            Row("B", [1, 2, 3], e(3)), Row(None, [9, 9], e(2))]
    c.note_rows(rows)
    # A: distinct prefixes 1, 12, 123, 124, 15 -> 5 tokens; B: 3 tokens; the unkeyed row: 2.
    assert c.floor() == 5 + 3 + 2
    # the last min_suffix tokens of a row are always its own: [1,2] and [1,2,7] share only "1"
    c2 = PrefillCounter()
    c2.note_rows([Row("A", [1, 2], e(2), min_suffix=1), Row("A", [1, 2, 7], e(3), min_suffix=2)])
    assert c2.floor() == 2 + 2


def test_row_checks_lengths(lm):
    with pytest.raises(ValueError, match="ids"):
        Row("A", [1, 2, 3], torch.zeros(2, 4))
    with pytest.raises(ValueError, match="min_suffix"):
        Row("A", [1, 2], torch.zeros(2, 4), min_suffix=3)


def test_chunks_push_fewest_tokens_then_fewest_batch_rows():
    from deem_eval.models.prefix import _chunks

    # an image asked 6 questions and one asked 2, all 3 tokens: rows of 1 or 2 both push 8 x 3 = 24
    # tokens; 2 per batch row needs 4 batch rows instead of 8 (3 per row would push 3 x 9 = 27)
    assert _chunks([[0, 1, 2, 3, 4, 5], [6, 7]], [3] * 8) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    # two images asked 4 each: one batch row per image (2 x 12 = 24 tokens)
    assert _chunks([[0, 1, 2, 3], [4, 5, 6, 7]], [3] * 8) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # a long suffix beside short ones: one batch row of 6 + 2 + 2 = 10 tokens beats 3 x 6 and 2 x 8
    assert _chunks([[0, 1, 2]], [6, 2, 2]) == [[0, 1, 2]]
    # rows without a prefix come as groups of one and stay one per batch row
    assert _chunks([[0], [1]], [5, 3]) == [[0], [1]]


def test_rows_on_one_prefix_share_one_batch_row(lm):
    """The stored prefix is laid out once for A's three questions; each sees only its own suffix."""
    eng = SharedPrefixLM(lm)
    rows = [_row(lm, *ROWS[i]) for i in range(3)]
    pack = eng._pack(rows, eng._plan(rows))
    assert len(pack.chunks) == 1 and pack.plen == 4
    assert [w[1:] for w in pack.where] == [(0, 3), (3, 2), (5, 4)]
    seen = pack.mask[0, 0] == 0  # (suffix tokens, prefix + suffix keys)
    assert seen[:, :4].all()  # every suffix token sees the prefix
    assert seen[3, 4:].tolist() == [False, False, False, True, False, False, False, False, False]  # row 1's first token


def test_questions_one_at_a_time_write_after_the_stored_prefix_and_leave_it_intact(lm):
    """Batch 1: each question writes its keys into the stored prefix's spare room (no copy of the
    prefix per question), and never over the prefix itself, which later, shorter matches still read."""
    eng = SharedPrefixLM(lm)
    prefix = [1, 2, 3, 4, 5, 6]
    questions = [[*prefix, 7, 8], [*prefix, 9], [*prefix, 10, 11, 12, 13]]
    got = [eng.logits([_row(lm, "A", q)])[0] for q in questions[:1]]
    (entry,) = eng._store.values()
    snapshot = [(k.clone(), v.clone()) for k, v in entry.kv]
    got += [eng.logits([_row(lm, "A", q)])[0] for q in questions[1:]]
    toks = eng.greedy([_row(lm, "A", [*prefix, 7])], max_new_tokens=5, stop_ids=[0], embed_tokens=lm.get_input_embeddings())
    assert len(eng._store) == 1 and entry._room is not None
    buffer = entry._room[0][0].data_ptr()
    assert entry.kv[0][0].data_ptr() == buffer  # the stored prefix is the front of its buffer
    for (k, v), (k0, v0) in zip(entry.kv, snapshot, strict=True):
        assert torch.equal(k, k0) and torch.equal(v, v0)
    for q, lg in zip(questions, got, strict=True):
        assert (lg[-1] - _full_logits(lm, q)[-1]).abs().max() < 1e-4
    ref = lm.generate(torch.tensor([[*prefix, 7]]), max_new_tokens=5, do_sample=False, eos_token_id=0,
                      pad_token_id=0)[0, 7:].tolist()
    assert toks == [ref[:ref.index(0)] if 0 in ref else ref] and toks[0]
    # a row sharing only part of the stored prefix reads the intact front of it (and copies it)
    short = [1, 2, 3, 30, 31]
    (lg,) = eng.logits([_row(lm, "A", short)])
    assert (lg[-1] - _full_logits(lm, short)[-1]).abs().max() < 1e-4
    assert entry._room[0][0].data_ptr() == buffer
