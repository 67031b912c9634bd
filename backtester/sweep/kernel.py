"""The compiled sweep kernel: engine steps 1-7 and the metrics, for many combinations at once (numba).

Import this module only after ``backtester._numba.ensure_numba_cache()`` (``evaluate`` does).
Combinations run in blocks of ``BLOCK`` in parallel (``prange``), from their factor-form weights
(``factors.py``) on the window arrays of ``inputs.window_arrays``, in two phases: ``_trades`` visits,
per combination, only the rows where a rebalance can trigger (steps 1-6) and records each rebalance's
CASH and units; ``run_chunk`` then values the whole block day by day (step 7) and accumulates the
metrics with loops over the block's combinations that compile to SIMD code. Nothing per combination
outlives its block but one row of metrics, its held-time counts and its per-block excess-return sums.
The code follows ``engine.py`` step by step:

* steps 1-5 as ``engine.plan``: weight checks per decision row (any weight < -1e-12 or a row sum above
  1 + 1e-9 makes the combination *invalid*: ``engine.plan`` would raise), clipping and the division of
  sums in (1, 1 + 1e-9], the volatility scale (the 60-return sample std of the target mix, here as
  ``w' Cov w`` with the window's covariance of asset returns), the lag, the fallback of unlisted assets,
  the schedule (change / monthly / weekly / band, pending until every asset to trade has a fresh close);
* step 6 as vectorbt's ``from_orders`` (``simulate_from_orders_nb`` -> ``execute_order_nb`` ->
  ``buy_nb`` / ``sell_nb``, long-only, cash sharing, auto call sequence, ``update_value=False``) in CASH
  units on an initial capital of 1e6, with vectorbt's closeness rules (``is_close_nb`` and ``add_nb``
  at 1e-9 relative / 1e-12 absolute) and its insertion argsort of the approximate order values;
* step 7 and ``metrics.from_arrays``: equity = value x CASH growth, daily returns, total return, CAGR,
  volatility, Sharpe and Sortino of the excess over CASH, max drawdown, Calmar, turnover, costs and
  time in market, plus the per-period Sharpe, skewness and kurtosis of the excess returns (deflated
  Sharpe) and per-block sums of excess returns and their squares (PBO by CSCV).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

REL_TOL = 1e-9
ABS_TOL = 1e-12
CAPITAL = 1e6
PERIODS = 252
VOL_WINDOW = 60
SUM_TOL = 1e-9
NEG_TOL = 1e-12
CHANGE_TOL = 1e-12
HELD_TOL = 1e-9
BLOCK = 32  # combinations valued together (SIMD across combinations)

# rebalance modes
CHANGE, MONTHLY, WEEKLY, BAND = 0, 1, 2, 3
# metric columns of the output
(
    M_TOTAL, M_CAGR, M_VOL, M_SHARPE, M_SORTINO, M_MDD, M_CALMAR, M_TURN_TOTAL, M_TURN, M_COSTS, M_COSTS_ANNUAL,
    M_SR, M_SKEW, M_KURT, M_REBALANCES,
) = range(15)  # fmt: skip
N_METRICS = 15
# status codes
OK, INVALID_SUM, INVALID_NEG = 0, 1, 2


@njit(cache=True)
def _is_close(a, b):
    if np.isnan(a) or np.isnan(b):
        return False
    if np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@njit(cache=True)
def _near0(a):
    """``_is_close(a, 0.0)``, exactly: |a| <= 1e-12 (False for NaN and inf)."""
    return abs(a) <= ABS_TOL


@njit(cache=True)
def _sgn(a):
    return (a > 0.0) - (a < 0.0)


@njit(cache=True)
def _add(a, b):
    """vectorbt's add_nb: a + b, or 0 when the two nearly cancel (finite inputs)."""
    if _sgn(a) != _sgn(b):
        zero = _is_close(abs(a), abs(b))
    else:
        zero = _near0(a + b)
    if zero:
        return 0.0
    return a + b


@njit(cache=True)
def _raw_row(features, p, load, d, out):
    """Target weights of decision row ``d`` into ``out`` (clipped, sums in (1, 1+tol] divided);
    returns a status code."""
    K = features.shape[1]
    n = out.shape[0]
    s = 0.0
    for i in range(n):
        w = 0.0
        for k in range(K):
            w += features[p, k, d] * load[k, i]
        if w < -NEG_TOL:
            return INVALID_NEG
        if w < 0.0:
            w = 0.0
        out[i] = w
        s += w
    if s > 1.0 + SUM_TOL:
        return INVALID_SUM
    if s > 1.0:
        for i in range(n):
            out[i] = out[i] / s
    return OK


