"""The QuantStats part of the tearsheet, with the numbers of ``backtester.metrics``.

* Periods: 252 a year (``metrics.PERIODS``).
* Risk-free: the run's CASH returns c_t (DFF, actual/360). QuantStats takes ``rf`` as an ANNUAL rate and
  de-annualises it per period as (1 + rf) ** (1 / 252) - 1, so it gets rf_t = (1 + c_t) ** 252 - 1 and
  subtracts exactly c_t: its Sharpe and Sortino are those of ``backtester.metrics`` (excess of CASH).
  QuantStats' CAGR, volatility and drawdowns do not use rf and match too.
* The benchmark is the run's own benchmark return Series (never a ticker: no download).
* QuantStats puts its title and names into the page as raw HTML; the page here is rendered from QuantStats'
  template with our header (escaped title and names) and without its remote favicon, its link to its
  website and its ``onload="save()"`` (a function the page does not define: a console error).
* Two fixes to QuantStats 0.0.86 under pandas 3, applied only while the page is rendered
  (:func:`_qs_fixes`): its EOY-returns bar chart puts the bars at period ordinals and the year labels at
  0..n (bars and labels apart), so that one chart is drawn here, same data and style; and Treynor, the
  Ulcer Performance Index and the Serenity Index subtract ``rf`` from a period total, which a rate
  Series turns into a Series (printed raw in the table), so they get CASH's total return over the period.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from ._io import esc, inline_svg

PANELS_MARK = "<!--hedge-panels-->"


class _CashRate(pd.Series):
    """The annualised CASH rate; prints as its label where QuantStats formats ``rf`` as one number."""

    def __format__(self, spec: str) -> str:
        return "CASH"


def rf_series(cash: pd.Series, periods: int | None = None) -> pd.Series:
    """The annual rate QuantStats turns back into the CASH return of each period."""
    from ..metrics import PERIODS

    n = periods or PERIODS
    return _CashRate((1.0 + pd.Series(cash, dtype=float)) ** n - 1.0)


def qs_stats(strategy: pd.Series, cash: pd.Series) -> dict:
    """Sharpe, Sortino, CAGR, volatility and max drawdown as QuantStats computes them for the tearsheet."""
    from ..metrics import PERIODS

    with quiet():
        import quantstats as qs

        rf = rf_series(cash)
        return {
            "sharpe": float(qs.stats.sharpe(strategy, rf=rf, periods=PERIODS)),
            "sortino": float(qs.stats.sortino(strategy, rf=rf, periods=PERIODS)),
            "cagr": float(qs.stats.cagr(strategy, periods=PERIODS)),
            "volatility": float(qs.stats.volatility(strategy, periods=PERIODS)),
            "max_drawdown": float(qs.stats.max_drawdown(strategy)),
        }


@contextlib.contextmanager
def quiet():
    """No font-warning flood, no pandas/matplotlib warnings on the terminal, figures closed afterwards;
    SVG ids from a fixed salt (QuantStats' charts too), so the same run gives a byte-identical page."""
    import matplotlib

    matplotlib.use("Agg")
    fm = logging.getLogger("matplotlib.font_manager")
    level = fm.level
    fm.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), matplotlib.rc_context({"svg.hashsalt": "liquidity-hedge"}):
            warnings.simplefilter("ignore")
            yield
    finally:
        fm.setLevel(level)
        import matplotlib.pyplot as plt

        plt.close("all")


@contextlib.contextmanager
def _qs_fixes(cash_total: float):
    import quantstats.plots as qp
    import quantstats.stats as qst

    saved = {}

    def patch(mod, name, fn):
        saved[(mod, name)] = getattr(mod, name)
        setattr(mod, name, fn)

    def total_rf(orig, pos):
        def f(*args, **kw):
            if isinstance(kw.get("rf"), pd.Series):
                kw["rf"] = cash_total
            if len(args) > pos and isinstance(args[pos], pd.Series):
                args = (*args[:pos], cash_total, *args[pos + 1 :])
            return orig(*args, **kw)

        return f

    for name, pos in (("treynor_ratio", 3), ("ulcer_performance_index", 1), ("serenity_index", 1)):
        patch(qst, name, total_rf(getattr(qst, name), pos))
    patch(qp, "yearly_returns", _eoy_chart)
    patch(qst, "monthly_returns", _run_months_only(qst.monthly_returns))
    try:
        yield
    finally:
        for (mod, name), fn in saved.items():
            setattr(mod, name, fn)


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _run_months_only(orig):
    """QuantStats' monthly returns table with the months outside the run empty (NaN), not 0.00."""

    def f(returns, *args, **kw):
        table = orig(returns, *args, **kw)
        idx = getattr(returns, "index", None)
        if not isinstance(idx, pd.DatetimeIndex) or len(idx) == 0:
            return table
        first, last = (idx[0].year, idx[0].month), (idx[-1].year, idx[-1].month)
        table = table.astype(float)
        month = {c: MONTHS.index(str(c).title()) + 1 for c in table.columns if str(c).title() in MONTHS}  # JAN..
        for year in table.index:
            for col, m in month.items():
                if not (first <= (int(year), m) <= last):
                    table.loc[year, col] = float("nan")
        return table

    return f


