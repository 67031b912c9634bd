"""The liquidity-thesis strategies: the article's rule and three variations on its inputs.

Gold is named ``GLD`` here; ``hedge backtest --gold LBMA_GOLD`` swaps in the LBMA fixing. Every
condition is false where its input is unknown, so an unknown input means the neutral allocation.
"""

from __future__ import annotations

import pandas as pd

from backtester.strategy import Param, Strategy

from ._util import above, below, col, flag, neutral

_NEUTRAL = {
    "neutral_spy": Param(float, 0.6, 0.0, 1.0, help="neutral weight of SPY"),
    "neutral_ief": Param(float, 0.4, 0.0, 1.0, help="neutral weight of IEF"),
    "neutral_gld": Param(float, 0.0, 0.0, 1.0, help="neutral weight of gold"),
}
_HEDGE = {
    "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight when the hedge is on"),
    "btc": Param(float, 0.3, 0.0, 1.0, help="bitcoin weight when the hedge is on"),
}


def _hedge(p) -> dict[str, float]:
    return {"GLD": p["gold"], "BTC-USD": p["btc"]}


def _assets(p) -> tuple[str, ...]:
    return ("GLD", "BTC-USD", "SPY", "IEF")


# ---------------------------------------------------------------- seed-thesis
def seed_thesis_on(s: pd.DataFrame, p: dict) -> pd.Series:
    scarce = below(s, "reserves_to_gdp", p["floor"])
    drained = below(s, "rrp_balance", p["rrp_drained_bn"])
    widening = above(s, "sofr_effr_bp_20d", p["spread_bp"]) | above(s, "sofr_iorb_bp_20d", p["spread_bp"])
    qt_over = flag(s, "qt_ended")
    return scarce | (drained & widening) | qt_over


# ---------------------------------------------------------------- every strategy in factor form, written once
# The weights of many parameter sets at once (backtester/strategies/factors.py): each condition is computed
# once per distinct threshold set, the weights are per-combination loadings. ``Strategy.fn`` (a backtest's one
# parameter set) is derived from the same form (factors.weight_function).
def _sweep(key, features, loadings):
    def fn(s: pd.DataFrame, plist):
        from backtester.strategies.factors import from_features

        return from_features(s.index, plist, key=key, features=lambda p: features(s, p), loadings=lambda p: loadings(p))

    return fn


def _regime(cond):
    from backtester.strategies.factors import regime

    return regime(cond)


def _scarcity_features(s, p):
    r = col(s, "reserves_to_gdp")
    hi, lo = p["upper"], p["lower"]
    return [1.0, ((hi - r) / max(hi - lo, 1e-9)).clip(0.0, 1.0).fillna(0.0)]


def _scarcity_loadings(p):
    m, b = p["max_weight"], p["btc_share"]
    base = {"GLD": 0.0, "BTC-USD": 0.0, "SPY": p["neutral_spy"], "IEF": p["neutral_ief"]}
    slope = {"GLD": m * (1 - b), "BTC-USD": m * b, "SPY": -m * p["neutral_spy"], "IEF": -m * p["neutral_ief"]}
    return [base, slope]


def _trend_features(s, p):
    rising = above(s, "net_liquidity_13w_change", p["band_bn"]).to_numpy(bool)
    falling = below(s, "net_liquidity_13w_change", -p["band_bn"]).to_numpy(bool)
    up = rising & ~falling
    return [up.astype(float), falling.astype(float), (~up & ~falling).astype(float)]


def _trend_loadings(p):
    return [{"BTC-USD": p["btc"], "SPY": 1.0 - p["btc"]}, {"GLD": p["gold"]}, neutral(p)]


