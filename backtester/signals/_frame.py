"""``compute``: the daily signal frame on NYSE decision dates (see the package docstring)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from ..data.calendar import nyse_sessions
from ..errors import DataError
from . import _native as nv
from ._composite import regime, stress
from ._fomc import event_columns
from .definitions import KEYS, LABELS, SignalConfig
from .prices import known_closes

INPUTS = ("WALCL", "WRESBAL", "WDTGAL", "WTREGEN", "RRPONTSYD", "SOFR", "EFFR", "IORB", "IOER", "GDP")
FRAME_START = pd.Timestamp("2002-12-18")  # FRED's H.4.1 series (millions) start here
SUFFIXES = ("__obs", "__avail", "__reason")
TEXT_COLUMNS = ("last_event_label", "liquidity_stress_unknown_inputs")


class _Out:
    """Collects each signal's value, observation date, available_on and reason on the decision dates."""

    def __init__(self, dd: np.ndarray, status: dict[str, np.ndarray]):
        self.dd = dd
        self.n = len(dd)
        self.status = status
        self.cols: dict[str, np.ndarray] = {}

    def put(self, key, value, obs, avail, reason):
        if value.dtype.kind == "f":
            value = np.round(value, 9)  # drop float noise of unit conversions (3019.0280000000002)
        self.cols[key] = value
        self.cols[key + "__obs"] = obs
        self.cols[key + "__avail"] = avail
        self.cols[key + "__reason"] = reason

    def known(self, key) -> np.ndarray:
        v = self.cols[key]
        return ~pd.isna(v) if v.dtype == object else np.isfinite(v)

    def native(self, key: str, nat: nv.Native, col: str, j: nv.Joined | None = None, inputs=None):
        j = j or nv.join(nat, self.dd)
        src = nat.cols[col]
        label = src.dtype == object
        if len(nat.date):
            raw = src[j.pos]
        else:
            raw = np.full(self.n, None if label else np.nan, dtype=object if label else float)
        if label:
            known = j.fresh & ~pd.isna(raw)
            value = np.where(known, raw, None).astype(object)
        else:
            known = j.fresh & np.isfinite(raw)
            value = np.where(known, raw, np.nan)
        why = nat.why.get(col)
        parts = [self.status[s] for s in (inputs or nat.inputs)]
        if why is not None and len(nat.date):
            parts.append(np.where(j.has, why[j.pos], None))
        fallback = f"no complete observation of {', '.join(nat.inputs)} within the {nat.staleness}-day staleness limit"
        self.put(key, value, j.obs, j.avail, nv.combine_reasons(~known, parts, fallback))
        return j


def _sessions(inputs: dict[str, nv.Input], end) -> np.ndarray:
    firsts = [i.avail[0] for i in inputs.values() if len(i.avail)]
    lasts = [i.avail[-1] for i in inputs.values() if len(i.avail)]
    if not firsts:
        raise DataError(
            "none of the signal inputs is in the store",
            f"import them with `hedge data import ../shared/data` ({', '.join(INPUTS)})",
        )
    first = max(FRAME_START, pd.Timestamp(min(firsts)))
    last = pd.Timestamp(max(lasts))
    if end is not None:
        last = max(last, pd.Timestamp(end))
    return nyse_sessions(first, last).values.astype(nv.NS), last


def compute(store, start=None, end=None, config: SignalConfig | None = None, *, events=None) -> pd.DataFrame:
    """The signal frame: one row per NYSE decision date, one column per signal plus provenance.

    ``store`` is a ``Store`` or any mapping ``series id -> stored frame`` (``date``, value columns,
    ``available_on``). ``events`` is the FOMC event table (default: ``backtester.data.fomc.events()``;
    pass an empty frame to leave the event signals unknown). The whole history is always computed
    (the hysteresis states depend on it) and then cut to ``[start, end]``.
    """
    from ..data import cache
    from ..data.store import Store

    if not (isinstance(store, Store) and config is None and events is None):
        return _cut(_compute(store, config, events, end), start, end)
    # the default frame of a store: cached in the store, keyed by its data and this code
    path = cache.signals_path(store)
    frame = cache.load(path)
    if not isinstance(frame, pd.DataFrame):
        frame = _compute(store, None, None, None)
        cache.save(path, frame, keep=cache.KEEP)
    if end is not None and len(frame) and pd.Timestamp(end) > frame.index[-1]:  # sessions past the data
        return _cut(_compute(store, None, None, end), start, end)
    return _cut(frame, start, end)


