"""Evaluate every combination of prepared inputs on a window, in chunks, with the compiled kernel.

``evaluate(inputs, window=(a, b), metric="sharpe")`` returns a :class:`SweepResult`: one row per
combination (the grid values, the metrics of ``metrics.py``, ``valid``), the best valid row by the
metric, the deflated Sharpe ratio of that best row and the PBO by CSCV over the valid rows, and the
benchmark's metrics on the same window. Only one row of numbers per combination (plus its per-block
sums, 16 x 2 floats) is kept: no equity curve outlives its combination.

The combinations run in ranges ``[lo, hi)`` (here, or as executor tasks). With a chunk store
(``chunks.ChunkStore``, what ``hedge sweep`` uses) each range's results are written to disk as they arrive,
the ranges already there are reused when resuming, and the PBO reads the per-block sums back from the files
(``cscv_chunks``) instead of holding them: memory then grows by ~19 floats per combination, not 51; above
``LEAN_ROWS`` by 2 floats and a status byte (the rows shown are read back from the files).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import UsageError
from ...progress import Progress, ensure
from .inputs import MODES, Inputs, window_arrays

# metric -> True when larger is better
METRICS = {
    "sharpe": True, "sortino": True, "cagr": True, "total_return": True, "calmar": True, "max_drawdown": True,
    "volatility": False, "turnover": False, "costs": False,
}  # fmt: skip
# the kernel's M_* order
COLUMNS = [
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover_total",
    "turnover", "costs", "costs_annual", "sr_period", "skew", "kurtosis", "rebalances",
]  # fmt: skip
DEFAULT_CHUNK = 4096
LEAN_ROWS = 1_000_000  # above this, with the chunks on disk, only the metric and sr_period stay in memory
LEAN_TOP = 1000  # ... and the result frame holds this many best valid rows
INVALID = {1: "weights sum above 1", 2: "negative weight"}


@dataclass
class SweepResult:
    frame: pd.DataFrame  # one row per combination: grid values, metrics, valid, invalid_reason
    metric: str
    higher_is_better: bool
    start: str
    end: str
    days: int
    n_total: int
    n_valid: int
    best: dict | None  # the best valid row (grid values + metrics), None if no valid row
    best_index: int | None
    deflated_sharpe: dict | None
    pbo: dict | None
    benchmark: dict | None
    elapsed: float  # wall time of the evaluation, including ``compile_seconds``
    block_sums: np.ndarray | None = None  # (C, S, 2) per-block sum of excess returns and of their squares
    notes: list[str] = field(default_factory=list)
    compile_seconds: float = 0.0  # numba compiling (or loading cached) kernels during the evaluation
    chunks: dict | None = None  # with a chunk store: sweep_id, dir, total, reused, computed (chunk files)
    invalid_counts: dict | None = None  # above LEAN_ROWS (the frame holds the best rows only): reason -> count

    @property
    def rate(self) -> float:
        """Combinations per second, compile time excluded (a first sweep compiles its kernels once)."""
        t = self.elapsed - self.compile_seconds
        n = self.n_total if self.chunks is None else self.chunks["computed_combinations"]
        return n / t if t > 0 else float("nan")

    @property
    def n_invalid(self) -> int:
        return self.n_total - self.n_valid

    @property
    def lean(self) -> bool:
        """The frame holds the best valid rows only (a sweep above ``LEAN_ROWS`` with its chunks on disk)."""
        return self.invalid_counts is not None

    def invalid_reasons(self) -> dict[str, int]:
        """Invalid combinations per reason, most frequent first."""
        if self.invalid_counts is not None:
            return dict(self.invalid_counts)
        return {str(k): int(v) for k, v in self.frame["invalid_reason"].value_counts().items()}

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` best valid rows by the metric (ties: grid order; NaN last), as a stable sort of the
        valid rows would give them, ordered on the metric column alone (no copy of the frame)."""
        pos = best_rows(self.frame[self.metric].to_numpy(float), self.frame["valid"].to_numpy(bool),
                        self.higher_is_better, n)  # fmt: skip
        return self.frame.iloc[pos]


def best_rows(m: np.ndarray, valid: np.ndarray, higher: bool, n: int) -> np.ndarray:
    """Positions of the ``n`` best valid values of ``m``, best first (ties: in order; NaN last)."""
    idx = np.flatnonzero(valid)
    v = m[idx]
    return idx[np.argsort(-v if higher else v, kind="stable")[:n]]


