"""The portfolio engine: target weights on decision dates -> a long-only portfolio on real closes.

``backtest(weights, prices, ...)`` is :func:`plan` (validation, lag, fallback, volatility targeting,
rebalancing schedule: plain numpy, no vectorbt) followed by a vectorbt simulation
(``Portfolio.from_orders``, target-percent orders, one cash-sharing group, sells before buys). The
semantics below are exact: the sweep kernel (issue 6) reuses :func:`plan` and mirrors step 6.

Inputs
------
``prices``: index = consecutive NYSE sessions (decision dates), one column per holdable asset, plus
``CASH`` (the cash index, :func:`backtester.data.market.cash_index`; no gaps). NaN = no fresh close that
session. ``weights``: targets decided at the 16:00 ET close of each date (point in time is the caller's
job), one column per asset; ``CASH`` is always ``1 - sum`` (a ``CASH`` column is ignored). A row that is
all NaN is "no new decision" (the previous target stands); NaN next to numbers is 0. Weights are taken
"as of" each session (a decision dated before the first price date is in force at the start).

1. Checks (UsageError): assets holdable (``GC_F`` is not), weights finite, >= 0 (down to -1e-12,
   clipped), row sums <= 1 + 1e-9 (a sum in (1, 1+1e-9] is divided by itself), ``exec_lag`` an int >= 1,
   costs >= 0 (and < 10000 bp), ``rebalance`` in change+monthly|change|monthly|weekly|band, 0 < band <= 1,
   vol_target > 0, fallback = CASH or an asset column of ``prices``.
2. Volatility targeting (optional), at decision date d: scale k_d = min(1, vol_target / sigma_d), where
   sigma_d = sample std (ddof=1) * sqrt(252) of the 60 daily returns of the target mix up to d:
   sum_i w_i(d) r_i(s) for the 60 sessions s <= d, w = the (raw) target of d, r_i from closes carried
   over gaps, r_i = 0 where the asset has no price yet. Only what is known at the 16:00 ET close of d
   is used: an asset whose close dated d comes later (``market.LATE_CLOSE``: BTC-USD, whose bar closes
   00:00 UTC) enters with its return series lagged one session (r_i(s) is its return of session s-1),
   so its close of d never moves the scale of d. With fewer than 60 returns of history in
   ``prices`` (or sigma_d = 0), k_d = 1. The non-CASH weights are multiplied by k_d; the rest is CASH.
3. Lag: the target decided at session j fills at session j + exec_lag (the close). The run starts at
   the first fill session t0 (equity 1 before trading at t0) and ends at the last price date.
4. Availability: an asset is *listed* on t once it has had a close on or before t. A target weight on an
   unlisted asset goes to ``fallback`` (to CASH if the fallback is unlisted too); the result counts
   those dates per asset. This gives the effective target R_t; the traded target is W_t = k R_t
   (non-CASH weights scaled by the lagged k, CASH = 1 - sum).
5. Schedule: a rebalance is *triggered* on t0 and then --
   ``change+monthly`` (the default): as ``change``, and also on the first run session of each calendar
   month (the drifted portfolio is brought back to W_t: a fixed mix stays near its targets);
   ``change``: when R_t differs from R_{t-1} (any |diff| > 1e-12; a move of the vol scale alone does
   not trigger: W_t is re-scaled when a rebalance happens; in ``band`` mode the band compares with W_t);
   ``monthly`` / ``weekly``: on the first run session of each calendar month / ISO week (schedule only:
   a target change in between waits for the next scheduled date);
   ``band``: when R changes, or when any weight (CASH included) of the drifted portfolio differs from
   W_t by more than ``band``; the drifted portfolio is the last executed W carried by price relatives
   (carried closes, CASH index) since that rebalance -- costs ignored, so it is computable in advance.
   A triggered rebalance stays *pending* until a session where every asset to trade (W_t > 0 or > 0 in
   the last executed W) has a fresh close; it then executes to that session's W_t (a held asset's
   missing close, e.g. LBMA on a UK holiday, is carried for valuation only, never traded on).
6. Execution at the close of a rebalance session t (vectorbt ``from_orders``; P = USD closes):
   V = CASH value + sum_i n_i P_i (before trading). Each asset with a fresh close gets the order
   q_i = W_i V / P_i - n_i units. Orders run in ascending order of q_i P_i (sells first, the largest
   sale first; ties in column order). A sell fills at P(1 - s) and pays the fee f * |q| P (1 - s); a buy
   fills at P(1 + s) and pays f * q P (1 + s), both out of/into CASH. A buy that CASH cannot pay is cut
   to q = CASH / (P (1 + s)(1 + f)) (CASH ends at 0; the cut falls on the last, i.e. largest, buy):
   this happens only when W_CASH * V is below the trading costs. Hence all costs come out of CASH
   (CASH after = W_CASH V - costs) unless there is too little CASH (e.g. a 100% risky target).
   vectorbt's closeness rules apply at 1e-9 relative (a buy within 1e-9 of CASH fills in full, CASH
   within 1e-9 of the amount spent becomes 0) and at 1e-12 absolute on an initial capital of 1e6 (an
   order under 1e-12 units is ignored); ``min_size`` is 0 (vectorbt's default of 1e-8 units is off).
   Cost of a trade = fee + slippage |q| P s; ``costs`` = their sum / V (a fraction of the pre-trade
   equity), so equity after = V (1 - costs).
7. CASH: vectorbt runs in CASH units (every close divided by the CASH index growth since t0), so
   vectorbt's cash *is* the CASH position and earns the overnight rate exactly like an asset priced by
   the cash index; there is no unaccounted residual. Values are converted back to USD, with the
   initial capital = 1.

Outputs (``BacktestResult``): ``returns`` on run sessions (returns[t0] = equity after the first trade
- 1 = -costs of the first trade), ``equity`` (after trading at each close), ``weights`` held (incl.
CASH), ``target`` (W_t incl. CASH), ``rebalanced`` (bool), ``trades`` (date, asset, side, units, size =
signed weight change q P / V, value = |q| x fill price, price = fill price, fees, slippage, cost; money
in units of the initial capital), ``costs``, ``cash_returns`` (CASH index returns, 0 at t0),
``notes``, ``unavailable_days`` and ``unavailable_share`` (share of run sessions on which some target
weight went to the fallback).

Cost defaults by asset class (``COST_CLASSES``, bp per side of the traded value): ETF/equity (GLD, SPY,
QQQ, TLT, IEF, SLV, UUP, BIL, SGOV, the user's NYSE prices) fees 1 + slippage 2; crypto (BTC-USD,
ETH-USD, the user's crypto prices) 10 + 10; other (LBMA_GOLD, a fixing: the proxy's "spread"; an id
the engine cannot classify) 5 + 5; CASH 0 + 0. A single number for
``fees_bp`` / ``slippage_bp`` replaces the default of every non-CASH asset; a dict overrides the
assets it names.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .constants import CASH, DEFAULT_REBALANCE, PERIODS, REBALANCE, VOL_WINDOW
from .data import catalog
from .data.market import LATE_CLOSE, check_holdable
from .errors import DataError, UsageError

# (fee, slippage) bp per side by asset class; a built-in's class is in the catalog, a user price's follows
# its calendar (nyse: equity, crypto: crypto; see backtester.costs); an id the engine cannot classify: other
COST_CLASSES: dict[str, tuple[float, float]] = {"equity": (1.0, 2.0), "crypto": (10.0, 10.0), "other": (5.0, 5.0)}
FEES_BP: dict[str, float] = {
    **{a: COST_CLASSES[s.asset_class][0] for a, s in catalog.CATALOG.items() if s.holdable},
    CASH: 0.0,
}
SLIPPAGE_BP: dict[str, float] = {
    **{a: COST_CLASSES[s.asset_class][1] for a, s in catalog.CATALOG.items() if s.holdable},
    CASH: 0.0,
}
__all__ = ["ExecOptions", "BacktestResult", "Plan", "backtest", "plan", "costs_bp", "resolve_costs",
           "FEES_BP", "SLIPPAGE_BP", "REBALANCE", "PERIODS", "VOL_WINDOW", "CASH"]  # fmt: skip
SUM_TOL = 1e-9
NEG_TOL = 1e-12
CHANGE_TOL = 1e-12
VBT_CAPITAL = 1e6  # vectorbt's initial cash (CASH units); its absolute tolerance 1e-12 is then negligible


@dataclass
class Plan:
    """Everything decided before simulating: the sweep kernel simulates step 6 of the module doc on it."""

    dates: pd.DatetimeIndex  # run sessions, t0 .. last price date
    assets: list[str]  # non-CASH columns, in the order of ``prices``
    close: np.ndarray  # (T, n) USD closes for valuation: carried over gaps (placeholder before listing)
    fresh: np.ndarray  # (T, n) bool: a close dated that session exists (tradable)
    cash: np.ndarray  # (T,) CASH index
    target: np.ndarray  # (T, n + 1) W_t, CASH last
    trade: np.ndarray  # (T,) bool: rebalance executes at this close
    orders: np.ndarray  # (T, n) target-percent order per asset (NaN = no order)
    fees: np.ndarray  # (n,) fraction of the traded value
    slippage: np.ndarray  # (n,) fraction of the close
    scale: np.ndarray  # (T,) vol-target scale applied to W_t (1 without vol targeting)
    unavailable: np.ndarray  # (T, n) bool: target weight went to the fallback
    deferred_days: int = 0  # sessions on which a triggered rebalance waited for fresh closes
    pending_at_end: bool = False
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


@dataclass
class BacktestResult:
    returns: pd.Series
    equity: pd.Series
    weights: pd.DataFrame
    target: pd.DataFrame
    trades: pd.DataFrame
    costs: pd.Series
    notes: list[str]
    unavailable_share: float
    cash_returns: pd.Series
    rebalanced: pd.Series
    unavailable_days: dict[str, int]
    params: dict

    def metrics(self) -> dict:
        from . import metrics

        done = self.rebalanced.to_numpy(bool)
        opening = self.rebalanced.index[int(done.argmax())] if done.any() else None
        return metrics.compute(
            self.returns, self.cash_returns, weights=self.weights, trades=self.trades, costs=self.costs,
            opening=opening,
        )  # fmt: skip


# ---------------------------------------------------------------- checks


def costs_bp(value, defaults: dict[str, float], assets: list[str], what: str) -> np.ndarray:
    """Per-asset basis points for ``assets`` (in that order): ``defaults``, overridden by ``value`` -- a single
    number for every non-CASH asset, or a dict naming assets. UsageError (naming ``what``) when a value is
    not a number in [0, 10000)."""
    chosen = dict(defaults)
    if value is None:
        pass
    elif isinstance(value, dict):
        for k, v in value.items():
            check_holdable([k], user_ok=True)
            chosen[str(k)] = v
    else:
        for k in chosen:
            if k != CASH:
                chosen[k] = value
        for a in assets:
            chosen[a] = value
    out = []
    for a in assets:
        try:
            v = float(chosen.get(a, COST_CLASSES["other"][0 if what.startswith("fees") else 1]))
        except (TypeError, ValueError):
            raise UsageError(
                f"{what} for {a} must be a number of basis points, got {chosen.get(a)!r}", param=what
            ) from None
        if not math.isfinite(v) or v < 0:
            raise UsageError(f"{what} for {a} is {v} bp", "give 0 or more basis points", param=what)
        if v >= 10_000:
            raise UsageError(f"{what} for {a} is {v} bp (100% or more)", "give basis points: 1 bp = 0.01%", param=what)
        out.append(v)
    return np.array(out, dtype=float)  # basis points


@dataclass(frozen=True)
class ExecOptions:
    """How target weights become trades: costs, execution lag, rebalancing rule, drift band, vol target.

    One validated value passed to :func:`plan` / :func:`backtest` and to the sweep kernel's inputs
    (``research.sweep.inputs.from_prices``); the module doc gives the exact semantics. Construction checks
    every field (UsageError naming the parameter, e.g. ``exec_lag``):

    * ``fees_bp`` / ``slippage_bp``: None = per-asset defaults (:data:`FEES_BP`, :data:`SLIPPAGE_BP`); a number
      = that many bp for every non-CASH asset; a dict = overrides for the assets it names. In [0, 10000).
    * ``exec_lag``: an int >= 1: a decision at a close fills that many sessions later.
    * ``rebalance``: one of :data:`backtester.constants.REBALANCE`; ``band``: in (0, 1], used by ``band``.
    * ``vol_target``: None, or an annualised volatility > 0 for the risky sleeve.
    """

    fees_bp: float | dict | None = None
    slippage_bp: float | dict | None = None
    exec_lag: int = 1
    rebalance: str = DEFAULT_REBALANCE
    band: float = 0.05
    vol_target: float | None = None

    def __post_init__(self):
        lag = self.exec_lag
        if isinstance(lag, bool) or not isinstance(lag, int | np.integer):
            raise UsageError(f"exec_lag {lag!r} is not a whole number", "give 1 or more sessions", param="exec_lag")
        if lag < 1:
            raise UsageError(
                f"exec_lag {lag} is below 1", "a decision at a close fills at a later close: use 1 or more",
                param="exec_lag",
            )  # fmt: skip
        object.__setattr__(self, "exec_lag", int(lag))
        if self.rebalance not in REBALANCE:
            raise UsageError(
                f"rebalance {self.rebalance!r} is unknown", f"use one of: {', '.join(REBALANCE)}", param="rebalance"
            )
        try:
            band = float(self.band)
        except (TypeError, ValueError):
            raise UsageError(
                f"band {self.band!r} is not a number", "e.g. 0.05 for 5 percentage points", param="band"
            ) from None
        if self.rebalance == "band" and not (0 < band <= 1):
            raise UsageError(f"band {band:g} is not in (0, 1]", "e.g. 0.05 for 5 percentage points", param="band")
        object.__setattr__(self, "band", band)
        vt = self.vol_target
        if vt is not None:
            try:
                vt = float(vt)
            except (TypeError, ValueError):
                raise UsageError(
                    f"vol_target {vt!r} is not a number", "an annualized volatility, e.g. 0.15", param="vol_target"
                ) from None
            if not (math.isfinite(vt) and vt > 0):
                raise UsageError(
                    f"vol_target {vt:g} is not above 0", "an annualized volatility, e.g. 0.15", param="vol_target"
                )
            object.__setattr__(self, "vol_target", vt)
        for name in ("fees_bp", "slippage_bp"):
            v = getattr(self, name)
            if isinstance(v, dict):
                v = {str(k): x for k, x in v.items()}
                costs_bp(v, {}, list(v), name)  # every asset named holdable, every number in range
                object.__setattr__(self, name, v)
            elif v is not None:
                try:
                    x = float(v)
                except (TypeError, ValueError):
                    raise UsageError(
                        f"{name} {v!r} is not a number", "give basis points: 1 bp = 0.01%", param=name
                    ) from None
                if not (math.isfinite(x) and 0 <= x < 10_000):
                    raise UsageError(f"{name} {x:g} is out of range", "give 0 to 10000 basis points", param=name)

    def for_mix(self) -> ExecOptions:
        """These options for a fixed mix (a benchmark): ``change`` becomes ``change+monthly``."""
        return dataclasses.replace(self, rebalance=mix_rebalance(self.rebalance))

    def costs(self, assets) -> tuple[np.ndarray, np.ndarray]:
        """(fees, slippage) per asset of ``assets``, in basis points. Together below 10000 bp: a cost that
        takes a whole trade (or more) is a usage error, not NaN returns later."""
        assets = list(assets)
        fees = costs_bp(self.fees_bp, FEES_BP, assets, "fees_bp")
        slip = costs_bp(self.slippage_bp, SLIPPAGE_BP, assets, "slippage_bp")
        whole = fees + slip >= 10_000
        if whole.any():
            i = int(np.argmax(whole))
            raise UsageError(
                f"fees_bp + slippage_bp for {assets[i]} are {fees[i] + slip[i]:g} bp: "
                "a trade would cost all of its value",
                "keep fees_bp + slippage_bp below 10000 (100%); 1 bp = 0.01%",
                param=("fees_bp", "slippage_bp"),
            )
        return fees, slip

    @property
    def band_used(self) -> float | None:
        """The drift band when the rule is ``band``, else None (for reports)."""
        return self.band if self.rebalance == "band" else None


def resolve_costs(assets, fees_bp=None, slippage_bp=None) -> tuple[dict[str, float], dict[str, float]]:
    """Per-asset (fees_bp, slippage_bp) actually used, for reports."""
    f, s = ExecOptions(fees_bp=fees_bp, slippage_bp=slippage_bp).costs(assets)
    return (
        {a: float(x) for a, x in zip(assets, f, strict=True)},
        {a: float(x) for a, x in zip(assets, s, strict=True)},
    )


def check_prices(prices) -> pd.DataFrame:
    """Step 1's checks of ``prices`` (UsageError / DataError); returns them as floats on a clean index."""
    from .data.calendar import nyse_sessions

    if not isinstance(prices, pd.DataFrame) or len(prices) == 0:
        raise UsageError("no prices to backtest on", "load them with market.load_prices")
    px = prices.copy()
    px.index = pd.DatetimeIndex(px.index).astype("datetime64[ns]")
    if px.index.has_duplicates:
        raise UsageError("prices have duplicate dates", "index prices by NYSE session, one row each")
    px = px.sort_index()
    px.columns = [str(c) for c in px.columns]
    if CASH not in px.columns:
        raise UsageError("prices have no CASH column", "add the cash index (market.cash_index of DFF)")
    sessions = nyse_sessions(px.index[0], px.index[-1])
    if len(sessions) != len(px.index) or not (sessions.values == px.index.values).all():
        raise UsageError(
            "prices must be indexed by consecutive NYSE sessions (decision dates)",
            "reindex onto calendar.nyse_sessions(start, end)",
        )
    check_holdable([c for c in px.columns if c != CASH], user_ok=True)
    px = px.apply(pd.to_numeric, errors="coerce").astype(float)
    vals = px.to_numpy()
    bad = ~np.isnan(vals) & ~(np.isfinite(vals) & (vals > 0))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"price of {px.columns[c]} on {px.index[r].date()} is {vals[r, c]}", "prices must be > 0")
    if px[CASH].isna().any():
        d = px.index[px[CASH].isna().to_numpy()][0]
        raise DataError(f"the CASH index is missing on {d.date()}", "build it with market.cash_index over all sessions")
    return px


