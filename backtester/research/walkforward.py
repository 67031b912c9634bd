"""Walk-forward analysis: parameters chosen on a training window, applied to the next test window only.

Windows (NYSE sessions of the prepared run, :func:`backtester.research.sweep.prepare`; durations ``3y``, ``6m``,
``13w``, ``90d`` are calendar years, months, weeks, days). With ``origin`` the first prepared session,
``first = origin + train + embargo`` and k = 0, 1, ...::

    test_k   = [first + k*test, first + (k+1)*test)              decisions with the chosen parameters
    embargo  = [start of test_k - embargo, start of test_k)      unused gap
    train_k  = [start of test_k - embargo - train, .. - embargo) the parameters are chosen here

Each bound is the first session on or after the calendar date (test bounds are counted from ``first``,
so month ends cannot open a gap or an overlap). Test windows roll by ``test``: they do not overlap and
tile the period from the first test decision to the end of the data; the last one may be partial
(marked ``partial``) when the data end inside it; a test window without a session (``--test 1d`` on a
weekend) is skipped. At least one full test window must fit.

Choosing (:func:`choose`): the sweep engine evaluates every grid combination on the training window only
(``evaluate(inp, window=(train_a, train_b))``: a fresh run deciding on sessions [train_a, train_b), its
returns end at session ``train_b - 1``), and the best by ``metric`` is taken (ties: the first in grid
order; a window where no combination has a value keeps the previous window's choice). The last session
whose data a choice saw is therefore before the embargo and strictly before the first decision of its
test window. Signals are point in time, so a choice made at that close may be applied from then on.

Applying (:func:`stitch`): ONE continuous book. The target weights on each decision session of test
window k are the strategy's weights with window k's parameters (computed from the signal rows up to the
end of that window only); the engine runs these stitched targets from the first test decision to the end
(``run_backtest``'s semantics with ``--start`` = that session: the first return is the first entry's
cost). A change of parameters trades only where the targets differ; nothing is liquidated between
windows: the series is what a trader re-optimising every ``test`` would have earned. With a grid of one
combination it equals ``run_backtest`` from the first test decision exactly (tested). The benchmark runs
on the same sessions; CASH returns are the run's own. Window k's out-of-sample returns are the book's
returns on the fills of its decisions, sessions [test_a + lag, test_b + lag): they tile the series.

Per window: the in-sample best value (and the benchmark's, on the training window), the out-of-sample
value of the book's slice and the benchmark's, and the rank of the chosen combination among all
combinations run fresh over the test window's return sessions (evaluated only after every choice is
made; it never feeds back). Overall: the stitched out-of-sample metrics against the benchmark, and the
degradation = mean in-sample value - stitched out-of-sample value (a loss when positive, for a metric
where higher is better) and the ratio stitched / mean in-sample.

A grid combination whose target weights sum above 1 (or go negative) on any session is refused up front
(UsageError): the engine would refuse it in a test window, and dropping it would make the candidate set
depend on later data. Default grids exist for the thesis strategies (:data:`DEFAULT_GRIDS`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ..constants import CASH
from ..errors import UsageError
from .sweep import evaluation as _ev

DURATION = re.compile(r"^\s*(\d+)\s*([ymwd])\s*$", re.IGNORECASE)
UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days"}
MIN_TRAIN_RETURNS = 20  # a training window must give at least this many daily returns
SUM_TOL, NEG_TOL = 1e-9, 1e-12  # engine.plan's limits on target weights

# the grid `hedge walkforward STRATEGY` uses without --grid (every combination valid: weights sum <= 1)
DEFAULT_GRIDS: dict[str, list[str]] = {
    "seed-thesis": ["floor=0.08:0.12:0.01", "spread_bp=0,5,10", "gold=0.3,0.5,0.7", "btc=0.1,0.3"],
    "qt-pivot": ["gold=0.3,0.5,0.7", "btc=0.1,0.3", "neutral=cash,mix"],
    "reserve-scarcity": ["upper=0.10,0.11,0.12", "lower=0.06,0.07,0.08", "max_weight=0.5,0.8,1.0",
                         "btc_share=0.25,0.375,0.5"],
    "spread-stress": ["spread_bp=0,5,10,15", "gold=0.3,0.5,0.7"],
    "net-liquidity-trend": ["band_bn=0,25,50,100", "btc=0.1,0.3,0.5", "gold=0.3,0.5,0.7"],
}  # fmt: skip


# ---------------------------------------------------------------- durations and windows


@dataclass(frozen=True)
class Duration:
    n: int
    unit: str  # y, m, w, d

    @property
    def text(self) -> str:
        return f"{self.n}{self.unit}"

    @property
    def offset(self) -> pd.DateOffset:
        return pd.DateOffset(**{UNITS[self.unit]: self.n})


def parse_duration(text: str, what: str, allow_zero: bool = False) -> Duration:
    """``3y``, ``6m``, ``13w``, ``90d`` (calendar units; ``0`` alone when ``allow_zero``) -> Duration. ``what``:
    the parameter's name (``train``, ``test``, ``embargo``), named by the UsageError."""
    raw = str(text).strip()
    if allow_zero and raw == "0":
        return Duration(0, "d")
    m = DURATION.match(raw)
    if not m:
        raise UsageError(
            f"{what} {text!r} is not a duration",
            "write a whole number and a unit y, m, w or d, e.g. 3y, 6m, 13w",
            param=what,
        )
    d = Duration(int(m.group(1)), m.group(2).lower())
    if d.n == 0 and not allow_zero:
        raise UsageError(f"{what} {text!r} is zero", "give a positive duration, e.g. 6m", param=what)
    if d.n > 100 * {"y": 1, "m": 12, "w": 52, "d": 366}[d.unit]:
        raise UsageError(f"{what} {text!r} is longer than 100 years", "give a duration inside the data", param=what)
    return d


