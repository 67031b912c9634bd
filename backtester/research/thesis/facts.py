"""The facts the essay is scored on, each computed from the store: QT's end, the Fed's asset growth
after it, the assets' returns since the essay, and the seed-thesis strategy out of sample.

Every function takes the store (or series read from it) and returns a json-ready dict (ISO dates,
plain floats; USD in billions, returns as fractions). The rules are in ``backtester.research.thesis``'s doc.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from ...constants import CASH, ESSAY_DATE
from ...errors import DataError, UsageError

DAYS_PER_MONTH = 365.25 / 12.0
RETURN_ASSETS: tuple[str, ...] = ("GLD", "LBMA_GOLD", "BTC-USD", "SPY")


def iso(ts) -> str | None:
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return None
    return pd.Timestamp(ts).date().isoformat()


def series(store, series_id: str, column: str = "value") -> pd.Series:
    """A stored series as floats indexed by observation date (missing values dropped)."""
    frame = store.read(series_id)
    if frame is None or len(frame) == 0 or column not in frame:
        raise DataError(f"no {series_id} in the store", "run `hedge data import` or `hedge data pull`")
    s = pd.Series(
        pd.to_numeric(frame[column], errors="coerce").to_numpy(float),
        index=pd.DatetimeIndex(frame["date"]).astype("datetime64[ns]"),
        name=series_id,
    ).dropna()
    s = s[~s.index.duplicated(keep="last")].sort_index()
    if s.empty:
        raise DataError(f"no {series_id} values in the store", "run `hedge data import` or `hedge data pull`")
    return s


def essay_session(since: pd.Timestamp, signal_frame: pd.DataFrame) -> pd.Timestamp:
    """The first NYSE session (a row of the signal frame) on or after ``since``."""
    idx = signal_frame.index
    pos = idx.searchsorted(pd.Timestamp(since), side="left")
    if pos >= len(idx):
        raise UsageError(
            f"since {since.date()} is after the data's last decision date {idx[-1].date()}",
            f"give an earlier date, e.g. {ESSAY_DATE}",
            param="since",
        )
    if pos == 0:
        raise UsageError(
            f"since {since.date()} is before the signal history ({idx[0].date()})", "give a later date", param="since"
        )
    return idx[pos]


# ---------------------------------------------------------------- QT's end
def qt_end(signal_frame: pd.DataFrame, session: pd.Timestamp, asof: pd.Timestamp) -> dict:
    """QT's end after the essay: the official FOMC table and the balance sheet's direction (``qt_state``).

    ``official``: the first ``qt-end`` announced on or after the essay session (None if none yet),
    ``bill_purchases``: the first ``rmp-start`` after it, ``qe_announced``: any ``qe-start`` after it.
    ``state``: the ``qt_state`` on the essay session, every change after it (decision date, WALCL
    observation date behind it, from, to) and the first one away from ``qt``.
    """
    from ...data.fomc import events

    table = events()
    after = table[table["announced"] >= session]

    def first(kind: str) -> dict | None:
        rows = after[after["type"] == kind]
        if rows.empty:
            return None
        r = rows.iloc[0]
        return {
            "announced": iso(r["announced"]),
            "effective": iso(r["effective"]),
            "available_on": iso(r["available_on"]),
            "label": str(r["label"]),
            "source": str(r["source"]),
        }

    qs = signal_frame.loc[session:, "qt_state"]
    obs = signal_frame.loc[session:, "qt_state__obs"]
    vals = qs.astype(object).where(qs.notna(), None).to_numpy()
    changes = []
    for k in range(1, len(vals)):
        if vals[k] != vals[k - 1]:
            changes.append(
                {"date": iso(qs.index[k]), "observation_date": iso(obs.iloc[k]), "from": vals[k - 1], "to": vals[k]}
            )
    left = next((c for c in changes if c["from"] == "qt"), None)
    expanding = next((c for c in changes if c["to"] == "expanding"), None)
    return {
        "official": first("qt-end"),
        "bill_purchases": first("rmp-start"),
        "qe_announced": first("qe-start"),
        "state_at_essay": vals[0] if len(vals) else None,
        "state_last": vals[-1] if len(vals) else None,
        "state_left_qt": left,
        "state_expanding": expanding,
        "state_changes": changes,
        "table_checked_to": iso(asof),
    }


# ---------------------------------------------------------------- Fed assets after QT
GROWTH_METHOD = (
    "WALCL (Wednesday level, USD millions / 1000 = billions): base = the last observation on or before the "
    "window's start date, end = the last observation; $B/month = (end - base) / months, months = days "
    f"between the two observations / {DAYS_PER_MONTH:.4f}. slope_bn_per_month = least-squares slope of "
    "the weekly levels from base to end (less sensitive to a lumpy end week)."
)


def fed_asset_growth(walcl_bn: pd.Series, start, label: str) -> dict | None:
    """Growth of the Fed's assets from ``start`` to the last WALCL observation, in $B a month."""
    if start is None:
        return None
    start = pd.Timestamp(start)
    before = walcl_bn.loc[:start]
    if before.empty:
        return None
    base_date, base = before.index[-1], float(before.iloc[-1])
    end_date, end = walcl_bn.index[-1], float(walcl_bn.iloc[-1])
    days = (end_date - base_date).days
    months = days / DAYS_PER_MONTH
    window = walcl_bn.loc[base_date:]
    slope = None
    if len(window) >= 3:
        t = ((window.index - base_date) / pd.Timedelta(days=1)).to_numpy(float) / DAYS_PER_MONTH
        slope = float(np.polyfit(t, window.to_numpy(float), 1)[0])
    return {
        "label": label,
        "start": iso(start),
        "base_observation": iso(base_date),
        "base_bn": base,
        "end_observation": iso(end_date),
        "end_bn": end,
        "change_bn": end - base,
        "days": int(days),
        "months": months,
        "bn_per_month": (end - base) / months if months > 0 else None,
        "slope_bn_per_month": slope,
        "weeks": int(len(window) - 1),
    }


