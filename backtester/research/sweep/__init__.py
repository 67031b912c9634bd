"""Parameter sweeps at full speed: every combination of a grid, evaluated in compiled code.

Layers (importing this package imports neither numba nor vectorbt; ``kernel`` is loaded on first use):

* ``grid``: ``--grid`` parsing and validation, the lazy product of combinations (:class:`Combos`);
* ``factors``: many parameter sets' target weights at once (``Strategy.sweep_fn``, or the generic
  per-combination path);
* ``inputs``: :func:`prepare` (the window, prices, signals and weights exactly as ``run_backtest``) and
  :func:`window_arrays` (a sub-window of the prepared sessions);
* ``kernel``: the numba kernel (engine steps 1-7 and the metrics, blocks of combinations in parallel);
* ``cscv``: the numba PBO logits (CSCV over every split, in parallel; ``overfit.pbo_cscv`` calls it);
* ``evaluation``: chunked evaluation -> :class:`SweepResult` (frame of metrics, best row, deflated Sharpe,
  PBO, benchmark);
* ``heatmap``: the best metric over two grid parameters, as HTML (plotly.js inlined) or PNG.

Library use (e.g. walk-forward train windows: prepare once, evaluate many windows)::

    from backtester import sweep
    inp = sweep.prepare(store, RunSpec("seed-thesis", rebalance="monthly"), sweep.parse_grid([...], strat))
    res = sweep.evaluate(inp, window=("2016-01-01", "2019-12-31"), metric="sharpe")
    res.frame, res.best, res.deflated_sharpe, res.pbo

Exactness: every valid combination's metrics equal ``run_backtest``'s for the same parameters and
window to ~1e-12 relative (tests require 1e-9), costs included.
"""

from __future__ import annotations

from .grid import DEFAULT_MAX_COMBINATIONS, Combos, Grid, check_size, parse_grid

__all__ = [
    "DEFAULT_MAX_COMBINATIONS", "Combos", "Grid", "check_size", "parse_grid", "prepare", "evaluate", "window_arrays",
    "SweepResult", "METRICS",
]  # fmt: skip


def __getattr__(name):
    if name in ("prepare", "window_arrays", "from_prices"):
        from . import inputs

        return getattr(inputs, name)
    if name in ("evaluate", "SweepResult", "METRICS", "metrics_of"):
        from . import evaluation as ev

        return getattr(ev, name)
    raise AttributeError(name)