def _cut(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    out = frame
    if start is not None:
        out = out[out.index >= pd.Timestamp(start)]
    if end is not None:
        out = out[out.index <= pd.Timestamp(end)]
    return out.copy() if out is frame else out


def _compute(store, config, events, end) -> pd.DataFrame:
    cfg = config or SignalConfig()
    inputs = {sid: nv.load(store, sid) for sid in INPUTS}
    inputs["IORB"] = nv.splice_before(inputs["IOER"], inputs["IORB"])  # the rate on reserves: IOER, then IORB
    dd, data_end = _sessions(inputs, end)
    out = _Out(dd, {sid: nv.status(inp, dd) for sid, inp in inputs.items()})

    _balance_sheet(out, inputs, cfg)
    _rrp(out, inputs, cfg)
    _spreads(out, inputs, cfg)
    _weekly_liquidity(out, inputs, cfg)
    event_columns(out, _events(events))
    stress(out, cfg)
    regime(out, cfg)

    index = pd.DatetimeIndex(dd, name="date")
    order = [c for k in KEYS for c in (k, *(k + s for s in SUFFIXES)) if c in out.cols]
    order += [c for c in out.cols if c not in order]
    out.cols.update(known_closes(store, dd))  # px:<ASSET>, the holdable closes as known (signals/prices.py)
    order += [c for c in out.cols if c not in order]
    frame = pd.DataFrame({c: pd.Series(out.cols[c], index=index, dtype=_dtype(c)) for c in order}, index=index)
    frame.attrs["signal_config"] = asdict(cfg)
    frame.attrs["data_end"] = str(data_end.date())
    return frame


def _dtype(col: str):
    """Stable dtypes whatever the data: floats (bools as 0/1), ``str`` labels (NaN unknown), dates, reasons."""
    if col.endswith("__reason"):
        return object
    if col.endswith(("__obs", "__avail")):
        return "datetime64[ns]"
    if col in LABELS or col in TEXT_COLUMNS:
        return "str"
    return float


def _events(events):
    if events is not None:
        return events
    from ..data.fomc import events as table

    return table()


# ---- blocks


def _balance_sheet(out: _Out, inputs, cfg: SignalConfig) -> None:
    w, r, g = inputs["WALCL"], inputs["WRESBAL"], inputs["GDP"]
    out.native("fed_assets", nv.native_of(w), "value")
    out.native("reserves", nv.native_of(r), "value")
    jr = nv.join(nv.native_of(r), out.dd)
    jg = out.native("gdp", nv.native_of(g), "value")
    res, gdp = out.cols["reserves"], out.cols["gdp"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(res) & np.isfinite(gdp) & (gdp > 0), res / gdp, np.nan)
    reason = nv.combine_reasons(
        ~np.isfinite(ratio), [out.status["WRESBAL"], out.status["GDP"]], "no fresh WRESBAL and GDP"
    )
    avail = np.where(jr.has & jg.has, np.maximum(jr.avail, jg.avail), nv.NAT)
    out.put("reserves_to_gdp", ratio, jr.obs, avail, reason)

    # 13-week change (plain) and the capped trend that drives qt_state
    chg = nv.change(w.date, w.value, cfg.qt_weeks)
    trend = nv.capped_change(w.date, w.value, cfg.qt_weeks, cfg.qt_jump_cap_bn)
    need = f"needs {cfg.qt_weeks + 1} consecutive weekly WALCL observations"
    state = _qt_state(trend, cfg)
    nat = nv.Native(
        w.date,
        w.avail,
        {"chg": chg, "trend": trend, "state": state},
        ("WALCL",),
        w.staleness,
        {
            "chg": nv.why_where(np.isnan(chg), need),
            "trend": nv.why_where(np.isnan(trend), need),
            "state": nv.why_where(pd.isna(state), need),
        },
    )
    j = out.native("fed_assets_13w_change", nat, "chg")
    out.native("fed_assets_13w_trend", nat, "trend", j)
    out.native("qt_state", nat, "state", j)


def _qt_state(trend: np.ndarray, cfg: SignalConfig) -> np.ndarray:
    """qt / flat / expanding from the capped 13-week trend; a new state must hold ``qt_confirm_weeks``."""
    tol = cfg.qt_tolerance_bn
    raw = np.where(trend < -tol, "qt", np.where(trend > tol, "expanding", "flat")).astype(object)
    raw[np.isnan(trend)] = None
    out = np.full(len(trend), None, dtype=object)
    cur = cand = None
    run = 0
    for i, x in enumerate(raw):
        if x is None:
            cur = cand = None
            run = 0
        elif cur is None:
            cur = x
        elif x == cur:
            cand, run = None, 0
        else:
            run = run + 1 if x == cand else 1
            cand = x
            if run >= cfg.qt_confirm_weeks:
                cur, cand, run = x, None, 0
        out[i] = cur
    return out


def _rrp(out: _Out, inputs, cfg: SignalConfig) -> None:
    rrp = inputs["RRPONTSYD"]
    peak = np.maximum.accumulate(rrp.value) if len(rrp.value) else rrp.value
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = np.where(peak > 0, 1.0 - rrp.value / peak, np.nan)
    drained = (rrp.value < cfg.rrp_drained_bn).astype(float)
    nat = nv.Native(
        rrp.date,
        rrp.avail,
        {"v": rrp.value, "dd": dd, "drained": drained},
        ("RRPONTSYD",),
        rrp.staleness,
        {"dd": nv.why_where(np.isnan(dd), "ON RRP has had no balance yet (peak is 0)")},
    )
    j = out.native("rrp_balance", nat, "v")
    out.native("rrp_drawdown_from_peak", nat, "dd", j)
    out.native("rrp_drained", nat, "drained", j)


def _spread(a: nv.Input, b: nv.Input, cfg: SignalConfig) -> nv.Native:
    d, ia, ib = nv.intersect(a, b)
    bp = np.round((a.value[ia] - b.value[ib]) * 100.0, 6)
    short = np.round(nv.rolling_mean(bp, cfg.spread_short_window), 6)
    long = np.round(nv.rolling_mean(bp, cfg.spread_long_window), 6)
    avail = np.maximum(a.avail[ia], b.avail[ib]) if len(d) else d.copy()
    name = f"{a.id}-{b.id}"
    widening = np.where(
        np.isfinite(short) & np.isfinite(long),
        ((short > cfg.spread_threshold_bp) & (short > long)).astype(float),
        np.nan,
    )
    why = {
        "short": nv.why_where(np.isnan(short), f"needs {cfg.spread_short_window} observations of {name}"),
        "long": nv.why_where(np.isnan(long), f"needs {cfg.spread_long_window} observations of {name}"),
    }
    why["widening"] = why["long"]
    return nv.Native(
        d,
        avail,
        {"bp": bp, "short": short, "long": long, "widening": widening},
        (a.id, b.id),
        min(a.staleness, b.staleness),
        why,
    )


def _spreads(out: _Out, inputs, cfg: SignalConfig) -> None:
    for name, other in (("sofr_effr", "EFFR"), ("sofr_iorb", "IORB")):
        nat = _spread(inputs["SOFR"], inputs[other], cfg)
        j = out.native(f"{name}_bp", nat, "bp")
        out.native(f"{name}_bp_20d", nat, "short", j)
        out.native(f"{name}_bp_60d", nat, "long", j)
        if name == cfg.widening_spread:
            out.native("spread_widening", nat, "widening", j)


def _weekly_liquidity(out: _Out, inputs, cfg: SignalConfig) -> None:
    w, r, rrp = inputs["WALCL"], inputs["WRESBAL"], inputs["RRPONTSYD"]
    t, t_avg = inputs["WDTGAL"], inputs["WTREGEN"]
    out.native("tga", nv.native_of(t), "value")
    out.native("tga_week_avg", nv.native_of(t_avg), "value")

    # total liquidity: WRESBAL week + ON RRP of that Wednesday (last business day of the week if a holiday)
    k, ok = nv.at_or_before(rrp, r.date, 6)
    d = r.date[ok]
    tot = r.value[ok] + rrp.value[k[ok]]
    av = np.maximum(r.avail[ok], rrp.avail[k[ok]])
    chg = nv.change(d, tot, cfg.total_liquidity_weeks)
    nat = nv.Native(
        d,
        av,
        {"v": tot, "chg": chg},
        ("WRESBAL", "RRPONTSYD"),
        r.staleness,
        {"chg": nv.why_where(np.isnan(chg), f"needs total liquidity {cfg.total_liquidity_weeks} weeks earlier")},
    )
    j = out.native("total_liquidity", nat, "v")
    out.native("total_liquidity_52w_change", nat, "chg", j)

    # net liquidity: WALCL - WDTGAL - ON RRP, all of the same Wednesday (same H.4.1); the alternative
    # definition with the week-average TGA (WTREGEN) beside it
    for key, tga in (("net_liquidity", t), ("net_liquidity_week_avg", t_avg)):
        nat = _net_liquidity(w, tga, rrp, cfg)
        j = out.native(key, nat, "v")
        if key == "net_liquidity":
            out.native("net_liquidity_13w_change", nat, "chg", j)


def _net_liquidity(w: nv.Input, t: nv.Input, rrp: nv.Input, cfg: SignalConfig) -> nv.Native:
    dw, iw, it = nv.intersect(w, t)
    k, ok = nv.at_or_before(rrp, dw, 6)
    d = dw[ok]
    net = w.value[iw[ok]] - t.value[it[ok]] - rrp.value[k[ok]]
    av = np.maximum.reduce([w.avail[iw[ok]], t.avail[it[ok]], rrp.avail[k[ok]]]) if len(d) else d.copy()
    chg = nv.change(d, net, cfg.net_liquidity_weeks)
    return nv.Native(
        d,
        av,
        {"v": net, "chg": chg},
        ("WALCL", t.id, "RRPONTSYD"),
        w.staleness,
        {"chg": nv.why_where(np.isnan(chg), f"needs net liquidity {cfg.net_liquidity_weeks} weeks earlier")},
    )
