"""Does ANY combination of a sweep beat the reference once the search is accounted for, and which ones?

:func:`best_of_sweep` runs, over every valid combination of prepared sweep inputs:

* Hansen's (2005) test of Superior Predictive Ability: p-values ``lower``, ``consistent`` and ``upper``;
* White's (2000) Reality Check: its p-value (the ``upper`` one: every combination re-centred);
* the Romano-Wolf (2005) StepM: the set of combinations that beat the reference at a family-wise error
  rate ``size`` (5%), by the stepdown on the consistent critical values;

with arch's definitions (``arch.bootstrap.SPA`` / ``StepM``, studentize=True, nested=False, which is the
oracle of the tests): losses are minus daily returns, so the loss differential of combination k on day t is
``d[k, t] = r_k[t] - r_ref[t]`` (its daily excess return over the reference: the benchmark, or CASH). The
statistic is ``max_k mean(d_k)``; replication b draws stationary-bootstrap day indices (geometric blocks
of mean length ``block``) and gives ``mean(d_k[idx_b]) - centre_k``, where ``centre_k`` is ``mean(d_k)``
(upper), ``max(mean(d_k), 0)`` (lower), or ``mean(d_k)`` unless it is below
``-sqrt(var_k / T * 2 log log T)`` and then 0 (consistent; ``var_k`` is the long-run variance of d_k under
the stationary bootstrap). A p-value is the share of replications whose maximum exceeds the statistic.
The StepM rejects every k with ``mean(d_k)`` above the 95th percentile of the maxima of the consistent
values, removes them, and repeats on the rest until none is rejected.

Mean block: ``block=None`` takes the Politis-White (2004, corrected 2009) optimal stationary-bootstrap
block of the loss differential of the combination with the highest mean (``optimal_block``, arch's
``optimal_block_length`` rule). Bootstrap indices: arch's ``StationaryBootstrap`` generator, reproduced
(``numpy.random.default_rng(seed)``; per replication T integers, then T uniforms), so a seed gives arch's
indices.

Scale: nothing of size N x T or N x reps is kept. Chunks of combinations are regenerated twice by the
sweep kernel (``spa_kernel.excess_chunk``): pass 1 keeps each combination's mean and variance (N floats
each), pass 2 multiplies the chunk's loss differentials by the (reps x T) matrix of bootstrap day
counts (BLAS) and folds the result into per-replication maxima (``spa_kernel.reduce_chunk``). The
stepdown needs maxima over the not-yet-rejected combinations, which are always those below a mean
threshold: the consistent values of the ``keep`` highest-mean combinations are stored (keep x reps) and
the rest reduced to one maximum per replication; if more than ``keep`` combinations are rejected, pass 2
is re-run with a larger ``keep``.

Executors (``research.executor``): each chunk of either pass is a task (``_pass1_task``, ``_pass2_task``)
returning only its usable mask and means (pass 1), or its per-replication maxima, its maximum beyond the
kept combinations and the kept combinations' values (pass 2); maxima combine exactly in any order, so the
local executor and a Dask cluster give the same numbers. The regenerating object and the count matrix are
sent to each worker once; a stepdown that needs more kept columns re-runs pass 2 with them.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ...errors import UsageError
from ...progress import Progress, ensure
from .inputs import MODES, Inputs, window_arrays

AGAINST = ("benchmark", "cash")
DEFAULT_REPS = 1000
MAX_REPS = 10_000  # the (reps x days) count matrix: 10,000 x 3,000 days = 240 MB
SIZE = 0.05
KEEP = 1000
CHUNK = 2048
MAX_LISTED = 10_000  # StepM members listed in the result (the count is always exact)


def _kernels():
    from ..._numba import ensure_numba_cache

    ensure_numba_cache()
    from . import spa_kernel

    return spa_kernel


def optimal_block(x: np.ndarray) -> float:
    """Politis & White (2004) / Patton, Politis & White (2009) optimal mean block length of the stationary
    bootstrap for the series ``x`` (arch's ``optimal_block_length(x)["stationary"]`` rule)."""
    x = np.asarray(x, dtype=float)
    nobs = x.shape[0]
    eps = x - x.mean(0)
    b_max = np.ceil(min(3 * np.sqrt(nobs), nobs / 3))
    kn = max(5, int(np.log10(nobs)))
    m_max = int(np.ceil(np.sqrt(nobs))) + kn
    cv = 2 * np.sqrt(np.log10(nobs) / nobs)
    acv = np.zeros(m_max + 1)
    abs_acorr = np.zeros(m_max + 1)
    opt_m = None
    for i in range(m_max + 1):
        v1 = eps[i + 1 :] @ eps[i + 1 :]
        v2 = eps[: -(i + 1)] @ eps[: -(i + 1)]
        cross = eps[i:] @ eps[: nobs - i]
        acv[i] = cross / nobs
        abs_acorr[i] = np.abs(cross) / np.sqrt(v1 * v2)
        if i >= kn and opt_m is None and np.all(abs_acorr[i - kn : i] < cv):
            opt_m = i - kn
    m = 2 * max(opt_m, 1) if opt_m is not None else m_max
    m = min(m, m_max)
    g = 0.0
    lr_acv = acv[0]
    for k in range(1, m + 1):
        lam = 1 if k / m <= 1 / 2 else 2 * (1 - k / m)
        g += 2 * lam * k * acv[k]
        lr_acv += 2 * lam * acv[k]
    d_sb = 2 * lr_acv**2
    b_sb = ((2 * g**2) / d_sb) ** (1 / 3) * nobs ** (1 / 3)
    return float(min(b_sb, b_max))


def bootstrap_counts(T: int, reps: int, block: float, seed: int | None = None, indices=None) -> np.ndarray:
    """(reps x T) float64: how often each day is drawn in each replication. From ``indices`` (reps x T day
    indices, e.g. arch's) when given, else from arch's stationary-bootstrap generator with ``seed``."""
    counts = np.zeros((reps, T))
    if indices is not None:
        indices = np.asarray(indices, dtype=np.int64)
        if indices.shape != (reps, T) or indices.min() < 0 or indices.max() >= T:
            raise ValueError(f"indices must be a ({reps}, {T}) array of day positions")
        for b in range(reps):
            counts[b] = np.bincount(indices[b], minlength=T)
        return counts
    k = _kernels()
    rng = np.random.default_rng(seed)
    p = 1.0 / block
    for b in range(reps):
        ints = rng.integers(T, size=T, dtype=np.int64)
        u = rng.random(T)
        k.stationary_counts(ints, u, p, counts, b)
    return counts


def stationary_indices(T: int, reps: int, block: float, seed: int | None = None) -> np.ndarray:
    """(reps x T) day indices of arch's ``StationaryBootstrap(block, seed=seed)`` (for tests and checks)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / block
    out = np.empty((reps, T), dtype=np.int64)
    for b in range(reps):
        idx = rng.integers(T, size=T, dtype=np.int64)
        u = rng.random(T)
        for i in range(1, T):
            if u[i] > p:
                idx[i] = idx[i - 1] + 1
                if idx[i] == T:
                    idx[i] = 0
        out[b] = idx
    return out


class _Excess:
    """Regenerates chunks of daily loss differentials (combination return minus reference return)."""

    def __init__(self, inp: Inputs, a: int, b: int, against: str):
        from ..._numba import ensure_numba_cache

        ensure_numba_cache()
        from . import kernel

        self.inp = inp
        self.wa = window_arrays(inp, a, b, 2)
        self.T = len(self.wa.dates)
        self.gscale = self.wa.growth / kernel.CAPITAL
        self.cache: dict = {}
        if against == "cash":
            self.ref = np.ascontiguousarray(self.wa.cret)
            self.label = "CASH"
        else:
            if inp.benchmark is None:
                raise UsageError(
                    "against benchmark needs a benchmark", "give a benchmark or test against cash", param="against"
                )
            ld, st = self.run(inp.benchmark, np.zeros(self.T), cache=None)
            if st[0] != 0:
                raise UsageError("the benchmark's weights are invalid on the sweep's window", "use --spa-against cash")
            self.ref = ld[0]
            self.label = inp.benchmark_label or "benchmark"

    def portable(self) -> _Excess:
        """A copy to send to executor workers: the inputs without the strategy object, the signal frame and
        the spec (as ``evaluation``'s distributed sweep), an empty pattern cache."""
        from copy import copy
        from dataclasses import replace

        out = copy(self)
        out.inp = replace(self.inp, strategy=None, signals=None, spec=None)
        out.cache = {}
        return out

    def run(self, factors, ref=None, cache="own") -> tuple[np.ndarray, np.ndarray]:
        from .evaluation import _threads, pattern_arrays

        k = _kernels()
        inp, wa = self.inp, self.wa
        feats, fchg, ev_ptr, ev_idx = pattern_arrays(wa, factors, self.cache if cache == "own" else None)
        C = len(factors.pattern)
        ld = np.empty((C, self.T))
        status = np.full(C, -1, dtype=np.int8)
        k.excess_chunk(
            feats, fchg, factors.pattern, factors.loadings, wa.close, wa.close_num, wa.fresh, wa.listed, wa.lchg,
            ev_ptr, ev_idx, wa.cashx, self.gscale, wa.key, MODES[inp.rebalance], float(inp.band), wa.cov,
            np.nan if inp.vol_target is None else float(inp.vol_target), inp.fallback, inp.fees, inp.slippage,
            self.ref if ref is None else ref, ld, status, _threads(),
        )  # fmt: skip
        return ld, status

    def chunk(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        return self.run(self.inp.chunk_factors(lo, hi))


def best_of_sweep(
    inp: Inputs,
    *,
    window=None,
    reps: int = DEFAULT_REPS,
    against: str = "benchmark",
    seed: int | None = 0,
    size: float = SIZE,
    block: float | None = None,
    indices=None,
    chunk: int = CHUNK,
    keep: int = KEEP,
    progress: Progress | None = None,
    executor=None,
) -> dict:
    """SPA, Reality Check and StepM over every valid combination of ``inp`` on ``window`` (as
    ``evaluate``'s). ``indices``: (reps x T) bootstrap day indices to use instead of the seeded draws
    (tests feed arch's). ``executor``: ``research.executor`` (None or local: here; dask: the chunks of both
    passes as tasks, the same numbers). Returns a plain dict (see the module docstring)."""
    from .. import executor as exmod
    from .evaluation import _window

    if not 1 <= reps <= MAX_REPS:
        raise UsageError(f"reps {reps} is outside 1..{MAX_REPS:,}", "e.g. 1000", param="reps")
    if against not in AGAINST:
        raise UsageError(f"against {against!r} is unknown", "use benchmark or cash", param="against")
    if not 0.0 < size < 1.0:
        raise UsageError(f"size {size} is not in (0, 1)", "e.g. 0.05")
    pr = ensure(progress)
    t0 = time.perf_counter()
    _kernels()
    a, b = _window(inp, window)
    ex = _Excess(inp, a, b, against)
    T = ex.T
    C = inp.n_combos
    if T < 3:
        raise UsageError(f"the window has {T} returns: too few for the SPA test", "give a longer window")

    run = _Run(ex, executor, exmod.ranges(C, chunk), pr)

    # pass 1: means, (after the block is known) variances; which combinations are usable
    mean = np.full(C, np.nan)
    use = np.zeros(C, dtype=np.bool_)
    for (lo, hi), (u, m) in run.map("SPA pass 1 (means)", _pass1_task):
        use[lo:hi], mean[lo:hi] = u, m
    n = int(use.sum())
    if n == 0:
        raise UsageError("no valid combination to test", "check the grid (every combination is invalid)")
    best = int(np.flatnonzero(use)[np.argmax(mean[use])])
    block_rule = "given"
    if block is None:
        ld_best, _ = ex.run(inp.chunk_factors(best, best + 1), cache=None)
        block = optimal_block(ld_best[0])
        block_rule = "Politis-White (2004, 2009) optimal stationary block of the best combination's differential"
    block = float(block)
    if not (block >= 1.0 and math.isfinite(block)):
        block = 1.0
    q = 1.0 - 1.0 / block
    qpow = q ** np.arange(T + 1, dtype=float)
    order = np.flatnonzero(use)[np.argsort(-mean[use], kind="stable")]
    rank = np.full(C, np.iinfo(np.int64).max, dtype=np.int64)
    rank[order] = np.arange(n)
    stat = float(mean[best])
    counts = bootstrap_counts(T, reps, block, seed, indices)
    shared = [run.share(x) for x in (counts, use, mean, rank, qpow)]
    keep = max(1, min(int(keep), n))
    while True:
        maxima, store, rest = _pass2(run, shared, keep, reps)
        pv = (maxima > stat).mean(axis=0)
        superior = _stepdown(mean[order], store, rest, size)
        if superior >= 0:
            break
        keep = min(n, max(keep * 2, -superior * 2))  # rejected beyond the kept columns: keep twice as many
    pr.done()
    stepm = np.sort(order[:superior])
    return {
        "against": against,
        "reference": ex.label,
        "reps": int(reps),
        "seed": seed,
        "block": block,
        "block_rule": block_rule,
        "combinations": n,
        "days": T,
        "statistic": stat,
        "statistic_annual": stat * 252,
        "best_combination": best,
        "spa": {"consistent": float(pv[1]), "lower": float(pv[0]), "upper": float(pv[2])},
        "reality_check": {"p_value": float(pv[2])},
        "stepm": {
            "size": size,
            "count": int(superior),
            "combinations": stepm.tolist() if superior <= MAX_LISTED else None,
        },
        "elapsed": time.perf_counter() - t0,
        "_stepm_mask": _mask(C, stepm),
    }


def _mask(C: int, members: np.ndarray) -> np.ndarray:
    out = np.zeros(C, dtype=np.bool_)
    out[members] = True
    return out


class _Run:
    """The chunks of combinations on the executor: ``_Excess`` sent once (its portable copy), results in
    completion order."""

    def __init__(self, ex: _Excess, executor, chunks: list[tuple[int, int]], pr: Progress):
        from .. import executor as exmod

        self.local = executor is None or executor.name == "local"
        if not self.local and ex.inp.factors is None:
            raise UsageError(
                f"executor {executor.name} needs a strategy with a vectorised sweep form (sweep_fn)",
                "use the local executor for this strategy",
                param="executor",
            )
        self.executor = exmod.LocalExecutor() if executor is None else executor
        self.chunks, self.pr = chunks, pr
        self.ex = ex if self.local else self.share(ex, ex.portable)

    def share(self, value, make=None):
        from .. import executor as exmod

        return exmod.share_new(self.executor, make or (lambda: value), "spa")

    def map(self, label: str, fn, *shared):
        """(range, ``fn(ex, *shared, lo, hi)``) for every chunk, in completion order."""
        self.pr.start(label, total=self.chunks[-1][1] if self.chunks else 0)
        for j, res in self.executor.map_chunks(fn, (self.ex, *shared), self.chunks):
            lo, hi = self.chunks[j]
            self.pr.advance(hi - lo)
            yield (lo, hi), res


def _pass1_task(ex: _Excess, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Combinations [lo, hi): usable (kernel status 0, finite differentials) and the mean differential."""
    k = _kernels()
    ld, st = ex.chunk(lo, hi)
    u = st == 0
    mean = np.full(hi - lo, np.nan)
    k.moments(ld, u, np.ones(ex.T + 1), mean, np.empty(hi - lo))
    return u, mean


def _pass2_task(ex: _Excess, counts, use, mean, rank, qpow, keep, lo, hi):
    """The bootstrap pass on combinations [lo, hi): the variances and centres, then the bootstrap means
    (counts x differentials, BLAS) folded into per-replication maxima of the three statistics, the maximum of
    the consistent values beyond the ``keep`` highest-mean combinations, and the consistent values of those
    in the chunk (their ranks, rank x reps). None when no combination of the chunk is usable."""
    k = _kernels()
    u = use[lo:hi]
    if not u.any():
        return None
    reps, T = counts.shape
    m_ = hi - lo
    ld, _ = ex.chunk(lo, hi)
    var = np.full(m_, np.nan)
    k.moments(ld, u, qpow, np.empty(m_), var)
    m = np.where(u, mean[lo:hi], 0.0)
    threshold = -1.0 * np.sqrt((np.where(u, var, 0.0) / T) * (2 * np.log(np.log(T))))
    centre = np.zeros((3, m_))
    centre[0] = np.where(m < 0, 0.0, m)  # lower: worse ones not re-centred
    centre[1] = np.where(m >= threshold, m, 0.0)  # consistent
    centre[2] = m  # upper: all re-centred
    sim = counts @ ld.T
    sim /= T
    r = rank[lo:hi]
    kept = np.flatnonzero(u & (r < keep))
    local_rank = np.full(m_, np.iinfo(np.int64).max, dtype=np.int64)
    local_rank[kept] = np.arange(len(kept))
    maxima = np.full((reps, 3), -np.inf)
    store = np.full((len(kept), reps), -np.inf)
    rest = np.full(reps, -np.inf)
    k.reduce_chunk(sim, 0, u, centre, local_rank, len(kept), maxima, store, rest)
    return maxima, rest, r[kept], store


def _pass2(run: _Run, shared: list, keep: int, reps: int):
    """The bootstrap pass over every chunk (``_pass2_task``), combined: maxima of the maxima, the kept
    combinations' values by rank (keep x reps)."""
    maxima = np.full((reps, 3), -np.inf)
    store = np.full((keep, reps), -np.inf)
    rest = np.full(reps, -np.inf)
    for _, res in run.map("SPA bootstrap", _pass2_task, *shared, run.share(keep)):
        if res is not None:
            mx, rs, ranks, st = res
            np.maximum(maxima, mx, out=maxima)
            np.maximum(rest, rs, out=rest)
            store[ranks] = st
    return maxima, store, rest


def _stepdown(sorted_means: np.ndarray, store: np.ndarray, rest: np.ndarray, size: float) -> int:
    """arch's StepM on models ranked by mean (highest first): the number rejected (they are always the
    highest-mean ones), or minus the number rejected so far when a next step needs more than the ``keep``
    stored columns."""
    n = len(sorted_means)
    keep = store.shape[0]
    rejected = 0
    while True:
        if rejected > keep:
            return -rejected
        mx = np.maximum(store[rejected:].max(axis=0), rest) if rejected < keep else rest
        crit = np.percentile(mx, 100.0 * (1 - size))
        better = int(np.count_nonzero(sorted_means[rejected:] > crit))
        rejected += better
        if better == 0 or rejected >= n:
            return rejected
