"""A backtest run: signals -> strategy weights -> engine, for a strategy and its benchmark, saved to disk.

:func:`resolve` is THE run-resolution step: strategy, parameters, assets, window, prices, signals,
benchmark and execution options (:class:`backtester.engine.ExecOptions`) from a :class:`RunSpec`. Every
caller uses it: ``run_backtest`` (``hedge backtest``), the sweep's ``prepare``, walk-forward (through
``prepare``), ``hedge now`` (``window=False``) and the best-of-sweep re-run.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import __version__
from .constants import DEFAULT_REBALANCE, GOLDS
from .errors import DataError, UsageError
from .strategy import Strategy

if TYPE_CHECKING:
    from .engine import ExecOptions

__all__ = ["RunSpec", "ResolvedRun", "Run", "resolve", "run_backtest", "save_run", "load_run", "benchmark_strategy",
           "data_fingerprint", "run_id_for", "swap_gold", "with_history", "experiment_of", "STRATEGY_COPY"]  # fmt: skip


@dataclass
class RunSpec:
    """What to run: the strategy and its raw parameters, the window, the execution options, the gold, the
    benchmark. Plain values (it is recorded in run.json and keys the run id); :attr:`options` is the
    validated :class:`backtester.engine.ExecOptions` of its execution fields."""

    strategy: str
    params: dict = field(default_factory=dict)  # raw name -> value (validated against the strategy)
    start: str | None = None
    end: str | None = None
    fees_bp: float | None = None  # None: per-asset defaults (engine.FEES_BP)
    slippage_bp: float | None = None
    exec_lag: int = 1
    rebalance: str = DEFAULT_REBALANCE
    band: float = 0.05
    vol_target: float | None = None
    gold: str = "GLD"
    benchmark: str = "SPY"  # an asset, weights of any assets "spy=0.6,gdx=0.4", or a saved run "run:RUN_ID"
    strategies_dir: str | None = None
    costs: dict = field(default_factory=dict)  # per-asset overrides: id -> [fee_bp, slippage_bp] (--cost)

    @property
    def options(self) -> ExecOptions:
        """The execution options, validated (UsageError naming the parameter)."""
        from .engine import ExecOptions

        return ExecOptions(
            fees_bp=self.fees_bp, slippage_bp=self.slippage_bp, exec_lag=self.exec_lag, rebalance=self.rebalance,
            band=self.band, vol_target=self.vol_target,
        )  # fmt: skip

    def check(self) -> ExecOptions:
        """Every check that needs no data (gold, dates, execution options); returns the options."""
        if self.gold not in GOLDS:
            raise UsageError(f"gold {self.gold!r} is not GLD or LBMA_GOLD", "use GLD or LBMA_GOLD", param="gold")
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                try:
                    pd.Timestamp(v)
                except (TypeError, ValueError):
                    raise UsageError(f"{name} {v!r} is not a date", "use ISO YYYY-MM-DD", param=name) from None
        return self.options

    @classmethod
    def of(cls, strategy: str, params=None, *, options: ExecOptions | None = None, **fields) -> RunSpec:
        """A spec from an :class:`ExecOptions` (and the other fields by name)."""
        ex = {} if options is None else {k: getattr(options, k) for k in _EXEC_FIELDS}
        return cls(strategy, dict(params or {}), **ex, **fields)


_EXEC_FIELDS = ("fees_bp", "slippage_bp", "exec_lag", "rebalance", "band", "vol_target")


def benchmark_strategy(text: str, strategies_dir=None) -> tuple[Strategy, dict, str]:
    """``SPY`` -> buy-hold SPY; ``spy=0.6,gdx=0.4`` -> static-mix of those weights (any holdable assets,
    the user's own prices included; :func:`resolve` checks them against the store)."""
    from . import strategy as st
    from .data.market import resolve_asset

    text = (text or "").strip()
    if not text:
        raise UsageError(
            "empty benchmark", "give an asset such as SPY, or weights such as spy=0.6,tlt=0.4", param="benchmark"
        )
    if "=" in text:
        pairs = []
        for part in text.split(","):
            if not part.strip():
                continue
            if part.count("=") != 1:
                raise UsageError(
                    f"benchmark part {part.strip()!r} is not asset=weight", "e.g. spy=0.6,gdx=0.4", param="benchmark"
                )
            a, w = (x.strip() for x in part.split("="))
            pairs.append((a, w))
        s = st.get("static-mix")
        params = s.resolve({"mix": ",".join(f"{resolve_asset(a)}:{w}" for a, w in pairs)})
        s.assets(params)  # the weights checked here: numbers in [0, 1] summing to at most 1
        label = ",".join(f"{a.lower()}={float(w):g}" for a, w in pairs if float(w) > 0)
        return s, params, label
    s = st.get("buy-hold")
    asset = resolve_asset(text)
    return s, s.resolve({"asset": asset}), asset


RUN_PREFIX = "run:"


@dataclass
class SavedBenchmark:
    """A saved run's strategy as another run's benchmark (``--benchmark run:RUN_ID``): its daily returns,
    held weights, trades and costs on the new run's sessions, with the interface of an engine result that
    ``run_resolved`` and ``save_run`` use (``returns``, ``metrics()``). When the new run starts after the saved
    one, the saved run's book is already held then (no opening trade in the window)."""

    run_id: str
    returns: pd.Series
    weights: pd.DataFrame
    trades: pd.DataFrame
    costs: pd.Series
    cash_returns: pd.Series | None = None
    opening: pd.Timestamp | None = None

    def metrics(self) -> dict:
        from . import metrics

        cash = self.cash_returns if self.cash_returns is not None else self.returns * 0.0
        return metrics.compute(
            self.returns, cash, weights=self.weights, trades=self.trades, costs=self.costs, opening=self.opening
        )


def load_benchmark_run(text: str, reports_dir):
    """``run:RUN_ID`` -> the saved run (``saved_runs.SavedRun``) in ``reports_dir`` (else $HEDGE_REPORTS_DIR,
    else ./reports); UsageError naming the run when it is not saved there."""
    from .paths import check_run_id
    from .paths import reports_dir as resolve_reports
    from .saved_runs import load_saved_run

    rid = text.strip()[len(RUN_PREFIX) :].strip()
    root = resolve_reports(reports_dir)
    if not rid:
        raise UsageError("benchmark run: names no run", "give --benchmark run:RUN_ID (an id hedge backtest printed)",
                         param="benchmark")  # fmt: skip
    if not (root / check_run_id(rid) / "run.json").is_file():
        raise UsageError(
            f"benchmark run {rid!r} is not saved in {root}",
            "give the id of a saved run (`hedge backtest` prints it) or the --reports-dir that holds it",
            param="benchmark",
        )
    return load_saved_run(root / rid)


def saved_benchmark(saved, dates: pd.DatetimeIndex, cash_returns: pd.Series | None = None) -> SavedBenchmark:
    """A saved run's strategy (``saved_runs.SavedRun``) as the benchmark on the return ``dates`` of the new
    run (UsageError when they do not lie inside the saved run's)."""
    rid = saved.run_id
    r = saved.returns["strategy"]
    first, last = dates[0], dates[-1]
    if first < r.index[0] or last > r.index[-1]:
        raise UsageError(
            f"this run's returns {first.date()} .. {last.date()} are not inside benchmark run {rid}'s returns"
            f" {r.index[0].date()} .. {r.index[-1].date()}",
            "give --start/--end inside it, or save the benchmark run over a longer window",
            param="benchmark",
        )
    rets = r.reindex(dates)
    if rets.isna().any():
        raise DataError(
            f"benchmark run {rid} has no return on {rets.index[rets.isna()][0].date()}, a session of this run",
            "run the benchmark run again on the current data",
        )
    trades, opening = saved.trades, None
    if len(trades) and first > r.index[0]:  # a later start: the saved run's book is already held, no opening
        d = pd.to_datetime(trades["date"])
        opening = d.min()
        trades = trades[(d >= first).to_numpy()].reset_index(drop=True)
    costs = (
        trades.groupby(pd.to_datetime(trades["date"]))["cost"].sum().astype(float)
        if len(trades) and "cost" in trades
        else pd.Series(0.0, index=dates)
    )
    return SavedBenchmark(rid, rets, saved.weights.reindex(dates), trades, costs, cash_returns, opening)


def swap_gold(w: pd.DataFrame, gold: str) -> pd.DataFrame:
    """Target weights with the ``GLD`` column held as ``gold`` instead (``LBMA_GOLD``: the fixing)."""
    if gold == "GLD" or "GLD" not in w.columns:
        return w
    w = w.copy()
    w[gold] = w.get(gold, 0.0) + w.pop("GLD")
    return w


def data_fingerprint(store) -> dict:
    series = {sid: {"last": m["last"], "checksum": m["checksum"]} for sid in store.ids() for m in [store.meta(sid)]}
    h = hashlib.sha256(json.dumps(series, sort_keys=True).encode()).hexdigest()
    return {"hash": h, "series": series}


def run_id_for(spec: RunSpec, params: dict, data_hash: str, strategy: Strategy | None = None) -> str:
    """``<strategy name>-<12 hex>``: a hash of the resolved options, the data and the tool's version. A
    strategy file counts by its name and content (sha256), not by the path it was given as."""
    from .strategies.files import file_of

    key = {**asdict(spec), "params": params, "strategies_dir": None, "data": data_hash, "version": __version__}
    name = spec.strategy
    fs = file_of(strategy) if strategy is not None else None
    if fs is not None:
        name = fs.name
        key["strategy"] = {"file": fs.name, "sha256": fs.sha256}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    from .paths import slug

    return f"{slug(name)}-{digest}"


def with_history(signals: pd.DataFrame, dates) -> pd.DataFrame:
    """The signal rows a strategy sees for decisions on ``dates``: every row up to the last date (so
    windowed features -- ``sma(GLD, 200)``, ``mean(x, 20)`` in strategy files -- do not depend on where a run
    starts) plus ``dates`` themselves. Take the weights of ``dates`` from the result with ``reindex``."""
    dates = pd.DatetimeIndex(dates)
    if len(dates) == 0:
        return signals.reindex(dates)
    return signals.reindex(signals.index[signals.index <= dates[-1]].union(dates))


@dataclass
class Run:
    """A backtested run: the engine's results for the strategy (``result``) and its benchmark (``bench``),
    their metrics, the signal frame it decided on, notes, and where it was saved (``path``)."""

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
    prices: pd.DataFrame | None = None  # the engine's price frame (controls re-run on it)
    target_weights: pd.DataFrame | None = None  # the strategy's target weights on every decision date
    analysis: dict | None = None  # attribution and controls (research.controls.analyse, called by api.save)

    @property
    def returns(self) -> pd.Series:
        """Daily returns of the strategy (after costs), on the run's sessions."""
        return self.result.returns

    @property
    def weights(self) -> pd.DataFrame:
        """Weights held at each close (after trading), CASH included."""
        return self.result.weights

    @property
    def trades(self) -> pd.DataFrame:
        """Every fill: date, asset, side, units, size, value, price, fees, slippage, cost."""
        return self.result.trades

    def summary(self) -> dict:
        return {
            "run_id": self.run_id,
            "strategy_name": self.strategy.name,
            "benchmark_name": self.benchmark_label,
            "params": self.params,
            "period": {"start": self.metrics["start"], "end": self.metrics["end"]},
            "strategy": self.metrics,
            "benchmark": self.bench_metrics,
            "unknown_input_share": self.unknown_share,
            "notes": self.notes,
        }


# ---------------------------------------------------------------- the one run-resolution step


@dataclass
class ResolvedRun:
    """A run resolved once, for every caller (backtest, sweep, walk-forward, ``hedge now``, best-of-sweep).

    ``assets``: what the strategy may hold (gold swapped); ``universe``: those and the benchmark's, whose
    prices are loaded; ``prices`` on the NYSE sessions ``start .. end`` (None with ``window=False``);
    ``signals``: the point-in-time signal frame, on the price sessions when there are prices.
    """

    spec: RunSpec
    options: ExecOptions
    strategy: Strategy
    params: dict  # the strategy's parameters, resolved (defaults filled, types checked)
    assets: list[str]
    benchmark: Strategy
    benchmark_params: dict
    benchmark_label: str
    universe: list[str]
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    prices: pd.DataFrame | None
    signals: pd.DataFrame
    notes: list[str]
    history: pd.DataFrame | None = None  # every signal row up to the end, and the sessions (with_history)
    saved_benchmark: object = None  # saved_runs.SavedRun: the benchmark is a saved run (``benchmark`` is None)

    @property
    def gold(self) -> str:
        return self.spec.gold

    def weights(self, params: dict | None = None, signals: pd.DataFrame | None = None) -> pd.DataFrame:
        """The strategy's target weights (``params``: resolved parameters, default this run's) on ``signals``
        (default: this run's sessions, computed on the rows before them too), gold swapped, restricted to the
        assets with a price column."""
        p = params or self.params
        if signals is None and self.history is not None:
            raw = self.strategy.weights(self.history, p).reindex(self.signals.index)
        else:
            raw = self.strategy.weights(self.signals if signals is None else signals, p)
        w = swap_gold(raw, self.gold)
        if self.prices is None:
            return w
        return w.reindex(columns=[c for c in w.columns if c in self.prices.columns])

    def benchmark_weights(self, signals: pd.DataFrame | None = None) -> pd.DataFrame:
        return self.benchmark.weights(self.signals if signals is None else signals, self.benchmark_params)


def strategy_assets(strategy: Strategy, params: dict, gold: str = "GLD") -> list[str]:
    """The holdable assets ``strategy`` declares for ``params`` (``GLD`` held as ``gold``)."""
    return [gold if a == "GLD" else a for a in (strategy.assets(params) if strategy.assets else ())]


def run_window(store, start, end, assets: list[str]) -> tuple[pd.Timestamp, pd.Timestamp, list[str]]:
    """The default window of a run over ``assets`` (see the module doc): (start, end, notes)."""
    notes = []
    asof = store.last_common_date()
    end = pd.Timestamp(end) if end else asof
    firsts = {a: pd.Timestamp(store.meta(a)["first"]) for a in assets}
    if start:
        start = pd.Timestamp(start)
    else:
        start = max(firsts.values())
        late = max(firsts, key=firsts.get)
        notes.append(f"the run starts {start.date()}, the first date with prices for every asset it may hold ({late})")
    if start > end:
        raise UsageError(
            f"start {start.date()} is after end {end.date()}", "give a start before the end", param=("start", "end")
        )
    return start, end, notes


def resolve(
    store,
    spec: RunSpec,
    *,
    strategy: Strategy | None = None,
    signals: pd.DataFrame | None = None,
    assets: list[str] | None = None,
    window: bool = True,
    progress=None,
    reports_dir=None,
    saved_benchmark_ok: bool = False,
) -> ResolvedRun:
    """Resolve ``spec`` on ``store``: checks, the strategy (``strategy`` overrides the registry lookup), its
    parameters, the benchmark, the assets, the window, the prices, the signal frame and the execution options.

    ``assets``: hold these instead of the strategy's own (the sweep passes the union over its grid).
    ``window=False``: no prices and no window (``hedge now`` decides on the store's last date).
    ``signals``: a precomputed ``signals.compute(store)`` frame (else it is computed).
    ``progress``: a :class:`backtester.progress.Progress` that sees the stages.
    ``saved_benchmark_ok``: the benchmark may be a saved run ``run:RUN_ID`` (read from ``reports_dir``, else
    $HEDGE_REPORTS_DIR, else ./reports; only ``run_backtest`` takes one: a sweep or walk-forward does not).
    """
    from . import signals as sig
    from . import strategy as st
    from .data import market
    from .progress import ensure

    progress = ensure(progress)
    options = spec.check()
    strat = strategy if strategy is not None else st.get(spec.strategy, spec.strategies_dir)
    params = strat.resolve(spec.params)
    saved = None
    if spec.benchmark.strip().startswith(RUN_PREFIX):
        if not saved_benchmark_ok or not window:
            raise UsageError(
                f"benchmark {spec.benchmark} (a saved run) is taken only by hedge backtest",
                "give an asset such as SPY, or weights such as spy=0.6,tlt=0.4",
                param="benchmark",
            )
        bstrat, bparams, blabel = None, {}, RUN_PREFIX + spec.benchmark.strip()[len(RUN_PREFIX) :].strip()
        saved = load_benchmark_run(spec.benchmark, reports_dir)
    else:
        bstrat, bparams, blabel = benchmark_strategy(spec.benchmark)
    own = list(assets) if assets is not None else strategy_assets(strat, params, spec.gold)
    universe = list(dict.fromkeys(own + (list(bstrat.assets(bparams)) if bstrat is not None else [])))
    for a in own:
        try:
            market.check_holdable([a], store)
        except UsageError as e:
            raise UsageError(f"strategy {strat.name}: {e.what}", e.fix) from None
    market.check_holdable(universe, store)
    have = set(market.holdable_assets(store))
    for a in universe:
        if a not in have:
            who = f"strategy {strat.name}" if a in own else f"benchmark {blabel}"
            raise UsageError(
                f"{who} holds {a}, which has no prices in the store {store.root}",
                f"import its prices (`hedge data import` / `hedge data pull --series {a}`) or hold another asset",
            )
    costs_note = None
    if window:  # per-asset costs: class defaults, --fees-bp/--slippage-bp, --cost (backtester.costs)
        from dataclasses import replace

        from .costs import resolve as resolve_costs

        fees, slips, costs_note = resolve_costs(
            store, universe, options.fees_bp, options.slippage_bp, {a: tuple(v) for a, v in spec.costs.items()}
        )
        options = replace(options, fees_bp=fees, slippage_bp=slips)
    if signals is None:
        progress.stage("computing signals")
        signals = sig.compute(store)
    start = end = prices = history = None
    notes: list[str] = []
    if window:
        start, end, notes = run_window(store, spec.start, spec.end, universe or ["GLD"])
        last = saved.returns.index[-1] if saved is not None else end
        if not spec.end and last < end:  # the default end, cut to the benchmark run's (as to a benchmark's prices)
            end = last
            notes.append(f"the run ends {end.date()}, the last date of benchmark run {saved.run_id}")
        progress.stage("loading prices")
        prices, pnotes = market.load_prices(store, universe, start, end)
        if not spec.end:  # the default end is the store's last common date, not something the user asked for
            pnotes = [n.replace(f" (end {end.date()} was asked)", "") for n in pnotes]
        notes += pnotes + ([costs_note] if costs_note else [])
        history = with_history(signals, prices.index)
        signals = signals.reindex(prices.index)
    check_core_inputs(store, strat, signals)
    check_price_inputs(strat, signals)
    return ResolvedRun(
        spec=spec, options=options, strategy=strat, params=params, assets=own, benchmark=bstrat,
        benchmark_params=bparams, benchmark_label=blabel, universe=universe, start=start, end=end, prices=prices,
        signals=signals, notes=notes, history=history, saved_benchmark=saved,
    )  # fmt: skip


def check_core_inputs(store, strat: Strategy, s: pd.DataFrame) -> None:
    """A strategy whose signal inputs are wholly unknown because a core series is missing from the store
    cannot give a meaningful run (it would silently hold its neutral mix): exit 1, as for any missing data."""
    from .data import catalog

    have = set(store.ids())
    missing = [sid for sid, spec in catalog.CATALOG.items() if spec.core and sid not in have]
    if not missing:
        return
    dead = [c for c in strat.uses if c not in s.columns or s[c].isna().all()]
    if dead:
        raise DataError(
            f"series {', '.join(missing)} not in the store: strategy {strat.name} needs {', '.join(dead)}",
            "run `hedge data import ../shared/data` or `hedge data pull --series " + " --series ".join(missing) + "`",
        )


def check_price_inputs(strat: Strategy, s: pd.DataFrame) -> None:
    """A strategy whose rules read the prices of an asset the store has no prices for (a user price named in a
    strategy file's ``assets`` but never added) would see "unknown" every day and silently never fire: exit 2
    naming the asset, as for an asset it holds."""
    from .signals import prices as px

    missing = [c[len(px.PREFIX) :] for c in strat.uses if c.startswith(px.PREFIX) and c not in s.columns]
    if missing:
        raise UsageError(
            f"strategy {strat.name} reads the prices of {', '.join(missing)}, which the store does not have",
            "add them with `hedge data add FILE --id ID --kind price`; `hedge data status` lists what it has",
        )


def run_backtest(
    store, spec: RunSpec, signals: pd.DataFrame | None = None, strategy: Strategy | None = None, progress=None,
    reports_dir=None,
) -> Run:  # fmt: skip
    """Resolve ``spec`` and backtest the strategy and its benchmark on the same sessions; ``progress`` (a
    :class:`backtester.progress.Progress`) sees the stages; ``reports_dir``: where a benchmark ``run:RUN_ID``
    is saved (else $HEDGE_REPORTS_DIR, else ./reports)."""
    rr = resolve(
        store, spec, strategy=strategy, signals=signals, progress=progress, reports_dir=reports_dir,
        saved_benchmark_ok=True,
    )  # fmt: skip
    return run_resolved(store, rr, progress)


def run_resolved(store, rr: ResolvedRun, progress=None) -> Run:
    """The engine on a resolved run: strategy and benchmark, metrics, notes and the run id."""
    from . import engine, metrics
    from ._numba import COMPILING, kernels_cached
    from .progress import ensure

    progress = ensure(progress)
    progress.stage("simulating" if kernels_cached("portfolio", "base") else COMPILING)

    s = rr.signals
    notes = list(rr.notes)
    w = rr.weights()
    res = engine.backtest(w, rr.prices, rr.options, fallback=rr.strategy.fallback)
    if rr.saved_benchmark is not None:
        bres = saved_benchmark(rr.saved_benchmark, res.returns.index, res.cash_returns)
    else:
        bres = engine.backtest(rr.benchmark_weights(), rr.prices, rr.options.for_mix())  # a fixed mix is held
    strat = rr.strategy
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
    rid = run_id_for(rr.spec, rr.params, data["hash"], strat)
    progress.done()
    return Run(
        rid, rr.spec, rr.params, strat, rr.benchmark_label, res, bres, m, bm, s, notes, unknown, data,
        prices=rr.prices, target_weights=w,
    )  # fmt: skip


# ---------------------------------------------------------------- saving
def experiment_of(run: Run, title: str | None = None, report: bool = False) -> dict:
    """The fully resolved experiment of a run, as ``hedge rerun`` reads it back: every run option (the
    strategy as given, raw params, window, costs, lag, rebalance, gold, benchmark), the resolved params,
    the report choices, and for a strategy file its name, sha256 and the copy saved beside run.json."""
    from .strategies.files import file_of

    fs = file_of(run.strategy)
    return {
        **asdict(run.spec),
        "resolved_params": run.params,
        "title": title,
        "report": bool(report),
        "strategy_file": None
        if fs is None
        else {"name": fs.name, "sha256": fs.sha256, "copy": STRATEGY_COPY, "source": str(fs.path)},
    }


STRATEGY_COPY = "strategy.toml"


def save_run(run: Run, reports_dir: Path, *args, **kwargs) -> Path:
    """:func:`_save_run` under the reports lock (two saves of the same run id give one complete folder),
    never outside ``reports_dir``: the run id is checked (``paths.check_run_id``), a run folder that is a
    symlink (or a file) is refused, and a killed save's temp folder is removed first."""
    from . import fsutil
    from .paths import check_run_id, reports_lock

    reports_dir = Path(reports_dir)
    final = reports_dir / check_run_id(run.run_id)
    with reports_lock(reports_dir):
        fsutil.clean_stale(reports_dir)
        if final.is_symlink() or (final.exists() and not final.is_dir()):
            raise DataError(
                f"{final} is a symbolic link or a file, not a run folder",
                f"remove it (rm {final}) and run again; hedge never writes through links",
            )
        return _save_run(run, reports_dir, *args, **kwargs)


def _save_run(
    run: Run, reports_dir: Path, command: str | None = None, extra: dict | None = None, progress=None,
    experiment: dict | None = None, force: bool = False,
) -> Path:  # fmt: skip
    """Write ``<reports_dir>/<run_id>/`` (returns, weights, targets, trades, signals, run.json, and for a
    strategy file a copy of it) atomically.

    ``extra``: more top-level keys for run.json (``hedge sweep --best-report`` adds ``{"sweep": {...}}``).
    ``run.analysis`` (``attribution`` and ``controls``, set by ``api.save`` from ``research.controls``) goes
    into run.json too, and the ``selection_window`` (:func:`selection_window`).
    ``experiment``: the resolved experiment (default :func:`experiment_of` the run). ``force``: write the
    folder even when it already records this very run (``hedge rerun`` regenerates every file)."""
    from .progress import ensure
    from .signals import signal_columns
    from .strategies.files import file_of

    progress = ensure(progress)
    progress.stage("saving the run")
    reports_dir = Path(reports_dir)
    final = reports_dir / run.run_id
    fs = file_of(run.strategy)
    manifest = {
        "experiment": experiment if experiment is not None else experiment_of(run),
        "run_id": run.run_id,
        "tool": "liquidity-hedge",
        "version": __version__,
        "command": command,
        "spec": {**asdict(run.spec), "strategies_dir": run.spec.strategies_dir},
        "strategy_source": run.strategy.source,
        "summary": run.summary(),
        "data": run.data,
        **(run.analysis or {}),
        **(extra or {}),
    }
    manifest["selection_window"] = selection_window(manifest)
    if not force and _same_run(final / "run.json", manifest):
        # the same run again (same spec, data and version): leave the saved run and its pages as they are,
        # so a tearsheet never disagrees with run.json (only the command line would differ)
        run.path = final
        progress.done()
        return final
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        from . import fsutil

        tmp = fsutil.mkdtemp(reports_dir, run.run_id)
    except OSError as e:
        raise DataError(
            f"cannot write to the reports folder {reports_dir} ({e.strerror})",
            "pass a writable reports_dir or fix its permissions",
            param="reports_dir",
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
        from .bootstrap import significance_of_returns

        progress.stage("bootstrapping the Sharpe difference")
        try:  # seed 0, 2000 draws: deterministic, so saving the same run again writes identical files
            significance = significance_of_returns(rets)
        except UsageError:  # too few days of returns
            significance = None
        if fs is not None:
            (tmp / STRATEGY_COPY).write_text(fs.text)
        manifest = {**manifest, "significance": significance}
        (tmp / "run.json").write_text(json.dumps(_plain(manifest), indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a run folder is as readable as any report
        old = fsutil.swap_in(tmp, final)  # a changed run: its old pages describe something else, they go
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(
            f"cannot write run {run.run_id} to {reports_dir} ({e.strerror})",
            "pass a writable reports_dir or free some disk space",
            param="reports_dir",
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    run.path = final
    progress.done()
    return final


def selection_window(manifest: dict) -> dict:
    """Which period the run's parameters were chosen on (run.json ``selection_window``): ``kind`` ``fixed``
    (parameters given, not chosen on the data: no window), ``sweep`` (the best of a sweep: chosen on the
    sweep's whole window) or ``walkforward`` (each test window's parameters chosen on its training window:
    the whole book is out of sample), and ``windows`` (``start``/``end``; walk-forward adds the test window)."""
    if manifest.get("selection_window"):
        return manifest["selection_window"]
    if manifest.get("sweep"):
        p = manifest["sweep"].get("period") or {}
        return {"kind": "sweep", "windows": [{"start": p.get("start"), "end": p.get("end")}]}
    if manifest.get("walkforward"):
        rows = manifest["walkforward"].get("windows") or []
        return {
            "kind": "walkforward",
            "windows": [
                {"start": r.get("train_start"), "end": r.get("train_end"), "test_start": r.get("test_start"),
                 "test_end": r.get("test_end")}
                for r in rows
            ],
        }  # fmt: skip
    return {"kind": "fixed", "windows": []}


def _same_run(saved: Path, manifest: dict) -> bool:
    """Whether ``saved`` (an existing run.json) records the run of ``manifest`` (apart from the command line
    and the significance, which follows from the returns); False when there is none or it is damaged."""
    try:
        old = json.loads(saved.read_text())
    except (OSError, ValueError):
        return False
    new = json.loads(json.dumps(_plain(manifest), sort_keys=True))
    for k in ("command", "significance"):
        old.pop(k, None)
        new.pop(k, None)
    for m in (old, new):  # how it was shown (report, title) is not what was run, like the command line
        if isinstance(m.get("experiment"), dict):
            m["experiment"] = {k: v for k, v in m["experiment"].items() if k not in ("report", "title")}
    return old == new


def _plain(obj):
    from .jsonplain import plain

    return plain(obj)


def load_run(reports_dir: Path, run_id: str) -> dict:
    from .paths import check_run_id

    p = Path(reports_dir) / check_run_id(run_id) / "run.json"
    if not p.is_file():
        raise UsageError(f"no saved run {run_id!r} in {reports_dir}", "run `hedge backtest ...` first or check the id")
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"run {run_id} is damaged ({e})", "run the backtest again to rewrite it") from None