@dataclass(frozen=True)
class Window:
    index: int
    train_a: int  # training sessions [train_a, train_b) of the prepared inputs
    train_b: int
    test_a: int  # decision sessions [test_a, test_b) that use the window's parameters
    test_b: int
    partial: bool  # the data end inside the test window


def plan_windows(
    dates: pd.DatetimeIndex, train: Duration, test: Duration, embargo: Duration, exec_lag: int = 1
) -> list[Window]:
    """The rolling windows on ``dates`` (see the module doc). UsageError when no full test window fits."""
    dates = pd.DatetimeIndex(dates)
    T = len(dates)
    origin = dates[0]

    def pos(ts) -> int:
        return int(dates.searchsorted(ts, side="left"))

    first = origin + train.offset + embargo.offset
    out: list[Window] = []
    k = 0
    while True:
        ta, tb = first + test.offset * k, first + test.offset * (k + 1)
        te = ta - embargo.offset
        t0 = te - train.offset
        a, b, c, d = pos(t0), pos(te), pos(ta), pos(tb)
        if c >= T - exec_lag - 1:  # fewer than 2 returns left for this test window
            break
        k += 1
        if d <= c:  # no session in the test window (e.g. --test 1d on a weekend): the next one starts there
            continue
        if b - a - exec_lag < MIN_TRAIN_RETURNS:
            raise UsageError(
                f"train {train.text} gives {max(b - a - exec_lag, 0)} daily returns from {t0.date()}",
                f"give a training window of at least {MIN_TRAIN_RETURNS} sessions",
                param="train",
            )
        out.append(Window(len(out), a, b, c, min(d, T), partial=d >= T))
        if d >= T:
            break
    if not out or out[0].partial:
        first_end = (first + test.offset).date()
        raise UsageError(
            f"train {train.text} + embargo {embargo.text} + test {test.text} do not fit in the data "
            f"{origin.date()} .. {dates[-1].date()} (the first test window would end {first_end})",
            "give shorter durations, or a longer period with start/end",
            param=("train", "embargo", "test", "start", "end"),
        )
    return out


# ---------------------------------------------------------------- the grid's validity, up front


