"""The liquidity panels QuantStats cannot draw (matplotlib, inline SVG with text as text):

* ``signals``: the signals the strategy uses (``Strategy.uses``; plus the SOFR-IORB spread beside the
  SOFR-EFFR one, and the composite ``liquidity_stress``), the regimes shaded behind, the strategy's
  thresholds (its parameters) drawn, FOMC balance-sheet announcements marked;
* ``weights``: held weights over time (stacked area, CASH included);
* ``drawdowns``: strategy and benchmark drawdowns (initial capital counts as a peak, as in
  ``backtester.metrics``) with the regimes behind;
* ``equity``: the growth of 1 for strategy, benchmark and CASH on a log scale.

Every chart shades the period after the essay (from ``OOS_START``, 2025-10-14) as out of sample.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from ..constants import ESSAY_DATE
from ._io import inline_svg

OOS_START = pd.Timestamp(ESSAY_DATE)  # Powell's remark / the essay: later data is out of sample
REGIME_ALPHA = 0.18  # the same in the shading and its legend, so the colours match
REGIME_COLORS = {
    "ample": "#2ca02c",
    "tightening": "#ff7f0e",
    "scarce": "#d62728",
    "easing": "#1f77b4",
    "unknown": "#bbbbbb",
}
ASSET_COLORS = {
    "GLD": "#d4a017", "LBMA_GOLD": "#b8860b", "BTC-USD": "#f7931a", "SPY": "#1f77b4", "QQQ": "#17becf",
    "TLT": "#9467bd", "IEF": "#8c564b", "CASH": "#c7c7c7",
}  # fmt: skip
# strategy parameter -> the signal columns it is a threshold of (drawn where that signal is shown)
THRESHOLDS = {
    "floor": ("reserves_to_gdp",),
    "upper": ("reserves_to_gdp",),
    "lower": ("reserves_to_gdp",),
    "rrp_drained_bn": ("rrp_balance",),
    "spread_bp": ("sofr_effr_bp_20d", "sofr_iorb_bp_20d"),
    "band_bn": ("net_liquidity_13w_change",),
}
COMPANIONS = {"sofr_effr_bp_20d": ("sofr_iorb_bp_20d",), "sofr_iorb_bp_20d": ("sofr_effr_bp_20d",)}
DEFAULT_SIGNALS = ("reserves_to_gdp", "rrp_balance", "sofr_effr_bp_20d", "net_liquidity_13w_change")
CHARTS = ("signals", "weights", "drawdowns", "equity")
MAX_POINTS = 1500  # stacked areas are drawn from at most about this many dates
_PCT = {"reserves_to_gdp", "rrp_drawdown_from_peak"}  # fractions shown in percent


def regime_runs(labels: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Consecutive runs of one label: (first date, first date of the next run or the last date, label)."""
    if labels.empty:
        return []
    vals = labels.to_numpy(object)
    starts = np.flatnonzero(np.r_[True, vals[1:] != vals[:-1]])
    ends = list(starts[1:]) + [len(vals) - 1]
    return [(labels.index[s], labels.index[e], str(vals[s])) for s, e in zip(starts, ends, strict=True)]


def regime_labels(signals: pd.DataFrame, index: pd.DatetimeIndex) -> pd.Series:
    """The regime on each date (``unknown`` where the composite is unknown)."""
    if "regime" not in signals:
        return pd.Series("unknown", index=index, dtype=object)
    reg = signals["regime"].reindex(index).astype(object)
    return reg.where(reg.notna(), "unknown")


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    return inline_svg(buf.getvalue()).strip()


def _rc():
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: small, selectable, escaped by matplotlib
            "svg.hashsalt": "liquidity-hedge",  # the same run gives the same page
            "font.family": "DejaVu Sans",
            "font.size": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.25,
            "legend.frameon": False,
        }
    )


def _shade(ax, regimes: pd.Series, end: pd.Timestamp, oos: bool = True) -> None:
    for s, e, lab in regime_runs(regimes):
        ax.axvspan(s, e, color=REGIME_COLORS.get(lab, "#bbbbbb"), alpha=REGIME_ALPHA, lw=0, zorder=0)
    if oos and end >= OOS_START:
        ax.axvspan(OOS_START, end, facecolor="none", edgecolor="#555555", hatch="///", alpha=0.35, lw=0, zorder=0)
        ax.axvline(OOS_START, color="#555555", lw=0.8, ls="--", zorder=1)


