"""Honesty statistics for a parameter sweep: the deflated Sharpe ratio and the PBO by CSCV.

Deflated Sharpe ratio (Bailey and Lopez de Prado, 2014, "The Deflated Sharpe Ratio")
    The probability that the best trial's true Sharpe ratio exceeds the Sharpe ratio that the best of
    N trials would reach by luck alone::

        SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))      g = 0.5772... (Euler)
        DSR = Z((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))

    SR is the best trial's per-period (daily, not annualized) Sharpe ratio of excess returns over CASH,
    skew and kurt its excess returns' skewness and (non-excess, normal = 3) kurtosis, T the number of
    returns, N the number of trials (valid combinations) and V the variance (ddof=1) of the N trials'
    per-period Sharpe ratios. With N = 1, SR0 = 0 and the DSR is the probabilistic Sharpe ratio. N counts
    every combination, also near-duplicates, so it over-states the number of independent trials (which
    makes SR0 larger, i.e. the DSR more conservative).

Probability of backtest overfitting (Bailey, Borwein, Lopez de Prado and Zhu, 2017), by CSCV
    The T returns are cut into S contiguous blocks (S even, ``np.array_split`` sizes). For each of the
    C(S, S/2) ways of choosing S/2 blocks as in-sample (IS; the rest out-of-sample, OOS), the trial with
    the best IS Sharpe ratio is found and its OOS Sharpe ratio ranked among all trials' OOS Sharpe
    ratios: relative rank w = rank / (N + 1) (ties: mid-rank), logit l = ln(w / (1 - w)). PBO is the
    share of splits with l <= 0 (the IS winner is at or below the OOS median). Sharpe ratios of a union
    of blocks come from per-block sums of excess returns and of their squares, so a split costs O(N S).
    When N x splits would exceed ``budget``, a seeded random sample of complementary split pairs is used
    (``splits`` says how many).
"""

from __future__ import annotations

import functools
import itertools
import math
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
PBO_BUDGET = 4e8  # trials x splits evaluated at most (about a few seconds)
MAX_BLOCKS = 24  # C(24, 12) / 2 = 1.35 million split pairs are enumerated; 30 blocks would be 78 million
_N = NormalDist()


