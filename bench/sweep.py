"""Sweep bench: combinations per second of the compiled sweep, vectorbt and bt, and the memory of a
100,000-combination seed-thesis sweep.

One run, on a temporary store imported from the snapshot (``--snapshot``, default ``$HEDGE_SNAPSHOT_DIR``
or ``../shared/data``). Grid: static-mix, BTC-USD x GLD weights (40 x 25 = 1,000 fixed-weight
combinations, rest CASH), 2015-01-02 .. 2026, monthly rebalance, 10 bp fees, no slippage. All rates are
warm (each engine runs once before it is timed, so numba compilation is excluded; best of ``-n`` runs):

* this sweep, END TO END: ``sweep.evaluate`` on the prepared inputs, i.e. what ``hedge sweep`` does after
  loading the data: the window arrays, the kernel, the benchmark, the result frame, the deflated Sharpe
  and the PBO over all 12,870 CSCV splits (16 blocks). The targets are judged on this rate;
* this sweep, kernel only (``run_factors``: engine steps 1-7 and every per-combination metric), for
  reference;
* vectorbt: ``Portfolio.from_orders(size_type='targetpercent')`` over all 1,000 combinations in one
  vectorized call (2,000 columns, one cash-sharing group per combination, auto call sequence), on the
  same closes in CASH units (so its values equal the sweep's: the bench checks every combination's total
  return); it computes no metrics;
* bt (optional: ``pip install bt``): one ``bt.Backtest`` per combination, on a few combinations.

Targets (issue 6): end to end >= 20,000 combinations/s and >= 100 x vectorbt's rate in the same run; the
100,000-combination sweep under 1 GiB peak memory.

Memory: a 100,000-combination seed-thesis sweep (10 values each of floor, spread_bp, rrp_drained_bn,
gold, btc) in a fresh subprocess (after a 2-combination warm-up, so that loading or compiling the
kernels is not timed): peak RSS (``VmHWM``) and the peak of traced allocations (``tracemalloc``, numpy
included).

    python bench/sweep.py [-n 5] [--snapshot DIR] [--bt-combos 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRID = ["btc=0:0.4875:0.0125", "gld=0:0.48:0.02"]  # 40 x 25
SEED_GRID = [
    "floor=0.06:0.15:0.01", "spread_bp=0:45:5", "rrp_drained_bn=0:900:100", "gold=0.05:0.5:0.05",
    "btc=0.05:0.5:0.05",
]  # fmt: skip
TARGET_RATE = 20_000
TARGET_RATIO = 100
TARGET_MEM = 1 << 30


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = ""
    return f"{os.cpu_count()} CPUs ({model}), {platform.python_implementation()} {platform.python_version()};{load}"


def best_of(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def store_from(snapshot: Path, root: Path):
    from backtester.data.importer import import_snapshot
    from backtester.data.store import Store

    store = Store(root)
    import_snapshot(snapshot, store)
    return store


def bench_engines(store, n: int, bt_combos: int) -> dict:
    import numpy as np

    from backtester import strategy as st
    from backtester.research.sweep import evaluate, parse_grid, prepare
    from backtester.research.sweep.evaluation import COLUMNS, run_factors
    from backtester.research.sweep.inputs import window_arrays
    from backtester.run import RunSpec

    spec = RunSpec("static-mix", start="2015-01-02", rebalance="monthly", fees_bp=10, slippage_bp=0, benchmark="GLD")
    g = parse_grid(GRID, st.get("static-mix"))
    inp = prepare(store, spec, g)
    C, n_assets = inp.n_combos, len(inp.assets)
    out = {"combinations": C, "assets": inp.assets, "start": str(inp.dates[0].date()), "end": str(inp.dates[-1].date())}

    # this sweep: end to end (what the targets are judged on), then the kernel alone
    res = evaluate(inp)
    t = best_of(lambda: evaluate(inp), n)
    out["sweep_end_to_end"] = C / t
    out["sweep_valid"] = res.n_valid
    out["pbo_splits"] = res.pbo["splits"]
    wa = window_arrays(inp)
    f = inp.chunk_factors(0, C)
    o, tm, blk, stt = np.zeros((C, len(COLUMNS))), np.zeros((C, n_assets)), np.zeros((C, 16, 2)), np.zeros(C, "i1")
    run_factors(inp, wa, f, o, tm, blk, stt)
    t = best_of(lambda: run_factors(inp, wa, f, o, tm, blk, stt), n)
    out["sweep_kernel"] = C / t
    # where the end-to-end time goes besides the kernel: the PBO, the benchmark's run (each best of n)
    from backtester.engine import mix_rebalance
    from backtester.research.sweep import overfit

    res_blk = evaluate(inp, keep_blocks=True)
    valid = res_blk.frame["valid"].to_numpy()
    sizes = np.diff(wa.edges).astype(float)
    out["ms_kernel"] = t * 1e3
    out["ms_end_to_end"] = C / out["sweep_end_to_end"] * 1e3
    out["ms_pbo"] = best_of(lambda: overfit.pbo_cscv(res_blk.block_sums[valid], sizes), n) * 1e3
    b_o, b_t, b_b, b_s = np.zeros((1, len(COLUMNS))), np.zeros((1, n_assets)), np.zeros((1, 16, 2)), np.zeros(1, "i1")
    out["ms_benchmark"] = (
        best_of(
            lambda: run_factors(inp, wa, inp.benchmark, b_o, b_t, b_b, b_s, rebalance=mix_rebalance(inp.rebalance)),
            n,
        )
        * 1e3
    )

    # vectorbt: one vectorized from_orders call over the whole grid, in CASH units like the engine
    from backtester._numba import ensure_numba_cache

    ensure_numba_cache()
    import vectorbt as vbt

    T = len(wa.dates)
    W = np.einsum("ckt,cki->cti", f.features[f.pattern][:, :, inp.exec_lag :], f.loadings)  # (C, T, n) filled
    trade = np.zeros(T, dtype=bool)
    trade[0] = True
    trade[1:] = wa.key[1:] != wa.key[:-1]
    size = np.full((T, C * n_assets), np.nan)
    rows = np.flatnonzero(trade)
    size[rows] = W[:, rows, :].transpose(1, 0, 2).reshape(len(rows), C * n_assets)
    close = np.tile(wa.close_num, (1, C))
    groups = np.repeat(np.arange(C), n_assets)

    def vbt_run():
        return vbt.Portfolio.from_orders(
            close=close, size=size, size_type="targetpercent", direction="longonly", fees=0.001, init_cash=1e6,
            min_size=0.0, cash_sharing=True, group_by=groups, call_seq="auto", freq="1D",
        )  # fmt: skip

    pf = vbt_run()
    t = best_of(vbt_run, n)
    out["vectorbt"] = C / t
    # same numbers: combination 0..C-1 total return (CASH units x CASH growth = USD equity)
    vals = np.asarray(pf.value()) / 1e6 * wa.growth[:, None]
    tot_vbt = vals[-1] - 1.0
    ok = res.frame["valid"].to_numpy()
    out["vectorbt_max_rel_diff_total_return"] = float(
        np.max(np.abs(tot_vbt[ok] - res.frame["total_return"].to_numpy()[ok]) / np.abs(tot_vbt[ok]))
    )

    # bt: one backtest per combination (optional dependency)
    try:
        import bt
    except ImportError as e:
        out["bt"] = None
        out["bt_note"] = f"bt is not installed ({e}): pip install bt"
        return out
    import pandas as pd

    px = pd.DataFrame(wa.close, index=wa.dates, columns=[a.replace("-", "") for a in inp.assets])
    picks = np.linspace(0, C - 1, bt_combos).astype(int)

    def bt_one(c):
        w = {px.columns[i]: float(W[c, 0, i]) for i in range(n_assets) if W[c, 0, i] > 0}
        algos = [bt.algos.RunMonthly(run_on_first_date=True), bt.algos.WeighSpecified(**w), bt.algos.Rebalance()]
        s = bt.Strategy(f"c{c}", algos)
        test = bt.Backtest(s, px, initial_capital=1e6, commissions=lambda q, p: abs(q) * p * 0.001, progress_bar=False)
        return bt.run(test)

    try:
        bt_one(int(picks[1]))
        t0 = time.perf_counter()
        for c in picks:
            bt_one(int(c))
        out["bt"] = len(picks) / (time.perf_counter() - t0)
        out["bt_combos_timed"] = len(picks)
        out["bt_version"] = bt.__version__
    except Exception as e:  # noqa: BLE001 - report the engine as unavailable, with the reason
        out["bt"] = None
        out["bt_note"] = f"bt failed on this stack: {type(e).__name__}: {e}"
    return out


def peak_rss() -> int:
    """Peak resident memory of this process in bytes: VmHWM (after exec, unlike ru_maxrss, which keeps the
    parent's peak on Linux), else ru_maxrss."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_100k(data_dir: str) -> None:
    """Run in a fresh process: prepare + evaluate the 100,000-combination seed-thesis sweep."""
    import tracemalloc

    from backtester import strategy as st
    from backtester.data.store import Store
    from backtester.research.sweep import evaluate, parse_grid, prepare
    from backtester.research.sweep.evaluation import _kernel
    from backtester.run import RunSpec

    _kernel()
    warm = prepare(Store(data_dir), RunSpec("seed-thesis"), parse_grid(["floor=0.08,0.1"], st.get("seed-thesis")))
    evaluate(warm)  # load (or compile) every kernel before the clock starts
    base = peak_rss()
    tracemalloc.start()
    t = time.perf_counter()
    g = parse_grid(SEED_GRID, st.get("seed-thesis"))
    inp = prepare(Store(data_dir), RunSpec("seed-thesis"), g)
    t_prep = time.perf_counter() - t
    res = evaluate(inp)
    total = time.perf_counter() - t
    _, peak_traced = tracemalloc.get_traced_memory()
    rss = peak_rss()
    print(
        json.dumps(
            {
                "combinations": res.n_total,
                "valid": res.n_valid,
                "patterns": int(inp.factors.features.shape[0]),
                "prepare_s": t_prep,
                "evaluate_s": res.elapsed,
                "prepare_share": t_prep / (t_prep + res.elapsed),
                "total_s": total,
                "peak_rss": rss,
                "rss_before": base,
                "peak_traced": peak_traced,
                "pbo_splits": res.pbo.get("splits"),
                "best_sharpe": res.best["sharpe"],
                "deflated_sharpe": res.deflated_sharpe["deflated_sharpe"],
                "pbo": res.pbo.get("pbo"),
            }
        )
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="timed runs per engine (best of)")
    ap.add_argument("--snapshot", default=os.environ.get("HEDGE_SNAPSHOT_DIR", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--bt-combos", type=int, default=5)
    ap.add_argument("--child-100k", metavar="DATA_DIR", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    if a.child_100k:
        child_100k(a.child_100k)
        return 0
    print(f"sweep bench, {dt.datetime.now().isoformat(timespec='minutes')}, {machine()}")
    with tempfile.TemporaryDirectory(prefix="hedge-bench-") as tmp:
        store = store_from(Path(a.snapshot), Path(tmp) / "store")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-100k", str(Path(tmp) / "store")]
        child = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, check=False)
        if child.returncode != 0:
            print(child.stderr)
            return 1
        m = json.loads(child.stdout.strip().splitlines()[-1])
        r = bench_engines(store, a.n, a.bt_combos)
        print(
            f"grid: static-mix {r['assets']} {r['combinations']:,} fixed-weight combinations, "
            f"{r['start']} .. {r['end']}, monthly, 10 bp fees"
        )
        e2e = r["sweep_end_to_end"] / r["vectorbt"]
        kern = r["sweep_kernel"] / r["vectorbt"]
        rows = [
            (f"this sweep, END TO END (kernel, benchmark, frame, DSR, PBO on {r['pbo_splits']:,} splits)",
             r["sweep_end_to_end"], f"= {e2e:,.0f} x vectorbt"),
            ("this sweep, kernel only (simulation + metrics)", r["sweep_kernel"], f"= {kern:,.0f} x vectorbt"),
            ("vectorbt from_orders, one call (no metrics)", r["vectorbt"],
             f"(total returns agree to {r['vectorbt_max_rel_diff_total_return']:.1e})"),
        ]  # fmt: skip
        if r.get("bt"):
            rows.append(
                (f"bt {r['bt_version']}, one backtest per combination", r["bt"], f"({r['bt_combos_timed']} timed)")
            )
        for label, rate, note in rows:
            print(f"  {label:<82} {rate:>10,.1f} combinations/s {note}")
        rest = r["ms_end_to_end"] - r["ms_kernel"] - r["ms_pbo"] - r["ms_benchmark"]
        print(
            f"  end to end {r['ms_end_to_end']:.1f} ms = kernel {r['ms_kernel']:.1f} + PBO {r['ms_pbo']:.1f} + "
            f"benchmark run {r['ms_benchmark']:.1f} + the rest (window arrays, frame, DSR) {rest:.1f} "
            f"(each best of {a.n}: the sum need not add up)"
        )
        if not r.get("bt"):
            print(f"  bt: unavailable ({r.get('bt_note')})")
        print(
            f"seed-thesis {m['combinations']:,} combinations ({m['patterns']:,} threshold sets): prepare "
            f"{m['prepare_s']:.1f} s ({m['prepare_s'] / (m['prepare_s'] + m['evaluate_s']):.0%} of prepare + "
            f"evaluate), evaluate {m['evaluate_s']:.1f} s ({m['combinations'] / m['evaluate_s']:,.0f}/s, "
            f"PBO on {m['pbo_splits']:,} sampled splits); peak RSS {m['peak_rss'] / 2**20:,.0f} MiB "
            f"({m['rss_before'] / 2**20:,.0f} MiB after imports and a warm-up), peak traced allocations "
            f"{m['peak_traced'] / 2**20:,.0f} MiB"
        )
        misses = []
        if r["sweep_end_to_end"] < TARGET_RATE:
            misses.append(f"end to end under {TARGET_RATE:,}/s")
        if e2e < TARGET_RATIO:
            misses.append(f"end to end under {TARGET_RATIO} x vectorbt ({e2e:,.0f} x)")
        if m["peak_rss"] >= TARGET_MEM:
            misses.append("100k sweep at 1 GiB or more")
        print("targets (judged end to end): " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
        return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
