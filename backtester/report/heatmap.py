"""The sweep heatmap: for each (x, y) pair, the metric aggregated over the other parameters: the best
(``max``; the minimum for a lower-is-better metric) or the ``mean`` of the valid combinations. The title
says which. The colour scale is centred on the benchmark's value of the metric (red below, green above);
a cell whose every combination is invalid reads "invalid".

HTML is written with plotly and plotly.js inlined (opens offline, no external URL); PNG with
matplotlib's Agg backend. Both are imported inside the functions only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

AGGREGATIONS = ("max", "mean")


def grid_matrix(
    frame: pd.DataFrame, x: str, y: str, metric: str, higher_is_better: bool, agg: str = "max"
) -> pd.DataFrame:
    """Rows = values of ``y``, columns = values of ``x`` (grid order), cells = ``metric`` over the rest:
    the best (``agg="max"``) or the mean (``"mean"``) of the valid combinations."""
    xs = list(dict.fromkeys(frame[x].tolist()))
    ys = list(dict.fromkeys(frame[y].tolist()))
    v = frame[frame["valid"]]
    g = v.groupby([y, x], sort=False)[metric]
    best = g.mean() if agg == "mean" else g.max() if higher_is_better else g.min()
    m = best.unstack(x) if len(best) else pd.DataFrame(index=pd.Index([], name=y))
    return m.reindex(index=ys, columns=xs).astype(float)


def _label(v) -> str:
    return f"{v:g}" if isinstance(v, float | np.floating) else str(v)


def write_heatmap(result, x: str, y: str, path: str | Path, title: str, agg: str = "max") -> Path:
    path = Path(path)
    m = grid_matrix(result.frame, x, y, result.metric, result.higher_is_better, agg)
    best = "max" if result.higher_is_better else "min"
    others = [n for n in result.frame.columns[: list(result.frame.columns).index("total_return")] if n not in (x, y)]
    how = "mean of the valid combinations" if agg == "mean" else f"best ({best}) of the valid combinations"
    sub = f"{result.metric}: {how} over {', '.join(others)}" if others else f"{result.metric}: one combination a cell"
    bench = (result.benchmark or {}).get(result.metric)
    center = float(bench) if bench is not None and np.isfinite(bench) else None
    if center is not None:
        sub += f"; colours centred on the benchmark's {center:.3f}"
    if path.suffix.lower() == ".png":
        _png(m, x, y, path, title, sub, center)
    else:
        _html(m, x, y, path, title, sub, result.metric, center)
    return path


def _html(m: pd.DataFrame, x, y, path: Path, title, sub, metric, center=None) -> None:
    import plotly.graph_objects as go

    z = m.to_numpy(float)
    text = [[("invalid" if not np.isfinite(v) else f"{v:.3f}") for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=np.where(np.isfinite(z), z, None).tolist(),
            x=[_label(v) for v in m.columns],
            y=[_label(v) for v in m.index],
            text=text,
            texttemplate="%{text}" if z.size <= 400 else None,
            colorscale="RdYlGn",
            zmid=center,
            colorbar={"title": {"text": metric}},
            hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{text}}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": f"{title}<br><sub>{sub}</sub>"},
        xaxis={"title": {"text": x}, "type": "category"},
        yaxis={"title": {"text": y}, "type": "category"},
        template="plotly_white",
        plot_bgcolor="#dddddd",  # invalid cells show grey behind their label
    )
    from ..fsutil import atomic_output

    with atomic_output(path) as tmp:
        fig.write_html(str(tmp), include_plotlyjs=True, full_html=True, config={"displaylogo": False})


def _png(m: pd.DataFrame, x, y, path: Path, title, sub, center=None) -> None:
    import logging

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = np.ma.masked_invalid(m.to_numpy(float))
    nx, ny = max(1, z.shape[1]), max(1, z.shape[0])
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.7 * nx), min(12, 1.6 + 0.45 * ny)))
    norm = None
    if center is not None and z.count() and z.min() < center < z.max():
        from matplotlib.colors import TwoSlopeNorm

        norm = TwoSlopeNorm(vcenter=center, vmin=float(z.min()), vmax=float(z.max()))
    ax.set_facecolor("#dddddd")
    im = ax.imshow(z, cmap="RdYlGn", aspect="auto", origin="lower", norm=norm)
    ax.set_xticks(range(z.shape[1]), [_label(v) for v in m.columns], rotation=90 if nx > 12 else 0)
    ax.set_yticks(range(z.shape[0]), [_label(v) for v in m.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if z.size <= 200:
        for r in range(z.shape[0]):
            for c in range(z.shape[1]):
                label = "invalid" if np.ma.is_masked(z[r, c]) else f"{z[r, c]:.2f}"
                ax.text(c, r, label, ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax)
    ax.set_title(f"{title}\n{sub}", fontsize=10)
    fig.tight_layout()
    from ..fsutil import atomic_output

    try:
        with atomic_output(path) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