def _kernel():
    from ..._numba import ensure_numba_cache

    ensure_numba_cache()
    from . import kernel

    return kernel


class compile_clock:
    """Context manager timing numba compilation inside it (top-level compile events; a cached kernel's
    load counts too but takes milliseconds): ``with compile_clock() as seconds: ...; seconds()``."""

    def __enter__(self):
        from numba.core import event as ev

        self._rec = ev.install_recorder("numba:compile")
        self._events = self._rec.__enter__()
        return self.seconds

    def __exit__(self, *exc):
        return self._rec.__exit__(*exc)

    def seconds(self) -> float:
        total, depth, t0 = 0.0, 0, 0.0
        for ts, e in self._events.buffer:
            if e.is_start:
                if depth == 0:
                    t0 = ts
                depth += 1
            elif e.is_end and depth:
                depth -= 1
                if depth == 0:
                    total += ts - t0
        return total


def _threads() -> int:
    import numba

    return numba.get_num_threads()


def _window(inp: Inputs, window) -> tuple[int, int]:
    if window is None:
        return 0, len(inp.dates)
    a, b = window
    a = 0 if a is None else inp.index_of(a)
    b = len(inp.dates) if b is None else (int(b) if isinstance(b, int | np.integer) else inp.index_of(b, "right"))
    return a, b


def feature_changes(features: np.ndarray) -> np.ndarray:
    """(P, T) bool: the features of each pattern differ from the previous row's (True on row 0)."""
    P, _, T = features.shape
    chg = np.ones((P, T), dtype=np.bool_)
    if T > 1:
        chg[:, 1:] = (features[:, :, 1:] != features[:, :, :-1]).any(axis=1)
    return chg


def run_factors(
    inp: Inputs, wa, factors, out, tim, blocks, status, cache: dict | None = None, *, cap_limit: int = 0,
    rebalance: str | None = None,
) -> None:  # fmt: skip
    """Run the kernel for ``factors`` (one chunk) on window ``wa``, filling the output rows in place
    (``rebalance``: another rule than ``inp.rebalance``, e.g. a fixed mix's; ``cap_limit``: tests only,
    see ``kernel.run_chunk``)."""
    k = _kernel()
    feats, fchg, ev_ptr, ev_idx = pattern_arrays(wa, factors, cache)
    mode = MODES[rebalance or inp.rebalance]
    k.run_chunk(
        feats, fchg, factors.pattern, factors.loadings, wa.close, wa.close_num, wa.fresh, wa.listed, wa.lchg, ev_ptr,
        ev_idx, wa.cashx, wa.growth / k.CAPITAL, wa.cret, wa.key, mode, float(inp.band), wa.cov,
        np.nan if inp.vol_target is None else float(inp.vol_target), inp.fallback, inp.fees, inp.slippage,
        wa.edges, out, tim, blocks, status, _threads(), cap_limit,
    )  # fmt: skip


def pattern_arrays(wa, factors, cache: dict | None = None) -> tuple:
    """The kernel's per-pattern arrays of ``factors`` on window ``wa``: (features on the window, feature
    changes, CSR of the rows where a rebalance may trigger); reused from ``cache`` for the same features."""
    key = (id(factors.features), wa.a, wa.b)
    if cache is not None and cache.get("key") == key:
        return cache["arrays"]
    feats = np.ascontiguousarray(factors.features[:, :, wa.a : wa.b])
    fchg = feature_changes(feats)
    T = len(wa.dates)
    rows, idx = np.nonzero(fchg[:, :T] | wa.ev[None, :])  # per pattern, the rows that may trigger
    ev_ptr = np.searchsorted(rows, np.arange(fchg.shape[0] + 1)).astype(np.int64)
    ev_idx = idx.astype(np.int64)
    if cache is not None:
        cache.update(key=key, arrays=(feats, fchg, ev_ptr, ev_idx), ref=factors.features)
    return feats, fchg, ev_ptr, ev_idx


