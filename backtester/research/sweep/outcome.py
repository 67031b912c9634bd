"""A sweep as a result: argument checks shared by ``hedge sweep`` / ``hedge walkforward`` / the Python API,
the run of a whole sweep, and its json object (what ``hedge sweep --format json`` prints).

:func:`check_args` validates the strategy, fixed parameters, grid, grid size and metric before any data is
read; :func:`run_sweep` prepares, evaluates and refuses an all-invalid grid; :func:`summary` assembles the
json-plain object (top rows, best, deflated Sharpe, PBO, benchmark, notes).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from ...jsonplain import plain

ROW_KEYS = [
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover",
    "turnover_total", "costs", "costs_annual", "rebalances",
]  # fmt: skip


def check_args(
    strategy, grid, params, metric: str, max_combinations: int, strategies_dir=None, sample=None, limit=None
):  # fmt: skip
    """The checks on the strategy (a name or a Strategy), the fixed ``params`` (a dict or ``["k=v", ...]``),
    the ``grid`` (``["name=v1,v2", "name=a:b:s"]``), its size and the ``metric`` (UsageError naming the
    parameter); returns (the Strategy, the fixed params as a dict, the Grid)."""
    from ... import strategy as st
    from .evaluation import METRICS
    from .grid import MAX_COMBINATIONS_LIMIT, check_size, parse_grid

    strat = st.get(strategy, strategies_dir) if isinstance(strategy, str) else strategy
    fixed = dict(params) if isinstance(params, dict) else st.parse_params(params)
    strat.resolve(fixed)
    g = parse_grid(grid, strat, fixed)
    check_size(g, max_combinations, sample, limit or MAX_COMBINATIONS_LIMIT)
    if metric not in METRICS:
        raise UsageError(f"metric {metric!r} is unknown", f"use one of: {', '.join(METRICS)}", param="metric")
    return strat, fixed, g


def run_sweep(
    store, spec, grid, *, strategy=None, metric="sharpe", blocks=16, progress=None, executor=None, sample=None, seed=0,
    reports_dir=None, resume: bool = False,
):  # fmt: skip
    """Prepare ``spec`` x ``grid`` once and evaluate every combination (or a seeded random ``sample`` of them):
    (inputs, result). ``reports_dir``: each chunk's results are written to ``<reports_dir>/<sweep-id>/chunks/``
    as it completes (``chunks.py``); ``resume`` reuses the chunks an interrupted run of the same sweep left
    there. UsageError when every combination is invalid."""
    from ... import strategy as st
    from ...progress import ensure
    from .evaluation import evaluate
    from .inputs import prepare

    progress = ensure(progress)
    chunks = None
    if reports_dir is not None:
        from .chunks import ChunkStore, file_chunk, sweep_key

        file_chunk()  # a bad $HEDGE_SWEEP_CHUNK before any work
        strat = strategy or st.get(spec.strategy, spec.strategies_dir)
        sid, identity = sweep_key(store, spec, grid, strategy=strat, sample=sample, seed=seed, blocks=blocks)
        chunks = ChunkStore(reports_dir, sid, identity, resume=resume)
    progress.stage("preparing prices, signals and the grid")
    try:
        inp = prepare(store, spec, grid, strategy=strategy, sample=sample, seed=seed)
        res = evaluate(inp, metric=metric, blocks=blocks, progress=progress, executor=executor, chunks=chunks)
    finally:
        progress.done()
        if chunks is not None:
            chunks.close()
    if res.n_valid == 0:
        reasons = res.invalid_reasons()
        raise UsageError(
            f"all {res.n_total:,} combinations are invalid ("
            + ", ".join(f"{k}: {v:,}" for k, v in reasons.items())
            + ")",
            "keep the weights of each combination at most 1 in total (the rest is CASH)",
        )
    return inp, res


def row(frame, i, names, assets, combos=None) -> dict:
    """One combination's json row: its grid number, grid values, metrics and time in market per asset."""
    r = frame.loc[i]
    out = {"combination": int(i) if combos is None else combos.number(i), "params": {k: plain(r[k]) for k in names}}
    out.update({k: plain(r[k]) for k in ROW_KEYS})
    out["time_in_market"] = {a: plain(r[f"time_in_{a}"]) for a in assets}
    return out


def summary(inp, res, top: int = 10) -> dict:
    """The json object of a sweep (no timings: the same sweep on the same data gives the same bytes)."""
    names = list(inp.grid.names)
    frame = res.frame
    return {
        "strategy_name": inp.strategy.name,
        "metric": res.metric,
        "higher_is_better": res.higher_is_better,
        "grid": inp.grid.as_dict(),
        "fixed_params": {k: v for k, v in inp.base_params.items() if k not in names},
        "period": {"start": res.start, "end": res.end},
        "days": res.days,
        "combinations": {
            "total": res.n_total,
            "valid": res.n_valid,
            "invalid": res.n_invalid,
            "invalid_reasons": res.invalid_reasons(),
            "grid": inp.grid.size,
            "sample": {"size": res.n_total, "seed": inp.sample_seed} if inp.sample_seed is not None else None,
        },
        "top": [row(frame, i, names, inp.assets, inp.combos) for i in res.top(top).index],
        "best": row(frame, res.best_index, names, inp.assets, inp.combos),
        "deflated_sharpe": (res.deflated_sharpe or {}).get("deflated_sharpe"),
        "deflated_sharpe_detail": res.deflated_sharpe,
        "pbo": (res.pbo or {}).get("pbo"),
        "pbo_detail": res.pbo,
        "benchmark_name": inp.benchmark_label,
        "benchmark": {k: res.benchmark.get(k) for k in ROW_KEYS if k != "rebalances"} if res.benchmark else None,
        "notes": list(inp.notes) + list(res.notes),
        **(
            {"sweep_id": res.chunks["sweep_id"], "sweep_dir": str(Path(res.chunks["dir"]).parent)} if res.chunks else {}
        ),
    }
