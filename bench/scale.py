"""Scale bench: a 10^6-combination seed-thesis sweep in-process and on a LocalCluster, and the SPA tests
with 1,000 replications over 10^5 combinations.

Each measurement runs in a fresh subprocess (so its peak memory is its own), on a temporary store imported
from the snapshot (``--snapshot``, default ``$HEDGE_SNAPSHOT_DIR`` or ``../shared/data``), after a small
warm-up sweep (numba kernels loaded or compiled before the clock starts):

* ``inproc``: ``sweep.evaluate`` of the 10^6 grid in this process (numba threads = all cores);
* ``dask-N``: the same on a ``LocalCluster`` of N single-threaded worker processes (127.0.0.1), through
  ``--executor dask``'s code path; the inputs are scattered once, tasks are chunks of combinations;
* ``spa``: ``spa.best_of_sweep`` (SPA, Reality Check, StepM; 1,000 reps, against SPY) over the
  10^5-combination grid of ``bench/sweep.py``.

Reported: preparation (signals -> factor-form weights) and evaluation seconds, the preparation's share of
the two (``prepare_share``), combinations/s of the evaluation, peak RSS of every process (``ru_maxrss``: the
client; each Dask worker via ``Client.run``), the bytes scattered to each worker. Targets (issue 15):
in-process < 2 GB; Dask within 15% of the in-process rate at equal cores; SPA < 1 GB.

    python bench/scale.py [--snapshot DIR] [--only inproc,dask-2,dask-1,spa] [--small]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
GRID_1E6 = [
    "floor=0.055:0.15:0.005", "spread_bp=0:45:5", "rrp_drained_bn=0:900:100", "gold=0.025:0.5:0.025",
    "btc=0.02:0.5:0.02",
]  # 20 x 10 x 10 x 20 x 25 = 10^6  # fmt: skip
GRID_1E5 = [
    "floor=0.06:0.15:0.01", "spread_bp=0:45:5", "rrp_drained_bn=0:900:100", "gold=0.05:0.5:0.05",
    "btc=0.05:0.5:0.05",
]  # fmt: skip
GB = 1 << 30


def _rss_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _prepare(store_dir: str, grid: list[str]):
    from backtester.data.store import Store
    from backtester.research.sweep import parse_grid, prepare
    from backtester.run import RunSpec
    from backtester.strategy import get

    store = Store(store_dir)
    strat = get("seed-thesis")
    warm = prepare(store, RunSpec("seed-thesis"), parse_grid(["btc=0.1,0.2"], strat))
    t = time.perf_counter()
    inp = prepare(store, RunSpec("seed-thesis"), parse_grid(grid, strat))
    return warm, inp, time.perf_counter() - t


def child(mode: str, store_dir: str, small: bool = False) -> dict:
    from backtester.research import executor as exmod
    from backtester.research.sweep import evaluate

    if mode == "spa":
        from backtester.research.sweep import spa

        warm, inp, t_prep = _prepare(store_dir, GRID_1E5)
        spa.best_of_sweep(warm, reps=20)  # load / compile the kernels
        rss0 = _rss_self()
        t = time.perf_counter()
        r = spa.best_of_sweep(inp, reps=1000, against="benchmark", seed=0)
        el = time.perf_counter() - t
        return {
            "mode": mode, "combinations": r["combinations"], "prepare_s": t_prep, "spa_s": el,
            "rss_before_gb": rss0 / GB, "peak_rss_gb": _rss_self() / GB, "block": r["block"],
            "spa": r["spa"], "reality_check": r["reality_check"]["p_value"], "stepm": r["stepm"]["count"],
        }  # fmt: skip
    warm, inp, t_prep = _prepare(store_dir, GRID_1E5 if small else GRID_1E6)
    workers = int(mode.split("-")[1]) if mode.startswith("dask") else 0
    with exmod.make("dask" if workers else "local", None, workers or None) as ex:
        evaluate(warm, executor=ex)  # warm-up (workers load the kernels)
        t = time.perf_counter()
        res = evaluate(inp, executor=ex)
        el = time.perf_counter() - t
        out = {
            "mode": mode, "combinations": res.n_total, "valid": res.n_valid, "prepare_s": t_prep, "evaluate_s": el,
            "rate": res.n_total / el, "prepare_share": t_prep / (t_prep + el), "client_peak_rss_gb": _rss_self() / GB,
            "best_sharpe": float(res.best["sharpe"]), "pbo": res.pbo.get("pbo"),
        }  # fmt: skip
        if workers:
            peaks = ex._client.run(lambda: __import__("resource").getrusage(0).ru_maxrss * 1024)
            out["worker_peak_rss_gb"] = sorted(v / GB for v in peaks.values())
            shared = (inp.factors.features.nbytes + inp.factors.loadings.nbytes + inp.factors.pattern.nbytes
                      + inp.close_raw.nbytes)  # fmt: skip
            out["scattered_mb_per_worker"] = shared / 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--snapshot", default=os.environ.get("HEDGE_SNAPSHOT_DIR", str(REPO.parent / "shared/data")))
    ap.add_argument("--only", default="inproc,dask-2,dask-1,spa")
    ap.add_argument("--small", action="store_true", help="sweep modes on the 10^5 grid instead of 10^6")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        sys.stdout.write(json.dumps(child(a.child, a.store, a.small)) + "\n")
        return
    from backtester.data.importer import import_snapshot
    from backtester.data.store import Store

    print(f"scale bench {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "store")
        import_snapshot(Path(a.snapshot), store)
        small = ["--small"] if a.small else []
        for mode in a.only.split(","):
            p = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--store", str(store.root), *small],
                capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
            if p.returncode != 0:
                print(f"{mode}: failed\n{p.stderr[-2000:]}")
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(json.dumps(r))


if __name__ == "__main__":
    main()