def _frame(
    inp: Inputs, out: np.ndarray, tim: np.ndarray, status: np.ndarray, valid: np.ndarray, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """The result frame, built in one go: grid values, metrics (NaN for invalid rows), ``rebalances`` as
    Int64, ``time_in_<asset>``, ``valid``, ``invalid_reason``. ``out`` and ``tim`` are masked in place and
    the float columns are views of them (no copy of 10^6 rows). ``rows``: the combinations (row numbers,
    the index) that ``out`` holds, when not all of them."""
    cols: dict = {}
    if inp.grid is not None:
        cols.update(inp.combos.columns(rows))
    bad = ~valid
    rebalances = out[:, COLUMNS.index("rebalances")].copy()
    out[bad] = np.nan
    tim[bad] = np.nan
    for k, name in enumerate(COLUMNS):
        if name == "rebalances":
            cols[name] = pd.array(np.where(valid, rebalances, 0.0).astype(np.int64), dtype="Int64")
            cols[name][bad] = pd.NA
        else:
            cols[name] = out[:, k]
    for i, asset in enumerate(inp.assets):
        cols[f"time_in_{asset}"] = tim[:, i]
    cols["valid"] = valid
    reasons = np.full(len(status), None, dtype=object)
    for code, why in INVALID.items():
        reasons[status == code] = why
    cols["invalid_reason"] = reasons.tolist()
    return pd.DataFrame(cols, copy=False, index=None if rows is None else pd.Index(rows))


def _lean_frame(inp: Inputs, store, ranges, m: np.ndarray, status: np.ndarray, higher: bool) -> pd.DataFrame:
    """The frame of the ``LEAN_TOP`` best valid rows by ``m`` (NaN on invalid rows), read back from the chunk
    files (each verified again) and indexed by row number."""
    from ...errors import DataError

    rows = np.sort(best_rows(m, status == 0, higher, LEAN_TOP))
    k = np.searchsorted(np.array([lo for lo, _ in ranges]), rows, side="right") - 1
    parts = []
    for c in np.unique(k):
        lo, hi = ranges[c]
        got = store.load(lo, hi)
        if got is None:
            raise DataError(
                f"the sweep chunk {store.path(lo, hi)} changed while the sweep ran", "run the sweep again with --resume"
            )
        sel = rows[k == c] - lo
        parts.append((got[0][sel], got[1][sel], got[3][sel]))
    out = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, len(COLUMNS)))
    tim = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, len(inp.assets)))
    st = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int8)
    return _frame(inp, out, tim, st, st == 0, rows=rows)


def _invalid_counts(status: np.ndarray) -> dict[str, int]:
    """Invalid combinations per reason, most frequent first (as ``value_counts`` of ``invalid_reason``)."""
    counts = {why: int((status == code).sum()) for code, why in INVALID.items()}
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: -kv[1]))


def evaluate(
    inp: Inputs,
    *,
    window=None,
    metric: str = "sharpe",
    blocks: int = 16,
    chunk: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    keep_blocks: bool = False,
    stats: bool = True,
    executor=None,
    chunks=None,
) -> SweepResult:
    """Every combination of ``inp`` on ``window`` = (a, b): session positions [a, b) or dates (inclusive),
    None = all prepared sessions. ``metric`` ranks the rows; ``blocks`` (even) is the CSCV block count.
    ``executor``: ``research.executor`` (None or local: here; dask: chunks as tasks, the same numbers).
    ``chunks``: a :class:`~.chunks.ChunkStore` (each chunk's results written to disk as it completes, the
    chunks already there reused when resuming, the PBO read back from the files: the per-block sums are
    not held in memory). ``progress``: :class:`backtester.progress.Progress` (combinations done, the rate
    without compiling, the ETA, the chunks done)."""

    if metric not in METRICS:
        raise UsageError(f"metric {metric!r} is unknown", f"use one of: {', '.join(METRICS)}", param="metric")
    if blocks < 2 or blocks % 2:
        raise UsageError(f"blocks {blocks} must be an even number >= 2", "e.g. 16 (the default)", param="blocks")
    _kernel()  # import before the clock starts
    with compile_clock() as compiling:
        result = _evaluate(inp, window, metric, blocks, chunk, ensure(progress), keep_blocks, stats, executor,
                           chunks, compiling)  # fmt: skip
    result.compile_seconds = compiling()
    return result


def _chunk_size(inp: Inputs, chunk: int, distributed: bool, on_disk: bool) -> int:
    """Combinations per range: a chunk file's (``chunks.file_chunk()``, or the Dask task size), a Dask
    task's, or ``chunk`` here (the generic per-chunk path builds dense weights: at most 256)."""
    from .. import executor as exmod
    from .chunks import CHUNK_ENV, file_chunk

    if on_disk:
        if os.environ.get(CHUNK_ENV) or not distributed:
            return file_chunk()
        return exmod.DASK_CHUNK
    if distributed:
        return exmod.DASK_CHUNK
    return chunk if inp.factors is not None else min(chunk, 256)


