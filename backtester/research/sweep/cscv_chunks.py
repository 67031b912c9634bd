"""The PBO by CSCV from per-block sums read chunk by chunk (a sweep's chunk files), never all in memory.

Two passes over the chunks, on the same split pairs as :func:`overfit.pbo_cscv` (``overfit.split_pairs``):

1. for every split, the in-sample (IS) best trial's IS score and its out-of-sample (OOS) score: each
   chunk's first maximum, replaced by a later chunk's only when strictly larger (the first maximum over
   all trials, as the in-memory kernel finds it);
2. for every split, how many trials' OOS scores are below and equal to that OOS score.

The scores are computed by the functions of ``cscv.py`` (kept prefix sums of a half's blocks in increasing
order, the same score), so the logits, and the PBO, are bit-identical to ``pbo_cscv``'s on the same block
sums; each pass costs about what the in-memory kernel does. Memory: one chunk's block sums plus a
few numbers per split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numba
import numpy as np
from numba import njit, prange

from .cscv import _first_max, _logit, _ranks, buffers, pair_scores, totals_t


@njit(cache=True, error_model="numpy")
def _part(s1T, s2T, t1, t2, sizes, tn, halves, lo, hi, ranking, seen, is_best, oos_at_best, less, equal):
    """Pairs lo .. hi-1 of one chunk: the scores as ``cscv._pairs`` computes them (kept prefix sums, the
    same functions), then pass 1 or pass 2 (see :func:`chunk_pass`)."""
    P1, P2, x, y, prev = buffers(s1T.shape[1], halves.shape[1])
    for q in range(lo, hi):
        pair_scores(P1, P2, prev, s1T, s2T, t1, t2, sizes, tn, halves, q, x, y)
        if ranking:
            lx, ex, ly, ey = _ranks(x, y, oos_at_best[2 * q], oos_at_best[2 * q + 1])
            less[2 * q] += lx
            equal[2 * q] += ex
            less[2 * q + 1] += ly
            equal[2 * q + 1] += ey
            continue
        bx = _first_max(x)
        by = _first_max(y)
        if not seen or x[bx] > is_best[2 * q]:
            is_best[2 * q] = x[bx]
            oos_at_best[2 * q] = y[bx]
        if not seen or y[by] > is_best[2 * q + 1]:
            is_best[2 * q + 1] = y[by]
            oos_at_best[2 * q + 1] = x[by]


@njit(parallel=True, cache=True, error_model="numpy")
def chunk_pass(s1T, s2T, sizes, halves, ranking, seen, is_best, oos_at_best, less, equal, parts):
    """One chunk (``s1T``/``s2T`` (S, n), block-major), every split (2q: IS = halves[q]; 2q+1: IS = its
    complement). ``ranking`` False (pass 1): update each split's IS best score and that trial's OOS score
    (``seen`` False: no chunk yet); True (pass 2): add the counts of OOS scores below / equal to the IS
    best's. ``parts``: ranges of pairs run in parallel (each split is updated by one of them only)."""
    n = s1T.shape[1]
    P = halves.shape[0]
    if n == 0:
        return
    t1, t2 = totals_t(s1T, s2T)
    tn = 0.0
    for b in range(sizes.shape[0]):
        tn += sizes[b]
    parts = max(1, min(parts, P))
    per = (P + parts - 1) // parts
    for k in prange(parts):
        _part(s1T, s2T, t1, t2, sizes, tn, halves, k * per, min(P, k * per + per), ranking, seen, is_best,
              oos_at_best, less, equal)  # fmt: skip


@njit(cache=True, error_model="numpy")
def _logits(less, equal, N):
    out = np.empty(less.shape[0])
    for i in range(less.shape[0]):
        out[i] = _logit(less[i], equal[i], N)
    return out


def pbo_chunks(
    chunks: Callable[[], Iterable[np.ndarray]], n_trials: int, block_sizes, budget: float | None = None, seed: int = 0
) -> dict:
    """:func:`overfit.pbo_cscv` of the valid trials' block sums delivered by ``chunks()`` (called twice, an
    iterable of (k, S, 2) arrays, in trial order; ``n_trials`` = their total count)."""
    from .overfit import MAX_BLOCKS, PBO_BUDGET, pbo_of_logits, split_pairs

    sizes = np.asarray(block_sizes, dtype=float)
    S = len(sizes)
    N = int(n_trials)
    if S < 2 or S % 2 or S > MAX_BLOCKS:
        raise ValueError(f"CSCV needs an even number of blocks from 2 to {MAX_BLOCKS}")
    if N < 2:
        return {"pbo": None, "reason": "fewer than 2 valid combinations", "blocks": S, "splits": 0, "n_trials": N}
    pairs, total_pairs = split_pairs(N, S, PBO_BUDGET if budget is None else budget, seed)
    halves = np.array(pairs, dtype=np.int64)
    P2 = 2 * len(halves)
    is_best = np.full(P2, -np.inf)
    oos = np.full(P2, -np.inf)
    less = np.zeros(P2, dtype=np.int64)
    equal = np.zeros(P2, dtype=np.int64)
    threads = numba.get_num_threads()
    for ranking in (False, True):
        seen = False
        count = 0
        for bs in chunks():
            if len(bs):
                s1T, s2T = np.ascontiguousarray(bs[:, :, 0].T), np.ascontiguousarray(bs[:, :, 1].T)
                chunk_pass(s1T, s2T, sizes, halves, ranking, seen, is_best, oos, less, equal, threads)
                seen = True
                count += len(bs)
        if count != N:
            raise ValueError(f"the chunks hold {count} valid trials, not {N}")
    return pbo_of_logits(_logits(less, equal, N), S, N, total_pairs)
