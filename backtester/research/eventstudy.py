"""Event study: forward returns of assets after Fed balance-sheet events and liquidity-signal events.

Rules (the CLI prints them; tests hold them):

* **Event date = the day it was known.** FOMC-table events (``qt-end``, ``qt-start``, ``qe-start``,
  ``rmp-start``, ... see ``events.EVENT_TYPES``) are dated by the table's ``available_on``: the first
  NYSE session whose 16:00 ET close may use the announcement. Signal events are the first decision date
  on which a point-in-time signal (``signals.compute``) turns true after having been known false:

  - ``reserves-below-10``: ``reserves_to_gdp`` crosses below 0.10 (previous known value >= 0.10);
  - ``rrp-drained``: ``rrp_drained`` turns true;
  - ``spread-spike``: ``spread_widening`` turns true (the signal frame's own definition of a widening
    SOFR-EFFR spread; no threshold of ours).

  "Previous" is the last decision date on which the signal was known (unknown days are skipped), so
  the first day a signal is ever known is never an event: that is a state, not a crossing. The signal
  frame is point in time, so these dates are never before the data's ``available_on``.
* **Forward return** over horizon h from event date t: ``close[t + h sessions] / close[t] - 1``, with
  h counted in NYSE sessions: 1w = 5, 4w = 20, 13w = 65, 26w = 130, 52w = 260. Closes are the store's
  ``close`` of the row dated that session (for BTC-USD the Yahoo bar dated that session, which closes
  00:00 UTC the next day, i.e. four hours after the NYSE close -- after any announcement of the day).
* **Missing, never shortened.** A horizon whose end session is after the asset's last close is
  MISSING (``past data``, null), as is an event before the asset's first close or a session without a
  row (``no price``). Missing events are left out of n; nothing is truncated to the data's end.
* **No double counting.** Per event type and horizon, events are taken in date order and one is
  counted only if it comes at least h sessions after the previous *counted* event of the same type
  (so counted windows never overlap); the others are ``overlap`` and left out of that horizon. The
  rule looks at dates only, so every asset uses the same events.
* **Statistics.** Per type, asset and horizon: n, mean, median, hit rate (share of returns > 0). With
  n >= 10, a 95% percentile bootstrap interval of the mean (iid resampling of the non-overlapping event
  returns, 2000 draws, fixed seed). With n < 10 there is no interval: every event's own number is
  shown instead -- two QT ends are anecdotes, not statistics.
* **Baseline.** The same statistics over ALL decision dates of the asset's history with a full horizon
  (every NYSE session t with a close at t and at t + h; overlapping windows, no interval).
* **Average path.** For the plot, the events counted at the longest requested horizon; each event's
  cumulative return path is drawn as far as its data goes, and their mean only over the sessions where
  every one of them has a price (so its composition never changes), next to the all-days mean path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from ..data import catalog
from ..data.calendar import _nyse_sessions, next_session
from ..data.fomc import EVENT_TYPES as FOMC_TYPES
from ..data.fomc import events as fomc_events
from ..errors import DataError, UsageError

HORIZONS: dict[str, int] = {"1w": 5, "4w": 20, "13w": 65, "26w": 130, "52w": 260}

SIGNAL_TYPES: dict[str, str] = {
    "reserves-below-10": "reserves_to_gdp crosses below 0.10 (reserves / GDP, point in time)",
    "rrp-drained": "rrp_drained turns true",
    "spread-spike": "spread_widening turns true (the signal frame's SOFR-EFFR widening flag)",
}
RESERVES_FLOOR = 0.10

TYPES: tuple[str, ...] = tuple(FOMC_TYPES) + tuple(SIGNAL_TYPES)
DEFAULT_TYPES: tuple[str, ...] = (
    "qt-end",
    "qt-start",
    "qe-start",
    "rmp-start",
    "reserves-below-10",
    "rrp-drained",
    "spread-spike",
)
ASSETS: tuple[str, ...] = tuple(a for a in catalog.HOLDABLE if a != "CASH")
DEFAULT_ASSETS: tuple[str, ...] = ("BTC-USD", "GLD", "SPY")
MIN_N_FOR_INTERVAL = 10
N_BOOT = 2000
SEED = 0

RULES: dict[str, str] = {
    "event_date": "FOMC events: the table's available_on (first NYSE close that may use the announcement); "
    "signal events: first decision date the point-in-time signal turns true after being known false",
    "forward_return": "close[t + h NYSE sessions] / close[t] - 1; 1w=5, 4w=20, 13w=65, 26w=130, 52w=260 sessions; "
    "BTC-USD uses the Yahoo bar dated the session",
    "missing": "a horizon ending after the asset's last close is MISSING (null), never shortened",
    "overlap": "per type and horizon, an event within h sessions of the previous counted event of the same "
    "type is skipped for that horizon (dates only, same events for every asset)",
    "interval": f"n >= {MIN_N_FOR_INTERVAL}: 95% iid percentile bootstrap of the mean ({N_BOOT} draws, "
    f"seed {SEED}); n < {MIN_N_FOR_INTERVAL}: no interval, each event listed (anecdotes, not statistics)",
    "baseline": "all decision dates of the asset's history with a close at t and t + h (overlapping windows)",
}


# ------------------------------------------------------------------ argument checks
def _as_list(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out += [x.strip() for x in str(v).split(",") if x.strip()]
    return out


def check_types(types) -> list[str]:
    wanted = _as_list(types) or list(DEFAULT_TYPES)
    unknown = [t for t in wanted if t not in TYPES]
    if unknown:
        raise UsageError(f"unknown event type(s): {', '.join(unknown)}", f"use one of: {', '.join(TYPES)}")
    return list(dict.fromkeys(wanted))


def check_horizons(horizons) -> dict[str, int]:
    wanted = _as_list(horizons) or list(HORIZONS)
    unknown = [h for h in wanted if h not in HORIZONS]
    if unknown:
        raise UsageError(f"unknown horizon(s): {', '.join(unknown)}", f"use one of: {', '.join(HORIZONS)}")
    return {h: HORIZONS[h] for h in dict.fromkeys(wanted)}


def check_assets(assets) -> list[str]:
    wanted = _as_list(assets) or list(DEFAULT_ASSETS)
    unknown = [a for a in wanted if a not in ASSETS]
    if unknown:
        raise UsageError(f"unknown asset(s): {', '.join(unknown)}", f"use one of: {', '.join(ASSETS)}")
    return list(dict.fromkeys(wanted))


# ------------------------------------------------------------------ prices
def closes_on_sessions(store, asset: str) -> pd.Series:
    """The asset's close on every NYSE session from its first to its last row (NaN: no row that day)."""
    from ..data.market import closes

    s = closes(store, asset)
    sessions = _nyse_sessions()
    sessions = sessions[(sessions >= s.index[0]) & (sessions <= s.index[-1])]
    return s.reindex(sessions).rename(asset)