def _eoy_chart(returns, benchmark=None, figsize=(8, 4), savefig=None, compounded=True, **_kw):
    """QuantStats' "EOY Returns vs Benchmark" bars with the years under their bars."""
    import matplotlib.pyplot as plt
    import numpy as np
    from quantstats._plotting.core import _FLATUI_COLORS

    cols = {} if benchmark is None else {benchmark.name: benchmark}
    cols[returns.name] = returns
    df = pd.DataFrame(cols).fillna(0.0)
    yearly = (1.0 + df).groupby(df.index.year).prod() - 1.0 if compounded else df.groupby(df.index.year).sum()
    colors = _FLATUI_COLORS if benchmark is not None else _FLATUI_COLORS[1:]
    fig, ax = plt.subplots(figsize=figsize)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    x = np.arange(len(yearly))
    w = 0.8 / len(yearly.columns)
    for i, c in enumerate(yearly.columns):
        ax.bar(
            x + (i - (len(yearly.columns) - 1) / 2) * w, 100 * yearly[c].to_numpy(), w, label=str(c), color=colors[i]
        )
    ax.axhline(100 * yearly[returns.name].mean(), ls="--", lw=1.5, color="red", zorder=2)
    ax.axhline(0, ls="--", lw=1, color="#000000", zorder=2)
    ax.set_xticks(x, [str(y) for y in yearly.index], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0f}%")
    title = "EOY Returns vs Benchmark" if benchmark is not None else "EOY Returns"
    fig.suptitle(title, y=0.94, fontweight="bold", fontsize=14, color="black")
    ax.legend(fontsize=11)
    fig.set_facecolor("white")
    fig.tight_layout()
    if savefig:
        fig.savefig(**savefig) if isinstance(savefig, dict) else fig.savefig(savefig)
    plt.close(fig)
    return None


def _replace(text: str, old: str, new: str, regex: bool = False) -> str:
    out = re.sub(old, lambda m: new, text, count=1, flags=re.S) if regex else text.replace(old, new, 1)
    if out == text:
        raise RuntimeError(f"the QuantStats template changed: {old!r} not found")
    return out


def _template(title: str, header: str, nav: str, css: str) -> str:
    import quantstats

    tpl = (Path(quantstats.__file__).parent / "report.html").read_text(encoding="utf-8")
    tpl = _replace(tpl, r"<title>.*?</title>", f"<title>{esc(title)}</title>", regex=True)
    tpl = _replace(tpl, r'\s*<link rel="shortcut icon"[^>]*>', "", regex=True)
    tpl = _replace(tpl, "</style>", css + "\n    </style>")
    tpl = _replace(tpl, '<body onload="save()">', "<body>")
    tpl = _replace(tpl, "<h1>{{title}} ", f"<h1>{esc(title)} ")
    tpl = _replace(tpl, r"<h4>\{\{params\}\}.*?</h4>", f"<h4>{header}</h4>\n{nav}", regex=True)
    tpl = _replace(tpl, r"<div>\s*\{\{returns\}\}", '<div id="returns">{{returns}}', regex=True)
    for name in re.findall(r'<div id="(\w+)">\{\{\1\}\}', tpl):
        tpl = tpl.replace(f'<div id="{name}">', f'<div id="{name}" class="qs-chart" data-chart="qs-{name}">', 1)
    tpl = _replace(tpl, "</body>", PANELS_MARK + "\n</body>")
    return tpl


def quantstats_page(run, title: str, header: str, nav: str, css: str) -> str:
    """The QuantStats tearsheet of a saved run as one HTML string (with ``PANELS_MARK`` before ``</body>``)."""
    from ..metrics import PERIODS

    r = run.returns
    from ..inert import bidi_escape

    sname, bname = bidi_escape(run.strategy_name), bidi_escape(run.benchmark_name)  # shown in the charts too
    strategy = r["strategy"].astype(float).rename(sname)
    bench = r["benchmark"].astype(float).fillna(0.0).rename(bname)
    cash_total = float((1.0 + r["cash"].astype(float)).prod() - 1.0)
    with quiet(), _qs_fixes(cash_total), tempfile.TemporaryDirectory(prefix="hedge-qs-") as tmp:
        import quantstats as qs

        tpl = Path(tmp) / "template.html"
        tpl.write_text(_template(title, header, nav, css), encoding="utf-8")
        out = Path(tmp) / "tearsheet.html"
        qs.reports.html(
            strategy,
            benchmark=bench,
            rf=rf_series(r["cash"]),
            periods_per_year=PERIODS,
            title=title,
            output=str(out),
            template_path=str(tpl),
            match_dates=False,  # keep every session (QuantStats would cut leading zero returns)
            strategy_title=sname,
            benchmark_title=bname,
        )
        page = out.read_text(encoding="utf-8")
    return re.sub(r"<svg\b.*?</svg>", lambda m: inline_svg(m.group(0)), _strip_prologues(page), flags=re.S)


def _strip_prologues(page: str) -> str:
    return re.sub(r"<\?xml[^>]*\?>\s*|<!DOCTYPE svg[^>]*>\s*", "", page)
