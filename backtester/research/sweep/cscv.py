"""The compiled CSCV logits of ``overfit.pbo_cscv`` (numba; import after ``ensure_numba_cache()``).

For each complementary pair of splits (IS = a half of the blocks that holds block 0, OOS = the other
half, and the reverse): every trial's score on both halves, the IS-best trial of each split and the rank
of its OOS score. The arithmetic is that of the plain loop (a half's sums added block by block in
increasing block order, the same score, the first maximum, the same counts), so the logits are
bit-identical to it; only the work is arranged for speed:

* the pairs come in lexicographic order, so consecutive halves share their first blocks: the sums of a
  half's first blocks are kept per level and only the levels from the first changed block on are
  redone; the last ``FUSED`` blocks are added inside the score loop;
* every loop runs over the trials (``(S, N)`` layout, contiguous) and compiles to SIMD code: the scores,
  the maximum (``llvm.maxnum``, which skips NaN as a scan with ``>`` does), the first index of the
  maximum (a minimum over indices) and the rank counts (integers);
* the pairs are cut into contiguous ranges run in parallel; each logit depends on its own pair only, so
  the result does not depend on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

FUSED = 3  # blocks of a half added inside the score loop (the others: kept prefix sums)


@intrinsic
def _maxnum(typingctx, a, b):
    """``llvm.maxnum.f64``: the larger of two floats, or the other one if one is NaN (vectorizable)."""
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.maxnum", [d], ir.FunctionType(d, [d, d]))
        return builder.call(fn, args)

    return sig, codegen


@njit(cache=True, error_model="numpy", inline="always")
def _score(s1, s2, n):
    """A strictly increasing function of the Sharpe ratio of n returns with sum s1 and sum of squares s2
    (sign(SR) SR^2 up to a positive factor that depends on n only); -inf without variance."""
    den = n * s2 - s1 * s1
    if den <= 0.0:
        return -np.inf
    return s1 * abs(s1) / den


@njit(cache=True, error_model="numpy")
def _first_max(x):
    """The first index of the maximum of x (0 if every value is NaN): what a scan with ``>`` finds."""
    N = x.shape[0]
    m = -np.inf
    for j in range(N):
        m = _maxnum(m, x[j])
    k = N
    for j in range(N):
        i = j if x[j] == m else N
        k = i if i < k else k
    return k if k < N else 0


@njit(cache=True, error_model="numpy")
def _ranks(x, y, xb, yb):
    """(#y < xb, #y == xb, #x < yb, #x == yb)."""
    lx = 0
    ex = 0
    ly = 0
    ey = 0
    for j in range(x.shape[0]):
        yj = y[j]
        xj = x[j]
        lx += 1 if yj < xb else 0
        ex += 1 if yj == xb else 0
        ly += 1 if xj < yb else 0
        ey += 1 if xj == yb else 0
    return lx, ex, ly, ey


@njit(cache=True, error_model="numpy")
def _level(P1, P2, d, s1T, s2T, b):
    """Prefix level d = level d-1 (0 for d = 0) + block b."""
    N = P1.shape[1]
    if d == 0:
        for j in range(N):
            P1[0, j] = 0.0 + s1T[b, j]
            P2[0, j] = 0.0 + s2T[b, j]
    else:
        for j in range(N):
            P1[d, j] = P1[d - 1, j] + s1T[b, j]
            P2[d, j] = P2[d - 1, j] + s2T[b, j]


@njit(cache=True, error_model="numpy")
def _scores(P1, P2, d, s1T, s2T, hq, k, t1, t2, na, nb, x, y):
    """x: the scores on the half = its prefix level d (0 for d = -1) + its blocks hq[d+1 .. d+k] (k = 1..3),
    added one at a time; y: the scores on its complement (totals - half)."""
    N = x.shape[0]
    u = hq[d + 1]
    v = hq[d + 2] if k >= 2 else u
    w = hq[d + 3] if k >= 3 else u
    if d < 0:
        for j in range(N):
            P1[0, j] = 0.0
            P2[0, j] = 0.0
        d = 0
    if k == 1:
        for j in range(N):
            a1 = P1[d, j] + s1T[u, j]
            a2 = P2[d, j] + s2T[u, j]
            x[j] = _score(a1, a2, na)
            y[j] = _score(t1[j] - a1, t2[j] - a2, nb)
    elif k == 2:
        for j in range(N):
            a1 = (P1[d, j] + s1T[u, j]) + s1T[v, j]
            a2 = (P2[d, j] + s2T[u, j]) + s2T[v, j]
            x[j] = _score(a1, a2, na)
            y[j] = _score(t1[j] - a1, t2[j] - a2, nb)
    else:
        for j in range(N):
            a1 = ((P1[d, j] + s1T[u, j]) + s1T[v, j]) + s1T[w, j]
            a2 = ((P2[d, j] + s2T[u, j]) + s2T[v, j]) + s2T[w, j]
            x[j] = _score(a1, a2, na)
            y[j] = _score(t1[j] - a1, t2[j] - a2, nb)


@njit(cache=True, error_model="numpy")
def _logit(less, equal, N):
    w = (less + (equal + 1.0) / 2.0) / (N + 1.0)
    return math.log(w / (1.0 - w))


@njit(cache=True, error_model="numpy")
def buffers(N, H):
    """The work arrays of :func:`pair_scores` for N trials and halves of H blocks."""
    F = min(FUSED, H)
    P1 = np.zeros((max(H - F, 1), N))  # P1[d]: the sums of the half's first d+1 blocks
    P2 = np.zeros((max(H - F, 1), N))
    return P1, P2, np.empty(N), np.empty(N), np.full(H, -1, dtype=np.int64)


@njit(cache=True, error_model="numpy", inline="always")
def pair_scores(P1, P2, prev, s1T, s2T, t1, t2, sizes, tn, halves, q, x, y):
    """x, y: every trial's score on pair q's half and on its complement (the prefix levels that differ
    from the previous pair's redone)."""
    H = halves.shape[1]
    F = min(FUSED, H)
    d0 = 0
    while d0 < H - F and halves[q, d0] == prev[d0]:
        d0 += 1
    for d in range(d0, H - F):
        b = halves[q, d]
        _level(P1, P2, d, s1T, s2T, b)
        prev[d] = b
    na = 0.0
    for h in range(H):
        na += sizes[halves[q, h]]
    _scores(P1, P2, H - F - 1, s1T, s2T, halves[q], F, t1, t2, na, tn - na, x, y)


@njit(cache=True, error_model="numpy")
def _pairs(s1T, s2T, t1, t2, sizes, tn, halves, lo, hi, out):
    """The logits of pairs lo .. hi-1 (two per pair: IS = the half, then IS = its complement)."""
    N = s1T.shape[1]
    P1, P2, x, y, prev = buffers(N, halves.shape[1])
    for q in range(lo, hi):
        pair_scores(P1, P2, prev, s1T, s2T, t1, t2, sizes, tn, halves, q, x, y)
        bx = _first_max(x)
        by = _first_max(y)
        lx, ex, ly, ey = _ranks(x, y, y[bx], x[by])
        # IS = the half: the IS-best's OOS score ranked among all OOS scores; IS = the complement: reversed
        out[2 * q] = _logit(lx, ex, N)
        out[2 * q + 1] = _logit(ly, ey, N)


@njit(cache=True, error_model="numpy")
def totals_t(s1T, s2T):
    """Each trial's sums over all its blocks (block-major ``(S, N)`` sums), added in block order."""
    S, N = s1T.shape
    t1 = np.zeros(N)
    t2 = np.zeros(N)
    for j in range(N):
        for b in range(S):
            t1[j] += s1T[b, j]
            t2[j] += s2T[b, j]
    return t1, t2


@njit(cache=True, error_model="numpy")  # the parallel loop is pbo_logits_t's
def pbo_logits(s1, s2, sizes, halves, out, parts):
    """CSCV logits. ``s1``/``s2`` (N, S): per-trial, per-block sums of excess returns and of their
    squares; ``halves`` (P, S/2): the in-sample blocks of pair p, increasing, lexicographic order (its
    complement is the other split of the pair); ``out`` (2P,): for each split, the logit of the OOS
    relative rank of the IS-best trial; ``parts``: ranges of pairs run in parallel (e.g. the threads)."""
    pbo_logits_t(np.ascontiguousarray(s1.T), np.ascontiguousarray(s2.T), sizes, halves, out, parts)


@njit(parallel=True, cache=True, error_model="numpy")
def pbo_logits_t(s1T, s2T, sizes, halves, out, parts):
    """:func:`pbo_logits` on the sums stored block-major, ``s1T``/``s2T`` (S, N) contiguous (what the loops
    read; the caller builds them once from the per-trial block sums, without an (N, S) copy in between)."""
    S, N = s1T.shape
    P = halves.shape[0]
    t1, t2 = totals_t(s1T, s2T)
    tn = 0.0
    for b in range(S):
        tn += sizes[b]
    parts = max(1, min(parts, P))
    per = (P + parts - 1) // parts
    for k in prange(parts):
        _pairs(s1T, s2T, t1, t2, sizes, tn, halves, k * per, min(P, k * per + per), out)
