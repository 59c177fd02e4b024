"""VisDial ranks, NDCG (truncated at the relevant options, ties in relevance) and the sparse metrics."""

from __future__ import annotations

import math

import pytest

from deem_eval.bootstrap import sum_stats
from deem_eval.metrics.visdial import ndcg, round_stats, scores_to_ranks, visdial_metrics


def test_ranks_follow_descending_scores():
    assert scores_to_ranks([-1.0, -0.2, -3.0, -0.5]) == [3, 1, 4, 2]


def test_tied_scores_are_broken_like_torch_sort_descending():
    import torch

    scores = [0.0] * 100
    for i in (3, 50, 97):
        scores[i] = 1.0
    order = torch.sort(torch.tensor(scores), descending=True).indices.tolist()  # the official call
    ranks = scores_to_ranks(scores)
    assert [ranks[i] for i in order] == list(range(1, 101))
    assert sorted(ranks[i] for i in (3, 50, 97)) == [1, 2, 3]
    assert scores_to_ranks([1.0, 0.0, 1.0, 0.0], stable=True) == [1, 3, 2, 4]


def test_ndcg_truncates_at_the_relevant_options_with_tied_relevance():
    relevance = [0.0, 0.5, 1.0, 0.5, 0.0]  # k = 3 non-zero, two tied at 0.5
    ranks = [3, 1, 2, 5, 4]  # order: option 1 (0.5), option 2 (1.0), option 0 (0), option 4, option 3
    dcg = 0.5 / 1 + 1.0 / math.log2(3) + 0.0 / 2  # option 3 (0.5) ranks 5th, beyond k
    ideal = 1.0 + 0.5 / math.log2(3) + 0.5 / 2
    assert ndcg(ranks, relevance) == pytest.approx(dcg / ideal)
    assert ndcg([1, 2, 3, 4, 5], [0.0, 0.0, 0.0, 0.0, 0.0]) is None
    # the two tied options in either order give the ideal
    assert ndcg([4, 3, 1, 2, 5], relevance) == pytest.approx(1.0)
    assert ndcg([4, 2, 1, 3, 5], relevance) == pytest.approx(1.0)


def test_sparse_metrics_and_mean_rank():
    totals = sum_stats([round_stats(1, 0.5), round_stats(4, None), round_stats(10, None), round_stats(20, 1.0)])
    m = visdial_metrics(totals)
    assert m["r_at_1"] == pytest.approx(25.0)
    assert m["r_at_5"] == pytest.approx(50.0)
    assert m["r_at_10"] == pytest.approx(75.0)
    assert m["mean_rank"] == pytest.approx(35 / 4)
    assert m["mrr"] == pytest.approx(100 * (1 + 0.25 + 0.1 + 0.05) / 4)
    assert m["ndcg"] == pytest.approx(100 * 0.75)  # over the two densely annotated rounds only