@njit(cache=True)
def _trades(
    c, b, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, key, mode,
    band, cov, vol_target, fallback, fees, slip, tr_t, tr_cash, tr_pos,
):  # fmt: skip
    """Steps 1-6 for combination c: the rebalances, each as (run row, CASH and units after trading) in row b
    of the trade buffers. Returns (status, number of trades, sum of daily costs, turnover). Only the rows
    where something can happen are visited: a feature change of its pattern, a listing change, a new
    month / week, and every row while a rebalance is pending (every row with a band or a vol target)."""
    T, n = close.shape
    Tw = features.shape[2]
    p = pattern[c]
    load = loadings[c]
    raw = np.zeros(n)
    # the rows decided but never filled (the last `lag`) are checked too, as engine.plan does; a row whose
    # features equal the previous row's has the same weights, so only rows where they change are computed
    for d in range(T, Tw):
        if fchg[p, d]:
            st = _raw_row(features, p, load, d, raw)
            if st != OK:
                return st, 0, 0.0, 0.0
    R = np.zeros(n)
    Rprev = np.zeros(n)
    W = np.zeros(n + 1)
    last = np.zeros(n + 1)
    last[n] = 1.0
    pos = np.zeros(n)
    ov = np.empty(n)
    seq = np.empty(n, dtype=np.int64)
    drift = np.empty(n + 1)
    root = math.sqrt(PERIODS)
    use_vol = not np.isnan(vol_target)
    calm_mode = not use_vol and mode != BAND  # else every row is visited
    cash = CAPITAL
    pending = False
    anchor = 0
    ntr = 0
    costs = 0.0
    turnover = 0.0
    evj = ev_ptr[p]
    evend = ev_ptr[p + 1]
    t = 0
    while t < T:
        # steps 1-4, only where the weights, the listing or the vol scale can change
        recompute = fchg[p, t] or lchg[t] or use_vol
        if fchg[p, t]:
            st = _raw_row(features, p, load, t, raw)
            if st != OK:
                return st, 0, 0.0, 0.0
        if recompute:
            # step 2: volatility scale of decision row t (its fill is at run row t)
            k = 1.0
            if use_vol and t >= VOL_WINDOW:
                var = 0.0
                for i in range(n):
                    if raw[i] != 0.0:
                        for j in range(n):
                            var += raw[i] * cov[t, i, j] * raw[j]
                if var > 0.0:
                    k = min(1.0, vol_target / (math.sqrt(var) * root))
            # step 4: availability -> fallback; W = k R, CASH the rest
            moved = 0.0
            for i in range(n):
                R[i] = raw[i]
                if R[i] > 0.0 and not listed[t, i]:
                    moved += R[i]
                    R[i] = 0.0
            if fallback >= 0 and listed[t, fallback]:
                R[fallback] += moved
            sw = 0.0
            for i in range(n):
                W[i] = R[i] * k
                sw += W[i]
            W[n] = max(0.0, 1.0 - sw)
        # step 5: schedule
        if t == 0:
            trig = True
        elif mode == MONTHLY or mode == WEEKLY:
            trig = key[t] != key[t - 1]
        else:
            mx = 0.0
            if recompute:
                for i in range(n):
                    mx = max(mx, abs(R[i] - Rprev[i]))
            trig = mx > CHANGE_TOL
            if not trig and mode == BAND:  # the drifted portfolio vs W_t
                hs = 0.0
                for i in range(n + 1):
                    if i < n:
                        rel = close[t, i] / close[anchor, i] if last[i] > 0.0 else 1.0
                    else:
                        rel = cashx[t] / cashx[anchor]
                    drift[i] = last[i] * rel
                    hs += drift[i]
                mx = 0.0
                for i in range(n + 1):
                    mx = max(mx, abs(drift[i] / hs - W[i]))
                trig = mx > band
        if recompute:
            for i in range(n):
                Rprev[i] = R[i]
        pending = pending or trig
        traded = False
        if pending:
            ready = True
            for i in range(n):
                if (W[i] > 0.0 or last[i] > 0.0) and not fresh[t, i]:
                    ready = False
            if ready:
                traded = True
                pending = False
                for i in range(n + 1):
                    last[i] = W[i]
                anchor = t
        # step 6: execution at the close (vectorbt from_orders, CASH units)
        cost_day = 0.0
        bought = 0.0  # sum over buys of units x close (CASH units)
        if traded:
            value_now = cash
            for i in range(n):
                if pos[i] != 0.0:
                    value_now += pos[i] * close_num[t, i]
            for i in range(n):
                seq[i] = i
                if fresh[t, i]:
                    ov[i] = W[i] * value_now - pos[i] * close_num[t, i]
                else:
                    ov[i] = np.nan
            for j in range(1, n):  # vectorbt's insert_argsort_nb (NaN last, ties keep column order)
                a_j = ov[j]
                s_j = seq[j]
                q = j - 1
                while q >= 0 and (ov[q] > a_j or np.isnan(ov[q])):
                    ov[q + 1] = ov[q]
                    seq[q + 1] = seq[q]
                    q -= 1
                ov[q + 1] = a_j
                seq[q + 1] = s_j
            for j in range(n):
                i = seq[j]
                if _near0(cash):
                    cash = 0.0
                if _near0(pos[i]):
                    pos[i] = 0.0
                if not fresh[t, i]:
                    continue
                price = close_num[t, i]
                size = W[i] * value_now
                size = size / price
                size = size - pos[i]
                if size > 0.0:  # buy_nb
                    adj = price * (1.0 + slip[i])
                    if cash == 0.0:
                        continue
                    req = size * adj
                    req_fees = req * fees[i]
                    total = req + req_fees
                    if _is_close(total, cash) or total < cash:
                        final = size
                        paid = req_fees
                        spend = total
                    else:  # cut to what CASH can pay
                        max_req = _add(cash, -0.0) / (1.0 + fees[i])
                        if max_req <= 0.0:
                            continue
                        final = max_req / adj
                        paid = cash - max_req
                        spend = cash
                    if _near0(size):
                        continue
                    if final < 0.0 and not _near0(final):
                        continue
                    cash = _add(cash, -spend)
                    pos[i] = _add(pos[i], final)
                    cost_day += paid + final * abs(adj - price)
                    bought += final * price
                else:  # sell_nb
                    adj = price * (1.0 - slip[i])
                    limit = min(pos[i], -size)
                    if pos[i] == 0.0:
                        continue
                    if _near0(limit):
                        continue
                    if limit < 0.0:
                        continue
                    acq = limit * adj
                    paid = acq * fees[i]
                    got = _add(acq, -paid)
                    if got < 0.0:
                        continue
                    cash = cash + got
                    pos[i] = _add(pos[i], -limit)
                    cost_day += paid + limit * abs(adj - price)
            # the next row's (empty) orders snap near-zero cash and positions
            if _near0(cash):
                cash = 0.0
            for i in range(n):
                if _near0(pos[i]):
                    pos[i] = 0.0
        if traded:
            value = cash
            for i in range(n):
                if pos[i] != 0.0:
                    value += pos[i] * close_num[t, i]
            pre = value + cost_day
            costs += cost_day / pre
            turnover += bought / pre
            tr_t[b, ntr] = t
            tr_cash[b, ntr] = cash
            for i in range(n):
                tr_pos[b, ntr, i] = pos[i]
            ntr += 1
        # the next row to visit
        if not calm_mode or pending:
            t += 1
        else:
            while evj < evend and ev_idx[evj] <= t:
                evj += 1
            t = ev_idx[evj] if evj < evend else T
    return OK, ntr, costs, turnover


