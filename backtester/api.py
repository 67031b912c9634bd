"""The public Python API (``import backtester as hb``): the same library calls the ``hedge`` CLI makes.

    store = hb.open_store()                          # arg, else $HEDGE_DATA_DIR, else the per-user store
    run = hb.backtest(store, "seed-thesis", params={"floor": 0.09}, benchmark="SPY")
    run.metrics["sharpe"], run.returns, run.weights, run.trades
    hb.report(run, "reports/")                       # saves the run and writes its tearsheet
    sig = hb.signals(store)                          # the point-in-time signal frame
    sw = hb.sweep(store, "seed-thesis", ["floor=0.08:0.12:0.01"]); sw.frame, sw.to_json()

Research results (:func:`sweep`, :func:`walkforward`, :func:`events`, :func:`thesis`) are dataclasses of
DataFrames with ``to_json()`` (the object ``hedge ... --format json`` prints). Errors are
:class:`backtester.errors.UsageError` (a ``ValueError``: a bad argument, named) or ``DataError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .engine import ExecOptions
from .errors import UsageError
from .run import Run, RunSpec


def open_store(data_dir=None, *, must_exist: bool = True):
    """The data store: ``data_dir``, else ``$HEDGE_DATA_DIR``, else the per-user store (the CLI's rule).
    ``must_exist``: raise DataError when it holds no data yet (run ``hedge data import``)."""
    from .data.store import Store
    from .paths import data_dir as resolve

    store = Store(resolve(data_dir))
    if must_exist:
        store.require()
    return store


def _strategy(strategy, strategies_dir=None):
    """(name, Strategy object or None): a registry name, or a Strategy defined in Python (no file needed)."""
    from .strategy import Strategy

    if isinstance(strategy, str):
        return strategy, None
    if not isinstance(strategy, Strategy):
        raise UsageError(f"strategy {strategy!r} is not a name or a Strategy", "give a name or a Strategy(...)",
                         param="strategy")  # fmt: skip
    return strategy.name, strategy


def _spec(name, params, *, benchmark, start, end, gold, strategies_dir, options, exec_options) -> RunSpec:
    if options is not None and exec_options:
        raise UsageError("give the execution options either as options= or as keywords, not both", param="options")
    opts = options if options is not None else ExecOptions(**exec_options)
    spec = RunSpec.of(
        name, dict(params or {}), options=opts, start=None if start is None else str(pd.Timestamp(start).date()),
        end=None if end is None else str(pd.Timestamp(end).date()), gold=gold, benchmark=benchmark,
        strategies_dir=None if strategies_dir is None else str(strategies_dir),
    )  # fmt: skip
    spec.check()
    return spec


def backtest(
    store, strategy, params: dict | None = None, *, benchmark: str = "SPY", start=None, end=None, gold: str = "GLD",
    options: ExecOptions | None = None, strategies_dir=None, signals: pd.DataFrame | None = None, reports_dir=None,
    **exec_options,
) -> Run:  # fmt: skip
    """Backtest ``strategy`` (a name or a :class:`backtester.strategy.Strategy`) with ``params`` against
    ``benchmark`` (an asset, weights ``"spy=0.6,tlt=0.4"``, or a saved run ``"run:RUN_ID"`` read from
    ``reports_dir``, else $HEDGE_REPORTS_DIR, else ./reports). Execution options: ``options=ExecOptions(...)``
    or its fields as keywords (``fees_bp``, ``slippage_bp``, ``exec_lag``, ``rebalance``, ``band``,
    ``vol_target``). Returns the :class:`backtester.run.Run` (``.metrics``, ``.returns``, ``.weights``,
    ``.trades``, ``.bench_metrics``, ``.notes``); nothing is written (see :func:`report`)."""
    from .run import run_backtest

    name, obj = _strategy(strategy)
    spec = _spec(name, params, benchmark=benchmark, start=start, end=end, gold=gold, strategies_dir=strategies_dir,
                 options=options, exec_options=exec_options)  # fmt: skip
    return run_backtest(store, spec, signals=signals, strategy=obj, reports_dir=reports_dir)


def save(
    run: Run, reports_dir=None, *, command: str | None = None, extra: dict | None = None, progress=None,
    experiment: dict | None = None, force: bool = False, executor=None,
) -> Path:  # fmt: skip
    """Save ``run`` as ``<reports_dir>/<run_id>/`` (``reports_dir``: else $HEDGE_REPORTS_DIR, else ./reports);
    ``command``: the command line recorded in its manifest; ``extra``: more run.json keys; ``progress``: a
    :class:`backtester.progress.Progress` (stages). A backtested run gets its ``attribution`` and ``controls``
    (``research.controls.analyse``, seeded) computed first. ``experiment``: the resolved experiment ``hedge
    rerun`` reads back (default: the run's own, without a report); ``force``: rewrite every file even when the
    folder already records this very run (``hedge rerun``). ``executor``: where the controls' random timings
    run (``research.executor``: None or local here, or a Dask executor; the same numbers).
    """
    from .paths import reports_dir as resolve
    from .research.controls import analyse
    from .run import save_run

    if run.analysis is None:
        analyse(run, executor=executor)
    return save_run(
        run, resolve(reports_dir), command=command, extra=extra, progress=progress, experiment=experiment, force=force
    )


def report(run: Run, reports_dir=None, *, title: str | None = None, command: str | None = None,
           extra: dict | None = None, progress=None, experiment: dict | None = None,
           executor=None) -> Path:  # fmt: skip
    """Save ``run`` (:func:`save`, ``executor`` as there) and write its HTML tearsheet; returns the tearsheet's
    path."""
    from .report import write_report
    from .run import experiment_of

    if experiment is None:
        experiment = experiment_of(run, title, report=True)
    path = save(
        run, reports_dir, command=command, extra=extra, progress=progress, experiment=experiment, executor=executor
    )
    return write_report(path, title=title, progress=progress)


def signals(store, config=None) -> pd.DataFrame:
    """The point-in-time signal frame: one row per NYSE session, each value as known at that close."""
    from . import signals as sig

    return sig.compute(store) if config is None else sig.compute(store, config)


# ---------------------------------------------------------------- research results


@dataclass
class SweepOutcome:
    """A sweep: ``frame`` (every combination: grid values, metrics, ``valid``), ``top`` (the best valid rows
    by the metric), ``summary`` (json object: best, deflated Sharpe, PBO, benchmark, notes)."""

    frame: pd.DataFrame
    top: pd.DataFrame
    summary: dict
    inputs: object = field(repr=False, default=None)  # research.sweep.inputs.Inputs
    result: object = field(repr=False, default=None)  # research.sweep.evaluation.SweepResult

    def to_json(self) -> dict:
        from .jsonplain import plain

        return plain(self.summary)

    def best_run(self, store) -> Run:
        """The best combination re-run as a full backtest (equal to the sweep's row)."""
        from .research.sweep.best import best_run

        return best_run(store, self.inputs, self.result)[0]


def sweep(
    store, strategy, grid: list[str], params: dict | None = None, *, metric: str = "sharpe", top: int = 10,
    blocks: int = 16, max_combinations: int = 200_000, benchmark: str = "SPY", start=None, end=None,
    gold: str = "GLD", options: ExecOptions | None = None, strategies_dir=None, progress=None,
    save_chunks: bool = False, resume: bool = False, reports_dir=None, **exec_options,
) -> SweepOutcome:  # fmt: skip
    """Every combination of ``grid`` (``["name=v1,v2", "name=start:stop:step"]``) with ``params`` fixed; the
    same window, costs and metrics as :func:`backtest`. ``progress``: a :class:`backtester.progress.Progress`
    (combinations done, rate, ETA). ``save_chunks``: write each chunk's results to
    ``<reports_dir>/<sweep-id>/chunks/`` (``reports_dir`` as :func:`save` resolves it), as ``hedge sweep``
    does (``max_combinations`` then up to 10^7; above 10^6 ``frame`` holds the 1,000 best valid rows only);
    ``resume``: reuse the chunks an interrupted run of the same sweep left there (implies ``save_chunks``)."""
    from .paths import reports_dir as resolve
    from .research.sweep.grid import SWEEP_COMBINATIONS_LIMIT
    from .research.sweep.outcome import check_args, run_sweep, summary

    name, obj = _strategy(strategy)
    on_disk = save_chunks or resume
    strat, fixed, g = check_args(obj or name, grid, params or {}, metric, max_combinations, strategies_dir,
                                 limit=SWEEP_COMBINATIONS_LIMIT if on_disk else None)  # fmt: skip
    spec = _spec(strat.name, fixed, benchmark=benchmark, start=start, end=end, gold=gold,
                 strategies_dir=strategies_dir, options=options, exec_options=exec_options)  # fmt: skip
    folder = resolve(reports_dir) if on_disk else None
    inp, res = run_sweep(store, spec, g, strategy=strat, metric=metric, blocks=blocks, progress=progress,
                         reports_dir=folder, resume=resume)  # fmt: skip
    return SweepOutcome(res.frame, res.top(top), summary(inp, res, top), inp, res)


@dataclass
class WalkForwardOutcome:
    """A walk-forward: ``windows`` (one row per window: dates, chosen parameters, in/out-of-sample metric),
    ``returns`` (the stitched out-of-sample book: strategy, benchmark, cash), ``run`` (that book as a
    :class:`Run`, for :func:`report`), ``summary`` (the json object)."""

    windows: pd.DataFrame
    returns: pd.DataFrame
    run: Run
    summary: dict

    def to_json(self) -> dict:
        from .jsonplain import plain

        return plain(self.summary)


def walkforward(
    store, strategy, grid: list[str] | None = None, params: dict | None = None, *, train: str = "3y",
    test: str = "6m", embargo: str = "1m", metric: str = "sharpe", max_combinations: int = 200_000,
    benchmark: str = "SPY", start=None, end=None, gold: str = "GLD", options: ExecOptions | None = None,
    strategies_dir=None, executor=None, **exec_options,
) -> WalkForwardOutcome:  # fmt: skip
    """Parameters chosen by ``metric`` on each ``train`` window, traded on the next ``test`` window after an
    ``embargo``; one continuous out-of-sample book. ``grid`` None: the strategy's default grid."""
    from .research import walkforward as W
    from .research.sweep.outcome import check_args

    name, obj = _strategy(strategy)
    source = "given"
    if not grid:
        if name not in W.DEFAULT_GRIDS:
            raise UsageError(f"no grid for strategy {name}", "give grid=['name=v1,v2', ...]", param="grid")
        grid, source = list(W.DEFAULT_GRIDS[name]), "default"
    strat, fixed, g = check_args(obj or name, grid, params or {}, metric, max_combinations, strategies_dir)
    durations = (W.parse_duration(train, "train"), W.parse_duration(test, "test"),
                 W.parse_duration(embargo, "embargo", allow_zero=True))  # fmt: skip
    spec = _spec(strat.name, fixed, benchmark=benchmark, start=start, end=end, gold=gold,
                 strategies_dir=strategies_dir, options=options, exec_options=exec_options)  # fmt: skip
    wf = W.walk_forward(store, spec, g, train=durations[0], test=durations[1], embargo=durations[2], metric=metric,
                        strategy=strat, executor=executor)  # fmt: skip
    summ = W.summary(wf, source)
    windows = pd.DataFrame(
        [{k: v for k, v in r.items() if not isinstance(v, dict)} | {f"param_{k}": v for k, v in r["params"].items()}
         for r in summ["windows"]]
    )  # fmt: skip
    run = W.as_run(store, wf)
    returns = pd.DataFrame({"strategy": wf.result.returns, "benchmark": wf.bench.returns,
                            "cash": wf.result.cash_returns})  # fmt: skip
    return WalkForwardOutcome(windows, returns, run, summ)


@dataclass
class EventsOutcome:
    """An event study: ``results`` (one row per type x asset x horizon: n, mean, median, hit rate, baseline),
    ``events`` (one row per event: type, date, label), ``study`` (the json object)."""

    results: pd.DataFrame
    events: pd.DataFrame
    study: dict

    def to_json(self) -> dict:
        from .jsonplain import plain

        return plain(self.study)


def events(store, types=None, horizons=None, assets=None) -> EventsOutcome:
    """Forward returns after Fed balance-sheet and liquidity-signal events (``hedge events``)."""
    from .research import eventstudy as es

    study = es.event_study(store, types, horizons, assets)
    res, evs = [], []
    for t in study["types"]:
        for r in t["results"]:
            res.append({"type": t["type"], **{k: v for k, v in r.items() if not isinstance(v, dict | list)}})
        for e in t["events"]:
            evs.append({"type": t["type"], **e})
    return EventsOutcome(pd.DataFrame(res), pd.DataFrame(evs), study)


@dataclass
class ThesisOutcome:
    """The essay scored: ``verdicts`` (one row per claim), ``curves`` (growth of 1 since the essay, per asset),
    ``report`` (the json object)."""

    verdicts: pd.DataFrame
    curves: pd.DataFrame
    report: dict

    def to_json(self) -> dict:
        from .jsonplain import plain

        return plain(self.report)


def thesis(store, since=None) -> ThesisOutcome:
    """The essay's call scored on the data after ``since`` (default: the essay date, 2025-10-14)."""
    from .constants import ESSAY_DATE
    from .research.thesis import score

    t = score(store, pd.Timestamp(since or ESSAY_DATE))
    claims = t.report.get("claims") or t.report.get("verdicts") or []
    verdicts = pd.DataFrame([{k: v for k, v in c.items() if not isinstance(v, dict | list)} for c in claims])
    return ThesisOutcome(verdicts, pd.DataFrame(t.curves), t.report)