def _evaluate(inp, window, metric, blocks, chunk, progress, keep_blocks, stats, executor, store, compiling):
    from .. import executor as exmod
    from . import overfit

    t_start = time.perf_counter()
    a, b = _window(inp, window)
    wa = window_arrays(inp, a, b, blocks)
    C = inp.n_combos
    n = len(inp.assets)
    S = len(wa.edges) - 1
    distributed = executor is not None and executor.name != "local"
    if distributed and inp.factors is None:
        raise UsageError(
            f"executor {executor.name} needs a strategy with a vectorised sweep form (sweep_fn)",
            "use the local executor for this strategy",
            param="executor",
        )
    size = _chunk_size(inp, chunk, distributed, store is not None)
    ranges = exmod.ranges(C, size)
    if store is not None:
        store.open(C, inp.assets, max(S, 0), size, COLUMNS)
    hold = store is None or keep_blocks  # with the chunks on disk, the PBO reads the block sums back
    lean = store is not None and not keep_blocks and C > LEAN_ROWS  # only the metric and sr_period kept
    kept = [COLUMNS.index(metric), COLUMNS.index("sr_period")]
    out = np.full((C, len(kept) if lean else len(COLUMNS)), np.nan)
    tim = np.zeros((0 if lean else C, n))
    blk = np.zeros((C if hold else 0, max(S, 0), 2))
    status = np.full(C, -1, dtype=np.int8)
    progress.start("sweep", C)
    done = rows = computed = reused = 0
    t0 = time.perf_counter()
    for lo, hi, (o, t, bs, st), again in _results(inp, wa, executor, ranges, store, chunk, distributed):
        status[lo:hi] = st
        if lean:
            out[lo:hi] = o[:, kept]
        else:
            out[lo:hi], tim[lo:hi] = o, t
        if hold:
            blk[lo:hi] = bs
        done += 1
        rows += hi - lo
        if again:
            reused += 1
            progress.advance(hi - lo, chunks=f"{done:,}/{len(ranges):,}")
            continue
        computed += hi - lo
        busy = time.perf_counter() - t0 - compiling()  # combinations/s without compiling
        rate = computed / busy if busy > 0 else None
        eta = (C - rows) / rate if rate else None
        progress.advance(hi - lo, rate=rate, eta=eta, chunks=f"{done:,}/{len(ranges):,}")
    valid = status == 0
    higher = METRICS[metric]
    notes = []
    if lean:
        out[~valid] = np.nan
        m, sr_all = out[:, 0], out[:, 1]
        frame = _lean_frame(inp, store, ranges, m, status, higher)
        notes.append(
            f"{C:,} combinations: the result frame holds the {len(frame):,} best valid rows (every row is in the "
            f"chunk files of {store.dir})"
        )
    else:
        frame = _frame(inp, out, tim, status, valid)
        m, sr_all = frame[metric].to_numpy(float), frame["sr_period"].to_numpy(float)  # NaN on invalid rows
    T = len(wa.dates)
    best_index = best = None
    dsr = pbo = None
    if valid.any():
        if not np.isnan(m).all():  # the first best row, as Series.idxmax / idxmin
            best_index = int(np.nanargmax(m) if higher else np.nanargmin(m))
            best = frame.loc[best_index].to_dict()
    if stats and best_index is not None:
        srs = sr_all[valid]
        dsr = overfit.deflated_sharpe(
            sr=float(frame.at[best_index, "sr_period"]),
            skew=float(frame.at[best_index, "skew"]),
            kurtosis=float(frame.at[best_index, "kurtosis"]),
            n_obs=T,
            sr_trials=srs,
        )
        if S >= 2:
            sizes = np.diff(wa.edges).astype(float)
            if hold:
                pbo = overfit.pbo_cscv(blk[valid], sizes)
            else:
                from .cscv_chunks import pbo_chunks

                progress.stage("PBO: reading the chunks' block sums back")
                pbo = pbo_chunks(lambda: store.block_sums(ranges), int(valid.sum()), sizes)
        else:
            pbo = {"pbo": None, "reason": f"the window has {T} returns: too few for {blocks} blocks"}
    bench = None
    if inp.benchmark is not None:
        bo = np.full((1, len(COLUMNS)), np.nan)
        bt = np.zeros((1, n))
        bb = np.zeros((1, max(S, 0), 2))
        bs = np.full(1, -1, dtype=np.int8)
        from ...engine import mix_rebalance

        run_factors(inp, wa, inp.benchmark, bo, bt, bb, bs, rebalance=mix_rebalance(inp.rebalance))
        bench = dict(zip(COLUMNS, bo[0].tolist(), strict=True)) if bs[0] == 0 else None
        if bench is not None:
            bench["time_in_market"] = {x: float(bt[0, i]) for i, x in enumerate(inp.assets)}
    progress.done()
    info = None
    if store is not None:
        info = {"sweep_id": store.sweep_id, "dir": str(store.dir), "total": len(ranges), "reused": reused,
                "computed": len(ranges) - reused, "computed_combinations": computed}  # fmt: skip
        if store.discarded:
            notes.append(store.discarded)
    return SweepResult(
        frame=frame,
        metric=metric,
        higher_is_better=higher,
        start=str(wa.dates[0].date()),
        end=str(wa.dates[-1].date()),
        days=T,
        n_total=C,
        n_valid=int(valid.sum()),
        best=best,
        best_index=best_index,
        deflated_sharpe=dsr,
        pbo=pbo,
        benchmark=bench,
        elapsed=time.perf_counter() - t_start,
        block_sums=blk if keep_blocks else None,
        notes=notes,
        chunks=info,
        invalid_counts=_invalid_counts(status) if lean else None,
    )


