"""The liquidity panels QuantStats cannot draw (matplotlib, inline SVG with text as text):

* ``signals``: the signals the strategy uses (``Strategy.uses``; plus the SOFR-IORB spread beside the
  SOFR-EFFR one, and the composite ``liquidity_stress``), the regimes shaded behind, the strategy's
  thresholds (its parameters) drawn, FOMC balance-sheet announcements marked;
* ``weights``: held weights over time (stacked area, CASH included);
* ``drawdowns``: strategy and benchmark drawdowns (initial capital counts as a peak, as in
  ``backtester.metrics``) with the regimes behind;
* ``equity``: the growth of 1 for strategy, benchmark and CASH on a log scale.

Every chart hatches the run's marked period (``marker``): after the essay (from ``OOS_START``, 2025-10-14)
for a fixed rule, the whole book for walk-forward, none for a sweep's best (see ``report.honesty``).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from ..constants import ESSAY_DATE
from ._io import inline_svg

OOS_START = pd.Timestamp(ESSAY_DATE)  # Powell's remark / the essay: later data is out of sample
# the hatched period of the charts: (from, legend label), or None; a run's own marker comes from its
# selection window (report.honesty.chart_marker): the essay's date for a fixed rule, the whole book for
# walk-forward, nothing for a sweep's best (chosen on the whole run)
ESSAY = (OOS_START, f"after the essay (from {ESSAY_DATE})")
REGIME_ALPHA = 0.18  # the same in the shading and its legend, so the colours match
REGIME_COLORS = {
    "ample": "#2ca02c",
    "tightening": "#ff7f0e",
    "scarce": "#d62728",
    "easing": "#1f77b4",
    "unknown": "#bbbbbb",
}
# gold (yellow-gold) and bitcoin (raspberry) far apart in hue, so no chart can confuse them; used everywhere
ASSET_COLORS = {
    "GLD": "#d4a017", "LBMA_GOLD": "#8c6d1f", "BTC-USD": "#d6336c", "SPY": "#1f77b4", "QQQ": "#17becf",
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
X_LEFT, X_RIGHT = 0.08, 0.13  # the time panels' margins (fractions of the 10-inch figure width)
LABEL_WIDTH_IN = 0.13  # a rotated 6.5 pt event label, with some air
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


def _svg(fig, tight: bool = True) -> str:
    """The figure as inline SVG; ``tight=False`` keeps the whole figure (the time panels, so that equally wide
    figures with equal margins put a date at the same place)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None)
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


def _shade(ax, regimes: pd.Series, end: pd.Timestamp, oos: bool = True, marker=ESSAY) -> None:
    for s, e, lab in regime_runs(regimes):
        ax.axvspan(s, e, color=REGIME_COLORS.get(lab, "#bbbbbb"), alpha=REGIME_ALPHA, lw=0, zorder=0)
    if oos and marker is not None and end >= marker[0]:
        ax.axvspan(marker[0], end, facecolor="none", edgecolor="#555555", hatch="///", alpha=0.35, lw=0, zorder=0)
        ax.axvline(marker[0], color="#555555", lw=0.8, ls="--", zorder=1)


def _regime_legend(fig, labels: pd.Series, oos: bool, marker=ESSAY) -> None:
    from matplotlib.patches import Patch

    seen = [r for r in REGIME_COLORS if r in set(labels)]
    handles = [Patch(color=REGIME_COLORS[r], alpha=REGIME_ALPHA, label=f"regime: {r}") for r in seen]
    if oos and marker is not None:
        handles.append(Patch(facecolor="none", edgecolor="#555555", hatch="///", label=marker[1]))
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


def signals_chart(signals: pd.DataFrame, specs: list[dict], events: pd.DataFrame, marker=ESSAY) -> str:
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
        # labels never overlap: each at least one label width (in days) right of the previous one, with a
        # leader line down to its event when it had to move
        gap = pd.Timedelta(days=max(1.0, (end - idx[0]).days * LABEL_WIDTH_IN / (10 * (1 - X_LEFT - X_RIGHT))))
        prev = None
        for d, typ in zip(ev["announced"], ev["type"], strict=True):
            x = d if prev is None or d - prev >= gap else prev + gap
            strip.axvline(d, color="#6a3d9a", lw=0.7, ls=":")
            arrow = None if x == d else dict(arrowstyle="-", color="#6a3d9a", lw=0.5, shrinkA=0, shrinkB=0)
            strip.annotate(typ, (d, 0.0), xytext=(x, 0.12), textcoords="data", rotation=90, va="bottom",
                           ha="center", fontsize=6.5, color="#6a3d9a", arrowprops=arrow)  # fmt: skip
            prev = x
        for ax, spec in zip(axes[1:], specs, strict=True):
            _shade(ax, regimes, end, marker=marker)
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
        _regime_legend(fig, regimes, marker is not None and end >= marker[0], marker)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (1.7 * n + 1.5)))
        _same_x(fig)
        return _svg(fig, tight=False)