def invalid_combinations(inp) -> np.ndarray:
    """Indices of the combinations whose target weights sum above 1 (or go negative) on some prepared
    session: target weights only (no prices, no returns)."""
    bad = np.zeros(inp.n_combos, dtype=bool)
    step = 4096 if inp.factors is not None else 256
    for lo in range(0, inp.n_combos, step):
        hi = min(inp.n_combos, lo + step)
        f = inp.chunk_factors(lo, hi)
        uniq = {}  # pattern -> (K, u) distinct feature columns
        for j, p in enumerate(f.pattern):
            if p not in uniq:
                uniq[p] = np.unique(f.features[p].T, axis=0).T
            w = uniq[p].T @ f.loadings[j]  # (u, n): every distinct target row
            bad[lo + j] = bool((w.sum(axis=1) > 1 + SUM_TOL).any() or (w < -NEG_TOL).any())
    return np.flatnonzero(bad)


def check_grid_valid(inp) -> None:
    bad = invalid_combinations(inp)
    if len(bad):
        ex = {k: inp.combos[int(bad[0])][k] for k in inp.grid.names}
        raise UsageError(
            f"{len(bad):,} of {inp.n_combos:,} grid combinations have target weights summing above 1 on some "
            f"session (e.g. {', '.join(f'{k}={v}' for k, v in ex.items())})",
            "keep each combination's weights at most 1 in total (the rest is CASH), e.g. gold + btc <= 1",
        )


# ---------------------------------------------------------------- choosing (training windows only)


@dataclass
class Choice:
    window: Window
    combination: int  # row of the grid (inp.combos)
    params: dict  # the swept parameters' values
    in_sample: dict  # the chosen row's metrics on the training window
    benchmark_in_sample: dict | None
    seen: tuple[str, str]  # first and last return session the choice was made on
    n_valid: int
    carried: bool = False  # no combination had a value: the previous window's choice was kept


ROW_METRICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover", "costs")


def _row_metrics(frame: pd.DataFrame, i: int) -> dict:
    return {k: float(frame.at[i, k]) for k in ROW_METRICS}


def choose(inp, windows: list[Window], metric: str = "sharpe", executor=None, progress=None) -> list[Choice]:
    """The best combination of each training window, by ``metric``, from that window's returns alone."""
    from ..progress import ensure

    progress = ensure(progress)
    progress.start("choosing on the training windows", len(windows))
    out: list[Choice] = []
    for w in windows:
        res = _ev.evaluate(inp, window=(w.train_a, w.train_b), metric=metric, stats=False, executor=executor)
        progress.advance(1)
        bench = None if res.benchmark is None else {k: res.benchmark.get(k) for k in ROW_METRICS}
        if res.best_index is None:
            if not out:
                raise UsageError(
                    f"no combination has a {metric} on the first training window {res.start} .. {res.end}",
                    "choose another metric or a longer train",
                    param=("metric", "train"),
                )
            prev = out[-1]
            out.append(replace(prev, window=w, benchmark_in_sample=bench, seen=(res.start, res.end), carried=True))
            continue
        i = int(res.best_index)
        out.append(
            Choice(
                window=w,
                combination=i,
                params={k: inp.combos[i][k] for k in inp.grid.names},
                in_sample=_row_metrics(res.frame, i),
                benchmark_in_sample=bench,
                seen=(res.start, res.end),
                n_valid=res.n_valid,
            )
        )
    return out


# ---------------------------------------------------------------- applying: one continuous book


def _prices(inp, a: int, b: int) -> pd.DataFrame:
    px = pd.DataFrame(inp.close_raw[a:b], index=inp.dates[a:b], columns=inp.assets)
    px[CASH] = inp.cash[a:b]
    return px


def stitched_weights(inp, choices: list[Choice]) -> pd.DataFrame:
    """Target weights on every test decision session: window k's rows from window k's parameters, computed
    on the signal rows up to the end of window k only."""
    parts = []
    hist = inp.history if inp.history is not None else inp.signals  # windowed features see earlier rows
    for ch in choices:
        w = ch.window
        wk = inp.resolved.weights({**inp.base_params, **ch.params}, hist.loc[: inp.dates[w.test_b - 1]])
        parts.append(wk.reindex(inp.dates[w.test_a : w.test_b]))
    out = pd.concat(parts).fillna(0.0)
    return out.reindex(columns=[c for c in out.columns if c in inp.assets])


