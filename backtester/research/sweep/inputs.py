"""Prepared sweep inputs: the window, prices, signals and factor-form weights of ``run_backtest``, once.

:func:`prepare` resolves the run with :func:`backtester.run.resolve`, the step ``run_backtest`` uses (same
checks, same benchmark, same window rule, same ``market.load_prices``, same signal frame reindexed onto
the price dates, same gold swap, weight columns without a price dropped), with ONE difference: the
assets held are the union of those any combination may hold (plus the benchmark's), so every
combination is measured on the same sessions. A combination whose own assets are that union (the thesis strategies
always; static-mix when each swept weight is > 0) gets exactly ``hedge backtest``'s default window;
any other equals ``hedge backtest --start S --end E`` with the sweep's window ``S .. E``.

:func:`window_arrays` cuts a sub-window ``[a, b)`` of the prepared sessions and computes what
``engine.plan`` derives from the prices alone (carried closes, freshness, listing, CASH growth, the
schedule keys, the 60-return covariance windows for volatility targeting), as if ``run_backtest`` had
been run with ``--start dates[a] --end dates[b-1]``: one prepared input set serves many windows
(walk-forward train windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...constants import CASH, REBALANCE, VOL_WINDOW
from ...engine import ExecOptions
from ...errors import UsageError
from ...strategies.factors import Factors, for_strategy, per_combination
from .grid import Combos, Grid

MODES = {name: i for i, name in enumerate(REBALANCE)}  # the kernel's code of each rebalance rule


@dataclass
class Inputs:
    dates: pd.DatetimeIndex  # every prepared NYSE session
    assets: list[str]  # price columns (CASH excluded), in run_backtest's order
    close_raw: np.ndarray  # (T, n) closes, NaN = no fresh close
    cash: np.ndarray  # (T,) CASH index
    fees: np.ndarray  # (n,) fractions
    slippage: np.ndarray  # (n,) fractions
    options: ExecOptions  # lag, rebalance rule, band, vol target (and the costs asked for)
    fallback: int  # asset index, -1 = CASH
    combos: Combos | list  # full params per combination
    factors: Factors | None  # all combinations at once, columns = assets (None: computed per chunk)
    strategy: object = None
    signals: pd.DataFrame | None = None  # signal frame on `dates` (for the generic per-chunk path)
    history: pd.DataFrame | None = None  # every signal row up to the last date (run.with_history)
    spec: object = None  # the RunSpec (params = the fixed ones)
    grid: Grid | None = None
    base_params: dict = field(default_factory=dict)
    benchmark: Factors | None = None  # one combination: the benchmark's weights
    benchmark_label: str | None = None
    notes: list[str] = field(default_factory=list)
    sample_seed: int | None = None  # --sample: the seed of the subset (combos is then a grid.Sample)
    gold: str = "GLD"
    resolved: object = None  # the backtester.run.ResolvedRun behind these inputs (None from from_prices)

    @property
    def exec_lag(self) -> int:
        return self.options.exec_lag

    @property
    def rebalance(self) -> str:
        return self.options.rebalance

    @property
    def band(self) -> float:
        return self.options.band

    @property
    def vol_target(self) -> float | None:
        return self.options.vol_target

    @property
    def n_combos(self) -> int:
        return len(self.combos)

    def chunk_factors(self, lo: int, hi: int) -> Factors:
        if self.factors is not None:
            return self.factors.take(lo, hi)
        if self.history is not None:
            f = per_combination(self.strategy, self.history, self.combos[lo:hi])
            f = f.rows(self.history.index.get_indexer(self.dates))
        else:
            f = per_combination(self.strategy, self.signals, self.combos[lo:hi])
        return _align(f, self.assets, self.gold)

    def index_of(self, when, side: str = "left") -> int:
        """Position of a session (a date, or an int position) in ``dates``."""
        if isinstance(when, int | np.integer):
            return int(when)
        ts = pd.Timestamp(when)
        return int(self.dates.searchsorted(ts, side=side))


def _align(f: Factors, assets: list[str], gold: str) -> Factors:
    if gold != "GLD":
        f = f.rename({"GLD": gold})
    return f.restrict(assets)


def from_prices(
    prices: pd.DataFrame,
    factors: Factors,
    combos,
    options: ExecOptions | None = None,
    *,
    fallback: str = CASH,
) -> Inputs:
    """Inputs from a price frame (``engine.backtest``'s ``prices``), factors on its rows and the execution
    options (``engine.backtest``'s, checked the same way)."""
    from ... import engine

    options = options if options is not None else ExecOptions()
    px = engine.check_prices(prices)
    assets = [c for c in px.columns if c != CASH]
    fallback = engine.check_fallback(fallback, assets)
    fees_bp, slip_bp = options.costs(assets)
    fees, slip = fees_bp / 10_000.0, slip_bp / 10_000.0
    if factors.features.shape[2] != len(px):
        raise ValueError("factors must have one feature value per price row")
    return Inputs(
        dates=pd.DatetimeIndex(px.index),
        assets=assets,
        close_raw=np.ascontiguousarray(px[assets].to_numpy(float)),
        cash=px[CASH].to_numpy(float),
        fees=fees,
        slippage=slip,
        options=options,
        fallback=-1 if fallback == CASH else assets.index(fallback),
        combos=combos,
        factors=factors.restrict(assets),
    )


def _universe(strat, combos: Combos, gold: str) -> list[str]:
    """The union of the assets any combination may hold (``GLD`` held as ``gold``), in first-seen order: once
    per distinct set of the parameters ``Strategy.assets`` reads when its factor form names them
    (``factors.Form.assets_by``), else once per combination."""
    from ...run import strategy_assets

    seen: dict[str, None] = {}
    cache: set = set()
    for p in _assets_params(strat, combos):
        a = tuple(strat.assets(p)) if strat.assets is not None else ()
        if a in cache:
            continue
        cache.add(a)
        for x in strategy_assets(strat, p, gold):
            seen.setdefault(x)
    return list(seen)


def _assets_params(strat, combos):
    """The parameter sets ``_universe`` visits: every combination, or, when ``Strategy.assets`` reads only the
    parameters ``assets_by``, the first combination of each distinct set of their values (in grid order, so
    the assets are first seen in the same order)."""
    by = getattr(strat.sweep_fn, "assets_by", None)
    grid = getattr(combos, "grid", None)
    if by is None or grid is None:
        return combos
    from ...strategies.factors import grid_numbers

    sizes = [len(v) for v in grid.values]
    numbers = grid_numbers(combos)
    code = np.zeros(len(numbers), dtype=np.int64)
    for k, name in enumerate(grid.names):
        if name in by:
            code = code * sizes[k] + (numbers // int(np.prod(sizes[k + 1 :], dtype=np.int64))) % sizes[k]
    firsts = np.sort(np.unique(code, return_index=True)[1])
    return [combos[int(i)] for i in firsts]


def prepare(
    store, spec, grid: Grid, signals: pd.DataFrame | None = None, strategy=None, sample: int | None = None, seed=0
) -> Inputs:
    """Resolve ``spec`` (a RunSpec: fixed params, costs, window, lag, schedule, gold, benchmark) and ``grid``
    with :func:`backtester.run.resolve` (holding the union of the grid's assets), load prices and signals
    once, and build the factor-form weights (of a seeded random ``sample`` of the combinations when given:
    ``inp.combos.number(i)`` is row i's grid number)."""
    from ... import run as runmod
    from ... import strategy as st

    spec.check()
    strat = strategy or st.get(spec.strategy, spec.strategies_dir)
    base = strat.resolve(spec.params)
    combos = Combos(grid, base)
    if sample is not None:
        combos = combos.sample(sample, seed)
    rr = runmod.resolve(store, spec, strategy=strat, signals=signals, assets=_universe(strat, combos, spec.gold))
    prices, s, hist = rr.prices, rr.signals, rr.history  # hist: windowed features see rows before the start
    factors = None
    if strat.sweep_fn is not None:
        bare = hist.copy(deep=False)
        bare.attrs = {}  # pandas deep-copies attrs on every operation: ~0.3 ms per call, 1e5 calls
        rows = hist.index.get_indexer(prices.index)
        if getattr(strat.sweep_fn, "takes_rows", False):  # a factors.Form: features stored on these rows only
            factors = strat.sweep_fn(bare, combos, rows=rows)
        else:
            factors = for_strategy(strat, bare, combos).rows(rows)
        factors = _align(factors, [c for c in prices.columns if c != CASH], spec.gold)
    bf = for_strategy(rr.benchmark, s, [rr.benchmark_params])
    inp = from_prices(prices, bf if factors is None else factors, combos, rr.options, fallback=strat.fallback)
    if factors is None:
        inp.factors = None
    inp.strategy = strat
    inp.signals = s
    inp.history = hist
    inp.spec = spec
    inp.grid = grid
    inp.base_params = base
    inp.benchmark = bf.restrict(inp.assets)
    inp.benchmark_label = rr.benchmark_label
    inp.notes = list(rr.notes)
    inp.gold = spec.gold
    inp.sample_seed = None if sample is None else seed
    inp.resolved = rr
    return inp


@dataclass
class WindowArrays:
    a: int
    b: int
    dates: pd.DatetimeIndex  # run sessions: dates[a + lag .. b)
    close: np.ndarray  # (T, n) carried closes (placeholder 1 / next close before listing)
    close_num: np.ndarray  # (T, n) closes in CASH units
    fresh: np.ndarray  # (T, n) bool
    listed: np.ndarray  # (T, n) bool
    lchg: np.ndarray  # (T,) bool: the listing of some asset changes (True on the first run row)
    ev: np.ndarray  # (T,) bool: a rebalance may trigger whatever the weights (lchg, or a new month / week)
    cashx: np.ndarray  # (T,) CASH index
    growth: np.ndarray  # (T,) CASH growth since the first run session
    cret: np.ndarray  # (T,) CASH returns (0 first)
    key: np.ndarray  # (T,) month / ISO-week keys (zeros otherwise)
    cov: np.ndarray  # (Tw, n, n) 60-return covariance per decision row (zeros without vol target)
    edges: np.ndarray  # block edges over the run rows (PBO)


def block_edges(T: int, blocks: int) -> np.ndarray:
    """``np.array_split`` boundaries of T rows into ``blocks`` parts (no blocks when T < 2 x blocks)."""
    if blocks < 2 or T < 2 * blocks:
        return np.zeros(1, dtype=np.int64)
    q, r = divmod(T, blocks)
    sizes = [q + 1] * r + [q] * (blocks - r)
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def schedule_keys(dates: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    """(T,) int64: ISO year * 100 + ISO week (weekly), year * 12 + month otherwise (monthly, change+monthly,
    and change and band, whose fixed-mix benchmark is rebalanced monthly: ``engine.mix_rebalance``); in
    numpy (the pandas date fields cost ~0.1-1 ms a call)."""
    if dates.tz is not None:  # local calendar dates
        dates = dates.tz_localize(None)
    day = dates.to_numpy().astype("datetime64[D]")
    if rebalance != "weekly":
        month = day.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
        return month + 1970 * 12 + 1
    if rebalance == "weekly":
        n = day.astype(np.int64)
        thursday = n - (n + 3) % 7 + 3  # the Thursday of the ISO week (Monday = 0): it fixes the ISO year
        year = thursday.astype("datetime64[D]").astype("datetime64[Y]")
        week = (thursday - year.astype("datetime64[D]").astype(np.int64)) // 7 + 1
        return (year.astype(np.int64) + 1970) * 100 + week
    return np.zeros(len(dates), dtype=np.int64)


def _ffill(px: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each column carried forward over its NaN (leading NaN stay): ``DataFrame.ffill`` on an array."""
    rows = np.where(valid, np.arange(len(px))[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    out = np.take_along_axis(px, rows, axis=0)
    return out


def _bfill_ones(ff: np.ndarray) -> np.ndarray:
    """Leading NaN of a forward-filled array set to the column's first value (``bfill``), 1.0 for a column
    without any value."""
    out = ff.copy()
    for i in range(out.shape[1]):
        col = out[:, i]
        ok = np.flatnonzero(~np.isnan(col))
        col[: ok[0] if len(ok) else len(col)] = col[ok[0]] if len(ok) else 1.0
    return out


def window_arrays(inp: Inputs, a: int = 0, b: int | None = None, blocks: int = 16) -> WindowArrays:
    b = len(inp.dates) if b is None else b
    if not (0 <= a < b <= len(inp.dates)):
        raise UsageError(
            f"window [{a}, {b}) is outside the {len(inp.dates)} prepared sessions", "give 0 <= start < end"
        )
    lag = inp.exec_lag
    px = inp.close_raw[a:b]
    Tw = b - a
    T = Tw - lag
    if T < 2:
        raise UsageError(
            f"the window {inp.dates[a].date()} .. {inp.dates[b - 1].date()} has {Tw} sessions: too few for an "
            f"execution lag of {lag}",
            "give a longer window",
        )
    fresh_all = ~np.isnan(px)
    ff = _ffill(px, fresh_all)
    close = np.ascontiguousarray(_bfill_ones(ff)[lag:])
    listed = np.ascontiguousarray(np.maximum.accumulate(fresh_all, axis=0)[lag:])
    cashx = np.ascontiguousarray(inp.cash[a:b][lag:])
    growth = cashx / cashx[0]
    close_num = np.ascontiguousarray(close / growth[:, None])
    cret = np.concatenate([[0.0], growth[1:] / growth[:-1] - 1.0])
    dates = inp.dates[a + lag : b]
    key = schedule_keys(dates, inp.rebalance)
    lchg = np.concatenate([[True], (listed[1:] != listed[:-1]).any(axis=1)])
    n = len(inp.assets)
    cov = np.zeros((Tw if inp.vol_target is not None else 1, n, n))
    if inp.vol_target is not None and Tw > VOL_WINDOW:
        from ...engine import known_returns

        rets = known_returns(ff, inp.assets)  # a late close (bitcoin) enters one session later
        win = np.lib.stride_tricks.sliding_window_view(rets[1:], VOL_WINDOW, axis=0)  # (Tw-60, n, 60)
        xc = win - win.mean(axis=2, keepdims=True)
        cov[VOL_WINDOW:] = np.einsum("tiw,tjw->tij", xc, xc) / (VOL_WINDOW - 1)
    return WindowArrays(
        a=a,
        b=b,
        dates=dates,
        close=close,
        close_num=close_num,
        fresh=np.ascontiguousarray(fresh_all[lag:]),
        listed=listed,
        lchg=lchg,
        ev=lchg | np.concatenate([[True], key[1:] != key[:-1]]),
        cashx=cashx,
        growth=growth,
        cret=cret,
        key=np.ascontiguousarray(key, dtype=np.int64),
        cov=cov,
        edges=block_edges(T, blocks),
    )
