"""The compiled sweep kernel: engine steps 1-7 and the metrics, for many combinations at once (numba).

Import this module only after ``backtester._numba.ensure_numba_cache()`` (``evaluate`` does).
Combinations run in blocks of ``BLOCK`` in parallel (``prange`` over blocks; a combination's numbers do
not depend on its block or thread), from their factor-form weights (``factors.py``) on the window arrays
of ``inputs.window_arrays``, in two phases per block: ``_trades`` visits, per combination, only the rows
where a rebalance can trigger (steps 1-6) and records each rebalance's CASH and units; ``_value_block``
then values all the block's combinations (lanes) together (step 7) and accumulates the metrics: the
loops run over the lanes and compile to SIMD code, ``DAYS`` days per pass over the lanes, so a lane's
metric sums stay in registers meanwhile (per lane the updates still run day by day, in order: the
numbers do not depend on ``BLOCK`` or ``DAYS``). Nothing per combination outlives its block but one row
of metrics, its held-time counts and its per-block excess-return sums. The valuation is compiled with
numpy's error model (a division by zero gives inf/NaN instead of raising; no divisor here is ever 0),
which lets its loops be vectorized. The code follows ``engine.py`` step by step:

* steps 1-5 as ``engine.plan``: weight checks per decision row (any weight < -1e-12 or a row sum above
  1 + 1e-9 makes the combination *invalid*: ``engine.plan`` would raise), clipping and the division of
  sums in (1, 1 + 1e-9], the volatility scale (the 60-return sample std of the target mix, here as
  ``w' Cov w`` with the window's covariance of asset returns), the lag, the fallback of unlisted assets,
  the schedule (change+monthly / change / monthly / weekly / band, pending until every asset to trade has a
  fresh close);
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

from ...constants import PERIODS, VOL_WINDOW

REL_TOL = 1e-9
ABS_TOL = 1e-12
CAPITAL = 1e6
SUM_TOL = 1e-9
NEG_TOL = 1e-12
CHANGE_TOL = 1e-12
HELD_TOL = 1e-9
BLOCK = 64  # combinations per block (lanes of the valuation loops, which compile to SIMD code)
STRIDE = BLOCK + 8  # lane-array row length: rows 4 KiB apart would alias in the store buffer
DAYS = 8  # days valued per pass over the lanes (the metric sums stay in registers meanwhile)

# rebalance modes
CHANGE, MONTHLY, WEEKLY, BAND, CHANGE_MONTHLY = 0, 1, 2, 3, 4
# metric columns of the output
(
    M_TOTAL, M_CAGR, M_VOL, M_SHARPE, M_SORTINO, M_MDD, M_CALMAR, M_TURN_TOTAL, M_TURN, M_COSTS, M_COSTS_ANNUAL,
    M_SR, M_SKEW, M_KURT, M_REBALANCES,
) = range(15)  # fmt: skip
N_METRICS = 15
# status codes (OVERFLOW: internal, the trade buffers were too small)
OK, INVALID_SUM, INVALID_NEG, OVERFLOW = 0, 1, 2, 3
# rows of the valuation state (one row of STRIDE lanes each), then DAYS rows of the day's values
(
    S_PREV, S_SR, S_SR2, S_SE, S_SE2, S_SE3, S_SE4, S_DOWN, S_EQUITY, S_PEAK, S_MDD, S_S1, S_S2,
) = range(13)  # fmt: skip
S_VALUE = 13


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
    band, cov, vol_target, fallback, fees, slip, tr_t, tr_cash, tr_pos, raw, R, Rprev, W, last, pos, ov, seq, drift,
):  # fmt: skip
    """Steps 1-6 for combination c: the rebalances, each as (run row, CASH and units after trading) in row b
    of the trade buffers. Returns (status, number of trades, sum of daily costs, turnover). Only the rows
    where something can happen are visited: a feature change of its pattern, a listing change, a new
    month / week, and every row while a rebalance is pending (every row with a band or a vol target).
    ``raw`` .. ``drift``: scratch arrays (n or n + 1), reused from one combination to the next."""
    T, n = close.shape
    Tw = features.shape[2]
    p = pattern[c]
    load = loadings[c]
    raw[:] = 0.0
    # the rows decided but never filled (the last `lag`) are checked too, as engine.plan does; a row whose
    # features equal the previous row's has the same weights, so only rows where they change are computed
    for d in range(T, Tw):
        if fchg[p, d]:
            st = _raw_row(features, p, load, d, raw)
            if st != OK:
                return st, 0, 0.0, 0.0
    R[:] = 0.0
    Rprev[:] = 0.0
    W[:] = 0.0
    last[:] = 0.0
    last[n] = 1.0
    pos[:] = 0.0
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
            if not trig and mode == CHANGE_MONTHLY:  # also the first session of each month
                trig = key[t] != key[t - 1]
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
            if ntr > 0:  # the opening trade is not turnover (metrics.compute)
                turnover += bought / pre
            if ntr == tr_cash.shape[1]:  # more rebalances than the buffers hold: the caller retries
                return OVERFLOW, 0, 0.0, 0.0
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


@njit(cache=True, error_model="numpy")
def _sums(st, gs, cr, one):
    """The metric sums of every lane over DAYS consecutive days, or over one day if ``one`` (values in
    rows S_VALUE + d of ``st``; ``gs``/``cr``: the days' CASH growth / CAPITAL and CASH returns). The loop
    runs over the lanes (SIMD code) and keeps a lane's sums in registers across the days."""
    if one:
        for b in range(BLOCK):
            _lane(st, gs, cr, b, 1)
    else:
        for b in range(BLOCK):
            _lane(st, gs, cr, b, DAYS)


@njit(cache=True, error_model="numpy", inline="always")
def _lane(st, gs, cr, b, days):
    """``days`` days of the metric sums of lane b (its sums loaded once, updated day by day, stored once)."""
    prev = st[S_PREV * STRIDE + b]
    sr = st[S_SR * STRIDE + b]
    sr2 = st[S_SR2 * STRIDE + b]
    se = st[S_SE * STRIDE + b]
    se2 = st[S_SE2 * STRIDE + b]
    se3 = st[S_SE3 * STRIDE + b]
    se4 = st[S_SE4 * STRIDE + b]
    down = st[S_DOWN * STRIDE + b]
    equity = st[S_EQUITY * STRIDE + b]
    peak = st[S_PEAK * STRIDE + b]
    mdd = st[S_MDD * STRIDE + b]
    s1 = st[S_S1 * STRIDE + b]
    s2 = st[S_S2 * STRIDE + b]
    for d in range(days):
        # in the order of metrics.from_arrays. Power sums: float64 sums of ~3,000 daily returns whose mean
        # is far below their standard deviation lose ~1e-14 relative (the two-pass std is not needed)
        eq = st[(S_VALUE + d) * STRIDE + b] * gs[d]
        r = eq / prev - 1.0
        prev = eq
        e = r - cr[d]
        sr += r
        sr2 += r * r
        e2 = e * e
        se += e
        se2 += e2
        se3 += e2 * e
        se4 += e2 * e2
        neg = 0.0 if 0.0 < e else e  # min(e, 0.0)
        down += neg * neg
        q = equity * (1.0 + r)
        equity = q
        peak = q if q > peak else peak
        dd = q / peak - 1.0
        mdd = dd if dd < mdd else mdd
        s1 += e
        s2 += e2
    st[S_PREV * STRIDE + b] = prev
    st[S_SR * STRIDE + b] = sr
    st[S_SR2 * STRIDE + b] = sr2
    st[S_SE * STRIDE + b] = se
    st[S_SE2 * STRIDE + b] = se2
    st[S_SE3 * STRIDE + b] = se3
    st[S_SE4 * STRIDE + b] = se4
    st[S_DOWN * STRIDE + b] = down
    st[S_EQUITY * STRIDE + b] = equity
    st[S_PEAK * STRIDE + b] = peak
    st[S_MDD * STRIDE + b] = mdd
    st[S_S1 * STRIDE + b] = s1
    st[S_S2 * STRIDE + b] = s2


@njit(cache=True, error_model="numpy")
def _value_block(lo, m, close_num, gscale, cret, edges, tr_t, tr_cash, tr_pos, status, out, tim, blocks):
    """Step 7 and the metrics of lanes 0 .. m-1 (combinations lo ..) from their rebalances (``tr_*``),
    all lanes together, DAYS days per pass (single days up to a PBO block edge)."""
    T, n = close_num.shape
    nb = edges.shape[0] - 1
    st = np.zeros((S_VALUE + DAYS) * STRIDE)
    for b in range(BLOCK):
        st[S_PREV * STRIDE + b] = 1.0
        st[S_EQUITY * STRIDE + b] = 1.0
        st[S_PEAK * STRIDE + b] = 1.0
        st[S_MDD * STRIDE + b] = np.inf
    cash = np.full(STRIDE, CAPITAL)
    pos = np.zeros((n, STRIDE))
    held = np.zeros((n, STRIDE))
    ptr = np.zeros(BLOCK, dtype=np.int64)
    nxt = np.full(BLOCK, T, dtype=np.int64)
    for b in range(m):
        nxt[b] = tr_t[b, 0]
    nev = T  # the next row where some lane rebalances
    for b in range(m):
        nev = min(nev, nxt[b])
    gs = np.empty(DAYS)
    cr = np.empty(DAYS)
    bk = 0
    edge = edges[1] if nb > 0 else T
    t = 0
    while t < T:
        days = DAYS if t + DAYS <= edge else 1
        for d in range(days):
            td = t + d
            if td == nev:  # rebalances: CASH and units after the day's trades
                nev = T
                for b in range(m):
                    if nxt[b] == td:
                        q = ptr[b]
                        cash[b] = tr_cash[b, q]
                        for i in range(n):
                            pos[i, b] = tr_pos[b, q, i]
                        ptr[b] = q + 1
                        nxt[b] = tr_t[b, q + 1]
                    nev = min(nev, nxt[b])
            # step 7: the value of every lane (CASH units) and the held-day counts
            row = (S_VALUE + d) * STRIDE
            for b in range(BLOCK):
                st[row + b] = cash[b]
            for i in range(n):
                ci = close_num[td, i]
                for b in range(BLOCK):
                    st[row + b] += pos[i, b] * ci
            for i in range(n):
                ci = close_num[td, i]
                for b in range(BLOCK):
                    held[i, b] += 1.0 if pos[i, b] * ci > HELD_TOL * st[row + b] else 0.0
            gs[d] = gscale[td]
            cr[d] = cret[td]
        _sums(st, gs, cr, days == 1)
        t += days
        if nb > 0 and t == edge:
            for b in range(m):
                blocks[lo + b, bk, 0] = st[S_S1 * STRIDE + b]
                blocks[lo + b, bk, 1] = st[S_S2 * STRIDE + b]
            for b in range(BLOCK):
                st[S_S1 * STRIDE + b] = 0.0
                st[S_S2 * STRIDE + b] = 0.0
            bk += 1
            edge = edges[bk + 1] if bk < nb else T
    for b in range(m):
        if status[lo + b] == OK:
            _finish(
                out[lo + b], T, st[S_SR * STRIDE + b], st[S_SR2 * STRIDE + b], st[S_SE * STRIDE + b],
                st[S_SE2 * STRIDE + b], st[S_SE3 * STRIDE + b], st[S_SE4 * STRIDE + b], st[S_DOWN * STRIDE + b],
                st[S_EQUITY * STRIDE + b], st[S_MDD * STRIDE + b],
            )  # fmt: skip
            for i in range(n):
                tim[lo + b, i] = held[i, b] / T


@njit(cache=True)
def _rebalances(
    lo, m, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, key, mode,
    band, cov, vol_target, fallback, fees, slip, out, status, tr_t, tr_cash, tr_pos,
):  # fmt: skip
    """``_trades`` of combinations lo .. lo+m-1 into rows 0 .. m-1 of the trade buffers; False if a buffer
    was too small."""
    T, n = close.shape
    raw = np.zeros(n)
    R = np.zeros(n)
    Rprev = np.zeros(n)
    W = np.zeros(n + 1)
    last = np.zeros(n + 1)
    pos = np.zeros(n)
    ov = np.empty(n)
    seq = np.empty(n, dtype=np.int64)
    drift = np.empty(n + 1)
    for b in range(m):
        st, nt, cst, turn = _trades(
            lo + b, b, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx,
            cashx, key, mode, band, cov, vol_target, fallback, fees, slip, tr_t, tr_cash, tr_pos, raw, R, Rprev, W,
            last, pos, ov, seq, drift,
        )  # fmt: skip
        if st == OVERFLOW:
            return False
        status[lo + b] = st
        nt = nt if st == OK else 0
        tr_t[b, nt] = T  # sentinel
        out[lo + b, M_COSTS] = cst
        out[lo + b, M_TURN_TOTAL] = turn
        out[lo + b, M_REBALANCES] = nt
    return True


VALUE_METRICS, VALUE_EXCESS = 0, 1  # what ``run_blocks`` does with each block's trades


@njit(parallel=True, cache=True)
def run_blocks(
    value, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, gscale,
    series, key, mode, band, cov, vol_target, fallback, fees, slip, edges, out, tim, blocks, ld, status, parts,
    cap_limit,
):  # fmt: skip
    """The block dispatch of ``run_chunk`` and ``spa_kernel.excess_chunk``: combinations ``0 .. len(pattern)-1``
    in blocks of BLOCK, dealt round-robin to ``parts`` parallel workers (e.g. the number of threads), each with
    its own trade buffers; per block, the rebalances of each combination (``block_trades``), then ``value``:
    ``VALUE_METRICS``, the valuation and the metrics of all of them together (``_value_block``, ``series`` =
    the cash returns; into ``out``, ``tim``, ``blocks``), or ``VALUE_EXCESS``, their daily returns minus
    ``series`` (``_excess_block``, into ``ld``). A combination's numbers do not depend on its block or worker."""
    C = pattern.shape[0]
    T, n = close.shape
    nblk = (C + BLOCK - 1) // BLOCK
    cap = trade_cap(ev_ptr, T, mode, vol_target, cap_limit)
    parts = max(1, min(parts, nblk))
    for w in prange(parts):
        tr_t = np.empty((BLOCK, cap + 1), dtype=np.int64)
        tr_cash = np.empty((BLOCK, cap))
        tr_pos = np.empty((BLOCK, cap, n))
        for k in range(w, nblk, parts):
            lo = k * BLOCK
            m = min(C, lo + BLOCK) - lo
            bt, bc, bp = block_trades(
                lo, m, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx,
                cashx, key, mode, band, cov, vol_target, fallback, fees, slip, out, status, tr_t, tr_cash, tr_pos,
            )  # fmt: skip
            if value == VALUE_METRICS:
                _value_block(lo, m, close_num, gscale, series, edges, bt, bc, bp, status, out, tim, blocks)
            else:
                _excess_block(lo, m, close_num, gscale, series, bt, bc, bp, ld)


@njit(cache=True)
def run_chunk(
    features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, gscale, cret,
    key, mode, band, cov, vol_target, fallback, fees, slip, edges, out, tim, blocks, status, parts, cap_limit,
):  # fmt: skip
    """Evaluate combinations ``0 .. len(pattern)-1`` (rows of the output arrays), in blocks of BLOCK: per
    block, the rebalances of each combination (``_trades``), then the valuation and the metrics of all of
    them together (``_value_block``), blocks dealt to ``parts`` parallel workers (``run_blocks``).

    ``fchg[p, d]``: the features of pattern p differ from the previous row's at decision row d (True at
    d = 0); ``lchg[t]``: the listing of some asset changes at run row t; ``ev_ptr``/``ev_idx``: per
    pattern, the sorted run rows where a rebalance may trigger (CSR); ``cap_limit`` > 0 caps the trade
    buffers (tests: the fallback for buffers too small)."""
    run_blocks(
        VALUE_METRICS, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx,
        gscale, cret, key, mode, band, cov, vol_target, fallback, fees, slip, edges, out, tim, blocks,
        np.empty((0, 0)), status, parts, cap_limit,
    )  # fmt: skip


@njit(cache=True)
def _excess_block(lo, m, close_num, gscale, ref, tr_t, tr_cash, tr_pos, ld):
    """Rows lo .. lo+m-1 of ``ld``: each combination's daily return (step 7, as ``_value_block`` values it)
    minus the reference's return that day."""
    T, n = close_num.shape
    pos = np.zeros(n)
    for b in range(m):
        cash = CAPITAL
        pos[:] = 0.0
        q = 0
        prev = 1.0
        row = ld[lo + b]
        for t in range(T):
            if tr_t[b, q] == t:  # CASH and units after the day's trades
                cash = tr_cash[b, q]
                for i in range(n):
                    pos[i] = tr_pos[b, q, i]
                q += 1
            v = cash
            for i in range(n):
                v += pos[i] * close_num[t, i]
            eq = v * gscale[t]
            row[t] = (eq / prev - 1.0) - ref[t]
            prev = eq


@njit(cache=True)
def trade_cap(ev_ptr, T, mode, vol_target, cap_limit):
    """Rows of the trade buffers: at most one rebalance per row where one may trigger (a pending one fills
    before the next trigger) when only those rows are visited; any row otherwise (``cap_limit`` > 0 caps it:
    tests of the fallback)."""
    cap = T
    if np.isnan(vol_target) and mode != BAND:
        most = 0
        for p in range(ev_ptr.shape[0] - 1):
            most = max(most, ev_ptr[p + 1] - ev_ptr[p])
        cap = min(T, most + 1)
    if cap_limit > 0:
        cap = min(cap, cap_limit)
    return cap


@njit(cache=True)
def block_trades(
    lo, m, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, key, mode,
    band, cov, vol_target, fallback, fees, slip, out, status, tr_t, tr_cash, tr_pos,
):  # fmt: skip
    """``_rebalances`` of one block into the given trade buffers, or (never expected: ``trade_cap`` bounds
    the rebalances) into new buffers with a row for every day; returns the buffers that hold them."""
    ok = _rebalances(
        lo, m, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, key,
        mode, band, cov, vol_target, fallback, fees, slip, out, status, tr_t, tr_cash, tr_pos,
    )  # fmt: skip
    if ok:
        return tr_t, tr_cash, tr_pos
    T, n = close.shape
    big_t = np.empty((BLOCK, T + 1), dtype=np.int64)
    big_cash = np.empty((BLOCK, T))
    big_pos = np.empty((BLOCK, T, n))
    _rebalances(
        lo, m, features, fchg, pattern, loadings, close, close_num, fresh, listed, lchg, ev_ptr, ev_idx, cashx, key,
        mode, band, cov, vol_target, fallback, fees, slip, out, status, big_t, big_cash, big_pos,
    )  # fmt: skip
    return big_t, big_cash, big_pos


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
