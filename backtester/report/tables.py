"""The report's tables: returns by regime, in sample vs out of sample, trades, FOMC events, manifest.

Returns by regime: a return earned on session t counts toward the regime known at the close of session
t - 1 (the last decision before it was earned; the run's first return counts toward its own day's
regime). Per regime and per series: ``days``, ``cagr`` and ``volatility`` (``backtester.metrics`` on
those days' returns, 252 a year) and ``hit_rate`` (share of those days with a return above zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics as M
from ._io import esc
from .panels import OOS_START, REGIME_COLORS, regime_labels

TRADES_SHOWN = 500


def return_regimes(returns: pd.DataFrame, signals: pd.DataFrame) -> pd.Series:
    lab = regime_labels(signals, returns.index)
    prev = lab.shift(1)
    if len(prev):
        prev.iloc[0] = lab.iloc[0]
    return prev


def by_regime(returns: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """One row per (regime, series): days, share, cagr, volatility, hit_rate (fractions)."""
    reg = return_regimes(returns, signals)
    order = [r for r in REGIME_COLORS if (reg == r).any()] + sorted(set(reg) - set(REGIME_COLORS))
    rows = []
    for r in order:
        m = (reg == r).to_numpy()
        for col in ("strategy", "benchmark"):
            vals = returns[col].to_numpy(float)
            ok = m & np.isfinite(vals)
            x, c = vals[ok], returns["cash"].to_numpy(float)[ok]
            stats = M.from_arrays(x, c) if len(x) else {"cagr": np.nan, "volatility": np.nan}
            rows.append(
                {
                    "regime": r,
                    "series": col,
                    "days": int(m.sum()),
                    "share": float(m.mean()),
                    "cagr": stats["cagr"],
                    "volatility": stats["volatility"],
                    "hit_rate": float((x > 0).mean()) if len(x) else np.nan,
                }
            )
    df = pd.DataFrame(rows, columns=["regime", "series", "days", "share", "cagr", "volatility", "hit_rate"])
    bench = df[df["series"] == "benchmark"].set_index("regime")["cagr"]
    # the strategy's CAGR minus the benchmark's in the same regime (NaN on the benchmark's own rows)
    df["excess_cagr"] = np.where(df["series"] == "strategy", df["cagr"] - df["regime"].map(bench), np.nan)
    return df


def by_sample(returns: pd.DataFrame, parts: list | None = None) -> dict[str, dict]:
    """``backtester.metrics`` of strategy and benchmark per (label, returns) part; by default before and from
    ``OOS_START`` (the essay); the tearsheet passes ``report.honesty.samples`` (the run's selection window)."""
    out = {}
    if parts is None:
        parts = [
            ("in sample", returns[returns.index < OOS_START]),
            ("out of sample", returns[returns.index >= OOS_START]),
        ]
    for name, part in parts:
        if len(part) == 0:
            continue
        for col in ("strategy", "benchmark"):
            ret = part[col].fillna(0.0)
            out[f"{name}|{col}"] = M.compute(ret, part["cash"])
    return out


def _pct(v, digits=2) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{100 * v:.{digits}f}%"


def _num(v, digits=2) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'


def regime_html(df: pd.DataFrame, names: tuple[str, str]) -> str:
    label = {"strategy": names[0], "benchmark": names[1]}
    rows = [
        [r.regime, label[r.series], r.days, _pct(r.share, 1), _pct(r.cagr),
         _signed(r.excess_cagr) if r.series == "strategy" else "", _pct(r.volatility), _pct(r.hit_rate, 1)]
        for r in df.itertuples()
    ]  # fmt: skip
    heads = [
        "regime",
        "series",
        "days",
        "share of days",
        "CAGR",
        f"excess CAGR vs {names[1]}",
        "volatility",
        "hit rate",
    ]
    return table(heads, rows, "regimes")


def _signed(v) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{100 * v:+.2f} pp"


def sample_html(parts: dict[str, dict], names: tuple[str, str]) -> str:
    label = {"strategy": names[0], "benchmark": names[1]}
    rows = []
    for key, m in parts.items():
        sample, col = key.split("|")
        rows.append(
            [sample, label[col], f"{m['start']} .. {m['end']}", m["days"], _pct(m["total_return"]), _pct(m["cagr"]),
             _pct(m["volatility"]), _num(m["sharpe"]), _pct(m["max_drawdown"])]
        )  # fmt: skip
    return table(["sample", "series", "period", "days", "total return", "CAGR", "volatility", "Sharpe", "max DD"], rows)


def trades_html(trades: pd.DataFrame) -> tuple[str, int]:
    if trades is None or trades.empty:
        return "<p>No trades.</p>", 0
    shown = trades.tail(TRADES_SHOWN) if len(trades) > TRADES_SHOWN else trades
    rows = [
        [pd.Timestamp(t.date).date().isoformat(), t.asset, t.side, f"{t.size:+.4f}", f"{t.price:,.2f}",
         f"{t.value:.6f}", f"{t.cost:.6f}"]
        for t in shown.itertuples()
    ]  # fmt: skip
    return table(["date", "asset", "side", "size (weight)", "fill price", "value", "cost"], rows, "trades"), len(trades)


def events_html(events: pd.DataFrame, start, end) -> str:
    ev = events[(events["announced"] >= pd.Timestamp(start)) & (events["announced"] <= pd.Timestamp(end))]
    if ev.empty:
        return "<p>No FOMC balance-sheet announcements in the run's period.</p>"
    rows = [[a.date().isoformat(), e.date().isoformat(), t, lab] for a, e, t, lab in
            zip(ev["announced"], ev["effective"], ev["type"], ev["label"], strict=True)]  # fmt: skip
    return table(["announced", "effective", "type", "what"], rows, "events")


def manifest_rows(run, versions: dict[str, str]) -> list[list]:
    man = run.manifest
    spec = man.get("spec") or {}
    summ = run.summary
    rows = [
        ["run id", run.run_id],
        ["tool", f"{man.get('tool', 'liquidity-hedge')} {man.get('version', '?')}"],
        ["command", man.get("command") or "-"],
        ["strategy", f"{run.strategy_name} ({man.get('strategy_source', '?')})"],
        ["parameters", ", ".join(f"{k}={v}" for k, v in (summ.get("params") or {}).items()) or "-"],
        ["options", ", ".join(f"{k}={v}" for k, v in spec.items() if k not in ("strategy", "params")) or "-"],
        ["benchmark", run.benchmark_name],
        ["period", f"{(summ.get('period') or {}).get('start')} .. {(summ.get('period') or {}).get('end')}"],
        ["unknown signal inputs", _pct(summ.get("unknown_input_share"), 1)],
        ["data hash (sha256 of every stored series' checksum and last date)", (man.get("data") or {}).get("hash", "-")],
        ["software", ", ".join(f"{k} {v}" for k, v in versions.items())],
    ]
    sw = man.get("sweep") or {}
    if sw:
        rows.insert(-1, ["chosen by a sweep", sweep_summary(sw)])
    return rows


def sweep_summary(sw: dict) -> str:
    """One line on the sweep that chose a run: trials, deflated Sharpe, PBO and the best-of-sweep tests."""
    comb = sw.get("combinations") or {}
    parts = [f"best of {comb.get('valid', '?'):,} by {sw.get('metric', '?')}" if comb else "best of a sweep"]
    if sw.get("deflated_sharpe") is not None:
        parts.append(f"deflated Sharpe {sw['deflated_sharpe']:.3f}")
    if sw.get("pbo") is not None:
        parts.append(f"PBO {sw['pbo']:.3f}")
    sp = sw.get("spa")
    if sp:
        parts.append(
            f"SPA vs {sp.get('reference')} p = {sp['consistent']:.3f} (lower {sp['lower']:.3f}, upper "
            f"{sp['upper']:.3f}; {sp.get('reps')} reps, mean block {sp.get('block', 0):.1f} days)"
        )
    if sw.get("reality_check"):
        parts.append(f"Reality Check p = {sw['reality_check']['p_value']:.3f}")
    if sw.get("stepm"):
        parts.append(f"StepM ({sw['stepm']['size']:.0%} FWER): {sw['stepm']['count']:,} beat the reference")
    return "; ".join(parts)


def manifest_html(run, versions: dict[str, str]) -> str:
    series = ((run.manifest.get("data") or {}).get("series")) or {}
    files = run.file_hashes()
    data_rows = [[sid, v.get("last"), v.get("checksum")] for sid, v in sorted(series.items())]
    file_rows = [[n, h] for n, h in files.items()]
    return (
        table(["what", "value"], manifest_rows(run, versions), "manifest")
        + "<h3>Data used: last observation and checksum of each stored series</h3>"
        + table(["series", "last date", "sha256"], data_rows, "data")
        + "<h3>Files of this run (sha256)</h3>"
        + table(["file", "sha256"], file_rows, "files")
    )


def walkforward_html(wf: dict) -> str:
    """One row per walk-forward window: training and test dates, the chosen parameters, the ranking metric in
    sample and out of sample, the benchmark's out of sample and the out-of-sample rank of the choice."""
    m, b = wf.get("metric", "metric"), wf.get("benchmark_name", "benchmark")
    names = list((wf.get("grid") or {}).keys())
    pct = m not in ("sharpe", "sortino", "calmar", "turnover")
    f = _pct if pct else _num
    rows = []
    for w in wf.get("windows") or []:
        rank = "-" if w.get("oos_rank") is None else f"{w['oos_rank']}/{w['oos_rank_of']}"
        rows.append(
            [w["window"], f"{w['train_start']} .. {w['train_end']}",
             f"{w['test_start']} .. {w['test_end']}" + (" (partial)" if w.get("partial") else ""),
             *[w["params"].get(k) for k in names], f(w.get("in_sample_metric")), f(w.get("out_of_sample_metric")),
             f(w.get("benchmark_metric")), rank]
        )  # fmt: skip
    heads = ["#", "training", "test", *names, f"{m} in sample", f"{m} out of sample", f"{b} out of sample",
             "rank out of sample"]  # fmt: skip
    return table(heads, rows, "walkforward")
