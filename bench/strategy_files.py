"""Sweep speed of a strategy file against the built-in it replicates.

``python bench/strategy_files.py [SNAPSHOT_DIR]`` (default ``$HEDGE_SNAPSHOT_DIR`` or ``../shared/data``):
the same grid over ``seed-thesis`` (built-in, Python factor form) and ``examples/seed-thesis.toml`` (the
file's factor form: each rule's condition once per distinct threshold set). Prints prepare (signals,
prices, factor form) and evaluate (kernel, DSR, PBO) times, best of 3, and checks the two sweeps' result
frames are equal. Target: the file's prepare within 2x the built-in's, evaluate the same.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRID = ["floor=0.06:0.15:0.01", "spread_bp=0:45:5", "rrp_drained_bn=0:900:100", "btc=0.1:0.5:0.1"]  # 5,000


def best_of(fn, n: int = 3):
    out, best = None, float("inf")
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main(argv=None) -> int:
    import numpy as np

    sys.path.insert(0, str(REPO))
    from backtester import signals as sig
    from backtester import strategy as st
    from backtester.data.importer import import_snapshot
    from backtester.data.store import Store
    from backtester.research.sweep import evaluate, parse_grid, prepare
    from backtester.run import RunSpec

    argv = sys.argv[1:] if argv is None else argv
    snap = Path(argv[0] if argv else os.environ.get("HEDGE_SNAPSHOT_DIR", REPO.parent / "shared" / "data"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        import_snapshot(snap, store)
        signals = sig.compute(store)
        rows = {}
        for label, name in (
            ("built-in seed-thesis", "seed-thesis"),
            ("file seed-thesis.toml", "examples/seed-thesis.toml"),
        ):
            strat = st.get(str(REPO / name) if name.endswith(".toml") else name)
            g = parse_grid(GRID, strat)
            spec = RunSpec(name)
            evaluate(prepare(store, spec, parse_grid(["floor=0.08,0.1"], strat), signals=signals, strategy=strat))
            inp, t_prep = best_of(
                lambda strat=strat, g=g, spec=spec: prepare(store, spec, g, signals=signals, strategy=strat)
            )
            res, t_eval = best_of(lambda inp=inp: evaluate(inp))
            rows[label] = (inp, res, t_prep, t_eval)
        (a, ra, *_), (b, rb, *_) = rows.values()
        cols = ["sharpe", "cagr", "max_drawdown", "turnover"]
        diff = float(np.nanmax(np.abs(ra.frame[cols].to_numpy() - rb.frame[cols].to_numpy())))
        print(f"grid {GRID}: {ra.n_total:,} combinations, {a.factors.features.shape[0]:,} threshold sets")
        for label, (_, res, tp, te) in rows.items():
            print(f"  {label:24s} prepare {tp:6.2f} s  evaluate {te:6.2f} s  ({res.n_total / te:,.0f} combinations/s)")
        print(f"  max |difference| of sharpe/cagr/max_drawdown/turnover between the two: {diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