def _regime_legend(fig, labels: pd.Series, oos: bool) -> None:
    from matplotlib.patches import Patch

    seen = [r for r in REGIME_COLORS if r in set(labels)]
    handles = [Patch(color=REGIME_COLORS[r], alpha=REGIME_ALPHA, label=f"regime: {r}") for r in seen]
    if oos:
        handles.append(
            Patch(facecolor="none", edgecolor="#555555", hatch="///", label="out of sample (from 2025-10-14)")
        )
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 1.0), fontsize=8)


def signal_specs(signals: pd.DataFrame, uses: tuple[str, ...] | None, params: dict) -> list[dict]:
    """One panel per signal: {key, title, lines: [(label, series)], thresholds: [(value, label)], step}."""
    from ..signals import SIGNALS

    keys = [k for k in (uses or ()) if k in signals.columns] or [k for k in DEFAULT_SIGNALS if k in signals]
    specs = []
    for k in keys:
        d = SIGNALS.get(k)
        scale = 100.0 if k in _PCT else 1.0
        units = "%" if k in _PCT else (d.units if d and d.units else "")
        lines = [(k, pd.to_numeric(signals[k], errors="coerce") * scale)]
        lines += [
            (c, pd.to_numeric(signals[c], errors="coerce") * scale) for c in COMPANIONS.get(k, ()) if c in signals
        ]
        if all(s.isna().all() for _, s in lines):
            continue
        cols = {name for name, _ in lines}
        th = []
        for p, targets in THRESHOLDS.items():
            if p in params and cols & set(targets) and isinstance(params[p], int | float):
                v = float(params[p]) * scale
                th.append((v, f"{p} = {params[p]:g}"))
                if p == "band_bn":
                    th.append((-v, f"-{p}"))
        desc = d.description if d else k
        specs.append(
            {
                "key": k,
                "title": f"{desc}" + (f" ({units})" if units else ""),
                "lines": lines,
                "thresholds": th,
                "step": bool(d and d.kind == "bool") or k == "qt_ended",
            }
        )
    if "liquidity_stress" in signals and not any(s["key"] == "liquidity_stress" for s in specs):
        specs.append(
            {
                "key": "liquidity_stress",
                "title": "liquidity stress composite (0-100; its level sets the regime)",
                "lines": [("liquidity_stress", pd.to_numeric(signals["liquidity_stress"], errors="coerce"))],
                "thresholds": [(40.0, "tight from 40"), (60.0, "scarce from 60")],
                "step": False,
            }
        )
    return specs


def signals_chart(signals: pd.DataFrame, specs: list[dict], events: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    idx = signals.index
    regimes = regime_labels(signals, idx)
    end = idx[-1]
    ev = events[(events["announced"] >= idx[0]) & (events["announced"] <= end)]
    n = len(specs)
    with _rc():
        fig, axes = plt.subplots(
            n + 1, 1, figsize=(10, 1.7 * n + 1.5), sharex=True, gridspec_kw={"height_ratios": [0.55] + [1.0] * n}
        )
        strip = axes[0]  # the FOMC announcements, labelled
        strip.set_ylim(0, 1)
        strip.set_yticks([])
        strip.grid(False)
        for side in ("left", "bottom"):
            strip.spines[side].set_visible(False)
        strip.set_title("FOMC balance-sheet announcements", loc="left", fontsize=8.5)
        last = None
        for d, typ in zip(ev["announced"], ev["type"], strict=True):
            near = last is not None and (d - last).days < 60  # labels of close events side by side
            strip.axvline(d, color="#6a3d9a", lw=0.7, ls=":")
            strip.annotate(f" {typ}", (d, 0.05), xytext=(4 if near else -1, 0), textcoords="offset points",
                           rotation=90, va="bottom", ha="left" if near else "right", fontsize=6.5,
                           color="#6a3d9a")  # fmt: skip
            last = d
        for ax, spec in zip(axes[1:], specs, strict=True):
            _shade(ax, regimes, end)
            for i, (label, s) in enumerate(spec["lines"]):
                kw = dict(lw=1.0 if i == 0 else 0.8, color="#222222" if i == 0 else "#7f7f7f", label=label)
                if spec["step"]:
                    ax.step(s.index, s.to_numpy(float), where="post", **kw)
                else:
                    ax.plot(s.index, s.to_numpy(float), **kw)
            for v, lab in spec["thresholds"]:
                ax.axhline(v, color="#d62728", lw=0.9, ls=(0, (4, 2)))
                ax.annotate(lab, (1.0, v), xycoords=("axes fraction", "data"), xytext=(3, 0),
                            textcoords="offset points", va="center", fontsize=7, color="#d62728")  # fmt: skip
            for d in ev["announced"]:
                ax.axvline(d, color="#6a3d9a", lw=0.7, ls=":", zorder=1)
            ax.set_title(spec["title"], loc="left", fontsize=8.5)
            if len(spec["lines"]) > 1:
                ax.legend(loc="upper left", fontsize=7)
        axes[-1].set_xlim(idx[0], end)
        _regime_legend(fig, regimes, end >= OOS_START)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (1.7 * n + 1.5)))
        return _svg(fig)