_TASK_CACHE: dict = {}  # per worker process: the pattern arrays of the scattered factors


def _compute(inp: Inputs, wa, lo: int, hi: int, cache: dict, step: int | None = None) -> tuple:
    """Combinations [lo, hi) -> (metric rows, held time, block sums, status), run ``step`` at a time."""
    C = hi - lo
    out = np.full((C, len(COLUMNS)), np.nan)
    tim = np.zeros((C, len(inp.assets)))
    blk = np.zeros((C, max(len(wa.edges) - 1, 0), 2))
    status = np.full(C, -1, dtype=np.int8)
    step = step or C
    for i in range(0, C, step):
        j = min(C, i + step)
        run_factors(inp, wa, inp.chunk_factors(lo + i, lo + j), out[i:j], tim[i:j], blk[i:j], status[i:j], cache)
    return out, tim, blk, status


def _chunk_task(inp: Inputs, wa, lo: int, hi: int) -> tuple:
    """One task of a distributed sweep: combinations [lo, hi) -> (metric rows, held time, block sums,
    status)."""
    return _compute(inp, wa, lo, hi, _TASK_CACHE)


def _results(inp: Inputs, wa, executor, ranges, store, chunk: int, distributed: bool):
    """(lo, hi, (out, tim, blk, status), reused) of every range: first the chunk files kept from an
    interrupted run (``store.resume``), then the others as they complete (each written to ``store`` first)."""
    todo = []
    for lo, hi in ranges:
        got = store.load(lo, hi) if store is not None and store.resume else None
        if got is not None:
            yield lo, hi, got, True
        else:
            todo.append((lo, hi))
    if distributed:
        it = ((todo[k], r) for k, r in executor.map_chunks(_chunk_task, _shared(executor, inp, wa), todo))
    else:
        cache: dict = {}
        step = chunk if inp.factors is not None else min(chunk, 256)
        it = (((lo, hi), _compute(inp, wa, lo, hi, cache, step)) for lo, hi in todo)
    for (lo, hi), r in it:
        if store is not None:
            store.save(lo, hi, *r)
        yield lo, hi, r, False


def _shared(executor, inp: Inputs, wa) -> tuple:
    """The prepared inputs (without the strategy object and the signal frame) and the window arrays, sent
    to the workers once."""
    from dataclasses import replace

    return (
        executor.share(("inputs", id(inp)), lambda: replace(inp, strategy=None, signals=None, spec=None)),
        executor.share(("window", id(inp), wa.a, wa.b, len(wa.edges)), lambda: wa),
    )


def metrics_of(result: SweepResult, i: int, assets: list[str]) -> dict:
    """Row ``i`` in the layout of ``metrics.compute`` (for comparisons with ``run_backtest``)."""
    r = result.frame.loc[i]
    out = {k: float(r[k]) for k in COLUMNS if k not in ("sr_period", "skew", "kurtosis", "rebalances")}
    out["time_in_market"] = {a: float(r[f"time_in_{a}"]) for a in assets}
    out["days"] = result.days
    return out