# ------------------------------------------------------------------ event dates
def _turns_true(cond: pd.Series) -> pd.DatetimeIndex:
    """Dates where ``cond`` (float 1/0, NaN unknown) is 1 and the last known value before was 0."""
    known = cond.dropna()
    prev = known.shift(1)
    hit = (known > 0.5) & (prev < 0.5)
    return pd.DatetimeIndex(known.index[hit.to_numpy(bool)])


def _as_float(raw: pd.Series) -> pd.Series:
    """A signal column as float, unknown (NaN / NA / None) as NaN; booleans as 1.0 / 0.0."""
    values = [np.nan if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v for v in raw]
    out = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype(float)
    return pd.Series(out.to_numpy(float), index=raw.index)


def signal_event_dates(signal_frame: pd.DataFrame, event_type: str) -> pd.DatetimeIndex:
    """Decision dates on which a signal event fires (see the module doc), from a point-in-time frame."""
    if event_type not in SIGNAL_TYPES:
        raise UsageError(f"{event_type!r} is not a signal event type", f"use one of: {', '.join(SIGNAL_TYPES)}")
    column = {"reserves-below-10": "reserves_to_gdp", "rrp-drained": "rrp_drained", "spread-spike": "spread_widening"}[
        event_type
    ]
    if column not in signal_frame.columns:
        raise DataError(
            f"the signal frame has no {column!r} column (needed for {event_type})",
            "update backtester/signals or drop that event type",
        )
    x = _as_float(signal_frame[column])
    if event_type == "reserves-below-10":
        cond = (x < RESERVES_FLOOR).astype(float).where(x.notna())
    else:
        cond = (x > 0.5).astype(float).where(x.notna())
    index = signal_frame["date"] if "date" in signal_frame.columns else signal_frame.index
    cond.index = pd.DatetimeIndex(index).astype("datetime64[ns]")
    return _turns_true(cond.sort_index())