def stitch(inp, choices: list[Choice]):
    """Run the stitched targets and the benchmark through the engine: (result, benchmark result)."""
    from .. import engine

    rr = inp.resolved
    first, last = choices[0].window, choices[-1].window
    end = min(len(inp.dates), last.test_b + inp.exec_lag)
    px = _prices(inp, first.test_a, end)
    res = engine.backtest(stitched_weights(inp, choices), px, inp.options, fallback=inp.strategy.fallback)
    # a fixed-mix benchmark is held near its weights (change+monthly)
    bres = engine.backtest(rr.benchmark_weights(inp.signals.iloc[first.test_a : end]), px, inp.options.for_mix())
    return res, bres


def slice_metrics(result, lo: int, hi: int) -> dict:
    """Metrics of rows [lo, hi) of a result's returns (return-based, plus costs and turnover of the slice)."""
    from .. import metrics

    r = result.returns.iloc[lo:hi]
    c = result.cash_returns.reindex(r.index)
    out = metrics.from_arrays(r.to_numpy(float), c.to_numpy(float))
    years = out["years"]
    out["costs"] = float(result.costs.reindex(r.index).fillna(0.0).sum())
    tr = result.trades
    if len(tr):
        d = pd.to_datetime(tr["date"])
        size = pd.to_numeric(tr["size"], errors="coerce").fillna(0.0)
        opening = d.min()  # the opening trade is not turnover (metrics.compute)
        buys = float(size[(d >= r.index[0]) & (d <= r.index[-1]) & (d != opening) & (size > 0)].sum())
    else:
        buys = 0.0
    out["turnover"] = buys / years if years > 0 else float("nan")
    out["start"], out["end"] = str(r.index[0].date()), str(r.index[-1].date())
    return {k: out[k] for k in (*ROW_METRICS, "days", "start", "end")}


def rank_out_of_sample(inp, choices: list[Choice], metric: str, executor=None, progress=None) -> list[dict]:
    """After every choice is made: each chosen combination's rank among all combinations run fresh over its
    test window's return sessions (1 = best), and the hindsight-best value there. Reporting only."""
    from ..progress import ensure

    progress = ensure(progress)
    progress.start("ranking the choices on the test windows", len(choices))
    out = []
    T = len(inp.dates)
    for ch in choices:
        progress.advance(1)
        w = ch.window
        res = _ev.evaluate(
            inp, window=(w.test_a, min(T, w.test_b + inp.exec_lag)), metric=metric, stats=False, executor=executor
        )
        m = res.frame[metric].where(res.frame["valid"])
        mine = m.iloc[ch.combination]
        n = int(m.notna().sum())
        if n == 0 or pd.isna(mine):
            out.append({"rank": None, "of": n, "best": None, "chosen_fresh": None})
            continue
        better = (m > mine) if res.higher_is_better else (m < mine)
        best = m.max() if res.higher_is_better else m.min()
        out.append({"rank": int(better.sum()) + 1, "of": n, "best": float(best), "chosen_fresh": float(mine)})
    return out


# ---------------------------------------------------------------- the whole analysis


@dataclass
class WalkForward:
    inp: object  # sweep Inputs
    metric: str
    higher_is_better: bool
    train: Duration
    test: Duration
    embargo: Duration
    windows: list[Window]
    choices: list[Choice]
    result: object  # engine result of the stitched book
    bench: object
    per_window: list[dict]  # out-of-sample slices: {"strategy": {...}, "benchmark": {...}, "rank": {...}}
    metrics: dict  # stitched out of sample (metrics.compute)
    bench_metrics: dict
    degradation: dict
    elapsed: float
    notes: list[str] = field(default_factory=list)

    def window_dates(self, w: Window) -> dict:
        d, lag, T = self.inp.dates, self.inp.exec_lag, len(self.inp.dates)
        return {
            "train_start": str(d[w.train_a + lag].date()),  # first and last training return session
            "train_end": str(d[w.train_b - 1].date()),
            "first_decision": str(d[w.test_a].date()),
            "test_start": str(d[w.test_a + lag].date()),  # first and last out-of-sample return session
            "test_end": str(d[min(T, w.test_b + lag) - 1].date()),
        }


