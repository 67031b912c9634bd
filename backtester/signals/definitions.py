"""Signal thresholds (``SignalConfig``) and the registry of signal keys (``SIGNALS``).

The registry says, for each json key of ``hedge signals``, its kind (``number`` / ``bool`` / ``label``),
its units, which threshold the dashboard shows next to it and how its state word is derived.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

SPREADS = ("sofr_effr", "sofr_iorb")


@dataclass(frozen=True)
class StressComponent:
    """One input of ``liquidity_stress``: its score rises linearly from 0 at ``calm`` to 100 at ``stressed``
    (clipped to 0..100); ``weight`` is its share of the composite."""

    key: str
    weight: float
    calm: float
    stressed: float

    def score(self, x):
        return (x - self.calm) / (self.stressed - self.calm) * 100.0


@dataclass(frozen=True)
class SignalConfig:
    # reserves / nominal GDP (fractions)
    ample_ratio: float = 0.11
    floor_ratio: float = 0.10  # the "ample" floor
    crisis_ratio: float = 0.07  # reserves/GDP in Sept 2019
    # overnight reverse repo (USD billions)
    rrp_drained_bn: float = 50.0
    # funding spreads (basis points; windows in observations of the native daily series)
    spread_threshold_bp: float = 5.0
    spread_short_window: int = 20
    spread_long_window: int = 60
    widening_spread: str = "sofr_effr"  # which spread drives spread_widening and the stress: sofr_effr | sofr_iorb
    # Fed balance sheet (USD billions, weekly)
    qt_weeks: int = 13
    qt_tolerance_bn: float = 25.0
    qt_jump_cap_bn: float = 50.0  # a single week's change counts at most this much toward qt_state
    qt_confirm_weeks: int = 2  # a new qt_state must hold this many consecutive weeks
    # total liquidity change window, net liquidity change window (weeks)
    total_liquidity_weeks: int = 52
    net_liquidity_weeks: int = 13
    # liquidity_stress composite and regime
    stress_components: tuple[StressComponent, ...] = field(
        default_factory=lambda: (
            StressComponent("reserves_to_gdp", 0.35, 0.12, 0.07),
            StressComponent("rrp_balance", 0.15, 300.0, 0.0),
            StressComponent("spread_20d", 0.25, -5.0, 15.0),
            StressComponent("fed_assets_13w_change", 0.10, 100.0, -300.0),
            StressComponent("net_liquidity_13w_change", 0.15, 300.0, -300.0),
        )
    )
    stress_min_weight: float = 0.6  # composite unknown when the known inputs weigh less than this
    stress_scarce: float = 60.0
    stress_tightening: float = 40.0
    stress_band: float = 5.0  # hysteresis: a regime level is left only this far below its entry threshold

    def __post_init__(self):
        if self.widening_spread not in SPREADS:
            raise ValueError(f"widening_spread must be one of {SPREADS}, not {self.widening_spread!r}")
        if not (self.crisis_ratio < self.floor_ratio <= self.ample_ratio):
            raise ValueError("need crisis_ratio < floor_ratio <= ample_ratio")
        if min(self.spread_short_window, self.spread_long_window, self.qt_weeks, self.qt_confirm_weeks) < 1:
            raise ValueError("windows must be at least 1")

    def spread_key(self) -> str:
        """The column of the short-window mean of the configured spread (columns keep their default names)."""
        return f"{self.widening_spread}_bp_20d"


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@dataclass(frozen=True)
class SignalDef:
    key: str
    kind: str  # number | bool | label
    units: str
    description: str
    threshold: Callable[[SignalConfig], float | None] = lambda c: None
    state: Callable[[object, SignalConfig], str | None] = lambda v, c: None


def _ratio_state(v, c: SignalConfig):
    if v >= c.ample_ratio:
        return "ample"
    if v >= c.floor_ratio:
        return "near-floor"
    if v >= c.crisis_ratio:
        return "below-floor"
    return "below-sept-2019"


def _sign(up: str, down: str, at: float = 0.0):
    return lambda v, c: up if v > at else down


def _spread_state(v, c: SignalConfig):
    return "above-threshold" if v > c.spread_threshold_bp else "below-threshold"


def _flow_state(v, c: SignalConfig):
    if v < -c.qt_tolerance_bn:
        return "shrinking"
    if v > c.qt_tolerance_bn:
        return "growing"
    return "flat"


def _stress_state(v, c: SignalConfig):
    if v >= c.stress_scarce:
        return "high"
    if v >= c.stress_tightening:
        return "elevated"
    return "low"


def _label(v, c):
    return str(v)


def _spread_defs(name: str, title: str) -> list[SignalDef]:
    return [
        SignalDef(f"{name}_bp", "number", "bp", f"{title} (daily)", lambda c: c.spread_threshold_bp, _spread_state),
        SignalDef(
            f"{name}_bp_20d",
            "number",
            "bp",
            f"{title}, mean of the last 20 observations",
            lambda c: c.spread_threshold_bp,
            _spread_state,
        ),
        SignalDef(f"{name}_bp_60d", "number", "bp", f"{title}, mean of the last 60 observations"),
    ]


SIGNALS: dict[str, SignalDef] = {
    d.key: d
    for d in [
        SignalDef("reserves", "number", "USD bn", "reserve balances (WRESBAL, week average)"),
        SignalDef("gdp", "number", "USD bn", "nominal GDP (SAAR) as first released by that day"),
        SignalDef(
            "reserves_to_gdp",
            "number",
            "fraction",
            "reserves / nominal GDP as available",
            lambda c: c.floor_ratio,
            _ratio_state,
        ),
        SignalDef(
            "rrp_balance",
            "number",
            "USD bn",
            "overnight reverse repo (RRPONTSYD)",
            lambda c: c.rrp_drained_bn,
            lambda v, c: "drained" if v < c.rrp_drained_bn else "buffer",
        ),
        SignalDef("rrp_drawdown_from_peak", "number", "fraction", "fraction of ON RRP below its running peak"),
        SignalDef(
            "rrp_drained",
            "bool",
            "",
            "ON RRP below the drained threshold (also true in 2018-2020)",
            lambda c: c.rrp_drained_bn,
            lambda v, c: "drained" if v else "buffer",
        ),
        SignalDef("total_liquidity", "number", "USD bn", "reserves + ON RRP (weekly, Wednesday RRP)"),
        SignalDef(
            "total_liquidity_52w_change",
            "number",
            "USD bn",
            "total liquidity minus 52 weeks earlier",
            lambda c: 0.0,
            _sign("rising", "falling"),
        ),
        *_spread_defs("sofr_effr", "SOFR - EFFR"),
        *_spread_defs("sofr_iorb", "SOFR - rate on reserves (IOER to 2021-07-28, IORB after)"),
        SignalDef(
            "spread_widening",
            "bool",
            "",
            "20-day spread mean above threshold and above its 60-day mean",
            lambda c: c.spread_threshold_bp,
            lambda v, c: "widening" if v else "calm",
        ),
        SignalDef("fed_assets", "number", "USD bn", "Fed total assets (WALCL)"),
        SignalDef(
            "fed_assets_13w_change",
            "number",
            "USD bn",
            "WALCL minus 13 weeks earlier",
            lambda c: -c.qt_tolerance_bn,
            _flow_state,
        ),
        SignalDef(
            "fed_assets_13w_trend",
            "number",
            "USD bn",
            "13-week sum of weekly WALCL changes, each capped at the jump cap (drives qt_state)",
            lambda c: -c.qt_tolerance_bn,
            _flow_state,
        ),
        SignalDef(
            "qt_state",
            "label",
            "",
            "balance-sheet direction with hysteresis: qt | flat | expanding",
            lambda c: -c.qt_tolerance_bn,
            _label,
        ),
        SignalDef(
            "last_event_type",
            "label",
            "",
            "type of the latest FOMC balance-sheet event announced",
            state=_label,
        ),
        SignalDef("days_since_qt_end", "number", "days", "calendar days since the latest QT-end announcement"),
        SignalDef(
            "qt_ended",
            "bool",
            "",
            "a QT end was announced and no QT start since",
            state=lambda v, c: "qt-ended" if v else "no",
        ),
        SignalDef("tga", "number", "USD bn", "Treasury General Account, Wednesday level (WDTGAL, H.4.1)"),
        SignalDef("tga_week_avg", "number", "USD bn", "Treasury General Account, week average (WTREGEN, H.4.1)"),
        SignalDef("net_liquidity", "number", "USD bn", "WALCL - WDTGAL - ON RRP (Wednesday levels)"),
        SignalDef(
            "net_liquidity_week_avg", "number", "USD bn", "alternative: WALCL - WTREGEN (week-average TGA) - ON RRP"
        ),
        SignalDef(
            "net_liquidity_13w_change",
            "number",
            "USD bn",
            "net liquidity minus 13 weeks earlier",
            lambda c: 0.0,
            _sign("rising", "falling"),
        ),
        SignalDef(
            "liquidity_stress",
            "number",
            "0-100",
            "composite liquidity stress",
            lambda c: c.stress_scarce,
            _stress_state,
        ),
        SignalDef("regime", "label", "", "ample | tightening | scarce | easing", state=_label),
    ]
}

KEYS: tuple[str, ...] = tuple(SIGNALS)
LABELS: tuple[str, ...] = tuple(k for k, d in SIGNALS.items() if d.kind == "label")
BOOLS: tuple[str, ...] = tuple(k for k, d in SIGNALS.items() if d.kind == "bool")