def event_table(event_type: str, signal_frame: Callable[[], pd.DataFrame] | pd.DataFrame | None = None) -> pd.DataFrame:
    """Events of one type: ``date`` (the day known), ``announced``, ``effective``, ``label``, sorted by date.

    ``signal_frame`` (a frame or a zero-argument callable returning one) is needed for signal types.
    """
    if event_type in FOMC_TYPES:
        t = fomc_events([event_type])
        return pd.DataFrame(
            {
                "date": t["available_on"].to_numpy("datetime64[ns]"),
                "announced": t["announced"].to_numpy("datetime64[ns]"),
                "effective": t["effective"].to_numpy("datetime64[ns]"),
                "label": t["label"].to_list(),
            }
        )
    if event_type not in SIGNAL_TYPES:
        check_types([event_type])
    frame = signal_frame() if callable(signal_frame) else signal_frame
    if frame is None:
        raise DataError(f"{event_type} needs the signal frame", "pass signal_frame (signals.compute(store))")
    dates = signal_event_dates(frame, event_type)
    nat = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.DataFrame(
        {"date": dates.values, "announced": nat, "effective": nat, "label": [SIGNAL_TYPES[event_type]] * len(dates)}
    )


# ------------------------------------------------------------------ core computations
def session_positions(dates) -> np.ndarray:
    """Position of each date in the NYSE session calendar (dates off-session move to the next session)."""
    sessions = _nyse_sessions()
    d = pd.DatetimeIndex(next_session(pd.DatetimeIndex(dates), strictly_after=False))
    return sessions.searchsorted(d, side="left")


def non_overlapping(positions, h: int) -> np.ndarray:
    """Mask of events counted at horizon h: each at least h sessions after the previous counted one.

    ``positions`` are session positions (e.g. from :func:`session_positions`) in any order; the rule is
    applied in date order and the mask is returned in the given order.
    """
    pos = np.asarray(positions, dtype=np.int64)
    keep = np.zeros(len(pos), dtype=bool)
    last = None
    for i in np.argsort(pos, kind="stable"):
        if last is None or pos[i] - last >= h:
            keep[i] = True
            last = pos[i]
    return keep


def forward_returns(prices: pd.Series, dates, h: int) -> pd.DataFrame:
    """Forward h-session returns of ``prices`` (from :func:`closes_on_sessions`) after each date.

    Returns a frame (one row per date, same order) with ``return`` (NaN when missing), ``status``
    (``ok`` | ``past data`` | ``no price``) and ``end_date`` (the session h after t, when the calendar
    knows it).
    """
    sessions = _nyse_sessions()
    dates = pd.DatetimeIndex(dates).astype("datetime64[ns]")
    pos = session_positions(dates)
    inside = pos + h < len(sessions)
    end = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    end[inside] = sessions.values[pos[inside] + h]
    px = prices.to_numpy(float)
    first, last = prices.index[0], prices.index[-1]
    ret = np.full(len(dates), np.nan)
    status = []
    for i, p in enumerate(pos):
        if p >= len(sessions) or sessions[p] > last:
            status.append("past data")
            continue
        t = sessions[p]
        if t < first:
            status.append("no price")
            continue
        j = int(prices.index.searchsorted(t))
        if j + h >= len(px):
            status.append("past data")
            continue
        a, b = px[j], px[j + h]
        if not (math.isfinite(a) and math.isfinite(b)):
            status.append("no price")
            continue
        ret[i] = b / a - 1.0
        status.append("ok")
    return pd.DataFrame({"return": ret, "status": status, "end_date": pd.DatetimeIndex(end)}, index=dates)


