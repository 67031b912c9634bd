"""The liquidity-thesis strategies: the article's rule and three variations on its inputs.

Their instruments are parameters: ``hedge`` names the hedge assets and weights (``IBIT:0.3,GLD:0.5``;
default GLD ``gold`` + BTC-USD ``btc``, i.e. GLD 0.5 + BTC-USD 0.3), ``neutral_mix`` the neutral mix
(default SPY 0.6 + IEF 0.4 from ``neutral_spy`` / ``neutral_ief`` / ``neutral_gld``). Any holdable asset
of the store may be named, the user's own prices included. ``hedge backtest --gold LBMA_GOLD`` is the
special case that swaps the LBMA fixing in for GLD. Every condition is false where its input is
unknown, so an unknown input means the neutral allocation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtester.strategy import Param, Strategy

from ._util import above, below, col, flag, neutral, weights_of

_NEUTRAL = {
    "neutral_mix": Param(str, "", help="neutral mix ASSET:W,... (e.g. SPY:0.6,IEF:0.4); overrides neutral_*"),
    "neutral_spy": Param(float, 0.6, 0.0, 1.0, help="neutral weight of SPY"),
    "neutral_ief": Param(float, 0.4, 0.0, 1.0, help="neutral weight of IEF"),
    "neutral_gld": Param(float, 0.0, 0.0, 1.0, help="neutral weight of gold"),
}
_HEDGE_HELP = "hedge assets ASSET:W,... (e.g. IBIT:0.3,GLD:0.5); overrides gold/btc"
_HEDGE = {
    "hedge": Param(str, "", help=_HEDGE_HELP),
    "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight when the hedge is on"),
    "btc": Param(float, 0.3, 0.0, 1.0, help="bitcoin weight when the hedge is on"),
}


def _hedge(p) -> dict[str, float]:
    if p.get("hedge"):
        return weights_of(p["hedge"], "hedge")
    return {"GLD": p["gold"], "BTC-USD": p["btc"]}


def _gold_hedge(p) -> dict[str, float]:
    """spread-stress / net-liquidity-trend off-signal: ``hedge`` when given, else GLD ``gold``."""
    return weights_of(p["hedge"], "hedge") if p.get("hedge") else {"GLD": p["gold"]}


def _shares(p) -> dict[str, float]:
    """reserve-scarcity: how the hedge splits (``hedge`` weights normalised; default GLD/BTC by btc_share)."""
    if p.get("hedge"):
        w = weights_of(p["hedge"], "hedge")
        total = sum(w.values())
        return {a: x / total for a, x in w.items()} if total > 0 else {}
    return {"GLD": 1 - p["btc_share"], "BTC-USD": p["btc_share"]}


def _named(*allocs) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for w in allocs for a in w if a != "CASH"))


def _assets(p) -> tuple[str, ...]:
    return _named(_shares(p) if "btc_share" in p else _hedge(p), neutral(p))


# ---------------------------------------------------------------- conditions on arrays
# A threshold may be a number (one parameter set) or an array of thresholds shaped to broadcast against the
# others and the signal rows (factors.Form: every threshold set of a grid at once). numpy's comparisons are
# False where the signal is unknown (NaN), as the pandas helpers below / above / flag are.
def _x(s: pd.DataFrame, name: str) -> np.ndarray:
    return col(s, name).to_numpy(np.float64)


def _below(s, name, t) -> np.ndarray:
    return _x(s, name) < t


def _above(s, name, t) -> np.ndarray:
    return _x(s, name) > t


def _flag(s, name) -> np.ndarray:
    return _x(s, name) > 0.5


# ---------------------------------------------------------------- seed-thesis
def _seed_on(s: pd.DataFrame, p: dict) -> np.ndarray:
    t = p["spread_bp"]
    scarce = _below(s, "reserves_to_gdp", p["floor"])
    drained = _below(s, "rrp_balance", p["rrp_drained_bn"])
    widening = _above(s, "sofr_effr_bp_20d", t) | _above(s, "sofr_iorb_bp_20d", t)
    return scarce | (drained & widening) | _flag(s, "qt_ended")


def seed_thesis_on(s: pd.DataFrame, p: dict) -> pd.Series:
    return pd.Series(_seed_on(s, p), index=s.index)


# ---------------------------------------------------------------- spread-stress
def _stressed_on(s: pd.DataFrame, p: dict) -> np.ndarray:
    return _above(s, "sofr_iorb_bp_20d", p["spread_bp"]) | _above(s, "sofr_effr_bp_20d", p["spread_bp"])


def _stressed(s: pd.DataFrame, p: dict) -> pd.Series:
    return pd.Series(_stressed_on(s, p), index=s.index)


# ---------------------------------------------------------------- every strategy in factor form, written once
# The weights of many parameter sets at once (backtester/strategies/factors.py): the features (conditions)
# take each swept threshold as an array of all its values (broadcasting: every threshold set of the grid in
# one call), the loadings take each swept weight as an array over the combinations (arithmetic; the string
# parameters hedge / neutral_mix stay scalars). ``Strategy.fn`` (a backtest's one parameter set) is derived
# from the same form (factors.weight_function), with scalar parameters.
_ASSETS_BY = ("hedge", "neutral_mix")  # the parameters _assets reads (the names, not the weights)


def _sweep(shape, features, loadings):
    from backtester.strategies.factors import Form

    return Form(shape, features, loadings, assets_by=_ASSETS_BY)


def _regime(cond):
    from backtester.strategies.factors import regime

    return regime(cond)


def _scarcity_features(s, p):
    r = _x(s, "reserves_to_gdp")
    hi, lo = p["upper"], p["lower"]
    with np.errstate(invalid="ignore"):
        w = np.clip((hi - r) / np.maximum(hi - lo, 1e-9), 0.0, 1.0)
    return [1.0, np.where(np.isnan(w), 0.0, w)]


def _scarcity_loadings(p):
    m, sh, nm = p["max_weight"], _shares(p), neutral(p)
    names = _named(sh, nm)
    base = {a: nm.get(a, 0.0) for a in names}
    slope = {a: m * sh.get(a, 0.0) - m * nm.get(a, 0.0) for a in names}
    return [base, slope]


def _trend_features(s, p):
    rising = _above(s, "net_liquidity_13w_change", p["band_bn"])
    falling = _below(s, "net_liquidity_13w_change", -p["band_bn"])
    up = rising & ~falling
    return [up.astype(float), falling.astype(float), (~up & ~falling).astype(float)]


def _trend_loadings(p):
    return [{"BTC-USD": p["btc"], "SPY": 1.0 - p["btc"]}, _gold_hedge(p), neutral(p)]


STRATEGIES = [
    Strategy(
        name="seed-thesis",
        description="The article's rule: gold+BTC when reserves/GDP < floor, or RRP drained with spreads "
        "widening, or QT has ended; else a neutral mix.",
        params={
            "floor": Param(float, 0.10, 0.05, 0.15, help="reserves/GDP 'ample' floor", unit="reserves/GDP"),
            "rrp_drained_bn": Param(float, 50.0, 0.0, 1000.0, help="RRP below this ($B) counts as drained"),
            "spread_bp": Param(float, 5.0, -20.0, 50.0, help="SOFR-EFFR/IORB 20-day mean above this"),
            **_HEDGE,
            **_NEUTRAL,
        },
        hedge_on=seed_thesis_on,
        uses=("reserves_to_gdp", "rrp_balance", "sofr_effr_bp_20d", "qt_ended"),
        assets=_assets,
        sweep_fn=_sweep(
            ("floor", "rrp_drained_bn", "spread_bp"),
            lambda s, p: _regime(_seed_on(s, p)),
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
        hedge_on=lambda s, p: flag(s, "qt_ended"),
        uses=("qt_ended",),
        assets=_assets,
        sweep_fn=_sweep(
            (),
            lambda s, p: _regime(_flag(s, "qt_ended")),
            lambda p: [_hedge(p), neutral(p) if p["neutral"] == "mix" else {}],
        ),
    ),
    Strategy(
        name="reserve-scarcity",
        description="Gold/BTC weight rising linearly as reserves/GDP falls from `upper` to `lower`.",
        params={
            "upper": Param(float, 0.11, 0.05, 0.20, help="reserves/GDP where the hedge starts", unit="reserves/GDP"),
            "lower": Param(float, 0.07, 0.0, 0.15, help="reserves/GDP where the hedge is full", unit="reserves/GDP"),
            "max_weight": Param(float, 0.8, 0.0, 1.0, help="full hedge weight (gold+BTC)"),
            "btc_share": Param(float, 0.375, 0.0, 1.0, help="bitcoin's share of the hedge"),
            "hedge": Param(str, "", help="hedge assets ASSET:W,... (their shares of max_weight); overrides btc_share"),
            **_NEUTRAL,
        },
        hedge_on=lambda s, p: (col(s, "reserves_to_gdp") < p["upper"]).fillna(False),
        uses=("reserves_to_gdp",),
        assets=_assets,
        sweep_fn=_sweep(("upper", "lower"), _scarcity_features, _scarcity_loadings),
    ),
    Strategy(
        name="spread-stress",
        description="Risk off (gold and cash) while the SOFR spreads are stressed; otherwise the neutral mix.",
        params={
            "spread_bp": Param(float, 5.0, -20.0, 50.0, help="20-day mean SOFR spread above this: stress"),
            "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight under stress (rest cash)"),
            "hedge": Param(str, "", help="assets under stress ASSET:W,... (e.g. GLD:0.3,SLV:0.2); overrides gold"),
            **_NEUTRAL,
        },
        hedge_on=_stressed,
        uses=("sofr_effr_bp_20d",),
        assets=lambda p: _named(_gold_hedge(p), neutral(p)),
        sweep_fn=_sweep(
            ("spread_bp",),
            lambda s, p: _regime(_stressed_on(s, p)),
            lambda p: [_gold_hedge(p), neutral(p)],
        ),
    ),
    Strategy(
        name="net-liquidity-trend",
        description="BTC and equities while net liquidity (WALCL-TGA-RRP) rises, gold and cash while it falls.",
        params={
            "band_bn": Param(float, 50.0, 0.0, 500.0, help="13-week change beyond +/- this is a trend"),
            "btc": Param(float, 0.3, 0.0, 1.0, help="BTC weight while rising (rest SPY)"),
            "gold": Param(float, 0.5, 0.0, 1.0, help="gold weight while falling (rest cash)"),
            "hedge": Param(str, "", help="assets while falling ASSET:W,... (e.g. GLD:0.5); overrides gold"),
            **_NEUTRAL,
        },
        hedge_on=lambda s, p: (
            above(s, "net_liquidity_13w_change", p["band_bn"]) | below(s, "net_liquidity_13w_change", -p["band_bn"])
        ),
        uses=("net_liquidity_13w_change",),
        assets=lambda p: _named(_gold_hedge(p), {"BTC-USD": p["btc"], "SPY": 1.0 - p["btc"]}, neutral(p)),
        sweep_fn=_sweep(("band_bn",), _trend_features, _trend_loadings),
    ),
]
