"""The one metrics module: CLI, tearsheet and sweeps all report these numbers, with these formulas.

Daily returns on decision dates (NYSE sessions), 252 periods a year; n = number of returns (the run's
first session included: its return is the cost of the first trade).

* ``total_return`` = prod(1 + r) - 1
* ``cagr`` = (1 + total_return) ** (252 / n) - 1 (years counted in periods, n / 252; -1 if wiped out)
* ``volatility`` = std(r, ddof=1) * sqrt(252)
* excess returns e = r - c, with c the CASH (DFF actual/360) return of the same session
* ``sharpe`` = mean(e) / std(e, ddof=1) * sqrt(252)
* ``sortino`` = mean(e) / sqrt(mean(min(e, 0)^2)) * sqrt(252) (downside deviation over all periods)
* ``max_drawdown`` = min over t of equity_t / max(1, equity_0..t) - 1 (<= 0; the initial capital 1
  counts as a peak), equity = cumprod(1 + r)
* ``calmar`` = cagr / |max_drawdown|
* ``turnover`` = one-way turnover a year: the sum of buys (as fractions of the pre-trade equity)
  after the opening trade (the first rebalance, which invests the capital: buy-and-hold has turnover
  0) divided by the years n / 252; ``turnover_total`` is the undivided sum
* ``costs`` = sum of the daily costs (fractions of the pre-trade equity; the opening trade's included),
  ``costs_annual`` = costs / years; ``opening_cost`` = the cost of the opening trade alone
* ``time_in_market`` = per asset (not CASH), the share of sessions with a held weight > 1e-9
* ``days`` = n, ``years`` = n / 252, ``start`` / ``end`` (ISO dates)

Undefined values (zero variance, no drawdown, too few returns) are NaN; callers turn NaN into None.
:func:`from_arrays` holds the return-based formulas on plain numpy arrays (no pandas, no numba) so a
sweep kernel can reuse them exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .constants import CASH, PERIODS

HELD_TOL = 1e-9
NAN = float("nan")


def from_arrays(ret: np.ndarray, cash_ret: np.ndarray) -> dict:
    """Return-based metrics of one run: plain floats (NaN where undefined)."""
    r = np.asarray(ret, dtype=float)
    c = np.asarray(cash_ret, dtype=float)
    if r.shape != c.shape or r.ndim != 1:
        raise ValueError(f"returns and cash returns must be 1-d of the same length, got {r.shape} and {c.shape}")
    n = r.shape[0]
    out = {
        "total_return": NAN, "cagr": NAN, "volatility": NAN, "sharpe": NAN, "sortino": NAN,
        "max_drawdown": NAN, "calmar": NAN, "days": int(n), "years": n / PERIODS,
    }  # fmt: skip
    if n == 0:
        return out
    equity = np.cumprod(1.0 + r)
    total = float(equity[-1] - 1.0)
    growth = 1.0 + total
    cagr = float(growth ** (PERIODS / n) - 1.0) if growth > 0 else -1.0
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    mdd = float(np.min(equity / peak - 1.0))
    out.update(total_return=total, cagr=cagr, max_drawdown=mdd)
    out["calmar"] = cagr / abs(mdd) if mdd < 0 else NAN
    e = r - c
    root = math.sqrt(PERIODS)
    if n >= 2:
        out["volatility"] = float(np.std(r, ddof=1) * root)
        sd = float(np.std(e, ddof=1))
        out["sharpe"] = float(np.mean(e) / sd * root) if sd > 0 else NAN
    down = float(np.sqrt(np.mean(np.minimum(e, 0.0) ** 2)))
    out["sortino"] = float(np.mean(e) / down * root) if down > 0 else NAN
    return out


def compute(
    returns: pd.Series,
    cash_returns: pd.Series,
    *,
    weights: pd.DataFrame | None = None,
    trades: pd.DataFrame | None = None,
    costs: pd.Series | None = None,
    opening=None,
) -> dict:
    """All metrics of one run (see the module doc). ``cash_returns`` must cover every return date;
    ``opening``: the date of the opening trade (default: the first date with a trade)."""
    ret = pd.Series(returns, dtype=float)
    if ret.isna().any():
        raise ValueError("returns contain NaN")
    cash = pd.Series(cash_returns, dtype=float).reindex(ret.index)
    if cash.isna().any():
        raise ValueError("cash returns do not cover every return date")
    out = from_arrays(ret.to_numpy(), cash.to_numpy())
    years = out["years"]
    out["start"] = pd.Timestamp(ret.index[0]).date().isoformat() if len(ret) else None
    out["end"] = pd.Timestamp(ret.index[-1]).date().isoformat() if len(ret) else None

    if opening is None and trades is not None and len(trades):
        opening = pd.Timestamp(pd.to_datetime(trades["date"]).min())
    if trades is not None:
        size = pd.to_numeric(trades["size"], errors="coerce").fillna(0.0) if len(trades) else pd.Series([], dtype=float)
        if len(trades) and opening is not None:
            size = size[(pd.to_datetime(trades["date"]) != pd.Timestamp(opening)).to_numpy()]
        buys = float(size[size > 0].sum())
        out["turnover_total"] = buys
        out["turnover"] = buys / years if years > 0 else NAN
    else:
        out["turnover_total"] = out["turnover"] = NAN
    if costs is not None:
        total_cost = float(pd.Series(costs, dtype=float).reindex(ret.index).fillna(0.0).sum())
        out["costs"] = total_cost
        out["costs_annual"] = total_cost / years if years > 0 else NAN
        c = pd.Series(costs, dtype=float)
        out["opening_cost"] = float(c.get(pd.Timestamp(opening), 0.0)) if opening is not None else 0.0
    else:
        out["costs"] = out["costs_annual"] = out["opening_cost"] = NAN
    if weights is not None:
        w = weights.reindex(ret.index)
        out["time_in_market"] = {
            str(a): float((w[a].fillna(0.0) > HELD_TOL).mean()) if len(w) else NAN for a in w.columns if a != CASH
        }
    else:
        out["time_in_market"] = {}
    return out
