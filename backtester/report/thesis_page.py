"""The ``hedge thesis --html FILE`` page: one self-contained HTML file.

No external URL: the charts are matplotlib PNGs (Agg, no pyplot state) embedded as base64 data URIs,
the style is inline, and every text is escaped (``html.escape``).
"""

from __future__ import annotations

import base64
import io
import logging
from html import escape
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..research.thesis import Thesis
from .panels import ASSET_COLORS

HTML_SUFFIXES = (".html", ".htm")
VERDICT_COLORS = {"held": "#1a7f37", "failed": "#c62828", "too early": "#8a6d00"}
CURVE_COLORS = {**{a: ASSET_COLORS[a] for a in ("GLD", "LBMA_GOLD", "BTC-USD", "SPY")}, "CASH": "#666666"}
OTHER_COLORS = ("#c62828", "#2ca02c", "#9467bd")
CHART_MONTHS_BEFORE = 10

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:4px 7px;vertical-align:top}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;white-space:nowrap}
.verdict{font-weight:bold;white-space:nowrap} .rule{color:#555;font-size:.92em} .muted{color:#666;font-size:.9em}
img{max-width:100%;height:auto}
"""


def check_html_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in HTML_SUFFIXES:
        raise UsageError(f"html {str(path)!r} is not an .html file", "give a file name ending in .html", param="html")
    if not p.parent.exists():
        raise UsageError(f"folder {p.parent} does not exist", "create it first or write the page elsewhere")
    return p


def _e(v) -> str:
    return escape("" if v is None else str(v))


def _pct(v, d: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{d}f}%"


def _num(v, d: int = 2) -> str:
    return "-" if v is None else f"{v:,.{d}f}"


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(head: list[str], rows: list[list[str]], num_cols: tuple[int, ...] = ()) -> str:
    """``rows`` cells are already-escaped HTML."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in num_cols else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


# ---------------------------------------------------------------- charts
def _fed_chart(t: Thesis) -> str:
    from matplotlib.figure import Figure

    r = t.report
    session = pd.Timestamp(r["essay_session"])
    w = t.walcl_bn.loc[session - pd.DateOffset(months=CHART_MONTHS_BEFORE) :]
    fig = Figure(figsize=(11, 4.6))
    ax = fig.add_subplot()
    ax.plot(w.index, w.to_numpy(float), color="#222", lw=1.6, label="Fed total assets (WALCL, $B)")
    g = r["fed_assets"]["from_qt_end"]
    if g:
        base_d, base = pd.Timestamp(g["base_observation"]), g["base_bn"]
        end_d = pd.Timestamp(g["end_observation"])
        months = (end_d - base_d).days / (365.25 / 12)
        for rate, style in zip(r["fed_assets"]["predicted_bn_per_month"], ("--", ":"), strict=True):
            ax.plot([base_d, end_d], [base, base + rate * months], ls=style, color="#c62828", lw=1.2,
                    label=f"essay's path: +${rate:g}B/month from QT's end")  # fmt: skip
    marks = [(session, "essay", "#555")]
    off = r["qt_end"]["official"]
    if off:
        marks += [(pd.Timestamp(off["announced"]), "QT end announced", "#1f77b4")]
        marks += [(pd.Timestamp(off["effective"]), "QT end effective", "#1f77b4")]
    bp = r["qt_end"]["bill_purchases"]
    if bp:
        marks.append((pd.Timestamp(bp["effective"]), "bill purchases", "#2ca02c"))
    for d, lab, col in marks:
        ax.axvline(d, color=col, lw=0.8, ls="-.")
        ax.annotate(lab, (d, 1.0), xycoords=("data", "axes fraction"), rotation=90, fontsize=8, va="top", ha="right")
    ax.set_title("The Fed's assets around QT's end, against the essay's $60-100B/month", loc="left", fontsize=11)
    ax.set_ylabel("$B")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _curves_chart(curves: dict[str, pd.Series], title: str) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.4))
    ax = fig.add_subplot()
    others = iter(OTHER_COLORS)
    for name, cv in curves.items():
        color = CURVE_COLORS.get(name) or next(others, None)
        ax.plot(cv.index, 100 * (cv.to_numpy(float) - 1.0), lw=1.4, color=color, label=name)
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel("% since the essay")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------- sections
def _claims_section(r: dict) -> str:
    rows = []
    for c in r["claims"]:
        col = VERDICT_COLORS.get(c["verdict"], "#222")
        rows.append(
            [
                _e(c["id"]),
                _e(c["claim"]),
                _e(c["essay"]),
                _e(c["at_essay_text"]),
                _e(c["after_text"]),
                f"<span class=verdict style='color:{col}'>{_e(c['verdict'])}</span><br>"
                f"<span class=rule>{_e(c['reason'])}</span>",
                f"<span class=rule>{_e(c['rule'])}</span>",
            ]
        )
    v = r["verdicts"]
    return (
        "<h2>The claims, scored</h2>"
        f"<p>{v['held']} held, {v['failed']} failed, {v['too_early']} too early. "
        "'At the essay' is computed from the point-in-time signal frame on the essay session (what a "
        "reader could know then); 'after' from the data since.</p>"
        + _table(["#", "claim", "the essay", "computed at the essay", "computed after", "verdict", "rule"], rows)
    )