def weights_chart(weights: pd.DataFrame, marker=ESSAY) -> str:
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
        _shade(ax, pd.Series(dtype=object), end, marker=marker)
        ax.set_ylim(0, 100)
        ax.set_xlim(w.index[0], end)
        ax.set_ylabel("% of equity")
        ax.set_title("held weights (after each close)", loc="left", fontsize=8.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
        fig.tight_layout()
        _same_x(fig)
        return _svg(fig, tight=False)


def drawdown(ret: pd.Series) -> pd.Series:
    """equity / max(1, running peak) - 1, as in ``backtester.metrics``."""
    eq = (1.0 + ret.astype(float)).cumprod()
    return eq / np.maximum(eq.cummax(), 1.0) - 1.0


def drawdowns_chart(returns: pd.DataFrame, signals: pd.DataFrame, names: tuple[str, str], marker=ESSAY) -> str:
    import matplotlib.pyplot as plt

    idx = returns.index
    regimes = regime_labels(signals, idx)
    with _rc():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        _shade(ax, regimes, idx[-1], marker=marker)
        ax.plot(idx, 100 * drawdown(returns["strategy"]).to_numpy(), color="#222222", lw=1.0, label=names[0])
        bench = returns["benchmark"].fillna(0.0)
        ax.plot(idx, 100 * drawdown(bench).to_numpy(), color="#1f77b4", lw=0.8, alpha=0.8, label=names[1])
        ax.set_xlim(idx[0], idx[-1])
        ax.set_ylabel("drawdown (%)")
        ax.set_title("drawdowns, regimes behind", loc="left", fontsize=8.5)
        ax.legend(loc="lower left", fontsize=7)
        _regime_legend(fig, regimes, marker is not None and idx[-1] >= marker[0], marker)
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        _same_x(fig)
        return _svg(fig, tight=False)


def equity_chart(returns: pd.DataFrame, signals: pd.DataFrame, names: tuple[str, str], marker=ESSAY) -> str:
    import matplotlib.pyplot as plt

    idx = returns.index
    with _rc():
        fig, ax = plt.subplots(figsize=(10, 2.8))
        _shade(ax, regime_labels(signals, idx), idx[-1], marker=marker)
        for col, name, color, lw in (
            ("strategy", names[0], "#222222", 1.0),
            ("benchmark", names[1], "#1f77b4", 0.8),
            ("cash", "CASH", "#7f7f7f", 0.8),
        ):
            ax.plot(idx, (1.0 + returns[col].fillna(0.0)).cumprod().to_numpy(), color=color, lw=lw, label=name)
        log_axis(ax.yaxis)
        ax.set_xlim(idx[0], idx[-1])
        ax.set_ylabel("growth of 1 (log)")
        ax.set_title("equity, regimes behind", loc="left", fontsize=8.5)
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        _same_x(fig)
        return _svg(fig, tight=False)


def log_axis(axis) -> None:
    """A readable log axis: plain numbers (0.5, 1, 2, 5, 10) at the decades and at 2x and 5x between them,
    no label on the other minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))


def _same_x(fig) -> None:
    """Every time panel of the tearsheet spans the same horizontal band of its (equally wide) figure, so that
    with the same x limits a date sits at the same place in signals, weights, drawdowns and equity."""
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        box = ax.get_position()
        ax.set_position([X_LEFT, box.y0, 1 - X_LEFT - X_RIGHT, box.height])


def parameter_stability_chart(windows: list[dict], start, end) -> str:
    """The parameters chosen for each walk-forward test window, one small step panel per parameter, on the
    tearsheet's x range (the test windows are where the book traded them)."""
    import matplotlib.pyplot as plt

    names = list(windows[0]["params"]) if windows else []
    n = max(1, len(names))
    with _rc():
        fig, axes = plt.subplots(n, 1, figsize=(10, 1.3 * n + 0.6), sharex=True, squeeze=False)
        for ax, name in zip(axes[:, 0], names, strict=False):
            xs = [pd.Timestamp(w["test_start"]) for w in windows] + [pd.Timestamp(windows[-1]["test_end"])]
            ys = [w["params"][name] for w in windows]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in ys)
            vals = ys if numeric else [sorted(set(map(str, ys))).index(str(v)) for v in ys]
            ax.step(xs, [*vals, vals[-1]], where="post", color="#222222", lw=1.2)
            ax.plot(xs[:-1], vals, "o", color="#222222", ms=3)
            if not numeric:
                labels = sorted(set(map(str, ys)))
                ax.set_yticks(range(len(labels)), labels)
            ax.set_title(f"{name}: chosen on each training window, traded in the next test window", loc="left",
                         fontsize=8.5)  # fmt: skip
        axes[-1, 0].set_xlim(pd.Timestamp(start), pd.Timestamp(end))
        fig.tight_layout()
        _same_x(fig)
        return _svg(fig, tight=False)
