"""Significance of a strategy's edge over its benchmark: a stationary block bootstrap.

The stationary bootstrap (Politis & Romano 1994) resamples whole days in blocks of random length:
each resampled day continues the previous block (the next day, wrapping around the end) with
probability 1 - 1/b, or starts a new block at a uniformly drawn day with probability 1/b, so block
lengths are geometric with mean b. The default mean block length is n ** (1/3) (at least 1). Days are
resampled jointly (the same indices for strategy, benchmark and cash), which keeps their correlation
and the serial dependence within blocks.

Statistics (``backtester.metrics`` definitions: 252 periods a year):

* Sharpe difference: ``sharpe(strategy - cash) - sharpe(benchmark - cash)``, with
  ``sharpe(e) = mean(e) / std(e, ddof=1) * sqrt(252)``;
* mean excess return: ``mean(strategy - benchmark) * 252`` (annualized arithmetic mean).

For each: the observed value, a percentile 95% interval of the bootstrap draws, the bootstrap
standard error, and a one-sided p-value for H0: value <= 0 from the *centred* bootstrap (the draws
minus the observed value stand for the null distribution): ``p = (1 + #{d* - d >= d}) / (B + 1)``.
Identical series give a difference of exactly 0 and p = 1. Draws where a Sharpe is undefined (zero
variance in the resample) are dropped (``n_valid`` says how many are left); an undefined observed value
gives ``None`` everywhere.

Vectorised: indices are built as an (rows x n) matrix per chunk of rows; the chunk size depends only on
n, so a seed gives the same result every time.
"""

from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd

from .constants import PERIODS
from .errors import DataError, UsageError

MIN_DAYS = 20
_CELLS_PER_CHUNK = 2_000_000
MAX_BOOT = 100_000  # draws: ~50x the default 2,000, still seconds; more only burns time


def default_block(n: int) -> float:
    """Default mean block length: n ** (1/3), at least 1."""
    return max(1.0, float(n) ** (1.0 / 3.0))


def stationary_indices(n: int, n_boot: int, block: float, rng: np.random.Generator) -> np.ndarray:
    """An (n_boot x n) matrix of stationary-bootstrap day indices with mean block length ``block``."""
    if n < 1 or n_boot < 1:
        return np.zeros((max(n_boot, 0), max(n, 0)), dtype=np.int64)
    p = 1.0 / float(block)
    new = rng.random((n_boot, n)) < p
    new[:, 0] = True
    starts = rng.integers(0, n, size=(n_boot, n))
    j = np.arange(n)
    last_start = np.maximum.accumulate(np.where(new, j, 0), axis=1)
    first_day = np.take_along_axis(starts, last_start, axis=1)
    return (first_day + (j - last_start)) % n


def _sharpe_rows(e: np.ndarray) -> np.ndarray:
    """Sharpe of each row (metrics definition); NaN where the row has zero variance."""
    m = e.mean(axis=1)
    sd = e.std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sd > 0, m / sd * math.sqrt(PERIODS), np.nan)


def _sharpe(e: np.ndarray) -> float:
    from .metrics import from_arrays

    return float(from_arrays(e, np.zeros_like(e))["sharpe"])


def _align(strategy_returns, benchmark_returns, cash_returns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    series = [strategy_returns, benchmark_returns, cash_returns]
    if any(isinstance(x, pd.Series) for x in series[:2]):
        s = pd.Series(strategy_returns, dtype=float)
        b = pd.Series(benchmark_returns, dtype=float)
        frame = pd.concat({"s": s, "b": b}, axis=1, join="inner")
        if np.isscalar(cash_returns):
            frame["c"] = float(cash_returns)
        else:
            c = pd.Series(cash_returns, dtype=float)
            if len(c) == len(frame) and not isinstance(cash_returns, pd.Series):
                c.index = frame.index
            frame = frame.join(c.rename("c"), how="inner")
        frame = frame.dropna()
        return frame["s"].to_numpy(float), frame["b"].to_numpy(float), frame["c"].to_numpy(float)
    s = np.asarray(strategy_returns, dtype=float)
    b = np.asarray(benchmark_returns, dtype=float)
    c = np.full(len(s), float(cash_returns)) if np.isscalar(cash_returns) else np.asarray(cash_returns, dtype=float)
    if not (s.ndim == b.ndim == c.ndim == 1) or not (len(s) == len(b) == len(c)):
        raise UsageError(
            "strategy, benchmark and cash returns must be 1-d and of the same length",
            f"got {s.shape}, {b.shape}, {c.shape}",
        )
    ok = np.isfinite(s) & np.isfinite(b) & np.isfinite(c)
    return s[ok], b[ok], c[ok]


def _summary(observed: float, draws: np.ndarray, level: float) -> dict:
    draws = draws[np.isfinite(draws)]
    if not math.isfinite(observed) or len(draws) == 0:
        return {"observed": None, "ci95": None, "se": None, "p_value": None, "n_valid": int(len(draws))}
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [a, 1.0 - a])
    exceed = int(np.count_nonzero(draws - observed >= observed))
    return {
        "observed": float(observed),
        "ci95": [float(lo), float(hi)],
        "se": float(np.std(draws, ddof=1)) if len(draws) > 1 else None,
        "p_value": (1 + exceed) / (len(draws) + 1),
        "n_valid": int(len(draws)),
    }