STRATEGIES = [
    Strategy(
        name="seed-thesis",
        description="The article's rule: gold+BTC when reserves/GDP < floor, or RRP drained with spreads "
        "widening, or QT has ended; else a neutral mix.",
        params={
            "floor": Param(float, 0.10, 0.05, 0.15, help="reserves/GDP 'ample' floor"),
            "rrp_drained_bn": Param(float, 50.0, 0.0, 1000.0, help="RRP below this ($B) counts as drained"),
            "spread_bp": Param(float, 5.0, -20.0, 50.0, help="SOFR-EFFR or SOFR-IORB 20-day mean above this (bp)"),
            **_HEDGE,
            **_NEUTRAL,
        },
        uses=("reserves_to_gdp", "rrp_balance", "sofr_effr_bp_20d", "qt_ended"),
        assets=_assets,
        sweep_fn=_sweep(
            lambda p: (p["floor"], p["rrp_drained_bn"], p["spread_bp"]),
            lambda s, p: _regime(seed_thesis_on(s, p)),
            lambda p: [_hedge(p), neutral(p)],
        ),
    ),
    Strategy(
        name="qt-pivot",
        description="From a QT-end announcement until QT resumes: gold+BTC; otherwise cash or the neutral mix.",
        params={
            **_HEDGE,
            "neutral": Param(str, "cash", choices=("cash", "mix"), help="off-signal: cash or mix"),
            **_NEUTRAL,
        },
        uses=("qt_ended",),
        assets=_assets,
        sweep_fn=_sweep(
            lambda p: (),
            lambda s, p: _regime(flag(s, "qt_ended")),
            lambda p: [_hedge(p), neutral(p) if p["neutral"] == "mix" else {}],
        ),
    ),
    Strategy(
        name="reserve-scarcity",
        description="Gold/BTC weight rising linearly as reserves/GDP falls from `upper` to `lower`.",
        params={
            "upper": Param(float, 0.11, 0.05, 0.20, help="reserves/GDP where the hedge starts"),
            "lower": Param(float, 0.07, 0.0, 0.15, help="reserves/GDP where the hedge is full"),
            "max_weight": Param(float, 0.8, 0.0, 1.0, help="full hedge weight (gold+BTC)"),
            "btc_share": Param(float, 0.375, 0.0, 1.0, help="bitcoin's share of the hedge"),
            **_NEUTRAL,
        },
        uses=("reserves_to_gdp",),
        assets=_assets,
        sweep_fn=_sweep(lambda p: (p["upper"], p["lower"]), _scarcity_features, _scarcity_loadings),
    ),
    Strategy(
        name="spread-stress",
        description="Risk off (gold and cash) while the SOFR spreads are stressed; otherwise the neutral mix.",
        params={
            "spread_bp": Param(float, 5.0, -20.0, 50.0, help="20-day mean spread above this (bp) is stress"),
            "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight under stress (rest cash)"),
            **_NEUTRAL,
        },
        uses=("sofr_effr_bp_20d",),
        assets=lambda p: ("GLD", "SPY", "IEF"),
        sweep_fn=_sweep(
            lambda p: p["spread_bp"],
            lambda s, p: _regime(
                above(s, "sofr_iorb_bp_20d", p["spread_bp"]) | above(s, "sofr_effr_bp_20d", p["spread_bp"])
            ),
            lambda p: [{"GLD": p["gold"]}, neutral(p)],
        ),
    ),
    Strategy(
        name="net-liquidity-trend",
        description="BTC and equities while net liquidity (WALCL-TGA-RRP) rises, gold and cash while it falls.",
        params={
            "band_bn": Param(float, 50.0, 0.0, 500.0, help="13-week change beyond +/- this ($B) is a trend"),
            "btc": Param(float, 0.3, 0.0, 1.0, help="BTC weight while rising (rest SPY)"),
            "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight while falling (rest cash)"),
            **_NEUTRAL,
        },
        uses=("net_liquidity_13w_change",),
        assets=_assets,
        sweep_fn=_sweep(lambda p: p["band_bn"], _trend_features, _trend_loadings),
    ),
]
