"""Charts: the signals timeline (``hedge signals --plot FILE``).

HTML is written with plotly and the plotly.js library inlined (the file opens offline: no CDN, no
external URL); PNG with matplotlib's Agg backend. Both are imported inside the functions only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError

PLOT_SUFFIXES = (".html", ".htm", ".png")
REGIME_COLORS = {"ample": "#2ca02c", "tightening": "#ff7f0e", "scarce": "#d62728", "easing": "#1f77b4"}
SINCE = "2008-01-01"


def check_plot_path(path: str | Path) -> Path:
    """The output path if its extension is one we can write; else a UsageError (exit 2)."""
    p = Path(path)
    if p.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(
            f"cannot write a plot to {p.name!r}: unknown extension {p.suffix or '(none)'!r}",
            "use a .html (interactive, plotly) or .png (static, matplotlib) file name",
        )
    if not p.parent.exists():
        raise UsageError(f"folder {p.parent} does not exist", "create it first or write the plot elsewhere")
    return p


def regime_runs(regime: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Consecutive runs of one regime label: (first date, first date of the next run or last date, label)."""
    lab = regime.astype(object).where(regime.notna(), None)
    if lab.empty:
        return []
    vals = lab.to_numpy()
    idx = lab.index
    change = np.r_[True, vals[1:] != vals[:-1]]
    starts = np.flatnonzero(change)
    out = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(vals) - 1
        if vals[s] is not None:
            out.append((idx[s], idx[e], str(vals[s])))
    return out


def _panels(frame: pd.DataFrame) -> list[tuple[str, list[tuple[str, pd.Series]], list[tuple[float, str]]]]:
    """(title, [(trace name, series)], [(horizontal line, label)]) per panel."""
    f = frame
    return [
        (
            "Reserves / GDP (%)",
            [("reserves / GDP", 100 * f["reserves_to_gdp"])],
            [(100 * float(v), lab) for v, lab in _ratio_lines(f)],
        ),
        ("ON RRP ($bn)", [("ON RRP", f["rrp_balance"])], []),
        (
            "Funding spreads (bp, 20-day means)",
            [("SOFR-EFFR 20d", f["sofr_effr_bp_20d"]), ("SOFR-IORB 20d", f["sofr_iorb_bp_20d"])],
            [(_cfg(f).get("spread_threshold_bp", 5.0), "widening threshold")],
        ),
        ("Fed total assets ($bn)", [("WALCL", f["fed_assets"]), ("net liquidity", f["net_liquidity"])], []),
        (
            "Liquidity stress (0-100)",
            [("stress", f["liquidity_stress"])],
            [
                (_cfg(f).get("stress_scarce", 60.0), "scarce"),
                (_cfg(f).get("stress_tightening", 40.0), "tightening"),
            ],
        ),
    ]


def _cfg(frame) -> dict:
    return frame.attrs.get("signal_config") or {}


def _ratio_lines(frame):
    c = _cfg(frame)
    return [
        (c.get("ample_ratio", 0.11), "0.11"),
        (c.get("floor_ratio", 0.10), "ample floor"),
        (c.get("crisis_ratio", 0.07), "Sept 2019"),
    ]


def signals_timeline(
    frame: pd.DataFrame, path: str | Path, events: pd.DataFrame | None = None, since: str | None = SINCE
) -> Path:
    """Write the timeline of the signal frame (since ``since``) to ``path`` (.html or .png)."""
    p = check_plot_path(path)
    f = frame if since is None else frame[frame.index >= pd.Timestamp(since)]
    if f.empty:
        raise UsageError("no signals to plot in that window", f"the signal frame ends on {frame.index[-1].date()}")
    ev = None
    if events is not None and len(events):
        ev = events[(events["announced"] >= f.index[0]) & (events["announced"] <= f.index[-1])]
    if p.suffix.lower() == ".png":
        _png(f, p, ev)
    else:
        _html(f, p, ev)
    return p