@njit(parallel=True, cache=True)
def run_chunk(
    features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, gscale, cret,
    key, mode, band, cov, vol_target, fallback, fees, slip, edges, out, tim, blocks, status,
):  # fmt: skip
    """Evaluate combinations ``0 .. len(pattern)-1`` (rows of the output arrays), in blocks of BLOCK in
    parallel: per combination the rebalances (``_trades``), then the daily valuation and the metrics of
    the whole block at once (the loops over the block's combinations compile to SIMD code).

    ``fchg[p, d]``: the features of pattern p differ from the previous row's at decision row d (True at
    d = 0); ``lchg[t]``: the listing of some asset changes at run row t; ``ev_ptr``/``ev_idx``: per
    pattern, the sorted run rows where a rebalance may trigger (CSR)."""
    C = pattern.shape[0]
    T, n = close.shape
    nblk = (C + BLOCK - 1) // BLOCK
    nb = edges.shape[0] - 1
    for k in prange(nblk):
        lo = k * BLOCK
        m = min(C, lo + BLOCK) - lo
        tr_t = np.empty((m, T + 1), dtype=np.int64)
        tr_cash = np.empty((m, T))
        tr_pos = np.empty((m, T, n))
        ntr = np.zeros(m, dtype=np.int64)
        for b in range(m):
            st, nt, cst, turn = _trades(
                lo + b, b, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx,
                cashx, key, mode, band, cov, vol_target, fallback, fees, slip, tr_t, tr_cash, tr_pos,
            )  # fmt: skip
            status[lo + b] = st
            ntr[b] = nt if st == OK else 0
            tr_t[b, ntr[b]] = T  # sentinel
            out[lo + b, M_COSTS] = cst
            out[lo + b, M_TURN_TOTAL] = turn
            out[lo + b, M_REBALANCES] = nt
        # step 7 and the metrics, for the block's combinations together
        cash = np.full(m, CAPITAL)
        pos = np.zeros((n, m))
        ptr = np.zeros(m, dtype=np.int64)
        nxt = np.empty(m, dtype=np.int64)
        for b in range(m):
            nxt[b] = tr_t[b, 0]
        v = np.empty(m)
        prev = np.ones(m)
        sr = np.zeros(m)
        sr2 = np.zeros(m)
        se = np.zeros(m)
        se2 = np.zeros(m)
        se3 = np.zeros(m)
        se4 = np.zeros(m)
        down = np.zeros(m)
        equity = np.ones(m)
        peak = np.ones(m)
        mdd = np.full(m, np.inf)
        held = np.zeros((n, m))
        s1 = np.zeros(m)
        s2 = np.zeros(m)
        bk = 0
        for t in range(T):
            for b in range(m):
                if nxt[b] == t:
                    q = ptr[b]
                    cash[b] = tr_cash[b, q]
                    for i in range(n):
                        pos[i, b] = tr_pos[b, q, i]
                    ptr[b] = q + 1
                    nxt[b] = tr_t[b, q + 1]
            for b in range(m):
                v[b] = cash[b]
            for i in range(n):
                ci = close_num[t, i]
                for b in range(m):
                    v[b] += pos[i, b] * ci
            for i in range(n):
                ci = close_num[t, i]
                for b in range(m):
                    held[i, b] += 1.0 if pos[i, b] * ci > HELD_TOL * v[b] else 0.0
            g = gscale[t]
            cr = cret[t]
            for b in range(m):
                # power sums: float64 sums of ~3,000 daily returns whose mean is far below their standard
                # deviation lose ~1e-14 relative (the two-pass std of metrics.py is not needed for 1e-9)
                eq = v[b] * g
                r = eq / prev[b] - 1.0
                prev[b] = eq
                e = r - cr
                sr[b] += r
                sr2[b] += r * r
                e2 = e * e
                se[b] += e
                se2[b] += e2
                se3[b] += e2 * e
                se4[b] += e2 * e2
                neg = min(e, 0.0)
                down[b] += neg * neg
                q = equity[b] * (1.0 + r)
                equity[b] = q
                pk = max(peak[b], q)
                peak[b] = pk
                mdd[b] = min(mdd[b], q / pk - 1.0)
                s1[b] += e
                s2[b] += e2
            if nb > 0 and t + 1 == edges[bk + 1]:
                for b in range(m):
                    blocks[lo + b, bk, 0] = s1[b]
                    blocks[lo + b, bk, 1] = s2[b]
                    s1[b] = 0.0
                    s2[b] = 0.0
                bk += 1
        for b in range(m):
            if status[lo + b] == OK:
                _finish(out[lo + b], T, sr[b], sr2[b], se[b], se2[b], se3[b], se4[b], down[b], equity[b], mdd[b])
                for i in range(n):
                    tim[lo + b, i] = held[i, b] / T