def _qt_section(r: dict) -> str:
    q = r["qt_end"]
    rows = []
    for key, lab in (("official", "QT end (FOMC)"), ("bill_purchases", "bill purchases (FOMC)")):
        ev = q[key]
        if ev:
            rows.append([_e(lab), _e(ev["announced"]), _e(ev["effective"]), _e(ev["label"])])
    rows.append(["QE announced (FOMC)", "-", "-", _e("no" if not q["qe_announced"] else q["qe_announced"]["label"])])
    for ch in q["state_changes"]:
        rows.append(
            [
                _e(f"WALCL qt_state {ch['from']} -> {ch['to']}"),
                _e(f"week of {ch['observation_date']}"),
                _e(f"known {ch['date']}"),
                "balance-sheet direction (signal frame, point in time)",
            ]
        )
    return "<h2>Did QT end, and when</h2>" + _table(["event", "announced / data", "effective / known", "label"], rows)


def _fed_section(r: dict, chart: str) -> str:
    fa = r["fed_assets"]
    rows = []
    for key in ("from_qt_end", "from_bill_purchases"):
        g = fa[key]
        if g:
            rows.append(
                [
                    _e(g["label"]),
                    _e(f"{g['base_observation']} ({_num(g['base_bn'], 0)})"),
                    _e(f"{g['end_observation']} ({_num(g['end_bn'], 0)})"),
                    _e(_num(g["months"], 1)),
                    _e(_num(g["bn_per_month"], 1)),
                    _e(_num(g["slope_bn_per_month"], 1)),
                ]
            )
    lo, hi = fa["predicted_bn_per_month"]
    return (
        "<h2>How fast the Fed's assets grew after QT</h2>"
        f"<figure class='chart' data-chart='thesis-fed'><img alt='Fed assets' src='{chart}'></figure>"
        + _table(
            ["window", "from (week, $B)", "to (week, $B)", "months", "$B / month", "slope $B / month"],
            rows,
            (3, 4, 5),
        )
        + f"<p class=muted>Predicted: ${lo:g}-{hi:g}B a month. Method: {_e(fa['method'])}</p>"
    )


def _returns_section(r: dict, chart: str) -> str:
    ret = r["returns"]
    rows = [
        [
            _e(a),
            _e(x["start"]),
            _e(_num(x["start_close"], 2)),
            _e(x["end"]),
            _e(_num(x["end_close"], 2)),
            _e(_pct(x["return"], 2)),
            _e(_pct(ret["common"][a], 2)),
        ]
        for a, x in ret["assets"].items()
    ]
    return (
        "<h2>Gold, bitcoin, SPY and cash since the essay</h2>"
        f"<figure class='chart' data-chart='thesis-returns'><img alt='returns since the essay' src='{chart}'></figure>"
        + _table(
            ["asset", "from", "close", "to (its last date)", "close", "return", f"return to {ret['common_end']}"],
            rows,
            (2, 4, 5, 6),
        )
        + f"<p class=muted>Each asset to its own last date; the last column on the common window. "
        f"CASH: {_e(ret['cash_method'])}.</p>"
    )