# ---------------------------------------------------------------- returns since the essay
def _cash_curve(dff: pd.Series, session: pd.Timestamp, end: pd.Timestamp | None = None) -> pd.Series:
    """CASH index (``market.cash_index``) on NYSE sessions from the essay session while DFF covers them."""
    from ...data.calendar import nyse_sessions
    from ...data.market import cash_index

    last = dff.index[-1] + pd.Timedelta(days=1)  # a session's return accrues the calendar days before it
    if end is not None:
        last = min(last, pd.Timestamp(end))
    sessions = nyse_sessions(session, last)
    return cash_index(dff, sessions)


def asset_returns(store, session: pd.Timestamp) -> tuple[dict, dict[str, pd.Series]]:
    """Returns since the essay: each asset to its own last date, and all on their common window.

    Per asset: ``start`` (its first row on or after the essay session), ``start_close``, ``end`` (its
    last row), ``end_close``, ``return`` = end_close / start_close - 1, ``sessions`` (NYSE sessions in
    between, both ends counted). CASH: the DFF index (actual/360, ``market.cash_index``) from the
    essay session to the last session DFF covers. ``common``: the same to ``common_end`` = the earliest
    last date among them (the last close on or before it). Also returns the curves (close / start close)
    for the charts.
    """
    from ...data.calendar import nyse_sessions

    out: dict[str, dict] = {}
    closes: dict[str, pd.Series] = {}
    for a in RETURN_ASSETS:
        full = series(store, a, "close")
        c = full.loc[session:]
        if c.empty:
            raise UsageError(
                f"{a} has no price on or after {session.date()}",
                f"its last close is {full.index[-1].date()}: give an earlier since",
                param="since",
            )
        closes[a] = c
    closes[CASH] = _cash_curve(series(store, "DFF"), session)
    curves = {a: c / c.iloc[0] for a, c in closes.items()}
    for a, close in closes.items():
        out[a] = {
            "start": iso(close.index[0]),
            "start_close": float(close.iloc[0]),
            "end": iso(close.index[-1]),
            "end_close": float(close.iloc[-1]),
            "return": float(close.iloc[-1] / close.iloc[0] - 1.0),
            "sessions": int(len(nyse_sessions(close.index[0], close.index[-1]))),
        }
    common_end = min(cv.index[-1] for cv in curves.values())
    common = {a: float(cv.loc[:common_end].iloc[-1] - 1.0) for a, cv in curves.items()}
    report = {
        "start": iso(session),
        "assets": out,
        "common_end": iso(common_end),
        "common_sessions": int(len(nyse_sessions(session, common_end))),
        "common": common,
        "cash_method": "DFF accrued actual/360, compounded daily (market.cash_index)",
    }
    return report, curves