def weights_chart(weights: pd.DataFrame) -> str:
    import matplotlib.pyplot as plt

    w = weights.clip(lower=0.0).fillna(0.0)
    step = max(1, len(w) // MAX_POINTS)  # a few days per pixel anyway: keep the page small
    w = pd.concat([w.iloc[:-1:step], w.iloc[-1:]]) if step > 1 else w
    cols = [c for c in w.columns if c != "CASH" and (w[c] > 1e-9).any()] + (["CASH"] if "CASH" in w else [])
    end = w.index[-1]
    with _rc():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        colors = [ASSET_COLORS.get(c, None) for c in cols]
        ax.stackplot(w.index, *[100 * w[c].to_numpy(float) for c in cols], labels=cols, colors=colors, lw=0)
        _shade(ax, pd.Series(dtype=object), end)
        ax.set_ylim(0, 100)
        ax.set_xlim(w.index[0], end)
        ax.set_ylabel("% of equity")
        ax.set_title("held weights (after each close)", loc="left", fontsize=8.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
        fig.tight_layout()
        return _svg(fig)


def drawdown(ret: pd.Series) -> pd.Series:
    """equity / max(1, running peak) - 1, as in ``backtester.metrics``."""
    eq = (1.0 + ret.astype(float)).cumprod()
    return eq / np.maximum(eq.cummax(), 1.0) - 1.0


def drawdowns_chart(returns: pd.DataFrame, signals: pd.DataFrame, names: tuple[str, str]) -> str:
    import matplotlib.pyplot as plt

    idx = returns.index
    regimes = regime_labels(signals, idx)
    with _rc():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        _shade(ax, regimes, idx[-1])
        ax.plot(idx, 100 * drawdown(returns["strategy"]).to_numpy(), color="#222222", lw=1.0, label=names[0])
        bench = returns["benchmark"].fillna(0.0)
        ax.plot(idx, 100 * drawdown(bench).to_numpy(), color="#1f77b4", lw=0.8, alpha=0.8, label=names[1])
        ax.set_xlim(idx[0], idx[-1])
        ax.set_ylabel("drawdown (%)")
        ax.set_title("drawdowns, regimes behind", loc="left", fontsize=8.5)
        ax.legend(loc="lower left", fontsize=7)
        _regime_legend(fig, regimes, idx[-1] >= OOS_START)
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        return _svg(fig)


def equity_chart(returns: pd.DataFrame, signals: pd.DataFrame, names: tuple[str, str]) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    idx = returns.index
    with _rc():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        _shade(ax, regime_labels(signals, idx), idx[-1])
        for col, name, color, lw in (
            ("strategy", names[0], "#222222", 1.0),
            ("benchmark", names[1], "#1f77b4", 0.8),
            ("cash", "CASH", "#7f7f7f", 0.8),
        ):
            ax.plot(idx, (1.0 + returns[col].fillna(0.0)).cumprod().to_numpy(), color=color, lw=lw, label=name)
        ax.set_yscale("log")
        fmt = FuncFormatter(lambda v, _p: f"{v:g}")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)
        ax.set_xlim(idx[0], idx[-1])
        ax.set_ylabel("growth of 1 (log)")
        ax.set_title("equity, regimes behind", loc="left", fontsize=8.5)
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        return _svg(fig)