def _draws(es: np.ndarray, eb: np.ndarray, x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Sharpe differences and the annual mean excess returns of the resamples ``idx`` (rows x n)."""
    return _sharpe_rows(es[idx]) - _sharpe_rows(eb[idx]), x[idx].mean(axis=1) * PERIODS


def _draws_task(es, eb, x, blk, states, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Draws lo .. hi-1 from the generator state the seeded generator has at draw ``lo`` (``states[lo]``)."""
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = states[lo]
    return _draws(es, eb, x, stationary_indices(len(es), hi - lo, blk, rng))


def _distributed_draws(executor, es, eb, x, blk, rng, rows, d_draws, m_draws) -> None:
    """The chunks of draws as executor tasks (``research.executor``): here, the seeded generator is only
    advanced past each chunk (the same uniforms and integers ``stationary_indices`` takes, a tenth of the
    work) to record its state at the chunk's first draw, so each task redraws exactly the local indices."""
    n, n_boot = len(es), len(d_draws)
    chunks = [(lo, min(n_boot, lo + rows)) for lo in range(0, n_boot, rows)]
    states = {}
    for lo, hi in chunks:
        states[lo] = rng.bit_generator.state
        rng.random((hi - lo, n))
        rng.integers(0, n, size=(hi - lo, n))
    key = uuid.uuid4().hex  # a key of this call only: a later call must not reuse these scattered arrays
    shared = [executor.share(("bootstrap", key, i), lambda v=v: v) for i, v in enumerate((es, eb, x, blk, states))]
    for k, (d, m) in executor.map_chunks(_draws_task, shared, chunks):
        lo, hi = chunks[k]
        d_draws[lo:hi], m_draws[lo:hi] = d, m


def sharpe_difference_test(
    strategy_returns,
    benchmark_returns,
    cash_returns,
    n_boot: int = 2000,
    block: float | None = None,
    seed: int = 0,
    level: float = 0.95,
    executor=None,
) -> dict:
    """Stationary block bootstrap test of the strategy's edge over its benchmark (see the module doc).

    Inputs are daily simple returns: pandas Series (aligned on their index, inner join, rows with NaN
    dropped) or equal-length arrays; ``cash_returns`` may be a scalar. Returns a dict: ``n``, ``n_boot``,
    ``block`` (mean block length), ``seed``, ``sharpe_strategy``, ``sharpe_benchmark``,
    ``sharpe_difference`` and ``mean_excess`` (each ``{observed, ci95, se, p_value, n_valid}``), ``h0``.
    ``executor``: a ``research.executor`` executor (None or local: here; dask: chunks of draws as tasks, the
    same draws and numbers).
    """
    s, b, c = _align(strategy_returns, benchmark_returns, cash_returns)
    n = len(s)
    if n < MIN_DAYS:
        raise UsageError(f"{n} common days of returns is too few for a bootstrap", f"need at least {MIN_DAYS}")
    if not 1 <= n_boot <= MAX_BOOT:
        raise UsageError(f"n_boot {n_boot} is outside 1..{MAX_BOOT:,}", "use e.g. 2000 (the default)", param="n_boot")
    blk = default_block(n) if block is None else float(block)
    if not (math.isfinite(blk) and blk >= 1.0):
        raise UsageError(f"mean block length {block} must be at least 1", "use e.g. n ** (1/3)")
    es, eb, x = s - c, b - c, s - b
    sr_s, sr_b = _sharpe(es), _sharpe(eb)
    obs_diff = sr_s - sr_b
    obs_mean = float(np.mean(x)) * PERIODS

    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS_PER_CHUNK // n)
    d_draws = np.empty(n_boot)
    m_draws = np.empty(n_boot)
    if executor is not None and executor.name != "local":
        _distributed_draws(executor, es, eb, x, blk, rng, rows, d_draws, m_draws)
    else:
        for lo in range(0, n_boot, rows):
            hi = min(n_boot, lo + rows)
            d_draws[lo:hi], m_draws[lo:hi] = _draws(es, eb, x, stationary_indices(n, hi - lo, blk, rng))
    return {
        "n": n,
        "n_boot": int(n_boot),
        "block": blk,
        "seed": seed,
        "periods": PERIODS,
        "sharpe_strategy": sr_s if math.isfinite(sr_s) else None,
        "sharpe_benchmark": sr_b if math.isfinite(sr_b) else None,
        "sharpe_difference": _summary(obs_diff, d_draws, level),
        "mean_excess": _summary(obs_mean, m_draws, level),
        "h0": "difference <= 0 (one-sided; centred stationary block bootstrap, percentile interval)",
    }


COLUMNS = ("strategy", "benchmark", "cash")


def significance_of_returns(returns: pd.DataFrame, n_boot: int = 2000, seed: int = 0, executor=None) -> dict:
    """The bootstrap result for a frame with ``strategy``, ``benchmark`` and ``cash`` daily returns."""
    missing = [c for c in COLUMNS if c not in returns.columns]
    if missing:
        raise DataError(f"returns lack column(s) {', '.join(missing)}", "run the backtest again to rewrite them")
    r = returns.loc[:, list(COLUMNS)].astype(float)
    out = sharpe_difference_test(r["strategy"], r["benchmark"], r["cash"], n_boot=n_boot, seed=seed, executor=executor)
    idx = r.dropna().index
    out["start"] = pd.Timestamp(idx[0]).date().isoformat() if len(idx) else None
    out["end"] = pd.Timestamp(idx[-1]).date().isoformat() if len(idx) else None
    return out