def _check_weights(weights, assets: list[str], dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Targets in force at each session (as of), shape (T, n), NaN before the first decision; and the
    mask of sessions with a decision in force."""
    if isinstance(weights, pd.Series):
        weights = weights.to_frame()
    if not isinstance(weights, pd.DataFrame):
        raise UsageError("weights must be a DataFrame (dates x assets)")
    w = weights.copy()
    w.columns = [str(c) for c in w.columns]
    w = w.drop(columns=[CASH], errors="ignore")
    check_holdable(w.columns, user_ok=True)
    missing = [c for c in w.columns if c not in assets]
    if missing:
        raise UsageError(f"weights for {', '.join(missing)} but prices have no such column", "load their prices")
    w.index = pd.DatetimeIndex(w.index).astype("datetime64[ns]")
    if w.index.has_duplicates:
        raise UsageError("weights have duplicate dates", "one target row per decision date")
    w = w.sort_index().apply(pd.to_numeric, errors="coerce").astype(float)
    if w.shape[1]:
        w = w.dropna(how="all")
    w = w.fillna(0.0)
    vals = w.to_numpy()
    if not np.isfinite(vals).all():
        raise UsageError("weights contain infinite values", "targets are fractions of equity in [0, 1]")
    neg = vals < -NEG_TOL
    if neg.any():
        r, c = np.argwhere(neg)[0]
        raise UsageError(
            f"negative target weight {vals[r, c]:.6g} for {w.columns[c]} on {w.index[r].date()}",
            "long-only: weights must be >= 0",
        )
    vals = np.maximum(vals, 0.0)
    sums = vals.sum(axis=1)
    over = sums > 1.0 + SUM_TOL
    if over.any():
        r = int(np.argmax(over))
        raise UsageError(
            f"target weights sum to {sums[r]:.6g} on {w.index[r].date()}",
            "no leverage: weights must sum to at most 1 (the rest is CASH)",
        )
    vals = np.where((sums > 1.0)[:, None], vals / np.where(sums > 1.0, sums, 1.0)[:, None], vals)
    w = pd.DataFrame(vals, index=w.index, columns=w.columns).reindex(columns=assets, fill_value=0.0)
    w["__decided__"] = 1.0  # so that a frame without asset columns (all CASH) still has decisions
    asof = w.reindex(w.index.union(dates)).ffill().reindex(dates)
    decided = asof["__decided__"].notna().to_numpy()
    out = np.array(asof[assets].to_numpy(float), copy=True)
    out[~decided] = np.nan
    return out, decided


def known_returns(close_ff: np.ndarray, assets) -> np.ndarray:
    """(T, n) daily returns of carried closes as known at the 16:00 ET close of each session (step 2):
    0 on row 0 and where a price is missing; a ``LATE_CLOSE`` asset's column lagged one session."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = np.zeros_like(close_ff)
        rets[1:] = close_ff[1:] / close_ff[:-1] - 1.0
    rets = np.nan_to_num(rets, nan=0.0, posinf=0.0, neginf=0.0)
    for i, a in enumerate(assets):
        if a in LATE_CLOSE:
            rets[1:, i] = rets[:-1, i].copy()
            rets[0, i] = 0.0
    return rets


def _vol_scale(raw: np.ndarray, close_ff: np.ndarray, vol_target: float, assets) -> np.ndarray:
    T = raw.shape[0]
    k = np.ones(T)
    if T <= VOL_WINDOW:
        return k
    rets = known_returns(close_ff, assets)
    win = np.lib.stride_tricks.sliding_window_view(rets[1:], VOL_WINDOW, axis=0)  # (T-60, n, 60)
    w = np.nan_to_num(raw[VOL_WINDOW:], nan=0.0)
    mix = np.einsum("sn,snw->sw", w, win)
    vol = mix.std(axis=1, ddof=1) * math.sqrt(PERIODS)
    with np.errstate(divide="ignore"):
        k[VOL_WINDOW:] = np.where(vol > 0, np.minimum(1.0, vol_target / np.where(vol > 0, vol, 1.0)), 1.0)
    return k


def _schedule(R, W, fresh, close, cash, dates, rebalance: str, band: float):
    T, n = R.shape
    trade = np.zeros(T, dtype=bool)
    if rebalance in ("monthly", "change+monthly"):
        key = (dates.year * 12 + dates.month).to_numpy()
    elif rebalance == "weekly":
        iso = dates.isocalendar()
        key = iso["year"].to_numpy(int) * 100 + iso["week"].to_numpy(int)
    else:
        key = None
    scheduled_only = rebalance in ("monthly", "weekly")
    pending = False
    last = np.zeros(n + 1)
    last[n] = 1.0
    anchor = 0
    deferred = 0
    for t in range(T):
        if t == 0:
            trig = True
        elif scheduled_only:
            trig = bool(key[t] != key[t - 1])
        else:
            trig = bool(np.max(np.abs(R[t] - R[t - 1]), initial=0.0) > CHANGE_TOL)
            if not trig and key is not None:  # change+monthly: also the first session of a month
                trig = bool(key[t] != key[t - 1])
            if not trig and rebalance == "band":
                rel = np.ones(n + 1)
                held = last[:n] > 0
                rel[:n][held] = close[t, held] / close[anchor, held]
                rel[n] = cash[t] / cash[anchor]
                h = last * rel
                h = h / h.sum()
                trig = bool(np.max(np.abs(h - W[t])) > band)
        pending = pending or trig
        if pending:
            involved = (W[t, :n] > 0) | (last[:n] > 0)
            if fresh[t, involved].all():
                trade[t] = True
                pending = False
                last = W[t].copy()
                anchor = t
            else:
                deferred += 1
    return trade, deferred, pending


def mix_rebalance(rebalance: str) -> str:
    """The rule for a fixed mix (benchmarks, controls): never pure ``change``, which would let the mix
    drift forever (one trade in 24 years); ``change`` becomes ``change+monthly``."""
    return "change+monthly" if rebalance == "change" else rebalance


def check_fallback(fallback: str, assets: list[str]) -> str:
    """Step 1's check of the fallback: CASH or an asset with a price column (UsageError)."""
    fallback = str(fallback)
    check_holdable([fallback])
    if fallback != CASH and fallback not in assets:
        raise UsageError(f"fallback {fallback} has no prices", "use CASH or an asset with a price column")
    return fallback


def plan(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    options: ExecOptions | None = None,
    *,
    fallback: str = CASH,
) -> Plan:
    """Steps 1-5 of the module doc: validated arrays, traded targets and the rebalance schedule."""
    options = options if options is not None else ExecOptions()
    if not isinstance(options, ExecOptions):
        raise TypeError(f"options must be an ExecOptions, not {type(options).__name__}")
    exec_lag, rebalance, band, vol_target = options.exec_lag, options.rebalance, options.band, options.vol_target
    px = check_prices(prices)
    assets = [c for c in px.columns if c != CASH]
    fallback = check_fallback(fallback, assets)
    fees_bp_used, slip_bp_used = options.costs(assets)
    fees = fees_bp_used / 10_000.0
    slip = slip_bp_used / 10_000.0

    all_dates = pd.DatetimeIndex(px.index)
    raw, has = _check_weights(weights, assets, all_dates)
    close_all = px[assets].to_numpy(float)
    fresh_all = ~np.isnan(close_all)
    close_ff = px[assets].ffill().to_numpy(float)
    scale_all = _vol_scale(raw, close_ff, vol_target, assets) if vol_target is not None else np.ones(len(all_dates))

    if not has.any():
        raise UsageError(
            f"no target weights on or before {all_dates[-1].date()}", "give weights inside the price window"
        )
    first_dec = int(np.argmax(has))
    t0 = first_dec + exec_lag
    if t0 >= len(all_dates):
        raise UsageError(
            f"the first decision ({all_dates[first_dec].date()}) fills after the last price date "
            f"{all_dates[-1].date()}",
            "extend the prices or start the weights earlier",
        )
    T_all = len(all_dates)
    dates = all_dates[t0:]
    R = np.nan_to_num(raw[first_dec : T_all - exec_lag], nan=0.0)
    k = scale_all[first_dec : T_all - exec_lag]
    fresh = fresh_all[t0:]
    listed = np.maximum.accumulate(fresh_all, axis=0)[t0:]
    close = px[assets].ffill().bfill().fillna(1.0).to_numpy(float)[t0:]
    cash = px[CASH].to_numpy(float)[t0:]

    # step 4: availability -> fallback
    unavail = (R > 0) & ~listed
    moved = np.where(unavail, R, 0.0).sum(axis=1)
    R = np.where(unavail, 0.0, R)
    if fallback != CASH:
        fb = assets.index(fallback)
        R[:, fb] += np.where(listed[:, fb], moved, 0.0)
    n = len(assets)
    W = np.zeros((len(dates), n + 1))
    W[:, :n] = R * k[:, None]
    W[:, n] = np.maximum(0.0, 1.0 - W[:, :n].sum(axis=1))

    trade, deferred, pending = _schedule(R, W, fresh, close, cash, dates, rebalance, band)
    orders = np.full((len(dates), n), np.nan)
    orders[trade] = np.where(fresh[trade], W[trade, :n], np.nan)

    notes: list[str] = []
    for i, a in enumerate(assets):
        days = int(unavail[:, i].sum())
        if days:
            first = all_dates[fresh_all[:, i]]
            since = f"before {first[0].date()}" if len(first) else "in this window"
            dest = fallback if fallback != CASH else CASH
            notes.append(f"{a} had no price {since}: its weight went to {dest} on {days} fill dates")
    if fallback != CASH:
        fb_missing = int((unavail.any(axis=1) & ~listed[:, assets.index(fallback)]).sum())
        if fb_missing:
            notes.append(f"the fallback {fallback} had no price either on {fb_missing} fill dates: CASH instead")
    if deferred:
        notes.append(
            f"rebalances waited {deferred} sessions in all for an asset to trade to have a fresh close "
            "(a missing close is carried for valuation only, never traded on)"
        )
    if pending:
        notes.append("a triggered rebalance was still waiting for a fresh close at the end of the run")
    if vol_target is not None:
        k_run = k
        scaled = int((k_run < 1.0).sum())
        short = int((np.arange(first_dec, T_all - exec_lag) < VOL_WINDOW).sum())
        msg = f"vol target {vol_target:.1%}: the risky sleeve was scaled down on {scaled} of {len(k_run)} fill dates"
        if short:
            msg += f"; {short} fill dates had under {VOL_WINDOW} returns of history (no scaling)"
        notes.append(msg)

    params = {
        "exec_lag": exec_lag,
        "rebalance": rebalance,
        "band": band if rebalance == "band" else None,
        "vol_target": vol_target,
        "fallback": fallback,
        "fees_bp": {a: float(x) for a, x in zip(assets, fees_bp_used, strict=True)},
        "slippage_bp": {a: float(x) for a, x in zip(assets, slip_bp_used, strict=True)},
    }
    return Plan(
        dates=pd.DatetimeIndex(dates.values, name="date"),
        assets=assets,
        close=close,
        fresh=fresh,
        cash=cash,
        target=W,
        trade=trade,
        orders=orders,
        fees=fees,
        slippage=slip,
        scale=np.asarray(k, dtype=float),
        unavailable=unavail,
        deferred_days=deferred,
        pending_at_end=bool(pending),
        notes=notes,
        params=params,
    )


# ---------------------------------------------------------------- simulation


def _simulate_vbt(p: Plan) -> dict[str, np.ndarray]:
    """Step 6-7 on vectorbt, in CASH units. Returns value, cash, asset values and order records."""
    T, n = p.close.shape
    growth = p.cash / p.cash[0]
    if n == 0:
        empty = np.zeros(0, dtype=[("idx", "i8"), ("col", "i8"), ("size", "f8"), ("price", "f8"),
                                   ("fees", "f8"), ("side", "i8")])  # fmt: skip
        return {"value": np.ones(T), "cash": np.ones(T), "asset_value": np.zeros((T, 0)), "orders": empty}
    from ._numba import ensure_numba_cache

    ensure_numba_cache()
    import vectorbt as vbt

    close_num = pd.DataFrame(p.close / growth[:, None], index=p.dates, columns=p.assets)
    pf = vbt.Portfolio.from_orders(
        close=close_num,
        size=p.orders,
        size_type="targetpercent",
        direction="longonly",
        fees=p.fees[None, :],
        slippage=p.slippage[None, :],
        init_cash=VBT_CAPITAL,
        min_size=0.0,  # vectorbt's default (1e-8 units) would drop small rebalancing orders
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        freq="1D",
        engine="numba",
    )
    rec = pf.orders.values.copy()
    rec["size"] /= VBT_CAPITAL
    rec["fees"] /= VBT_CAPITAL
    return {
        "value": np.asarray(pf.value(), dtype=float).reshape(T) / VBT_CAPITAL,
        "cash": np.asarray(pf.cash(), dtype=float).reshape(T) / VBT_CAPITAL,
        "asset_value": np.asarray(pf.asset_value(group_by=False), dtype=float).reshape(T, n) / VBT_CAPITAL,
        "orders": rec,
    }


def backtest(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    options: ExecOptions | None = None,
    *,
    fallback: str = CASH,
) -> BacktestResult:
    """Backtest target ``weights`` on ``prices`` with ``options`` (default ``ExecOptions()``: per-asset costs,
    a lag of 1, rebalance on change); see the module doc for the exact semantics."""
    p = plan(weights, prices, options, fallback=fallback)
    sim = _simulate_vbt(p)
    return _result(p, sim)


def _result(p: Plan, sim: dict) -> BacktestResult:
    T, n = p.close.shape
    dates = p.dates
    growth = p.cash / p.cash[0]
    value = sim["value"]
    if not (np.isfinite(value).all() and (value > 0).all()):
        gone = int(np.argmax(~(np.isfinite(value) & (value > 0))))
        raise UsageError(
            f"the costs consumed the whole equity by {dates[gone].date()} (fees + slippage leave nothing to hold)",
            "lower --fees-bp / --slippage-bp, or trade less often (--rebalance monthly or band)",
        )
    rec = sim["orders"]
    idx = rec["idx"].astype(int)
    col = rec["col"].astype(int)
    units = rec["size"].astype(float)
    close_num = p.close / growth[:, None]
    slip_num = units * np.abs(rec["price"] - close_num[idx, col])
    cost_rec_num = rec["fees"] + slip_num
    cost_num = np.bincount(idx, weights=cost_rec_num, minlength=T) if len(rec) else np.zeros(T)
    pre_num = value + cost_num  # equity before trading at each close
    costs = cost_num / pre_num

    equity = value * growth
    prev = np.concatenate([[1.0], equity[:-1]])
    returns = equity / prev - 1.0
    cash_ret = np.concatenate([[0.0], growth[1:] / growth[:-1] - 1.0])
    held = np.column_stack([sim["asset_value"], sim["cash"]]) / value[:, None]
    cols = [*p.assets, CASH]

    sign = np.where(rec["side"] == 0, 1.0, -1.0)
    trades = pd.DataFrame(
        {
            "date": dates[idx],
            "asset": [p.assets[c] for c in col],
            "side": np.where(sign > 0, "buy", "sell"),
            "units": sign * units,
            "size": sign * units * close_num[idx, col] / pre_num[idx],
            "value": units * rec["price"] * growth[idx],
            "price": rec["price"] * growth[idx],
            "fees": rec["fees"] * growth[idx],
            "slippage": slip_num * growth[idx],
            "cost": cost_rec_num * growth[idx],
        }
    )
    trades = trades.sort_values(["date"], kind="stable").reset_index(drop=True)

    notes = list(p.notes)
    cut = p.trade & (p.target[:, n] * pre_num < cost_num * (1 - 1e-9)) & (cost_num > 0)
    if cut.any():
        notes.append(
            f"on {int(cut.sum())} rebalances the target left less CASH than the trading costs: the last "
            "buys were cut to what CASH could pay"
        )
    unavailable_days = {a: int(p.unavailable[:, i].sum()) for i, a in enumerate(p.assets) if p.unavailable[:, i].any()}
    share = float(p.unavailable.any(axis=1).mean()) if T else 0.0
    return BacktestResult(
        returns=pd.Series(returns, index=dates, name="returns"),
        equity=pd.Series(equity, index=dates, name="equity"),
        weights=pd.DataFrame(held, index=dates, columns=cols),
        target=pd.DataFrame(p.target, index=dates, columns=cols),
        trades=trades,
        costs=pd.Series(costs, index=dates, name="costs"),
        notes=notes,
        unavailable_share=share,
        cash_returns=pd.Series(cash_ret, index=dates, name="cash_returns"),
        rebalanced=pd.Series(p.trade, index=dates, name="rebalanced"),
        unavailable_days=unavailable_days,
        params=dict(p.params),
    )
