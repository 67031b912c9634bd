"""``hedge compare``: saved runs side by side on the dates they share (``--full``: each over its own period),
and one page with the equity curves rebased there and overlaid (one colour and line style per run, each
distinct benchmark grey in its own style), their drawdowns, yearly returns and return correlations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..paths import check_run_id
from ..saved_runs import read_manifest
from ._io import atomic_write_text, esc

ROWS = [
    ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("volatility", "volatility", "pct"),
    ("sharpe", "Sharpe (excess of cash)", "num"), ("sortino", "Sortino (excess of cash)", "num"),
    ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "num"), ("turnover", "turnover (1-way/yr)", "num"),
    ("costs", "costs (of equity)", "pct"), ("days", "days", "int"),
]  # fmt: skip


def check_ids(run_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(run_ids))
    for rid in ids:
        check_run_id(rid)
    if len(ids) < 2:
        raise UsageError("compare needs at least two different runs", "give two or more run ids")
    return ids


def load(reports_dir: Path, run_ids: list[str]) -> list[dict]:
    """run.json and returns.csv of each run (UsageError for an unknown id)."""
    from ..run import load_run

    out = []
    for rid in check_ids(run_ids):
        load_run(reports_dir, rid)  # UsageError when missing
        man = read_manifest(Path(reports_dir) / rid)
        try:
            rets = pd.read_csv(Path(reports_dir) / rid / "returns.csv", index_col="date", parse_dates=["date"])
        except (OSError, ValueError, KeyError) as e:
            from ..errors import DataError

            raise DataError(f"run {rid} is damaged: returns.csv ({e})", "run the backtest again") from None
        out.append({"run_id": rid, "manifest": man, "summary": man.get("summary") or {}, "returns": rets})
    return out


def align(runs: list[dict], full: bool = False) -> dict | None:
    """Cut every run to the dates all runs share (unless ``full``), so that curves, metrics, yearly returns
    and correlations compare like with like. Sets ``r["window_returns"]``, ``r["strategy"]`` and
    ``r["benchmark"]`` (metrics over the window: as saved when the window is the run's own period, else
    recomputed from its returns; turnover and costs then need the trades and are left out). Returns the
    common window {"start", "end", "days"} or None with ``full``."""
    from .. import metrics as M

    if full:
        for r in runs:
            r["window_returns"] = r["returns"]
            r["strategy"] = r["summary"].get("strategy") or {}
            r["benchmark"] = r["summary"].get("benchmark") or {}
        return None
    common = runs[0]["returns"].index
    for r in runs[1:]:
        common = common.intersection(r["returns"].index)
    if len(common) < 2:
        raise UsageError(
            "the runs share no common window (" + ", ".join(f"{r['run_id']} {_span(r['returns'])}" for r in runs) + ")",
            "compare each over its own period with --full",
        )
    for r in runs:
        ret = r["returns"].loc[common[0] : common[-1]]
        ret = ret[ret.index.isin(common)]
        r["window_returns"] = ret
        if len(ret) == len(r["returns"]):
            r["strategy"] = r["summary"].get("strategy") or {}
            r["benchmark"] = r["summary"].get("benchmark") or {}
            continue
        cash = ret["cash"].fillna(0.0)
        r["strategy"] = {k: v for k, v in M.compute(ret["strategy"].fillna(0.0), cash).items() if k in METRIC_KEYS}
        r["benchmark"] = {k: v for k, v in M.compute(ret["benchmark"].fillna(0.0), cash).items() if k in METRIC_KEYS}
    return {"start": str(common[0].date()), "end": str(common[-1].date()), "days": int(len(common))}


METRIC_KEYS = {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "days"}


def _span(ret: pd.DataFrame) -> str:
    return f"{ret.index[0].date()}..{ret.index[-1].date()}"


def _label(r: dict) -> str:
    return f"{r['summary'].get('strategy_name')} {r['run_id'].rsplit('-', 1)[-1]}"


def yearly(runs: list[dict]) -> pd.DataFrame:
    """Calendar-year compounded returns over the compared window: one column per run (and per distinct
    benchmark), NaN for a year a run does not cover."""
    cols = {}
    for r in runs:
        ret = r["window_returns"]
        cols[_label(r)] = ret["strategy"]
        b = f"{r['summary'].get('benchmark_name')} (benchmark)"
        if b not in cols:
            cols[b] = ret["benchmark"]
    out = {}
    for name, x in cols.items():
        x = x.dropna()
        out[name] = (1.0 + x).groupby(x.index.year).prod() - 1.0
    return pd.DataFrame(out).sort_index()


def correlations(runs: list[dict]) -> pd.DataFrame:
    """Correlations of daily returns on the dates the runs share (strategies and distinct benchmarks)."""
    cols = {}
    for r in runs:
        cols[_label(r)] = r["window_returns"]["strategy"]
        b = f"{r['summary'].get('benchmark_name')} (benchmark)"
        cols.setdefault(b, r["window_returns"]["benchmark"])
    return pd.DataFrame(cols).dropna().corr()


def summary(runs: list[dict], window: dict | None = None) -> dict:
    """The json of ``hedge compare``: one entry per run, metrics over the common window (``aligned``) or
    as saved by each backtest over its own period (``--full``), yearly returns and correlations."""
    if "strategy" not in runs[0]:
        window = align(runs, full=True)
    yr = yearly(runs)
    corr = correlations(runs)
    return {
        "aligned": window is not None,
        "window": window,
        "runs": [
            {
                "run_id": r["run_id"],
                "strategy_name": r["summary"].get("strategy_name"),
                "benchmark_name": r["summary"].get("benchmark_name"),
                "params": r["summary"].get("params") or {},
                "period": r["summary"].get("period") or {},
                "strategy": r["strategy"],
                "benchmark": r["benchmark"],
            }
            for r in runs
        ],
        "same_period": len({(r["summary"].get("period") or {}).get("start") for r in runs}) == 1
        and len({(r["summary"].get("period") or {}).get("end") for r in runs}) == 1,
        "yearly_returns": {
            str(y): {c: (None if pd.isna(v) else float(v)) for c, v in row.items()} for y, row in yr.iterrows()
        },
        "correlations": {c: {k: float(v) for k, v in row.items()} for c, row in corr.iterrows()},
    }


def cell(v, kind: str) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if kind == "pct":
        return f"{100 * v:.2f}%"
    if kind == "num":
        return f"{v:.2f}"
    return str(v)


def default_path(reports_dir: Path, run_ids: list[str]) -> Path:
    digest = hashlib.sha256("\n".join(run_ids).encode()).hexdigest()[:12]
    return Path(reports_dir) / f"compare-{digest}.html"


STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]


def equity_chart(runs: list[dict], rebased: bool = True) -> str:
    """Growth of 1 (log) and drawdowns, one colour and line style per run; benchmarks grey, each its own
    style. ``rebased``: every curve starts at 1 on the common window's first date."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from ..inert import bidi_escape
    from .panels import OOS_START, _rc, _svg, drawdown
    from .tearsheet import quiet

    with quiet(), _rc():
        fig, (ax, dd) = plt.subplots(2, 1, figsize=(10, 5.6), sharex=True, height_ratios=[3, 1.4])
        seen: dict = {}
        end = None
        for i, r in enumerate(runs):
            ret = r["window_returns"]
            style = dict(color=f"C{i % 10}", ls=STYLES[i % len(STYLES)], lw=1.1)
            label = bidi_escape(f"{r['summary'].get('strategy_name')} ({r['run_id']})")
            x = ret["strategy"].fillna(0.0)
            ax.plot(ret.index, (1 + x).cumprod(), label=label, **style)
            dd.plot(ret.index, 100 * drawdown(x), **style)
            key = (r["summary"].get("benchmark_name"), ret.index[0], ret.index[-1])
            if key not in seen:
                seen[key] = len(seen)
                bstyle = dict(color="#555555", ls=STYLES[(len(seen) - 1) % len(STYLES)], lw=0.8, alpha=0.8)
                blabel = bidi_escape(
                    f"benchmark {key[0]}" + ("" if rebased else f" ({key[1].date()} .. {key[2].date()})")
                )
                b = ret["benchmark"].fillna(0.0)
                ax.plot(ret.index, (1 + b).cumprod(), label=blabel, **bstyle)
                dd.plot(ret.index, 100 * drawdown(b), **bstyle)
            end = ret.index[-1] if end is None else max(end, ret.index[-1])
        start = min(r["window_returns"].index[0] for r in runs)
        if end is not None and end >= OOS_START:
            for a in (ax, dd):
                a.axvspan(max(OOS_START, start), end, facecolor="none", edgecolor="#555555", hatch="///", alpha=0.35,
                          lw=0)  # fmt: skip
            ax.axvline(OOS_START, color="#555555", lw=0.8, ls="--", label="out of sample from 2025-10-14")
        ax.set_xlim(start, end)
        ax.set_yscale("log")
        fmt = FuncFormatter(lambda v, _p: f"{v:g}")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        ax.set_ylabel("growth of 1 (log)")
        ax.set_title("equity curves" + (f", rebased to 1 on {start.date()}" if rebased else ""), loc="left",
                     fontsize=8.5)  # fmt: skip
        ax.legend(loc="upper left", fontsize=7)
        dd.set_ylabel("drawdown %")
        dd.set_title("drawdowns", loc="left", fontsize=8.5)
        fig.tight_layout()
        return _svg(fig)