def baseline_returns(prices: pd.Series, h: int) -> np.ndarray:
    """Every h-session forward return over the asset's history (sessions with both closes)."""
    px = prices.to_numpy(float)
    if len(px) <= h:
        return np.array([])
    r = px[h:] / px[:-h] - 1.0
    return r[np.isfinite(r)]


def summarize(returns, n_boot: int = N_BOOT, seed: int = SEED, interval: bool = True) -> dict:
    """n, mean, median, hit rate (share > 0) and, with n >= 10 and ``interval``, a bootstrap 95% CI."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = int(len(r))
    out = {"n": n, "mean": None, "median": None, "hit_rate": None, "ci95": None}
    if n == 0:
        return out
    out.update(mean=float(r.mean()), median=float(np.median(r)), hit_rate=float((r > 0).mean()))
    if interval and n >= MIN_N_FOR_INTERVAL:
        out["ci95"] = bootstrap_mean_ci(r, n_boot=n_boot, seed=seed)
    return out


def bootstrap_mean_ci(r, n_boot: int = N_BOOT, seed: int = SEED, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean (iid resampling: counted events do not overlap)."""
    r = np.asarray(r, dtype=float)
    rng = np.random.default_rng(seed)
    means = r[rng.integers(0, len(r), size=(n_boot, len(r)))].mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return [float(lo), float(hi)]


