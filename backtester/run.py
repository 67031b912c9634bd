"""A backtest run: signals -> strategy weights -> engine, for a strategy and its benchmark, saved to disk.

``run_backtest(store, RunSpec(...))`` is what ``hedge backtest`` (and the tearsheet, sweeps, walk-forward)
build on. Its run id is derived from the resolved options, the data (checksums of every stored series)
and the tool's version: the same run gets the same id, and saving it again writes the same files.

Window: by default a run starts on the first session on which every asset the strategy may hold has a
price (bitcoin: 2014-09-17) and ends on the store's last common date, cut to the earliest last price
among the strategy's assets and its benchmark (SPY ends 2026-06-04 in the snapshot); the notes say so.
An explicit earlier ``start`` lets an asset without a price send its weight to the strategy's fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from . import __version__
from .errors import DataError, UsageError
from .strategy import Strategy

GOLDS = ("GLD", "LBMA_GOLD")
REBALANCE = ("change", "monthly", "weekly", "band")


@dataclass
class RunSpec:
    strategy: str
    params: dict = field(default_factory=dict)  # raw name -> value (validated against the strategy)
    start: str | None = None
    end: str | None = None
    fees_bp: float | None = None  # None: per-asset defaults (engine.FEES_BP)
    slippage_bp: float | None = None
    exec_lag: int = 1
    rebalance: str = "change"
    band: float = 0.05
    vol_target: float | None = None
    gold: str = "GLD"
    benchmark: str = "SPY"  # an asset, or weights "spy=0.6,tlt=0.4"
    strategies_dir: str | None = None
    costs: dict = field(default_factory=dict)  # per-asset overrides: id -> [fee_bp, slippage_bp] (--cost)


@dataclass
class Run:
    run_id: str
    spec: RunSpec
    params: dict
    strategy: Strategy
    benchmark_label: str
    result: object  # engine.BacktestResult
    bench: object
    metrics: dict
    bench_metrics: dict
    signals: pd.DataFrame
    notes: list[str]
    unknown_share: float
    data: dict
    path: Path | None = None

    def summary(self) -> dict:
        return {
            "run_id": self.run_id,
            "strategy_name": self.spec.strategy,
            "benchmark_name": self.benchmark_label,
            "params": self.params,
            "period": {"start": self.metrics["start"], "end": self.metrics["end"]},
            "strategy": self.metrics,
            "benchmark": self.bench_metrics,
            "unknown_input_share": self.unknown_share,
            "notes": self.notes,
        }


def benchmark_strategy(text: str, strategies_dir=None) -> tuple[Strategy, dict, str]:
    """``SPY`` -> buy-hold SPY; ``spy=0.6,gdx=0.4`` -> static-mix of those weights (any holdable assets,
    the user's own prices included; the run checks them against the store)."""
    from . import strategy as st
    from .data.market import resolve_asset

    text = (text or "").strip()
    if not text:
        raise UsageError("empty --benchmark", "give an asset such as SPY, or weights such as spy=0.6,tlt=0.4")
    if "=" in text:
        pairs = []
        for part in text.split(","):
            if not part.strip():
                continue
            if part.count("=") != 1:
                raise UsageError(f"--benchmark part {part.strip()!r} is not asset=weight", "e.g. spy=0.6,gdx=0.4")
            a, w = (x.strip() for x in part.split("="))
            pairs.append((a, w))
        s = st.get("static-mix")
        params = s.resolve({"mix": ",".join(f"{resolve_asset(a)}:{w}" for a, w in pairs)})
        s.assets(params)  # weights checked here: numbers in [0, 1] summing to at most 1
        label = ",".join(f"{a.lower()}={float(w):g}" for a, w in pairs if float(w) > 0)
        return s, params, label
    s = st.get("buy-hold")
    asset = resolve_asset(text)
    return s, s.resolve({"asset": asset}), asset


def _check_spec(spec: RunSpec) -> None:
    if spec.gold not in GOLDS:
        raise UsageError(f"--gold {spec.gold!r} is not GLD or LBMA_GOLD", "use --gold GLD or --gold LBMA_GOLD")
    if spec.rebalance not in REBALANCE:
        raise UsageError(f"--rebalance {spec.rebalance!r} is unknown", f"use one of: {', '.join(REBALANCE)}")
    for name, v in (("--fees-bp", spec.fees_bp), ("--slippage-bp", spec.slippage_bp)):
        if v is not None and not (0 <= v < 10000):
            raise UsageError(f"{name} {v:g} is out of range", f"{name} must be between 0 and 10000 basis points")
    if spec.exec_lag < 1:
        raise UsageError(
            f"--exec-lag {spec.exec_lag} is below 1", "a decision at a close fills at a later close: use 1 or more"
        )


def _gold_swap(w: pd.DataFrame, gold: str) -> pd.DataFrame:
    if gold == "GLD" or "GLD" not in w.columns:
        return w
    w = w.copy()
    w[gold] = w.get(gold, 0.0) + w.pop("GLD")
    return w


def data_fingerprint(store) -> dict:
    series = {sid: {"last": m["last"], "checksum": m["checksum"]} for sid in store.ids() for m in [store.meta(sid)]}
    h = hashlib.sha256(json.dumps(series, sort_keys=True).encode()).hexdigest()
    return {"hash": h, "series": series}


def run_id_for(spec: RunSpec, params: dict, data_hash: str) -> str:
    key = {**asdict(spec), "params": params, "strategies_dir": None, "data": data_hash, "version": __version__}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{spec.strategy}-{digest}"


def _window(store, spec: RunSpec, assets: list[str]) -> tuple[pd.Timestamp, pd.Timestamp, list[str]]:
    notes = []
    asof = store.last_common_date()
    end = pd.Timestamp(spec.end) if spec.end else asof
    firsts = {a: pd.Timestamp(store.meta(a)["first"]) for a in assets}
    if spec.start:
        start = pd.Timestamp(spec.start)
    else:
        start = max(firsts.values())
        late = max(firsts, key=firsts.get)
        notes.append(f"the run starts {start.date()}, the first date with prices for every asset it may hold ({late})")
    if start > end:
        raise UsageError(f"--start {start.date()} is after --end {end.date()}", "give a start before the end")
    return start, end, notes


def run_backtest(store, spec: RunSpec, signals: pd.DataFrame | None = None) -> Run:
    from . import engine, metrics
    from . import signals as sig
    from . import strategy as st
    from .data import market

    _check_spec(spec)
    strat = st.get(spec.strategy, spec.strategies_dir)
    params = strat.resolve(spec.params)
    bstrat, bparams, blabel = benchmark_strategy(spec.benchmark)
    assets = [a if a != "GLD" else spec.gold for a in (strat.assets(params) if strat.assets else ())]
    bassets = list(bstrat.assets(bparams))
    universe = list(dict.fromkeys(assets + bassets))
    market.check_holdable(universe, store)
    start, end, notes = _window(store, spec, universe or ["GLD"])
    prices, pnotes = market.load_prices(store, universe, start, end)
    if not spec.end:  # the default end is the store's last common date, not something the user asked for
        pnotes = [n.replace(f" (end {end.date()} was asked)", "") for n in pnotes]
    notes += pnotes
    dates = prices.index
    if signals is None:
        signals = sig.compute(store)
    s = signals.reindex(dates)
    w = _gold_swap(strat.weights(s, params), spec.gold)
    bw = bstrat.weights(s, bparams)
    from .costs import resolve as resolve_costs

    fees, slips, cost_note = resolve_costs(
        store, universe, spec.fees_bp, spec.slippage_bp, {a: tuple(v) for a, v in spec.costs.items()}
    )
    notes.append(cost_note)
    kw = dict(
        fees_bp=fees,
        slippage_bp=slips,
        exec_lag=spec.exec_lag,
        rebalance=spec.rebalance,
        band=spec.band,
        vol_target=spec.vol_target,
    )
    res = engine.backtest(
        w.reindex(columns=[c for c in w.columns if c in prices.columns]), prices, fallback=strat.fallback, **kw
    )
    bres = engine.backtest(bw, prices, **kw)
    unknown = strat.unknown_share(s)
    by_input = {c: float(s[c].isna().mean()) for c in strat.uses if c in s.columns and s[c].isna().any()}
    if by_input:
        parts = ", ".join(f"{c} on {v:.1%}" for c, v in by_input.items())
        notes.append(
            f"unknown signal inputs: {parts} of decision dates ({unknown:.1%} with any unknown);"
            " conditions on an unknown input count as false"
        )
    notes += [n for n in res.notes if n not in notes]
    m = res.metrics()
    bm = bres.metrics()
    cash = metrics.from_arrays(res.cash_returns.to_numpy(), res.cash_returns.to_numpy())
    m["cash_total_return"] = bm["cash_total_return"] = cash["total_return"]
    data = data_fingerprint(store)
    rid = run_id_for(spec, params, data["hash"])
    return Run(rid, spec, params, strat, blabel, res, bres, m, bm, s, notes, unknown, data)


# ---------------------------------------------------------------- saving
def save_run(run: Run, reports_dir: Path, command: str | None = None, extra: dict | None = None) -> Path:
    """Write ``<reports_dir>/<run_id>/`` (returns, weights, targets, trades, signals, run.json) atomically.

    ``extra``: more top-level keys for run.json (``hedge sweep --best-report`` adds ``{"sweep": {...}}``)."""
    from .signals import signal_columns

    reports_dir = Path(reports_dir)
    final = reports_dir / run.run_id
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run.run_id}.", dir=reports_dir))
    except OSError as e:
        raise DataError(
            f"cannot write to the reports folder {reports_dir} ({e.strerror})",
            "pass a writable --reports-dir or fix its permissions",
        ) from None
    try:
        r, b = run.result, run.bench
        rets = pd.DataFrame(
            {
                "strategy": r.returns,
                "benchmark": b.returns.reindex(r.returns.index),
                "cash": r.cash_returns.reindex(r.returns.index),
            }
        )
        rets.to_csv(tmp / "returns.csv", index_label="date", float_format="%.12g")
        r.weights.to_csv(tmp / "weights.csv", index_label="date", float_format="%.10g")
        r.target.to_csv(tmp / "target.csv", index_label="date", float_format="%.10g")
        r.trades.to_csv(tmp / "trades.csv", index=False, float_format="%.10g")
        sc = [c for c in signal_columns(run.signals)]
        run.signals.loc[r.returns.index[0] :, sc].to_csv(tmp / "signals.csv", index_label="date", float_format="%.10g")
        from .research.significance import significance_of_returns

        try:  # seed 0, 2000 draws: deterministic, so saving the same run again writes identical files
            significance = significance_of_returns(rets)
        except UsageError:  # too few days of returns
            significance = None
        manifest = {
            "run_id": run.run_id,
            "tool": "liquidity-hedge",
            "version": __version__,
            "command": command,
            "spec": {**asdict(run.spec), "strategies_dir": run.spec.strategies_dir},
            "strategy_source": run.strategy.source,
            "summary": run.summary(),
            "data": run.data,
            "significance": significance,
            **(extra or {}),
        }
        (tmp / "run.json").write_text(json.dumps(_plain(manifest), indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a run folder is as readable as any report
        if final.exists():
            keep = [p for p in final.iterdir() if p.name.endswith(".html") or p.name == "assets"]
            for p in keep:  # a saved run keeps its rendered reports
                os.replace(p, tmp / p.name)
            shutil.rmtree(final)
        os.replace(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(
            f"cannot write run {run.run_id} to {reports_dir} ({e.strerror})",
            "pass a writable --reports-dir or free some disk space",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.path = final
    return final


def _plain(obj):
    from .jsonplain import plain

    return plain(obj)


def load_run(reports_dir: Path, run_id: str) -> dict:
    p = Path(reports_dir) / run_id / "run.json"
    if not p.is_file():
        raise UsageError(f"no saved run {run_id!r} in {reports_dir}", "run `hedge backtest ...` first or check the id")
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"run {run_id} is damaged ({e})", "run the backtest again to rewrite it") from None