def _frame_html(df: pd.DataFrame, fmt, cls: str, corner: str) -> str:
    head = f"<tr><th>{esc(corner)}</th>" + "".join(f"<th>{esc(c)}</th>" for c in df.columns) + "</tr>"
    body = "".join(
        f"<tr><td>{esc(i)}</td>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in row) + "</tr>"
        for i, row in zip(df.index, df.to_numpy(), strict=True)
    )
    return f'<table class="{cls}"><thead>{head}</thead><tbody>{body}</tbody></table>'


def render(runs: list[dict], title: str | None = None, window: dict | None = None) -> str:
    from .index import PAGE, href

    if "strategy" not in runs[0]:
        window = align(runs, full=True)
    title = title or "Comparison: " + ", ".join(r["run_id"] for r in runs)
    head = (
        "<tr><th>metric</th>"
        + "".join(
            f'<th><a href="{esc(href(r["run_id"], "tearsheet.html" if r.get("tearsheet") else "run.json"))}">'
            f"{esc(r['summary'].get('strategy_name'))}</a><br><small>{esc(r['run_id'])}</small></th>"
            for r in runs
        )
        + "</tr>"
    )
    info = [
        ("benchmark", [r["summary"].get("benchmark_name") for r in runs]),
        ("period", [f"{(r['summary'].get('period') or {}).get('start')} .. "
                    f"{(r['summary'].get('period') or {}).get('end')}" for r in runs]),
        ("parameters", [", ".join(f"{k}={v}" for k, v in (r["summary"].get("params") or {}).items()) for r in runs]),
    ]  # fmt: skip
    rows = [f"<tr><td>{esc(k)}</td>" + "".join(f"<td>{esc(v)}</td>" for v in vals) + "</tr>" for k, vals in info]
    for key, label, kind in ROWS:
        rows.append(
            f"<tr><td>{esc(label)}</td>"
            + "".join(f"<td>{esc(cell(r['strategy'].get(key), kind))}</td>" for r in runs)
            + "</tr>"
        )
    same = summary(runs, window)["same_period"]
    if window is not None:
        scope = (
            f"metrics, curves, yearly returns and correlations over the common window {window['start']} .. "
            f"{window['end']} ({window['days']} sessions), curves rebased to 1 there"
            + ("" if same else " (the runs' own periods differ; `hedge compare --full` keeps each run's own)")
        )
    else:
        scope = "metrics as saved by each backtest over its own period" + (
            "" if same else "; <b>the periods differ</b>: compare without --full for like-for-like numbers"
        )
    yr = yearly(runs)
    corr = correlations(runs)
    body = (
        f'<h1>{esc(title)}</h1><p><a href="index.html">all runs</a> &middot; {scope} '
        "(Sharpe and Sortino in excess of CASH, 252 periods a year)"
        + f".</p><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        + f'<figure class="chart" data-chart="compare-equity">{equity_chart(runs, window is not None)}</figure>'
        + "<h2>Yearly returns</h2>"
        + _frame_html(yr, lambda v: cell(float(v), "pct"), "yearly", "year")
        + "<h2>Correlations of daily returns</h2>"
        + _frame_html(corr, lambda v: f"{v:.2f}", "correlations", "")
    )
    page = PAGE.format(title=esc(title), body=body)
    return page.replace("</style>", "svg{width:100%;height:auto}figure{margin:0}</style>", 1)


def write_compare(
    reports_dir: Path, run_ids: list[str], title: str | None = None, full: bool = False
) -> tuple[Path, dict]:
    """Write ``<reports_dir>/compare-<hash of the ids>.html`` and refresh the index; return (path, summary).
    The runs are compared on their common window unless ``full`` (each over its own period)."""
    from .index import write_index

    reports_dir = Path(reports_dir)
    runs = load(reports_dir, run_ids)
    for r in runs:
        r["tearsheet"] = (reports_dir / r["run_id"] / "tearsheet.html").is_file()
    window = align(runs, full)
    ids = [r["run_id"] for r in runs]
    path = atomic_write_text(default_path(reports_dir, ids + (["full"] if full else [])), render(runs, title, window))
    write_index(reports_dir)
    return path, summary(runs, window)