def _iso(ts) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def _num(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


# ------------------------------------------------------------------ the study
class Inputs:
    """Lazily loaded prices and signal frame, shared by the study and the plot."""

    def __init__(self, store, signal_frame=None):
        self.store = store
        self._signals = signal_frame
        self._prices: dict[str, pd.Series] = {}

    def prices(self, asset: str) -> pd.Series:
        if asset not in self._prices:
            self._prices[asset] = closes_on_sessions(self.store, asset)
        return self._prices[asset]

    def signals(self) -> pd.DataFrame:
        if self._signals is None:
            from .. import signals as sig

            self._signals = sig.compute(self.store)
        return self._signals


def event_study(
    store,
    types: Iterable[str] | str | None = None,
    horizons: Iterable[str] | str | None = None,
    assets: Iterable[str] | str | None = None,
    *,
    signal_frame: pd.DataFrame | None = None,
    n_boot: int = N_BOOT,
    seed: int = SEED,
    inputs: Inputs | None = None,
) -> dict:
    """Run the event study; returns a json-ready dict (dates as ISO strings, missing numbers as None).

    Keys: ``assets``, ``horizons`` ({name: sessions}), ``prices`` ({asset: {first, last}}), ``rules``,
    ``types`` (one entry per type: ``type``, ``source``, ``definition``, ``events`` [{date, announced,
    effective, label}], ``note``, ``results`` [{asset, horizon, sessions, n_events, n, n_overlap,
    n_missing, mean, median, hit_rate, ci95, anecdotal, baseline {n, mean, median, hit_rate},
    mean_minus_baseline, events [{date, end_date, return, status}]}]).

    ``signal_frame`` replaces ``signals.compute(store)`` for the signal types (tests, custom configs);
    ``inputs`` (an :class:`Inputs`) shares loaded prices / signals with :func:`plot_paths`.
    """
    types_ = check_types(types)
    hz = check_horizons(horizons)
    assets_ = check_assets(assets)
    inp = inputs or Inputs(store, signal_frame)
    prices = {a: inp.prices(a) for a in assets_}
    baselines = {
        (a, h): summarize(baseline_returns(prices[a], n), interval=False) for a in assets_ for h, n in hz.items()
    }
    out_types = []
    for et in types_:
        table = event_table(et, inp.signals)
        pos = session_positions(table["date"]) if len(table) else np.array([], dtype=np.int64)
        results = []
        for a in assets_:
            for hname, h in hz.items():
                counted = non_overlapping(pos, h)
                fr = forward_returns(prices[a], table["date"], h)
                status = np.where(counted, fr["status"].to_numpy(object), "overlap")
                rets = np.where(counted, fr["return"].to_numpy(float), np.nan)
                s = summarize(rets, n_boot=n_boot, seed=seed)
                base = {k: v for k, v in baselines[(a, hname)].items() if k != "ci95"}
                results.append(
                    {
                        "asset": a,
                        "horizon": hname,
                        "sessions": h,
                        "n_events": int(len(table)),
                        "n": s["n"],
                        "n_overlap": int((~counted).sum()),
                        "n_missing": int(np.isin(status, ["past data", "no price"]).sum()),
                        "mean": s["mean"],
                        "median": s["median"],
                        "hit_rate": s["hit_rate"],
                        "ci95": s["ci95"],
                        "anecdotal": s["n"] < MIN_N_FOR_INTERVAL,
                        "baseline": base,
                        "mean_minus_baseline": (
                            None if s["mean"] is None or base["mean"] is None else s["mean"] - base["mean"]
                        ),
                        "events": [
                            {
                                "date": _iso(d),
                                "end_date": _iso(e),
                                "return": _num(r),
                                "status": st,
                            }
                            for d, e, r, st in zip(table["date"], fr["end_date"], rets, status, strict=True)
                        ],
                    }
                )
        source = "FOMC table" if et in FOMC_TYPES else "signal"
        out_types.append(
            {
                "type": et,
                "source": source,
                "definition": (
                    "dated by available_on (first NYSE close after the announcement)"
                    if source == "FOMC table"
                    else SIGNAL_TYPES[et]
                ),
                "events": [
                    {
                        "date": _iso(r.date),
                        "announced": _iso(r.announced),
                        "effective": _iso(r.effective),
                        "label": r.label,
                    }
                    for r in table.itertuples()
                ],
                "note": (
                    f"n < {MIN_N_FOR_INTERVAL} at some horizon: anecdotes, not statistics "
                    "(each event listed, no interval)"
                    if any(r["anecdotal"] for r in results)
                    else None
                ),
                "results": results,
            }
        )
    return {
        "assets": assets_,
        "horizons": hz,
        "prices": {a: {"first": _iso(p.index[0]), "last": _iso(p.index[-1])} for a, p in prices.items()},
        "rules": RULES,
        "types": out_types,
    }


# ------------------------------------------------------------------ paths and the chart
def event_paths(prices: pd.Series, dates, length: int) -> pd.DataFrame:
    """Cumulative return paths (rows: session offset 0..length, columns: event dates); NaN past the data."""
    sessions = _nyse_sessions()
    pos = session_positions(dates)
    px = prices.to_numpy(float)
    cols = {}
    for d, p in zip(pd.DatetimeIndex(dates), pos, strict=True):
        if p >= len(sessions):
            continue
        t = sessions[p]
        if t < prices.index[0] or t > prices.index[-1]:
            continue
        j = prices.index.searchsorted(t)
        if not math.isfinite(px[j]):
            continue
        seg = px[j : j + length + 1] / px[j] - 1.0
        cols[d] = np.concatenate([seg, np.full(length + 1 - len(seg), np.nan)])
    return pd.DataFrame(cols, index=pd.RangeIndex(length + 1, name="session"))


def mean_path(paths: pd.DataFrame) -> pd.Series:
    """Mean over the events, only up to the last offset where every event has a price."""
    if paths.shape[1] == 0:
        return pd.Series(dtype=float)
    full = paths.notna().all(axis=1).to_numpy()
    stop = int(np.argmin(full)) if not full.all() else len(full)
    return paths.iloc[:stop].mean(axis=1)


def baseline_path(prices: pd.Series, length: int) -> pd.Series:
    """Mean k-session return over every start session of the asset's history, k = 0..length."""
    return pd.Series(
        [0.0]
        + [float(np.mean(baseline_returns(prices, k))) if len(prices) > k else np.nan for k in range(1, length + 1)],
        index=pd.RangeIndex(length + 1, name="session"),
    )


def plot_paths(store, study: dict, file, *, inputs: Inputs | None = None) -> str:
    """Write an HTML chart (plotly.js inlined, works offline) of the average path per type and asset.

    Uses the events counted at the longest horizon of ``study``; returns the path written. ``inputs``
    (an :class:`Inputs`) reuses the prices already loaded for the study.
    """
    from pathlib import Path

    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    inp = inputs or Inputs(store)
    length = max(study["horizons"].values())
    types_, assets_ = [t["type"] for t in study["types"]], study["assets"]
    all_paths = {}
    for t in study["types"]:
        dates = pd.DatetimeIndex([e["date"] for e in t["events"]])
        counted = dates[non_overlapping(session_positions(dates), length)] if len(dates) else dates
        for a in assets_:
            all_paths[t["type"], a] = (event_paths(inp.prices(a), counted, length), len(dates))
    fig = make_subplots(
        rows=len(types_),
        cols=len(assets_),
        subplot_titles=[  # n per panel: events drawn (with data, not overlapping) of all events of the type
            f"{t} / {a}: n = {all_paths[t, a][0].shape[1]} of {all_paths[t, a][1]}" for t in types_ for a in assets_
        ],
        vertical_spacing=min(0.14, 0.45 / max(len(types_), 1)),
        horizontal_spacing=0.05,
    )
    for i, t in enumerate(study["types"], start=1):
        for j, a in enumerate(assets_, start=1):
            px = inp.prices(a)
            paths = all_paths[t["type"], a][0]
            for d in paths.columns:
                fig.add_trace(
                    go.Scatter(
                        x=paths.index,
                        y=paths[d] * 100,
                        mode="lines",
                        line={"width": 1, "color": "rgba(120,120,120,0.45)"},
                        name=f"{t['type']} {pd.Timestamp(d).date()}",
                        legendgroup="events",
                        showlegend=False,
                        hovertemplate=f"{pd.Timestamp(d).date()}<br>session %{{x}}: %{{y:.1f}}%<extra></extra>",
                    ),
                    row=i,
                    col=j,
                )
            m = mean_path(paths)
            if len(m):
                fig.add_trace(
                    go.Scatter(
                        x=m.index,
                        y=m * 100,
                        mode="lines",
                        line={"width": 3, "color": "#d62728"},
                        name="mean of the events (n in each panel's title)",
                        showlegend=(i == 1 and j == 1),
                        legendgroup="mean",
                        hovertemplate=f"mean of {paths.shape[1]}<br>session %{{x}}: %{{y:.1f}}%<extra></extra>",
                    ),
                    row=i,
                    col=j,
                )
            b = baseline_path(px, length)
            fig.add_trace(
                go.Scatter(
                    x=b.index,
                    y=b * 100,
                    mode="lines",
                    line={"width": 2, "dash": "dash", "color": "#1f77b4"},
                    name="all days (baseline)",
                    showlegend=(i == 1 and j == 1),
                    legendgroup="baseline",
                    hovertemplate="all days<br>session %{x}: %{y:.1f}%<extra></extra>",
                ),
                row=i,
                col=j,
            )
    fig.update_xaxes(title_text="NYSE sessions after the event date (known date)", row=len(types_))
    fig.update_yaxes(title_text="cumulative return %")
    fig.update_layout(
        title=(
            "Average path after events<br><sub>events counted at the longest horizon, "
            f"{length} sessions; mean drawn only where every event has data; n = events drawn of all events</sub>"
        ),
        height=max(440, 320 * len(types_) + 60),
        width=max(700, 480 * len(assets_)),
        template="plotly_white",
        # the legend under everything (container coordinates): never on a panel or its title
        legend={"orientation": "h", "x": 0, "xanchor": "left", "yref": "container", "y": 0.0, "yanchor": "bottom"},
        margin={"t": 110, "b": 110},
    )
    path = Path(file)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return str(path)
