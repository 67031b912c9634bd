"""The best combination of a sweep as a full run (``hedge sweep --best-report``).

:func:`best_run` re-runs the best valid combination through :func:`backtester.run.run_backtest` (the
one run-resolution step) on the sweep's own window and signal frame, and checks that its Sharpe equals
the sweep's; :func:`sweep_record` is the ``sweep`` entry its run.json carries.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ...errors import UsageError


def best_run(store, inp, res):
    """(run, warning): the best combination of ``res`` (an evaluation of ``inp``) as a ``Run``; ``warning``
    is None unless its Sharpe differs from the sweep's (it should not: the kernel equals the engine)."""
    from ...run import run_backtest, strategy_assets

    if res.best_index is None:
        raise UsageError("the sweep has no valid combination to re-run", "widen the grid")
    spec = inp.spec
    best = inp.combos[res.best_index]
    params = {**spec.params, **{k: best[k] for k in inp.grid.names}}
    own = strategy_assets(inp.strategy, best, spec.gold)
    rr = inp.resolved
    rs = replace(spec, params=params)
    if set(own) | set(rr.benchmark.assets(rr.benchmark_params)) != set(inp.assets):
        # its own default window would differ (fewer assets): pin the sweep's window
        rs = replace(rs, start=rs.start or str(inp.dates[0].date()), end=rs.end or str(inp.dates[-1].date()))
    hist = inp.history if inp.history is not None else inp.signals  # the rows the sweep's features saw
    run = run_backtest(store, rs, signals=hist, strategy=inp.strategy)
    sweep_sharpe = res.frame.at[res.best_index, "sharpe"]
    warning = None
    if not math.isclose(run.metrics["sharpe"], sweep_sharpe, rel_tol=1e-9, abs_tol=1e-12):
        warning = f"the saved run's Sharpe {run.metrics['sharpe']:.12g} differs from the sweep's {sweep_sharpe}"
    return run, warning


SPA_KEYS = ("spa", "reality_check", "stepm")  # present with ``hedge sweep --spa``


def sweep_record(summary: dict) -> dict:
    """The ``sweep`` entry of the best run's run.json, from the sweep's summary (its json object)."""
    keys = ("grid", "metric", "combinations", "period", "deflated_sharpe", "deflated_sharpe_detail", "pbo",
            "pbo_detail")  # fmt: skip
    return {"sweep": {**{k: summary[k] for k in keys}, **{k: summary[k] for k in SPA_KEYS if k in summary}}}