def _html(f: pd.DataFrame, path: Path, ev) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = _panels(f)
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        subplot_titles=[t for t, _, _ in panels],
    )
    for r, (_, traces, lines) in enumerate(panels, start=1):
        for name, s in traces:
            fig.add_trace(
                go.Scatter(
                    x=s.index,
                    y=s.to_numpy(float),
                    name=name,
                    mode="lines",
                    line={"width": 1.3},
                    connectgaps=False,
                ),
                row=r,
                col=1,
            )
        for y, lab in lines:
            fig.add_hline(
                y=y,
                line={"dash": "dash", "width": 1, "color": "grey"},
                annotation_text=lab,
                annotation_position="top left",
                row=r,
                col=1,
            )
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": a,
            "x1": b,
            "y0": 0,
            "y1": 1,
            "layer": "below",
            "line": {"width": 0},
            "fillcolor": REGIME_COLORS.get(lab, "#cccccc"),
            "opacity": 0.12,
        }
        for a, b, lab in regime_runs(f["regime"])
    ]
    if ev is not None:
        for e in ev.itertuples():
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": e.announced,
                    "x1": e.announced,
                    "y0": 0,
                    "y1": 1,
                    "line": {"width": 1, "dash": "dot", "color": "black"},
                    "opacity": 0.5,
                }
            )
        top = f["reserves_to_gdp"].max() * 100 if f["reserves_to_gdp"].notna().any() else 1.0
        fig.add_trace(
            go.Scatter(
                x=ev["announced"],
                y=[top] * len(ev),
                mode="markers+text",
                name="FOMC events",
                text=list(ev["type"]),
                textposition="top center",
                textfont={"size": 9},
                hovertext=[f"{a.date()}: {lab}" for a, lab in zip(ev["announced"], ev["label"], strict=True)],
                hoverinfo="text",
                marker={"symbol": "triangle-down", "size": 8, "color": "black"},
            ),
            row=1,
            col=1,
        )
    for lab, color in REGIME_COLORS.items():  # legend entries for the shading
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=f"regime: {lab}",
                marker={"size": 10, "color": color, "symbol": "square", "opacity": 0.4},
            )
        )
    fig.update_layout(
        shapes=list(fig.layout.shapes) + shapes,
        height=1300,
        hovermode="x unified",
        title=f"Liquidity signals {f.index[0].date()} - {f.index[-1].date()} (regimes shaded, "
        "FOMC balance-sheet events dotted)",
        template="plotly_white",
    )
    fig.write_html(
        str(path),
        include_plotlyjs=True,
        full_html=True,
        include_mathjax=False,
        config={"displaylogo": False},
    )


def _png(f: pd.DataFrame, path: Path, ev) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    panels = _panels(f)
    fig, axes = plt.subplots(len(panels), 1, figsize=(14, 16), sharex=True)
    runs = regime_runs(f["regime"])
    try:
        for ax, (title, traces, lines) in zip(axes, panels, strict=True):
            for name, s in traces:
                ax.plot(s.index, s.to_numpy(float), lw=1.0, label=name)
            for y, lab in lines:
                ax.axhline(y, ls="--", lw=0.8, color="grey")
                ax.annotate(lab, (s.index[0], y), fontsize=7, color="grey", va="bottom")
            for a, b, lab in runs:
                ax.axvspan(a, b, color=REGIME_COLORS.get(lab, "#cccccc"), alpha=0.12, lw=0)
            if ev is not None:
                for a in ev["announced"]:
                    ax.axvline(a, ls=":", lw=0.7, color="black", alpha=0.5)
            ax.set_title(title, fontsize=10, loc="left")
            ax.grid(alpha=0.3)
            ax.legend(loc="upper left", fontsize=7)
        if ev is not None:
            top = axes[0]
            for a, t in zip(ev["announced"], ev["type"], strict=True):
                top.annotate(
                    t,
                    (a, 1.0),
                    xycoords=("data", "axes fraction"),
                    rotation=90,
                    fontsize=6,
                    va="top",
                    ha="right",
                )
        handles = [Patch(color=c, alpha=0.3, label=f"regime: {lab}") for lab, c in REGIME_COLORS.items()]
        fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8)
        fig.suptitle(f"Liquidity signals {f.index[0].date()} - {f.index[-1].date()}")
        fig.tight_layout(rect=(0, 0.03, 1, 0.98))
        from ..fsutil import atomic_output

        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