def _strategy_section(r: dict, chart: str | None) -> str:
    s = r["strategy"]
    if not s:
        return ""
    keys = [
        ("total_return", "total return", True), ("cagr", "CAGR", True), ("volatility", "volatility", True),
        ("sharpe", "Sharpe (excess of cash)", False), ("max_drawdown", "max drawdown", True), ("days", "days", False),
    ]  # fmt: skip
    rows = [
        [
            _e(lab),
            _e(_pct(s["strategy"][k], 2) if pct else _num(s["strategy"][k], 2)),
            _e(_pct(s["benchmark"][k], 2) if pct else _num(s["benchmark"][k], 2)),
        ]
        for k, lab, pct in keys
    ]
    sig = s["significance"]
    sig_txt = sig.get("error") or (
        f"Sharpe difference {_num(sig['sharpe_difference']['observed'], 2)}, 95% interval "
        f"[{_num(sig['sharpe_difference']['ci95'][0], 2)}, {_num(sig['sharpe_difference']['ci95'][1], 2)}], "
        f"p = {_num(sig['sharpe_difference']['p_value'], 3)} (stationary block bootstrap, {sig['n_boot']} draws, "
        f"H0: {sig['h0']})"
    )
    img = f"<img alt='seed-thesis out of sample' src='{chart}'>" if chart else ""
    return (
        f"<h2>{_e(s['name'])} out of sample, {_e(s['period']['start'])} .. {_e(s['period']['end'])}</h2>"
        f"<p><b>Out of sample</b>: {_e(s['why'])}.</p>"
        + img
        + _table(["metric", s["name"], s["benchmark_name"]], rows, (1, 2))
        + f"<p class=muted>{_e(sig_txt)}. Run {_e(s['run_id'])}. {_e(' '.join(s['notes']))}</p>"
        + _continuing(s)
    )


def _continuing(s: dict) -> str:
    """Both out-of-sample definitions, so this page and the tearsheet can be read side by side."""
    c = s.get("continuing") or {}
    if not c:
        return ""
    return (
        f"<p>Two out-of-sample numbers: {_e(s.get('definition', 'fresh start'))}: "
        f"{_e(_pct(s['strategy']['total_return']))} (above); {_e(c['definition'])} "
        f"({_e(c['period']['start'])} .. {_e(c['period']['end'])}): {_e(_pct(c['strategy']['total_return']))}, "
        f"{_e(s['benchmark_name'])} {_e(_pct(c['benchmark']['total_return']))}.</p>"
    )


def render(t: Thesis) -> str:
    from matplotlib import style

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    r = t.report
    with style.context("default"):  # not whatever style an imported library (quantstats) set
        fed = _fed_chart(t)
        rets = _curves_chart(t.curves, "Returns since the essay (each to its own last date)")
        eq = _curves_chart(t.equity, "seed-thesis vs its benchmark, out of sample") if t.equity else None
    thr = ", ".join(f"{k} = {v}" for k, v in r["thresholds"].items())
    from .. import __version__

    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<title>The essay's call, scored</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>&ldquo;QT is dead, QE is coming&rdquo;: the essay's call, scored on the data after it</h1>"
        f"<p class=muted>Essay session {_e(r['essay_session'])} (first NYSE session on or after "
        f"{_e(r['since'])}); data as of {_e(r['asof'])}. Every figure below is computed from the store; "
        f"the essay's own figures are quoted.</p>"
        + _claims_section(r)
        + _qt_section(r)
        + _fed_section(r, fed)
        + _returns_section(r, rets)
        + _strategy_section(r, eq)
        + f"<h2>Thresholds</h2><p class=muted>{_e(thr)}</p>"
        f"<p class=muted>hedge {_e(__version__)} &middot; hedge thesis</p></body></html>\n"
    )


def write_page(t: Thesis, path: str | Path) -> str:
    p = check_html_path(path)
    text = render(t)
    from ..fsutil import atomic_output

    with atomic_output(p, "choose a writable html path", param="html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return str(p)
