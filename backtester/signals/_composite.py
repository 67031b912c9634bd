"""``liquidity_stress`` (0-100) and the ``regime`` label, from the signals already on the decision dates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _native as nv
from .definitions import SignalConfig


def _components(cfg: SignalConfig):
    return [(cfg.spread_key() if c.key == "spread_20d" else c.key, c) for c in cfg.stress_components]


def stress(out, cfg: SignalConfig) -> None:
    comps = _components(cfg)
    n = out.n
    total = sum(c.weight for _, c in comps)
    num = np.zeros(n)
    wsum = np.zeros(n)
    obs = np.full(n, nv.NAT)
    avl = np.full(n, nv.NAT)
    missing = np.zeros(n, dtype=np.int64)  # bit i set: component i unknown
    for i, (key, c) in enumerate(comps):
        x = out.cols[key]
        ok = np.isfinite(x)
        s = np.clip(c.score(np.where(ok, x, 0.0)), 0.0, 100.0)
        num += np.where(ok, c.weight * s, 0.0)
        wsum += np.where(ok, c.weight, 0.0)
        o, a = out.cols[key + "__obs"], out.cols[key + "__avail"]
        obs = np.where(ok & ((obs != obs) | (o > obs)), o, obs)
        avl = np.where(ok & ((avl != avl) | (a > avl)), a, avl)
        missing |= np.where(ok, 0, 1 << i)
    share = wsum / total if total > 0 else np.zeros(n)
    known = share >= cfg.stress_min_weight - 1e-12
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(known & (wsum > 0), num / np.where(wsum > 0, wsum, 1.0), np.nan)
    # which inputs were unknown, per date (comma-separated keys, '' when all were known)
    names = np.full(n, "", dtype=object)
    for m in np.unique(missing):
        if m:
            names[missing == m] = ", ".join(k for i, (k, _) in enumerate(comps) if m & (1 << i))
    reason = np.full(n, None, dtype=object)
    bad = ~np.isfinite(value)
    for i in np.flatnonzero(bad):
        reason[i] = (
            f"known inputs carry {share[i]:.0%} of the weight (minimum "
            f"{cfg.stress_min_weight:.0%}); unknown: {names[i]}"
        )
    out.put("liquidity_stress", np.round(value, 6), np.where(bad, nv.NAT, obs), np.where(bad, nv.NAT, avl), reason)
    out.cols["liquidity_stress_unknown_inputs"] = names


def _level(stress: np.ndarray, cfg: SignalConfig) -> np.ndarray:
    """scarce / tight / calm from the stress, with a hysteresis band below each entry threshold."""
    hi, mid, band = cfg.stress_scarce, cfg.stress_tightening, cfg.stress_band
    out = np.full(len(stress), None, dtype=object)
    prev = None
    for i, s in enumerate(stress):
        if not np.isfinite(s):
            prev = None
            continue
        if s >= hi or (prev == "scarce" and s >= hi - band):
            lv = "scarce"
        elif s >= mid or (prev in ("scarce", "tight") and s >= mid - band):
            lv = "tight"
        else:
            lv = "calm"
        out[i] = prev = lv
    return out


def regime(out, cfg: SignalConfig) -> None:
    s = out.cols["liquidity_stress"]
    qt = out.cols["qt_state"]
    ended = out.cols["qt_ended"]
    level = _level(s, cfg)
    expanding = np.asarray(qt == "expanding", dtype=bool)
    ended = np.nan_to_num(ended, nan=0.0) > 0.5
    shrinking = np.asarray(qt == "qt", dtype=bool)
    scarce = np.asarray(level == "scarce", dtype=bool)
    tight = np.asarray(level == "tight", dtype=bool)
    # the Fed adding reserves first; then scarcity; then an announced end of QT; then the QT/stress level
    lab = np.select(
        [expanding, scarce, ended, tight | shrinking], ["easing", "scarce", "easing", "tightening"], "ample"
    ).astype(object)
    known = ~pd.isna(level)
    lab[~known] = None
    # provenance: the latest of the stress inputs, qt_state and the event that set qt_ended
    obs, avl = out.cols["liquidity_stress__obs"].copy(), out.cols["liquidity_stress__avail"].copy()
    for key in ("qt_state", "qt_ended"):
        o, a = out.cols[key + "__obs"], out.cols[key + "__avail"]
        ok = known & ~pd.isna(out.cols[key]) & ~np.isnat(a)
        obs = np.where(ok & (o > obs), o, obs)
        avl = np.where(ok & (a > avl), a, avl)
    reason = np.where(known, None, out.cols["liquidity_stress__reason"]).astype(object)
    reason[~known & pd.isna(reason)] = "liquidity_stress is unknown"
    out.put("regime", lab, obs, avl, reason)
