"""VisDial v1.0 retrieval metrics, computed the way the official challenge code does.

The official evaluation (``visdialch/metrics.py`` of visdial-challenge-starter-pytorch):

- ranks: the 100 option scores of a round are sorted in descending order with
  ``torch.sort(descending=True)``; an option's rank is its 1-based position in that order.
  Ties between equal scores are broken by that same call (not by option index), so the
  ranking here calls it the same way;
- sparse metrics, over every round: R@1, R@5, R@10 (share of rounds whose ground-truth
  option ranks within k), mean rank of the ground-truth option and MRR (mean of 1 / rank);
- NDCG, over the rounds with a dense annotation: with k = the number of options of non-zero
  relevance, DCG of the model's top-k options (relevance / log2(position + 1)) divided by the
  DCG of the top-k options sorted by relevance. Options beyond position k do not count, and
  ties in relevance do not change the ideal DCG (the k largest values are the same).

Percent for R@k, MRR and NDCG (×100, as VisDial tables print them); mean rank raw.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..bootstrap import safe_div

METRIC_NAMES = ("ndcg", "mrr", "r_at_1", "r_at_5", "r_at_10", "mean_rank")
RECALL_AT = (1, 5, 10)


def scores_to_ranks(scores: Sequence[float], stable: bool = False) -> list[int]:
    """1-based rank of each option (rank 1 = highest score), as the official ``scores_to_ranks``.

    ``stable=True`` breaks ties by option order instead of by ``torch.sort``'s default order; it
    is used for rankings that are ties by construction (generated answers matched to options).
    """
    import torch

    order = torch.sort(torch.tensor([float(s) for s in scores], dtype=torch.float32), descending=True,
                       stable=stable).indices.tolist()
    ranks = [0] * len(order)
    for position, option in enumerate(order):
        ranks[option] = position + 1
    return ranks


def ndcg(ranks: Sequence[int], relevance: Sequence[float]) -> float | None:
    """NDCG of one round truncated at its number of relevant options; None if none is relevant."""
    if len(ranks) != len(relevance):
        raise ValueError(f"{len(ranks)} ranks for {len(relevance)} relevance values")
    k = sum(1 for r in relevance if r != 0)
    if k == 0:
        return None
    by_rank = sorted(range(len(ranks)), key=lambda i: ranks[i])
    dcg = sum(relevance[i] / math.log2(pos + 2) for pos, i in enumerate(by_rank[:k]))
    ideal = sorted(relevance, reverse=True)[:k]
    best = sum(r / math.log2(pos + 2) for pos, r in enumerate(ideal))
    return dcg / best


def round_stats(gt_rank: int, ndcg_value: float | None) -> dict[str, float]:
    """Summable statistics of one round (sparse metrics always, NDCG when densely annotated)."""
    out = {"n": 1.0, "rank": float(gt_rank), "rr": 1.0 / gt_rank}
    for k in RECALL_AT:
        out[f"r{k}"] = float(gt_rank <= k)
    if ndcg_value is not None:
        out["n_dense"] = 1.0
        out["ndcg"] = ndcg_value
    return out


def visdial_metrics(totals: Mapping[str, Any]) -> dict[str, Any]:
    """The reported metrics from summed :func:`round_stats`; element-wise on arrays (bootstrap)."""
    n = totals.get("n", 0.0)
    out: dict[str, Any] = {}
    if "n_dense" in totals:
        out["ndcg"] = 100 * safe_div(totals["ndcg"], totals["n_dense"])
    out["mrr"] = 100 * safe_div(totals.get("rr", 0.0), n)
    for k in RECALL_AT:
        out[f"r_at_{k}"] = 100 * safe_div(totals.get(f"r{k}", 0.0), n)
    out["mean_rank"] = safe_div(totals.get("rank", 0.0), n)
    return out
