"""Significance of a saved run's edge over its benchmark (``hedge significance RUN_ID``).

``significance_for_run(run_dir)`` reads ``returns.csv`` (columns ``strategy``, ``benchmark``, ``cash``:
daily simple returns on NYSE sessions) from a saved run folder and returns the stationary block
bootstrap of :func:`backtester.bootstrap.sharpe_difference_test` (the method, the p-value and the
interval are defined there), with the run's id, strategy, benchmark and period from ``run.json``.
``significance_of_returns(frame)`` is the same on an in-memory frame of those three columns (what
``save_run`` holds before it writes the files), so a run folder and its manifest agree.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..bootstrap import COLUMNS, significance_of_returns  # noqa: F401  (re-exported)
from ..errors import DataError, UsageError

N_BOOT = 2000
SEED = 0


def read_returns(run_dir: str | Path) -> pd.DataFrame:
    p = Path(run_dir) / "returns.csv"
    if not p.is_file():
        raise DataError(f"run folder {Path(run_dir)} has no returns.csv", "run the backtest again to rewrite it")
    try:
        frame = pd.read_csv(p, index_col="date", parse_dates=["date"])
    except (OSError, ValueError) as e:
        raise DataError(
            f"{p} is damaged ({' '.join(str(e).split())})", "run the backtest again to rewrite it"
        ) from None
    return frame


def significance_for_run(run_dir: str | Path, n_boot: int = N_BOOT, seed: int = SEED, executor=None) -> dict:
    """Bootstrap of a saved run's Sharpe difference and mean excess return over its benchmark.

    Returns ``run_id``, ``strategy_name``, ``benchmark_name`` (from ``run.json`` when present, else
    None), then every key of ``sharpe_difference_test`` (``n``, ``n_boot``, ``block``, ``seed``,
    ``periods``, ``sharpe_strategy``, ``sharpe_benchmark``, ``sharpe_difference``, ``mean_excess``,
    ``h0``) and ``start`` / ``end`` (first and last return date, ISO). ``executor``: ``research.executor``
    (None or local: here; dask: the chunks of draws as tasks, the same numbers).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"no saved run folder {run_dir}", "run `hedge backtest ...` first or check the id")
    manifest = {}
    mp = run_dir / "run.json"
    if mp.is_file():
        try:
            manifest = json.loads(mp.read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"run {run_dir.name} is damaged ({e})", "run the backtest again to rewrite it") from None
    summary = manifest.get("summary") or {}
    head = {
        "run_id": manifest.get("run_id", run_dir.name),
        "strategy_name": summary.get("strategy_name"),
        "benchmark_name": summary.get("benchmark_name"),
    }
    return {**head, **significance_of_returns(read_returns(run_dir), n_boot=n_boot, seed=seed, executor=executor)}
