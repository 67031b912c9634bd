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


def neutral(params: dict) -> dict[str, float]:
    """The neutral mix from ``neutral_spy`` / ``neutral_ief`` / ``neutral_gld`` parameters."""
    return {
        "SPY": params.get("neutral_spy", 0.0),
        "IEF": params.get("neutral_ief", 0.0),
        "GLD": params.get("neutral_gld", 0.0),
    }
