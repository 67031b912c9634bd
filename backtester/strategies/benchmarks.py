"""Benchmarks: buy-and-hold of one asset, and a static mix rebalanced by the engine."""

from __future__ import annotations

import pandas as pd

from backtester.data.catalog import HOLDABLE
from backtester.errors import UsageError
from backtester.strategy import Param, Strategy

PARAM_OF = {a: a.split("-")[0].lower() for a in HOLDABLE if a != "CASH"}  # BTC-USD -> btc, LBMA_GOLD -> lbma_gold


def _buy_hold(signals: pd.DataFrame, p: dict) -> pd.DataFrame:
    if p["asset"] == "CASH":
        return pd.DataFrame(index=signals.index)
    return pd.DataFrame({p["asset"]: 1.0}, index=signals.index)


def _static(signals: pd.DataFrame, p: dict) -> pd.DataFrame:
    w = {a: p[k] for a, k in PARAM_OF.items() if p[k] > 0}
    total = sum(w.values())
    if total > 1 + 1e-9:
        raise UsageError(f"static-mix weights sum to {total:g}", "weights must sum to at most 1; the rest is CASH")
    return pd.DataFrame(w, index=signals.index)


def _sweep_constant(weights_of):
    """Fixed weights per combination (hedge sweep): one constant feature, the weights as loadings."""

    def fn(s: pd.DataFrame, plist):
        from backtester.strategies.factors import from_features

        return from_features(s.index, plist, key=lambda p: (), features=lambda p: [1.0], loadings=weights_of)

    return fn


STRATEGIES = [
    Strategy(
        name="buy-hold",
        description="Buy and hold one asset (no signals).",
        params={"asset": Param(str, "SPY", choices=HOLDABLE, help="the asset to hold")},
        fn=_buy_hold,
        assets=lambda p: (p["asset"],) if p["asset"] != "CASH" else (),
        sweep_fn=_sweep_constant(lambda p: [{p["asset"]: 1.0} if p["asset"] != "CASH" else {}]),
    ),
    Strategy(
        name="static-mix",
        description="A fixed mix, rebalanced by the engine; the rest in CASH (e.g. spy=0.6, tlt=0.4).",
        params={k: Param(float, 0.0, 0.0, 1.0, help=f"weight of {a}") for a, k in PARAM_OF.items()},
        fn=_static,
        assets=lambda p: tuple(a for a, k in PARAM_OF.items() if p[k] > 0),
        sweep_fn=_sweep_constant(lambda p: [{a: p[k] for a, k in PARAM_OF.items() if p[k] > 0}]),
    ),
]
