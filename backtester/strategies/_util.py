"""Helpers for strategy functions: conditions on possibly-unknown signals, weight frames."""

from __future__ import annotations

import numpy as np
import pandas as pd


def col(signals: pd.DataFrame, name: str) -> pd.Series:
    """A signal column as float (NaN where unknown); a missing column is unknown everywhere."""
    if name not in signals.columns:
        return pd.Series(np.nan, index=signals.index)
    return pd.to_numeric(signals[name], errors="coerce").astype(float)


def below(signals, name, threshold) -> pd.Series:
    """True where the signal is known and below the threshold (unknown -> False)."""
    return (col(signals, name) < threshold).fillna(False)


def above(signals, name, threshold) -> pd.Series:
    return (col(signals, name) > threshold).fillna(False)


def flag(signals, name) -> pd.Series:
    """A boolean signal: True only where known and true."""
    return (col(signals, name) > 0.5).fillna(False)


def label(signals, name, value) -> pd.Series:
    if name not in signals.columns:
        return pd.Series(False, index=signals.index)
    return (signals[name] == value).fillna(False).astype(bool)


def weights_of(text: str, name: str) -> dict[str, float]:
    """``"IBIT:0.3,GLD:0.5"`` -> ``{"IBIT": 0.3, "GLD": 0.5}``: any asset ids (checked against the store
    when the run loads prices), weights in [0, 1] summing to at most 1. Malformed -> UsageError."""
    from backtester.data.market import resolve_asset
    from backtester.errors import UsageError

    out: dict[str, float] = {}
    fix = f"write {name}=ASSET:WEIGHT,ASSET:WEIGHT (e.g. {name}=IBIT:0.3,GLD:0.5)"
    for part in str(text).split(","):
        if not part.strip():
            continue
        if ":" not in part:
            raise UsageError(f"parameter {name}: {part.strip()!r} is not ASSET:WEIGHT", fix)
        a, w = part.rsplit(":", 1)
        try:
            x = float(w)
        except ValueError:
            raise UsageError(f"parameter {name}: weight {w.strip()!r} of {a.strip()} is not a number", fix) from None
        if not (0.0 <= x <= 1.0):
            raise UsageError(f"parameter {name}: weight {x:g} of {a.strip()} is not between 0 and 1", fix)
        aid = resolve_asset(a)
        out[aid] = out.get(aid, 0.0) + x
    if sum(out.values()) > 1 + 1e-9:
        raise UsageError(f"parameter {name}: weights sum to {sum(out.values()):g}", "weights must sum to at most 1")
    return out


def neutral(params: dict) -> dict[str, float]:
    """The neutral mix: ``neutral_mix`` (e.g. ``SPY:0.6,IEF:0.4``) when given, else the ``neutral_spy`` /
    ``neutral_ief`` / ``neutral_gld`` parameters (default SPY 0.6 + IEF 0.4)."""
    if params.get("neutral_mix"):
        return weights_of(params["neutral_mix"], "neutral_mix")
    return {
        "SPY": params.get("neutral_spy", 0.0),
        "IEF": params.get("neutral_ief", 0.0),
        "GLD": params.get("neutral_gld", 0.0),
    }