def _mean(xs) -> float | None:
    v = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def degradation_of(choices: list[Choice], per_window: list[dict], stitched: dict, metric: str) -> dict:
    mis = _mean(c.in_sample.get(metric) for c in choices)
    mos = _mean(p["strategy"].get(metric) for p in per_window)
    oos = stitched.get(metric)
    oos = None if oos is None or not np.isfinite(oos) else float(oos)
    diff = None if mis is None or oos is None else mis - oos
    ratio = None if mis is None or oos is None or mis == 0 else oos / mis
    return {
        "metric": metric,
        "mean_in_sample": mis,
        "mean_window_out_of_sample": mos,
        "out_of_sample": oos,
        "difference": diff,
        "ratio": ratio,
    }


def walk_forward(
    store,
    spec,
    grid,
    *,
    train: Duration,
    test: Duration,
    embargo: Duration,
    metric: str = "sharpe",
    signals: pd.DataFrame | None = None,
    strategy=None,
    inputs=None,
    executor=None,
    progress=None,
) -> WalkForward:
    """Prepare once (or take ``inputs``), plan the windows, choose on each training window, run the stitched
    book and measure it. ``spec`` is a RunSpec (fixed params, costs, lag, schedule, gold, benchmark,
    optional start/end of the whole period). ``executor``: where the sweeps of the windows run
    (``research.executor``; the same numbers everywhere)."""
    import time

    from .sweep import prepare

    if metric not in _ev.METRICS:
        raise UsageError(f"metric {metric!r} is unknown", f"use one of: {', '.join(_ev.METRICS)}", param="metric")
    t0 = time.perf_counter()
    from ..progress import ensure

    progress = ensure(progress)
    progress.stage("preparing prices, signals and the grid")
    inp = inputs if inputs is not None else prepare(store, spec, grid, signals=signals, strategy=strategy)
    windows = plan_windows(inp.dates, train, test, embargo, inp.exec_lag)
    check_grid_valid(inp)
    choices = choose(inp, windows, metric, executor, progress)
    progress.stage("running the stitched out-of-sample book")
    res, bres = stitch(inp, choices)
    ranks = rank_out_of_sample(inp, choices, metric, executor, progress)
    progress.done()
    a0 = windows[0].test_a
    per_window = []
    for ch, rk in zip(choices, ranks, strict=True):
        w = ch.window
        lo, hi = w.test_a - a0, w.test_b - a0
        per_window.append(
            {"strategy": slice_metrics(res, lo, hi), "benchmark": slice_metrics(bres, lo, hi), "rank": rk}
        )
    from .. import metrics as M

    m, bm = res.metrics(), bres.metrics()
    cash = M.from_arrays(res.cash_returns.to_numpy(), res.cash_returns.to_numpy())
    m["cash_total_return"] = bm["cash_total_return"] = cash["total_return"]
    notes = [
        n.replace("the run starts", "the period starts").replace("the run ends", "the period ends") for n in inp.notes
    ]
    notes += [n for n in res.notes if n not in notes]
    for ch in choices:
        if ch.carried:
            notes.append(f"window {ch.window.index + 1}: no combination had a {metric}; the previous choice was kept")
    return WalkForward(
        inp=inp,
        metric=metric,
        higher_is_better=_ev.METRICS[metric],
        train=train,
        test=test,
        embargo=embargo,
        windows=windows,
        choices=choices,
        result=res,
        bench=bres,
        per_window=per_window,
        metrics=m,
        bench_metrics=bm,
        degradation=degradation_of(choices, per_window, m, metric),
        elapsed=time.perf_counter() - t0,
        notes=notes,
    )


# ---------------------------------------------------------------- json-able summary and the saved run