@njit(cache=True)
def _finish(o, nT, sum_r, sum_r2, sum_e, sum_e2, sum_e3, sum_e4, down, equity, mdd):
    """The metrics of metrics.from_arrays from the power sums (costs and turnover sums already in o)."""
    root = math.sqrt(PERIODS)
    years = nT / PERIODS
    mr = sum_r / nT
    me = sum_e / nT
    v2 = sum_r2 - sum_r * mr  # sum of squared deviations
    m2 = sum_e2 / nT - me * me
    e2 = m2 * nT
    m3 = sum_e3 / nT - 3.0 * me * sum_e2 / nT + 2.0 * me * me * me
    m4 = sum_e4 / nT - 4.0 * me * sum_e3 / nT + 6.0 * me * me * sum_e2 / nT - 3.0 * me * me * me * me
    total = equity - 1.0
    g = 1.0 + total
    cagr = g ** (PERIODS / nT) - 1.0 if g > 0 else -1.0
    o[M_TOTAL] = total
    o[M_CAGR] = cagr
    o[M_MDD] = mdd
    o[M_CALMAR] = cagr / abs(mdd) if mdd < 0 else np.nan
    o[M_VOL] = np.nan
    o[M_SHARPE] = np.nan
    o[M_SR] = np.nan
    o[M_SKEW] = np.nan
    o[M_KURT] = np.nan
    if nT >= 2:
        o[M_VOL] = math.sqrt(max(v2, 0.0) / (nT - 1)) * root
        sd = math.sqrt(max(e2, 0.0) / (nT - 1))
        if sd > 0:
            o[M_SR] = me / sd
            o[M_SHARPE] = me / sd * root
            o[M_SKEW] = m3 / m2**1.5
            o[M_KURT] = m4 / (m2 * m2)
    dd_dev = math.sqrt(down / nT)
    o[M_SORTINO] = me / dd_dev * root if dd_dev > 0 else np.nan
    o[M_TURN] = o[M_TURN_TOTAL] / years if years > 0 else np.nan
    o[M_COSTS_ANNUAL] = o[M_COSTS] / years if years > 0 else np.nan


