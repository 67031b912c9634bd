"""``hedge compare``: saved runs side by side (their ``backtester.metrics`` as saved) and one page with the
equity curves overlaid (each run's strategy from its own start; each distinct benchmark dashed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..paths import check_run_id
from ._io import atomic_write_text, esc
from .load import read_manifest

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


def summary(runs: list[dict]) -> dict:
    """The json of ``hedge compare``: one entry per run, metrics as saved by the backtest."""
    return {
        "runs": [
            {
                "run_id": r["run_id"],
                "strategy_name": r["summary"].get("strategy_name"),
                "benchmark_name": r["summary"].get("benchmark_name"),
                "params": r["summary"].get("params") or {},
                "period": r["summary"].get("period") or {},
                "strategy": r["summary"].get("strategy") or {},
                "benchmark": r["summary"].get("benchmark") or {},
            }
            for r in runs
        ],
        "same_period": len({(r["summary"].get("period") or {}).get("start") for r in runs}) == 1
        and len({(r["summary"].get("period") or {}).get("end") for r in runs}) == 1,
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


def equity_chart(runs: list[dict]) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from ..inert import bidi_escape
    from .panels import OOS_START, _rc, _svg
    from .tearsheet import quiet

    with quiet(), _rc():
        fig, ax = plt.subplots(figsize=(10, 4))
        seen = set()
        end = None
        for i, r in enumerate(runs):
            ret = r["returns"]
            label = bidi_escape(f"{r['summary'].get('strategy_name')} ({r['run_id']})")
            ax.plot(ret.index, (1 + ret["strategy"].fillna(0.0)).cumprod(), lw=1.0, color=f"C{i % 10}", label=label)
            key = (r["summary"].get("benchmark_name"), ret.index[0], ret.index[-1])
            if key not in seen:
                seen.add(key)
                blabel = bidi_escape(f"benchmark {key[0]} ({key[1].date()} .. {key[2].date()})")
                ax.plot(ret.index, (1 + ret["benchmark"].fillna(0.0)).cumprod(), lw=0.8, ls="--", color="#7f7f7f",
                        alpha=0.6 + 0.4 / len(seen), label=blabel)  # fmt: skip
            end = ret.index[-1] if end is None else max(end, ret.index[-1])
        if end is not None and end >= OOS_START:
            ax.axvspan(OOS_START, end, facecolor="none", edgecolor="#555555", hatch="///", alpha=0.35, lw=0)
            ax.axvline(OOS_START, color="#555555", lw=0.8, ls="--", label="out of sample from 2025-10-14")
        ax.set_xlim(min(r["returns"].index[0] for r in runs), end)
        ax.set_yscale("log")
        fmt = FuncFormatter(lambda v, _p: f"{v:g}")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(fmt)
        ax.set_ylabel("growth of 1 (log)")
        ax.set_title("equity curves", loc="left", fontsize=8.5)
        ax.legend(loc="upper left", fontsize=7)
        fig.tight_layout()
        return _svg(fig)


def render(runs: list[dict], title: str | None = None) -> str:
    from .index import PAGE, href

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
            + "".join(f"<td>{esc(cell((r['summary'].get('strategy') or {}).get(key), kind))}</td>" for r in runs)
            + "</tr>"
        )
    same = summary(runs)["same_period"]
    body = (
        f'<h1>{esc(title)}</h1><p><a href="index.html">all runs</a> &middot; metrics as saved by each backtest '
        "(Sharpe and Sortino in excess of CASH, 252 periods a year)"
        + ("" if same else "; <b>the periods differ</b>: compare over the same window for like-for-like numbers")
        + f".</p><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        + f'<figure class="chart" data-chart="compare-equity">{equity_chart(runs)}</figure>'
    )
    page = PAGE.format(title=esc(title), body=body)
    return page.replace("</style>", "svg{width:100%;height:auto}figure{margin:0}</style>", 1)


def write_compare(reports_dir: Path, run_ids: list[str], title: str | None = None) -> tuple[Path, dict]:
    """Write ``<reports_dir>/compare-<hash of the ids>.html`` and refresh the index; return (path, summary)."""
    from .index import write_index

    reports_dir = Path(reports_dir)
    runs = load(reports_dir, run_ids)
    for r in runs:
        r["tearsheet"] = (reports_dir / r["run_id"] / "tearsheet.html").is_file()
    path = atomic_write_text(default_path(reports_dir, [r["run_id"] for r in runs]), render(runs, title))
    write_index(reports_dir)
    return path, summary(runs)