def summary(wf: WalkForward, grid_source: str = "given") -> dict:
    inp = wf.inp
    rows = []
    prev = None
    for ch, pw in zip(wf.choices, wf.per_window, strict=True):
        w = ch.window
        rows.append(
            {
                "window": w.index + 1,
                **wf.window_dates(w),
                "partial": w.partial,
                "params": dict(ch.params),
                "combination": ch.combination,
                "changed": prev is not None and ch.params != prev,
                "carried": ch.carried,
                "in_sample": ch.in_sample,
                "benchmark_in_sample": ch.benchmark_in_sample,
                "out_of_sample": pw["strategy"],
                "benchmark_out_of_sample": pw["benchmark"],
                "in_sample_metric": ch.in_sample.get(wf.metric),
                "out_of_sample_metric": pw["strategy"].get(wf.metric),
                "benchmark_metric": pw["benchmark"].get(wf.metric),
                "oos_rank": pw["rank"]["rank"],
                "oos_rank_of": pw["rank"]["of"],
                "oos_best_metric": pw["rank"]["best"],
            }
        )
        prev = ch.params
    return {
        "strategy_name": inp.strategy.name,
        "benchmark_name": inp.benchmark_label,
        "metric": wf.metric,
        "higher_is_better": wf.higher_is_better,
        "train": wf.train.text,
        "test": wf.test.text,
        "embargo": wf.embargo.text,
        "book": "continuous",
        "grid": inp.grid.as_dict(),
        "grid_source": grid_source,
        "fixed_params": {k: v for k, v in inp.base_params.items() if k not in inp.grid.names},
        "combinations": inp.n_combos,
        "period": {"start": str(inp.dates[0].date()), "end": str(inp.dates[-1].date())},
        "windows": rows,
        "parameter_changes": sum(r["changed"] for r in rows),
        "out_of_sample": {
            "period": {"start": wf.metrics["start"], "end": wf.metrics["end"]},
            "strategy": wf.metrics,
            "benchmark": wf.bench_metrics,
        },
        "degradation": wf.degradation,
        "elapsed_seconds": wf.elapsed,
        "notes": list(wf.notes),
    }


def run_id_of(wf: WalkForward, data_hash: str) -> str:
    from .. import __version__
    from ..strategies.files import file_of

    inp = wf.inp
    key = {
        "spec": {**asdict(inp.spec), "strategies_dir": None},
        "grid": inp.grid.as_dict(),
        "train": wf.train.text,
        "test": wf.test.text,
        "embargo": wf.embargo.text,
        "metric": wf.metric,
        "data": data_hash,
        "version": __version__,
    }
    fs = file_of(inp.strategy)
    if fs is not None:  # a strategy file counts by its content, not by the path it was given as
        key["spec"]["strategy"] = {"file": fs.name, "sha256": fs.sha256}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{inp.strategy.name}-wf-{digest}"


def as_run(store, wf: WalkForward):
    """The stitched out-of-sample book as a :class:`backtester.run.Run` (for ``save_run`` and the tearsheet)."""
    from ..run import Run, data_fingerprint

    inp = wf.inp
    data = data_fingerprint(store)
    fixed = {k: v for k, v in inp.base_params.items() if k not in inp.grid.names}
    first = str(inp.dates[wf.windows[0].test_a].date())  # the first decision: `--start` semantics
    spec = replace(inp.spec, start=first, end=wf.metrics["end"])
    sig = inp.signals.loc[wf.result.returns.index[0] :]
    notes = [
        f"walk-forward, out of sample only: parameters re-chosen by {wf.metric} on a {wf.train.text} training "
        f"window, applied to the next {wf.test.text} after a {wf.embargo.text} embargo; one continuous book"
    ]
    for ch in wf.choices:
        d = wf.window_dates(ch.window)
        ps = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in ch.params.items())
        notes.append(f"from {d['first_decision']} (trained {d['train_start']} .. {d['train_end']}): {ps}")
    notes += wf.notes
    return Run(
        run_id=run_id_of(wf, data["hash"]),
        spec=spec,
        params=fixed,
        strategy=inp.strategy,
        benchmark_label=inp.benchmark_label,
        result=wf.result,
        bench=wf.bench,
        metrics=wf.metrics,
        bench_metrics=wf.bench_metrics,
        signals=sig,
        notes=notes,
        unknown_share=inp.strategy.unknown_share(sig),
        data=data,
    )
