"""Deflated Sharpe ratio and PBO by CSCV against the papers' numbers, brute force and simulations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backtester.research.sweep import overfit


def test_expected_max_sharpe_is_the_papers_sr0():
    # Bailey & Lopez de Prado (2014), numerical example: N = 100 trials, variance of the annualized Sharpe
    # ratios 1/2, daily data (250 a year) -> SR0 = 0.1132 per day
    assert overfit.expected_max_sharpe(100, 0.5 / 250) == pytest.approx(0.1132, abs=5e-5)
    assert overfit.expected_max_sharpe(1, 1.0) == 0.0


def test_expected_max_matches_a_simulation():
    rng = np.random.default_rng(0)
    sims = rng.standard_normal((20_000, 100)).max(axis=1).mean()
    assert overfit.expected_max_sharpe(100, 1.0) == pytest.approx(sims, rel=0.02)


def test_deflated_sharpe_is_the_papers_example():
    # annualized SR 2.5 over T = 1250 days, skew -3, kurtosis 10, best of N = 100, V[SR annual] = 1/2:
    # DSR = 0.9004 in the paper (0.9002 with its rounded inputs)
    sr = 2.5 / math.sqrt(250)
    var_daily = 0.5 / 250
    trials = np.array([-1.0, 1.0]) * math.sqrt(var_daily / 2)  # any trials with that variance (ddof=1)
    assert np.var(trials, ddof=1) == pytest.approx(var_daily)
    d = overfit.deflated_sharpe(sr, skew=-3.0, kurtosis=10.0, n_obs=1250, sr_trials=trials)
    d_n = overfit.probabilistic_sharpe(sr, overfit.expected_max_sharpe(100, var_daily), -3.0, 10.0, 1250)
    assert d_n == pytest.approx(0.9004, abs=5e-4)
    assert d["n_trials"] == 2 and d["deflated_sharpe"] > d_n  # fewer trials, lower bar, higher DSR
    # more trials with the same spread make the same Sharpe less convincing
    wide = overfit.deflated_sharpe(sr, -3.0, 10.0, 1250, np.random.default_rng(1).normal(0, 0.05, 1000))
    assert wide["deflated_sharpe"] < d["deflated_sharpe"]


def _blocks(e: np.ndarray, S: int):
    edges = np.linspace(0, e.shape[1], S + 1).astype(int)
    bs = np.stack(
        [np.stack([e[:, a:b].sum(1), (e[:, a:b] ** 2).sum(1)], -1) for a, b in zip(edges[:-1], edges[1:], strict=True)],
        1,
    )
    return bs, np.diff(edges), edges


def _brute_pbo(e: np.ndarray, S: int) -> float:
    """CSCV from the raw returns: Sharpe ratios of the concatenated blocks, ranks by counting."""
    _, _, edges = _blocks(e, S)
    parts = [e[:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]
    N = e.shape[0]
    lam = []
    for c in itertools.combinations(range(S), S // 2):
        ins = np.concatenate([parts[i] for i in c], axis=1)
        oos = np.concatenate([parts[i] for i in range(S) if i not in c], axis=1)
        sr_is = ins.mean(1) / ins.std(1, ddof=1)
        sr_oos = oos.mean(1) / oos.std(1, ddof=1)
        best = int(np.argmax(sr_is))
        rank = (sr_oos < sr_oos[best]).sum() + ((sr_oos == sr_oos[best]).sum() + 1) / 2
        w = rank / (N + 1)
        lam.append(math.log(w / (1 - w)))
    return float(np.mean(np.array(lam) <= 0))


@pytest.mark.parametrize("compiled", [False, True])
def test_pbo_equals_brute_force(compiled):
    rng = np.random.default_rng(5)
    e = rng.normal(0.0002, 0.01, (12, 400)) + rng.normal(0, 0.0003, (12, 1))
    bs, sizes, _ = _blocks(e, 8)
    got = overfit.pbo_cscv(bs, sizes, compiled=compiled)
    assert got["splits"] == math.comb(8, 4) and not got["sampled"]
    assert got["pbo"] == pytest.approx(_brute_pbo(e, 8), abs=1e-12)


def test_pbo_of_noise_is_about_half_and_of_a_real_edge_is_about_zero():
    # one data set gives a noisy PBO (its splits share the data): average over 20 independent ones
    pbos = []
    for seed in range(20):
        noise = np.random.default_rng(100 + seed).normal(0.0, 0.01, (50, 800))
        bs, sizes, _ = _blocks(noise, 8)
        pbos.append(overfit.pbo_cscv(bs, sizes)["pbo"])
    assert 0.4 < np.mean(pbos) < 0.6
    noise = np.random.default_rng(11).normal(0.0, 0.01, (200, 1600))
    edge = noise.copy()
    edge[0] += 0.002  # one trial with a real daily edge of 0.2 standard deviations
    bs, sizes, _ = _blocks(edge, 16)
    assert overfit.pbo_cscv(bs, sizes)["pbo"] < 0.05


def test_pbo_compiled_equals_numpy_and_sampling():
    rng = np.random.default_rng(3)
    e = rng.normal(0.0001, 0.01, (300, 800)) + rng.normal(0, 0.0004, (300, 1))
    bs, sizes, _ = _blocks(e, 16)
    a = overfit.pbo_cscv(bs, sizes, compiled=True)
    b = overfit.pbo_cscv(bs, sizes, compiled=False)
    assert a["splits"] == b["splits"] == 12870 and a["pbo"] == b["pbo"]
    s = overfit.pbo_cscv(bs, sizes, budget=300 * 2 * 100)
    assert s["sampled"] and s["splits"] == 200 and s["splits_total"] == 12870
    assert abs(s["pbo"] - a["pbo"]) < 0.15
    with pytest.raises(ValueError):
        overfit.pbo_cscv(bs[:, :15], sizes[:15])
    assert overfit.pbo_cscv(bs[:1], sizes)["pbo"] is None


def _plain_logits(bs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The CSCV logits by the plain loop in Python floats: each half's sums added block by block in
    increasing order, the score of the compiled kernel, the first maximum (``>``), counts."""

    def score(s1, s2, n):
        den = n * s2 - s1 * s1
        return -math.inf if den <= 0.0 else s1 * abs(s1) / den

    N, S, _ = bs.shape
    t1 = [0.0] * N
    t2 = [0.0] * N
    for j in range(N):
        for b in range(S):
            t1[j] += float(bs[j, b, 0])
            t2[j] += float(bs[j, b, 1])
    tn = 0.0
    for b in range(S):
        tn += float(sizes[b])
    out = []
    for half in (c for c in itertools.combinations(range(S), S // 2) if c[0] == 0):
        na = 0.0
        for b in half:
            na += float(sizes[b])
        x, y = [], []
        for j in range(N):
            a1 = a2 = 0.0
            for b in half:
                a1 += float(bs[j, b, 0])
                a2 += float(bs[j, b, 1])
            x.append(score(a1, a2, na))
            y.append(score(t1[j] - a1, t2[j] - a2, tn - na))
        for ins, oos in ((x, y), (y, x)):
            best, top = 0, -math.inf
            for j in range(N):
                if ins[j] > top:
                    best, top = j, ins[j]
            less = sum(v < oos[best] for v in oos)
            equal = sum(v == oos[best] for v in oos)
            w = (less + (equal + 1.0) / 2.0) / (N + 1.0)
            out.append(math.log(w / (1.0 - w)))
    return np.array(out)


@pytest.mark.parametrize("S", [2, 4, 6, 8])
def test_compiled_cscv_is_the_plain_loop_bit_for_bit_in_any_number_of_parts(S):
    from backtester._numba import ensure_numba_cache

    ensure_numba_cache()
    from backtester.research.sweep.cscv import pbo_logits

    rng = np.random.default_rng(S)
    e = rng.normal(0.0003, 0.01, (30, 25 * S))
    bs, sizes, _ = _blocks(e, S)
    bs[5] = bs[2]  # a duplicate trial: ties, the first one wins
    bs[7] = 0.0  # no variance: score -inf
    bs[9, :, 0] *= -1.0  # losing trial
    bs[11, 1, 0] = np.nan  # a NaN score is never the best and never ranked below or equal
    ref = _plain_logits(bs, sizes)
    halves = overfit._halves(S)
    s1, s2 = np.ascontiguousarray(bs[:, :, 0]), np.ascontiguousarray(bs[:, :, 1])
    for parts in (1, 2, 3, 7):
        got = np.empty(2 * len(halves))
        pbo_logits(s1, s2, sizes.astype(float), np.array(halves), got, parts)
        assert np.array_equal(got, ref), parts
    assert np.array_equal(overfit._logits_compiled(bs, sizes, halves), ref)
