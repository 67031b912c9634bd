"""``snapshot_row``: one decision date of the signal frame as the dashboard's records."""

from __future__ import annotations

import math

import pandas as pd

from ..errors import UsageError
from .definitions import SIGNALS, SignalConfig, StressComponent


def config_of(frame: pd.DataFrame, config: SignalConfig | None = None) -> SignalConfig:
    if config is not None:
        return config
    raw = frame.attrs.get("signal_config")
    if not raw:
        return SignalConfig()
    raw = dict(raw)
    raw["stress_components"] = tuple(
        c if isinstance(c, StressComponent) else StressComponent(**c) for c in raw["stress_components"]
    )
    return SignalConfig(**raw)


def _date(v):
    return None if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def snapshot_row(frame: pd.DataFrame, date, config: SignalConfig | None = None) -> dict[str, dict]:
    """``{key: {value, threshold, state, observation_date, available_on[, reason]}}`` on ``date``.

    ``date`` is the decision date; a non-session date uses the last decision date on or before it.
    Values are floats, bools or labels (``None`` when unknown, with ``reason``). ``liquidity_stress`` and
    ``regime`` also carry ``unknown_inputs`` (the stress inputs that were unknown that day).
    """
    cfg = config_of(frame, config)
    when = pd.Timestamp(date)
    pos = frame.index.searchsorted(when, side="right") - 1
    if pos < 0:
        first = frame.index[0].date() if len(frame) else "none"
        raise UsageError(f"no signals on {when.date()}", f"the signal frame starts on {first}")
    row = frame.iloc[pos]
    out: dict[str, dict] = {}
    for key, d in SIGNALS.items():
        if key not in frame.columns:
            continue
        v = row[key]
        unknown = v is None or (isinstance(v, float) and math.isnan(v)) or (not isinstance(v, str) and pd.isna(v))
        if unknown:
            value = None
        elif d.kind == "bool":
            value = bool(float(v) > 0.5)
        elif d.kind == "label":
            value = str(v)
        else:
            value = float(v)
        state = None if value is None else d.state(value, cfg)
        rec = {
            "value": value,
            "threshold": d.threshold(cfg),
            "state": state,
            "observation_date": _date(row.get(key + "__obs")),
            "available_on": _date(row.get(key + "__avail")),
        }
        if key == "last_event_type" and value is not None:
            rec["label"] = str(row["last_event_label"])
        if key == "reserves_to_gdp":
            rec["thresholds"] = {
                "ample": cfg.ample_ratio,
                "floor": cfg.floor_ratio,
                "sept_2019": cfg.crisis_ratio,
            }
        if key in ("liquidity_stress", "regime"):
            miss = row.get("liquidity_stress_unknown_inputs") or ""
            rec["unknown_inputs"] = [m for m in str(miss).split(", ") if m]
        if value is None:
            rec["reason"] = row.get(key + "__reason") or "unknown"
        out[key] = rec
    return out


def decision_date(frame: pd.DataFrame, date) -> pd.Timestamp:
    pos = frame.index.searchsorted(pd.Timestamp(date), side="right") - 1
    return frame.index[max(pos, 0)]