def expected_max_sharpe(n_trials: int, var_sr: float) -> float:
    """SR0: the expected maximum per-period Sharpe ratio of ``n_trials`` trials of zero true Sharpe."""
    if n_trials < 2 or not (var_sr > 0):
        return 0.0
    n = float(n_trials)
    z1 = _N.inv_cdf(1.0 - 1.0 / n)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(var_sr) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def probabilistic_sharpe(sr: float, sr0: float, skew: float, kurtosis: float, n_obs: int) -> float:
    """P(true SR > sr0) given the observed per-period ``sr`` (Bailey and Lopez de Prado, 2012)."""
    if not all(math.isfinite(x) for x in (sr, sr0, skew, kurtosis)) or n_obs < 2:
        return float("nan")
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if denom <= 0:
        return float("nan")
    return _N.cdf((sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(denom))


def deflated_sharpe(sr: float, skew: float, kurtosis: float, n_obs: int, sr_trials) -> dict:
    """The deflated Sharpe ratio of a trial with per-period Sharpe ``sr`` among the trials ``sr_trials``."""
    trials = np.asarray(sr_trials, dtype=float)
    trials = trials[np.isfinite(trials)]
    n = int(trials.size)
    var = float(np.var(trials, ddof=1)) if n >= 2 else 0.0
    sr0 = expected_max_sharpe(n, var)
    return {
        "deflated_sharpe": probabilistic_sharpe(sr, sr0, skew, kurtosis, n_obs),
        "sharpe_period": sr,
        "expected_max_sharpe_period": sr0,
        "skew": skew,
        "kurtosis": kurtosis,
        "n_obs": int(n_obs),
        "n_trials": n,
        "var_trials_sharpe": var,
    }


def _sharpe(s1, s2, n):
    mean = s1 / n
    var = (s2 - s1 * mean) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sr = np.where(var > 0, mean / np.sqrt(np.where(var > 0, var, 1.0)), -np.inf)
    return sr


def _logits(is_sr, oos_sr) -> np.ndarray:
    """Per split (rows): logit of the OOS relative rank of the IS-best trial."""
    N = is_sr.shape[1]
    best = np.argmax(is_sr, axis=1)
    x = oos_sr[np.arange(len(best)), best][:, None]
    less = (oos_sr < x).sum(axis=1)
    equal = (oos_sr == x).sum(axis=1)
    rank = less + (equal + 1) / 2.0
    w = rank / (N + 1.0)
    return np.log(w / (1.0 - w))


def pbo_cscv(
    block_sums: np.ndarray, block_sizes, budget: float = PBO_BUDGET, seed: int = 0, compiled: bool = True
) -> dict:
    """PBO from per-block sums: ``block_sums[trial, block] = (sum of excess returns, sum of squares)``.

    ``compiled`` uses the numba kernel (``sweep.cscv.pbo_logits``, parallel); False, the plain numpy version."""
    bs = np.asarray(block_sums, dtype=float)
    N, S, _ = bs.shape
    sizes = np.asarray(block_sizes, dtype=float)
    if S < 2 or S % 2 or S > MAX_BLOCKS:
        raise ValueError(f"CSCV needs an even number of blocks from 2 to {MAX_BLOCKS}")
    if N < 2:
        return {"pbo": None, "reason": "fewer than 2 valid combinations", "blocks": S, "splits": 0, "n_trials": N}
    pairs, total_pairs = split_pairs(N, S, budget, seed)
    if compiled:
        lam = _logits_compiled(bs, sizes, pairs)
    else:
        lam = _logits_numpy(bs, sizes, pairs)
    return pbo_of_logits(lam, S, N, total_pairs)


def split_pairs(N: int, S: int, budget: float = PBO_BUDGET, seed: int = 0) -> tuple[np.ndarray, int]:
    """(the complementary split pairs evaluated, how many there are in all): the splits whose IS holds
    block 0, each with its complement; a seeded sample of them when N x splits would exceed ``budget``."""
    pairs = _halves(S)
    total_pairs = len(pairs)
    max_pairs = max(1, int(budget // (2 * N)))
    if max_pairs < total_pairs:
        rng = np.random.default_rng(seed)
        pairs = pairs[np.sort(rng.choice(total_pairs, size=max_pairs, replace=False))]
    return pairs, total_pairs


def pbo_of_logits(lam: np.ndarray, S: int, N: int, total_pairs: int) -> dict:
    """The PBO record of the splits' logits."""
    return {
        "pbo": float(np.mean(lam <= 0)),
        "blocks": S,
        "splits": int(lam.size),
        "splits_total": 2 * total_pairs,
        "sampled": int(lam.size) < 2 * total_pairs,
        "n_trials": N,
        "logit_median": float(np.median(lam)),
    }


@functools.cache
def _halves(S: int) -> np.ndarray:
    """(C(S-1, S/2-1), S/2) int64, read-only: the halves of range(S) that hold block 0, increasing, in
    lexicographic order (a constant table per S, built once)."""
    h = S // 2
    out = np.zeros((math.comb(S - 1, h - 1), h), dtype=np.int64)
    if h > 1:
        rest = itertools.chain.from_iterable(itertools.combinations(range(1, S), h - 1))
        out[:, 1:] = np.fromiter(rest, dtype=np.int64).reshape(-1, h - 1)
    out.flags.writeable = False
    return out


def _logits_numpy(bs, sizes, pairs) -> np.ndarray:
    S = bs.shape[1]
    N = bs.shape[0]
    sel = np.zeros((len(pairs), S))
    for r, c in enumerate(pairs):
        sel[r, list(c)] = 1.0
    s1 = np.ascontiguousarray(bs[:, :, 0].T)  # (S, N)
    s2 = np.ascontiguousarray(bs[:, :, 1].T)
    t1, t2, tn = s1.sum(axis=0), s2.sum(axis=0), sizes.sum()
    batch = max(1, int(2_000_000 // N))
    out = np.empty(2 * len(pairs))
    for lo in range(0, len(pairs), batch):
        m = sel[lo : lo + batch]
        a1, a2, an = m @ s1, m @ s2, (m @ sizes)[:, None]
        sr_a = _sharpe(a1, a2, an)
        sr_b = _sharpe(t1 - a1, t2 - a2, tn - an)
        out[2 * lo : 2 * (lo + len(m)) : 2] = _logits(sr_a, sr_b)  # IS = the pair's first half
        out[2 * lo + 1 : 2 * (lo + len(m)) : 2] = _logits(sr_b, sr_a)  # IS = its complement
    return out


def _logits_compiled(bs, sizes, pairs) -> np.ndarray:
    from ..._numba import ensure_numba_cache

    ensure_numba_cache()
    import numba

    from .cscv import pbo_logits_t

    halves = np.array(pairs, dtype=np.int64)  # a writable copy (one compiled signature)
    out = np.empty(2 * len(pairs))
    s1T = np.ascontiguousarray(bs[:, :, 0].T)  # (S, N), straight from (N, S, 2): 2 x 128 MB at N = 10^6
    s2T = np.ascontiguousarray(bs[:, :, 1].T)
    pbo_logits_t(s1T, s2T, np.asarray(sizes, dtype=float), halves, out, numba.get_num_threads())
    return out