def gold_history(store, session: pd.Timestamp, jan: _dt.date) -> dict:
    """LBMA gold: the first fixing of the essay's reference month (January 2025) and on the essay session."""
    g = series(store, "LBMA_GOLD", "close")
    j = g.loc[pd.Timestamp(jan) :]
    at = g.loc[:session]
    if j.empty or at.empty:
        return {}
    return {
        "lbma_jan_date": iso(j.index[0]),
        "lbma_jan": float(j.iloc[0]),
        "lbma_at_essay_date": iso(at.index[-1]),
        "lbma_at_essay": float(at.iloc[-1]),
        "lbma_gain_jan_to_essay": float(at.iloc[-1] / j.iloc[0] - 1.0),
    }


# ---------------------------------------------------------------- seed-thesis out of sample
OOS_STRATEGY = "seed-thesis"


def out_of_sample(store, session: pd.Timestamp, signal_frame: pd.DataFrame, n_boot: int, seed: int):
    """``seed-thesis`` (default parameters, SPY benchmark) from the essay session: ``run_backtest``
    with start = the essay session (decided at its close, filled at the next). Returns (report, run)."""
    from ...run import RunSpec, run_backtest
    from ..significance import significance_of_returns

    run = run_backtest(store, RunSpec(OOS_STRATEGY, start=iso(session)), signals=signal_frame)
    r, b = run.result, run.bench
    rets = pd.DataFrame(
        {"strategy": r.returns, "benchmark": b.returns.reindex(r.returns.index), "cash": r.cash_returns}
    )
    try:
        sig = significance_of_returns(rets, n_boot=n_boot, seed=seed)
    except UsageError as e:  # too few days for a bootstrap
        sig = {"error": e.what}
    report = {
        "name": OOS_STRATEGY,
        "sample": "out of sample",
        "why": (
            f"the rule's thresholds (reserves/GDP floor 10%, RRP < $50B with a widening spread, QT's end) "
            f"were chosen knowing the history before {session.date()}; only the period after is a test"
        ),
        "run_id": run.run_id,
        "params": run.params,
        "benchmark_name": run.benchmark_label,
        "period": {"start": run.metrics["start"], "end": run.metrics["end"]},
        "strategy": run.metrics,
        "benchmark": run.bench_metrics,
        "significance": sig,
        "notes": run.notes,
        "definition": f"fresh start: the portfolio is bought at the first close after {session.date()}",
        "continuing": continuing(store, session, signal_frame),
    }
    return report, run


def continuing(store, session: pd.Timestamp, signal_frame: pd.DataFrame) -> dict:
    """The other out-of-sample number: the default whole run's positions carried through the essay, its
    returns from ``session`` on -- what the tearsheet of ``hedge backtest seed-thesis`` shows after the
    essay. It differs from the fresh start by the positions held (and drifted) when the essay came out."""
    from ... import metrics
    from ...run import RunSpec, run_backtest

    run = run_backtest(store, RunSpec(OOS_STRATEGY), signals=signal_frame)
    r = run.result.returns
    keep = r.index >= session
    if not keep.any():
        return {}
    c = run.result.cash_returns[keep].to_numpy()
    m = metrics.from_arrays(r[keep].to_numpy(), c)
    bm = metrics.from_arrays(run.bench.returns.reindex(r.index)[keep].fillna(0.0).to_numpy(), c)
    keys = ("total_return", "cagr", "volatility", "sharpe", "max_drawdown", "days")
    return {
        "definition": f"continuing: the whole run's positions (from {run.metrics['start']}) carried through the "
        "essay, as on the tearsheet",
        "run_id": run.run_id,
        "period": {"start": str(r.index[keep][0].date()), "end": str(r.index[-1].date())},
        "strategy": {k: m[k] for k in keys},
        "benchmark": {k: bm[k] for k in keys},
    }
