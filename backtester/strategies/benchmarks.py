"""Benchmarks: buy-and-hold of one asset, and a static mix rebalanced by the engine.

Both take any holdable asset of the store, the user's own prices included (``asset=GDXJ``,
``mix=SPY:0.6,GDXJ:0.4``); the run checks the names against the store."""

from __future__ import annotations

import pandas as pd

from backtester.data.catalog import HOLDABLE
from backtester.errors import UsageError
from backtester.strategy import Param, Strategy

from ._util import weights_of

PARAM_OF = {a: a.split("-")[0].lower() for a in HOLDABLE if a != "CASH"}  # BTC-USD -> btc, LBMA_GOLD -> lbma_gold


def _asset(p) -> str:
    from backtester.data.market import resolve_asset

    return resolve_asset(p["asset"])


def _mix(p) -> dict[str, float]:
    """The static mix: the per-asset parameters plus ``mix`` (any assets, ASSET:W,...)."""
    w = {a: p[k] for a, k in PARAM_OF.items() if p[k] > 0}
    for a, x in (weights_of(p["mix"], "mix") if p.get("mix") else {}).items():
        if x > 0:
            w[a] = w.get(a, 0.0) + x
    return w


def _sweep_constant(weights_of, vector: bool = True):
    """Fixed weights per combination, in factor form: one constant feature, the weights as loadings (the
    plain weight function is derived from it: each strategy is written once). ``vector``: ``weights_of``
    also takes arrays of the swept weights (factors.Form.vector_loadings); static-mix's assets depend on
    which weights are > 0, so it is called once per combination."""
    from backtester.strategies.factors import Form

    return Form((), lambda s, p: [1.0], weights_of, vector_loadings=vector)


_static_factors = _sweep_constant(lambda p: [_mix(p)], vector=False)


def _static(signals: pd.DataFrame, p: dict) -> pd.DataFrame:
    """The backtest's weights: the factor form's, refused when they sum above 1 (a sweep marks such a
    combination invalid instead)."""
    from backtester.strategies.factors import weight_function

    total = sum(_mix(p).values())
    if total > 1 + 1e-9:
        raise UsageError(f"static-mix weights sum to {total:g}", "weights must sum to at most 1; the rest is CASH")
    return weight_function(_static_factors)(signals, p)


STRATEGIES = [
    Strategy(
        name="buy-hold",
        description="Buy and hold one asset (no signals).",
        params={"asset": Param(str, "SPY", help="the asset to hold (any holdable asset, see hedge data status)")},
        assets=lambda p: (_asset(p),) if _asset(p) != "CASH" else (),
        sweep_fn=_sweep_constant(lambda p: [{_asset(p): 1.0} if _asset(p) != "CASH" else {}]),
    ),
    Strategy(
        name="static-mix",
        description="A fixed mix, rebalanced by the engine; the rest in CASH (e.g. spy=0.6, tlt=0.4).",
        params={
            **{k: Param(float, 0.0, 0.0, 1.0, help=f"weight of {a}") for a, k in PARAM_OF.items()},
            "mix": Param(str, "", help="weights of any assets ASSET:W,... (e.g. SPY:0.6,GDXJ:0.4)"),
        },
        fn=_static,
        assets=lambda p: tuple(_mix(p)),
        sweep_fn=_static_factors,
    ),
]