@njit(cache=True)
def _score(s1, s2, n):
    """A strictly increasing function of the Sharpe ratio of n returns with sum s1 and sum of squares s2
    (sign(SR) SR^2 up to a positive factor that depends on n only); -inf without variance."""
    den = n * s2 - s1 * s1
    if den <= 0.0:
        return -np.inf
    return s1 * abs(s1) / den


@njit(parallel=True, cache=True)
def pbo_logits(s1, s2, sizes, halves, out):
    """CSCV logits. ``s1``/``s2`` (N, S): per-trial, per-block sums of excess returns and of their
    squares; ``halves`` (P, S/2): the in-sample blocks of split pair p (its complement is the other split
    of the pair); ``out`` (2P,): for each split, the logit of the OOS relative rank of the IS-best trial."""
    N, S = s1.shape
    P, H = halves.shape
    t1 = np.zeros(N)
    t2 = np.zeros(N)
    for j in range(N):
        for b in range(S):
            t1[j] += s1[j, b]
            t2[j] += s2[j, b]
    tn = 0.0
    for b in range(S):
        tn += sizes[b]
    for q in prange(P):
        x = np.empty(N)
        y = np.empty(N)
        hq = halves[q]
        na = 0.0
        for h in range(H):
            na += sizes[hq[h]]
        nb = tn - na
        bx = 0
        by = 0
        xbest = -np.inf
        ybest = -np.inf
        for j in range(N):
            a1 = 0.0
            a2 = 0.0
            r1 = s1[j]
            r2 = s2[j]
            for h in range(H):
                a1 += r1[hq[h]]
                a2 += r2[hq[h]]
            xv = _score(a1, a2, na)
            yv = _score(t1[j] - a1, t2[j] - a2, nb)
            x[j] = xv
            y[j] = yv
            if xv > xbest:
                xbest = xv
                bx = j
            if yv > ybest:
                ybest = yv
                by = j
        # IS = the half: rank the IS-best's OOS score among all OOS scores; IS = the complement: reversed
        xb = y[bx]
        yb = x[by]
        lx = 0.0
        ex = 0.0
        ly = 0.0
        ey = 0.0
        for j in range(N):
            if y[j] < xb:
                lx += 1.0
            elif y[j] == xb:
                ex += 1.0
            if x[j] < yb:
                ly += 1.0
            elif x[j] == yb:
                ey += 1.0
        w = (lx + (ex + 1.0) / 2.0) / (N + 1.0)
        out[2 * q] = math.log(w / (1.0 - w))
        w = (ly + (ey + 1.0) / 2.0) / (N + 1.0)
        out[2 * q + 1] = math.log(w / (1.0 - w))
