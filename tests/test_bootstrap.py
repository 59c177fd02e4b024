"""The vectorised bootstrap against a direct loop, and the zero-division guard."""

from __future__ import annotations

import numpy as np
import pytest

from deem_eval.bootstrap import bootstrap_ci, safe_div, sum_stats
from tests.plugins.toy import ToyYesNo


def test_safe_div_scalars_and_arrays():
    assert safe_div(1, 0) == 0.0 and safe_div(3, 4) == 0.75
    np.testing.assert_array_equal(safe_div(np.array([1.0, 2.0]), np.array([0.0, 4.0])), [0.0, 0.5])


def test_sum_stats_missing_keys_count_zero():
    assert sum_stats([{"a": 1}, {"a": 2, "b": 5}]) == {"a": 3.0, "b": 5.0}


def test_bootstrap_matches_naive_percentiles(tmp_path):
    task = ToyYesNo(tmp_path)
    scores = [1.0] * 30 + [0.0] * 10
    records = [{"score": s} for s in scores]
    ci = bootstrap_ci(task, records, n_boot=500, seed=3)
    # Same draws, computed naively.
    rng = np.random.default_rng(3)
    counts = rng.multinomial(40, np.full(40, 1 / 40), size=500)
    accs = 100 * (counts @ np.array(scores)) / counts.sum(1)
    lo, hi = np.percentile(accs, [2.5, 97.5])
    assert ci["accuracy"] == [pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4)]
    assert ci["accuracy"][0] < 75.0 < ci["accuracy"][1]
    assert bootstrap_ci(task, records, n_boot=500, seed=3) == ci  # fixed seed, same interval
