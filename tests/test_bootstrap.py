"""Stationary block bootstrap test of a Sharpe difference (``backtester.bootstrap``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtester.bootstrap import default_block, sharpe_difference_test, stationary_indices
from backtester.errors import UsageError


def _series(n, seed, edge=0.0):
    rng = np.random.default_rng(seed)
    bench = rng.normal(0.0003, 0.01, n)
    strat = bench + rng.normal(edge, 0.004, n)
    return strat, bench, np.full(n, 0.0001)


def test_large_edge_is_significant():
    s, b, c = _series(2000, 1, edge=0.001)
    r = sharpe_difference_test(s, b, c, n_boot=1000)
    d, m = r["sharpe_difference"], r["mean_excess"]
    assert d["observed"] > 0 and d["p_value"] < 0.01 and d["ci95"][0] > 0
    assert m["p_value"] < 0.01 and m["ci95"][0] > 0
    assert m["observed"] == pytest.approx(np.mean(s - b) * 252)


def test_observed_sharpe_matches_metrics():
    from backtester.metrics import from_arrays

    s, b, c = _series(500, 2, edge=0.0002)
    r = sharpe_difference_test(s, b, c, n_boot=50)
    assert r["sharpe_strategy"] == pytest.approx(from_arrays(s, c)["sharpe"], rel=1e-12)
    assert r["sharpe_benchmark"] == pytest.approx(from_arrays(b, c)["sharpe"], rel=1e-12)
    assert r["sharpe_difference"]["observed"] == pytest.approx(r["sharpe_strategy"] - r["sharpe_benchmark"])


def test_identical_series_difference_zero_p_one():
    _, b, c = _series(400, 3)
    r = sharpe_difference_test(b, b.copy(), c, n_boot=200)
    for key in ("sharpe_difference", "mean_excess"):
        assert r[key]["observed"] == 0.0
        assert r[key]["p_value"] == 1.0
        assert r[key]["ci95"] == [0.0, 0.0]


def test_undefined_sharpe_is_none():
    c = np.full(100, 0.001)  # excess returns exactly 0: zero variance, Sharpe undefined
    r = sharpe_difference_test(np.full(100, 0.001), np.full(100, 0.001), c, n_boot=50)
    assert r["sharpe_difference"]["observed"] is None and r["sharpe_difference"]["p_value"] is None
    assert r["mean_excess"]["observed"] == 0.0 and r["mean_excess"]["p_value"] == 1.0


def test_pvalues_under_the_null_are_not_crazy():
    pv = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        s, b = rng.normal(0.0003, 0.01, 500), rng.normal(0.0003, 0.01, 500)
        pv.append(sharpe_difference_test(s, b, 0.0, n_boot=400, seed=seed)["sharpe_difference"]["p_value"])
    pv = np.array(pv)
    assert (pv < 0.05).sum() <= 4  # expected 1 of 20
    assert 0.25 < pv.mean() < 0.75
    assert pv.min() < 0.5 < pv.max()


def test_deterministic_under_the_seed():
    s, b, c = _series(300, 4, edge=0.0001)
    assert sharpe_difference_test(s, b, c, n_boot=300, seed=7) == sharpe_difference_test(s, b, c, n_boot=300, seed=7)
    r1 = sharpe_difference_test(s, b, c, n_boot=300, seed=7)
    r2 = sharpe_difference_test(s, b, c, n_boot=300, seed=8)
    assert r1["sharpe_difference"]["observed"] == r2["sharpe_difference"]["observed"]
    assert r1["sharpe_difference"]["ci95"] != r2["sharpe_difference"]["ci95"]


@pytest.mark.parametrize("block", [1.0, 5.0, 20.0])
def test_block_lengths_are_geometric_with_the_given_mean(block):
    n = 4000
    idx = stationary_indices(n, 200, block, np.random.default_rng(0))
    assert idx.shape == (200, n) and idx.min() >= 0 and idx.max() < n
    new = np.ones_like(idx, dtype=bool)
    new[:, 1:] = idx[:, 1:] != (idx[:, :-1] + 1) % n  # a block ends where the next day is not the next index
    lengths = np.diff(np.flatnonzero(new.ravel()))
    assert lengths.mean() == pytest.approx(block, rel=0.05)
    if block > 1:  # geometric: P(L = 1) = 1/block and the variance is (1 - p) / p^2
        p = 1.0 / block
        assert (lengths == 1).mean() == pytest.approx(p, rel=0.1)
        assert lengths.var() == pytest.approx((1 - p) / p**2, rel=0.15)
    assert default_block(3000) == pytest.approx(3000 ** (1 / 3))


def test_pandas_inputs_are_aligned():
    s, b, c = _series(300, 5, edge=0.0005)
    idx = pd.bdate_range("2020-01-01", periods=300)
    ss = pd.Series(s, index=idx)
    bb = pd.Series(b, index=idx).iloc[10:]
    cc = pd.Series(c, index=idx)
    r = sharpe_difference_test(ss, bb, cc, n_boot=100)
    assert r["n"] == 290
    want = sharpe_difference_test(s[10:], b[10:], c[10:], n_boot=100)
    assert r == want


def test_bad_inputs():
    with pytest.raises(UsageError):
        sharpe_difference_test(np.zeros(10), np.zeros(10), 0.0)
    with pytest.raises(UsageError):
        sharpe_difference_test(np.zeros(100), np.zeros(99), 0.0)
    with pytest.raises(UsageError):
        sharpe_difference_test(np.zeros(100), np.zeros(100), 0.0, block=0.5)
