"""hedge sweep: grids, the compiled kernel against the engine and `run_backtest`, statistics, the CLI.

Equality: every combination's metrics must equal what `run_backtest` (vectorbt) gives for the same
parameters to 1e-9 relative (in practice ~1e-14), with costs, on the real snapshot.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from backtester import engine
from backtester.errors import UsageError
from backtester.research.sweep import Combos, check_size, evaluate, parse_grid, prepare
from backtester.research.sweep.evaluation import metrics_of
from backtester.research.sweep.inputs import from_prices
from backtester.run import RunSpec, run_backtest
from backtester.strategies.factors import Factors, for_strategy
from backtester.strategy import get
from tests.conftest import run_cli
from tests.test_engine import backtest, synthetic_prices

REL = 1e-9
KEYS = ["total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover",
        "turnover_total", "costs", "costs_annual"]  # fmt: skip


def assert_same_metrics(mine: dict, ref: dict, what=""):
    for k in KEYS:
        a, b = mine[k], ref[k]
        if b is None or (isinstance(b, float) and math.isnan(b)):
            assert a is None or math.isnan(a), (what, k, a, b)
            continue
        assert a == pytest.approx(b, rel=REL, abs=1e-13), (what, k, a, b)
    for asset, v in ref["time_in_market"].items():
        assert mine["time_in_market"].get(asset, 0.0) == pytest.approx(v, abs=1e-12), (what, asset)
    assert mine["days"] == ref["days"]


@pytest.fixture(scope="module")
def signals(snapshot_store):
    from backtester import signals as sig

    return sig.compute(snapshot_store)


# ---------------------------------------------------------------- grids


def test_grid_ranges_include_stop_and_give_exact_floats():
    s = get("static-mix")
    g = parse_grid(["btc=0:0.5:0.05", "gld=0.1,0.2"], s)
    assert g.names == ("btc", "gld") and len(g.values[0]) == 11 and g.size == 22
    assert g.values[0][3] == 0.15 and g.values[0][6] == 0.3 and g.values[0][-1] == 0.5
    c = Combos(g, s.resolve({"spy": "0.1"}))
    assert c[0]["btc"] == 0.0 and c[0]["gld"] == 0.1 and c[1]["gld"] == 0.2 and c[0]["spy"] == 0.1
    assert list(c)[13] == c[13] == c[-9]
    assert list(c.columns()["btc"][:4]) == [0.0, 0.0, 0.05, 0.05]
    t = parse_grid(["neutral=cash,mix", "btc=0.1:0.3:0.1"], get("qt-pivot"))
    assert t.values == (("cash", "mix"), (0.1, 0.2, 0.3))


@pytest.mark.parametrize(
    "items, fixed, match",
    [
        (["nope=1,2"], {}, "unknown parameter 'nope'"),
        (["btc=0.5:0.1:0.1"], {}, "empty range"),
        (["btc=0:0.5:0"], {}, "step must be > 0"),
        (["btc=0:0.5"], {}, "start:stop:step"),
        (["btc=0.1,2"], {}, "out of range"),
        (["btc=0.1", "btc=0.2"], {}, "given twice"),
        (["btc=0.1,0.2"], {"btc": "0.3"}, "both swept"),
        ([], {}, "no grid"),
        (["btc=0.1,,0.2"], {}, "empty value"),
    ],
)
def test_grid_errors(items, fixed, match):
    with pytest.raises(UsageError, match=match):
        parse_grid(items, get("static-mix"), fixed)


def test_max_combinations():
    g = parse_grid(["btc=0:1:0.01", "gld=0:1:0.01"], get("static-mix"))
    assert check_size(g, 20_000) == 10_201
    with pytest.raises(UsageError, match="10,201 combinations .* more than the maximum 10,000"):
        check_size(g, 10_000)


@pytest.mark.parametrize(
    "args, match",
    [
        (["--grid", "nope=1,2"], "unknown parameter 'nope'"),
        (["--grid", "floor=0.12:0.08:0.01"], "empty range"),
        (["--grid", "floor=0.05:0.15:0.001", "--grid", "btc=0:1:0.01", "--max-combinations", "5000"], "maximum 5,000"),
        (["--grid", "floor=0.1,0.11", "--metric", "luck"], "--metric 'luck'"),
        (["--grid", "floor=0.1,0.11", "--heatmap", "x.svg"], "unknown extension"),
        (["--grid", "floor=0.1,0.11", "--heatmap", "x.html"], "two different swept parameters"),
        (["--grid", "floor=0.1,0.11", "--pbo-blocks", "7"], "even number"),
    ],
)
def test_cli_usage_errors_exit_2_before_any_work(args, match, tmp_path):
    # the data folder does not exist: the grid is refused before anything is read
    code, out, err = run_cli("sweep", "seed-thesis", *args, "--data-dir", str(tmp_path / "no-store"))
    assert code == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert re.search(match, err), err


# ---------------------------------------------------------------- factor form == Strategy.fn


@pytest.mark.parametrize(
    "name, grid",
    [
        ("seed-thesis", ["floor=0.08,0.1,0.12", "spread_bp=-5,5", "rrp_drained_bn=50,300", "gold=0.2,0.5"]),
        ("qt-pivot", ["neutral=cash,mix", "btc=0.1,0.3"]),
        ("reserve-scarcity", ["upper=0.1,0.12", "lower=0.06,0.08", "max_weight=0.5,1", "btc_share=0,0.4"]),
        ("spread-stress", ["spread_bp=0,5,15", "gold=0.3,0.7"]),
        ("net-liquidity-trend", ["band_bn=0,50,200", "btc=0.2,0.5"]),
        ("static-mix", ["btc=0,0.2", "gld=0.1,0.4", "tlt=0,0.3"]),
        ("buy-hold", ["asset=SPY,GLD,BTC-USD,CASH"]),
    ],
)
def test_sweep_fn_gives_the_strategy_weights(name, grid, signals):
    s = get(name)
    assert s.sweep_fn is not None
    sig = signals.loc["2012-01-01":]
    combos = Combos(parse_grid(grid, s), s.resolve({}))
    f = for_strategy(s, sig, combos)
    assert f.features.shape[0] <= len(combos)
    for c in range(len(combos)):
        want = s.weights(sig, combos[c])
        got = f.dense(c, sig.index).reindex(columns=want.columns, fill_value=0.0)
        extra = [a for a in f.assets if a not in want.columns]
        assert (f.dense(c, sig.index)[extra] == 0).all().all()
        if name == "reserve-scarcity":  # affine in the depth: equal to the last bits
            np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-15)
        else:  # regimes: the very same floats
            assert np.array_equal(got.to_numpy(), want.to_numpy()), (name, combos[c])


def test_generic_path_without_sweep_fn_gives_the_same_numbers(snapshot_store, signals):
    from dataclasses import replace

    s = get("spread-stress")
    g = parse_grid(["spread_bp=0,5,10", "gold=0.3,0.6"], s)
    spec = RunSpec("spread-stress", rebalance="weekly", start="2018-06-01")
    fast = evaluate(prepare(snapshot_store, spec, g, signals=signals))
    slow_inp = prepare(snapshot_store, spec, g, signals=signals, strategy=replace(s, sweep_fn=None))
    assert slow_inp.factors is None
    slow = evaluate(slow_inp, chunk=4)
    np.testing.assert_allclose(slow.frame["sharpe"], fast.frame["sharpe"], rtol=1e-12)
    np.testing.assert_allclose(slow.frame["costs"], fast.frame["costs"], rtol=1e-12)


# ---------------------------------------------------------------- kernel == engine (synthetic)


def _weights(px, seed, every=9):
    rng = np.random.default_rng(seed)
    mixes = [{"GLD": 0.5, "BTC-USD": 0.3}, {"SPY": 0.6}, {"GLD": 0.2, "SPY": 0.3, "BTC-USD": 0.5}, {}]
    rows = [mixes[int(rng.integers(len(mixes)))] for _ in range(len(px.index[::every]))]
    w = pd.DataFrame(rows, index=px.index[::every]).reindex(columns=["GLD", "SPY", "BTC-USD"]).fillna(0.0)
    return w.reindex(px.index).ffill()


@pytest.mark.parametrize(
    "kw",
    [
        dict(rebalance="change+monthly"),
        dict(rebalance="change+monthly", vol_target=0.15, exec_lag=2),
        dict(rebalance="change"),
        dict(rebalance="monthly", exec_lag=2),
        dict(rebalance="weekly", fees_bp=20, slippage_bp=5),
        dict(rebalance="band", band=0.03),
        dict(rebalance="change", vol_target=0.12),
        dict(rebalance="change", fallback="GLD"),
    ],
)
def test_kernel_equals_engine_with_gaps_and_late_listing(kw):
    px = synthetic_prices(end="2022-12-30")
    px.loc[px.index[:40], "BTC-USD"] = np.nan  # listed late: its weight goes to the fallback
    rng = np.random.default_rng(2)
    gaps = rng.choice(np.arange(50, len(px)), 25, replace=False)
    px.loc[px.index[gaps], "GLD"] = np.nan  # missing closes while held: carried, trades wait
    frames = [_weights(px, seed) for seed in range(4)]
    assets = ["GLD", "SPY", "BTC-USD"]
    feats = np.stack([f[assets].to_numpy().T for f in frames])
    fac = Factors(assets, feats, np.arange(4), np.broadcast_to(np.eye(3), (4, 3, 3)).copy())
    opts = {k: v for k, v in kw.items() if k != "fallback"}
    inp = from_prices(px, fac, list(range(4)), engine.ExecOptions(**opts), fallback=kw.get("fallback", "CASH"))
    res = evaluate(inp)
    assert res.n_valid == 4
    for c, w in enumerate(frames):
        ref = backtest(w, px, **kw).metrics()
        assert_same_metrics(metrics_of(res, c, inp.assets), ref, (kw, c))


def test_kernel_marks_combinations_the_engine_refuses():
    px = synthetic_prices()
    w_ok = pd.DataFrame({"GLD": 0.5, "SPY": 0.5}, index=px.index)
    w_over = w_ok.copy()
    w_over.iloc[-1] = [0.7, 0.5]  # sums to 1.2 on the last date only (decided, never filled)
    w_neg = w_ok.copy()
    w_neg.iloc[100, 0] = -0.01
    w_tiny = w_ok.copy()
    w_tiny.iloc[:, 0] = 0.5 + 5e-10  # sums within 1e-9 of 1: divided by the sum, as the engine does
    frames = [w_ok, w_over, w_neg, w_tiny]
    feats = np.stack([np.vstack([f["GLD"], f["SPY"], np.zeros(len(px))]) for f in frames])
    fac = Factors(["GLD", "SPY", "BTC-USD"], feats, np.arange(4), np.broadcast_to(np.eye(3), (4, 3, 3)).copy())
    res = evaluate(from_prices(px, fac, list(range(4))))
    assert res.frame["valid"].tolist() == [True, False, False, True]
    assert res.frame["invalid_reason"].tolist()[1:3] == ["weights sum above 1", "negative weight"]
    for w in (w_over, w_neg):
        with pytest.raises(UsageError):
            backtest(w, px)
    assert_same_metrics(metrics_of(res, 3, ["GLD", "SPY", "BTC-USD"]), backtest(w_tiny, px).metrics())


# ---------------------------------------------------------------- sweep == hedge backtest (real snapshot)


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec, grid, picks",
    [
        (RunSpec("seed-thesis"), ["floor=0.08:0.12:0.02", "spread_bp=0,5", "gold=0.3,0.5", "btc=0.3,0.5"], [0, 9, 21]),
        (RunSpec("static-mix", rebalance="monthly"), ["btc=0.05:0.5:0.15", "gld=0.1:0.5:0.2"], [0, 5, 11]),
        (
            RunSpec("seed-thesis", rebalance="band", exec_lag=2, vol_target=0.2),
            ["floor=0.09,0.11", "btc=0.2,0.4"],
            [1, 2],
        ),
    ],
)
def test_sweep_equals_run_backtest_on_the_snapshot(snapshot_store, signals, spec, grid, picks):
    g = parse_grid(grid, get(spec.strategy))
    inp = prepare(snapshot_store, spec, g, signals=signals)
    res = evaluate(inp)
    for i in picks:
        assert res.frame.at[i, "valid"]
        params = {k: inp.combos[i][k] for k in g.names}
        run = run_backtest(snapshot_store, RunSpec(**{**spec.__dict__, "params": params}), signals=signals)
        assert res.start == run.metrics["start"] and res.end == run.metrics["end"]
        assert_same_metrics(metrics_of(res, i, inp.assets), run.metrics, params)
    # the benchmark column too
    assert res.benchmark["sharpe"] == pytest.approx(run.bench_metrics["sharpe"], rel=REL)
    assert res.benchmark["max_drawdown"] == pytest.approx(run.bench_metrics["max_drawdown"], rel=REL)


@pytest.mark.slow
def test_invalid_combinations_and_sub_windows(snapshot_store, signals):
    spec = RunSpec("seed-thesis", rebalance="monthly")
    g = parse_grid(["gold=0.5,0.8", "btc=0.3,0.5"], get("seed-thesis"))
    inp = prepare(snapshot_store, spec, g, signals=signals)
    res = evaluate(inp)
    # gold 0.8 + btc 0.3 or 0.5 sums above 1 whenever the hedge is on (it is, after QT ended)
    assert res.frame["valid"].tolist() == [True, True, False, False]
    with pytest.raises(UsageError, match="sum to 1.3"):
        run_backtest(snapshot_store, RunSpec("seed-thesis", params={"gold": 0.8, "btc": 0.5}), signals=signals)
    # a train window of the prepared inputs == run_backtest on that window (walk-forward use)
    sub = evaluate(inp, window=("2016-03-01", "2019-12-31"))
    assert (sub.start, sub.end) == ("2016-03-02", "2019-12-31")
    run = run_backtest(
        snapshot_store,
        RunSpec("seed-thesis", params={"gold": 0.5, "btc": 0.5}, start="2016-03-01", end="2019-12-31",
                rebalance="monthly"),
        signals=signals,
    )  # fmt: skip
    assert_same_metrics(metrics_of(sub, 1, inp.assets), run.metrics)
    a, b = inp.index_of("2016-03-01"), inp.index_of("2019-12-31", "right")
    by_index = evaluate(inp, window=(a, b), stats=False)
    assert by_index.frame["sharpe"].equals(sub.frame["sharpe"])


# ---------------------------------------------------------------- threads, blocks and buffers change no number


@pytest.mark.slow
def test_threads_blocks_and_trade_buffers_change_no_number(snapshot_store, signals):
    import numba

    from backtester.research.sweep import kernel
    from backtester.research.sweep.evaluation import COLUMNS, run_factors
    from backtester.research.sweep.inputs import window_arrays

    g = parse_grid(["floor=0.07:0.12:0.01", "spread_bp=0,10", "gold=0.3,0.5,0.8", "btc=0.2,0.5"], get("seed-thesis"))
    inp = prepare(snapshot_store, RunSpec("seed-thesis", rebalance="monthly"), g, signals=signals)
    ref = evaluate(inp)  # every thread, one chunk
    assert ref.n_total == 72 > kernel.BLOCK and 0 < ref.n_valid < ref.n_total
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = evaluate(inp, chunk=kernel.BLOCK // 2 + 5)  # one thread, and blocks cut elsewhere
    finally:
        numba.set_num_threads(threads)
    pd.testing.assert_frame_equal(one.frame, ref.frame, check_exact=True)
    assert (one.best, one.deflated_sharpe, one.pbo, one.benchmark) == (ref.best, ref.deflated_sharpe, ref.pbo,
                                                                     ref.benchmark)  # fmt: skip
    # trade buffers too small for the rebalances: the kernel redoes the block with a row for every day
    wa = window_arrays(inp)
    f = inp.chunk_factors(0, inp.n_combos)
    runs = []
    for cap in (0, 3):
        arrays = (np.full((72, len(COLUMNS)), np.nan), np.zeros((72, len(inp.assets))), np.zeros((72, 16, 2)),
                  np.full(72, -1, dtype=np.int8))  # fmt: skip
        run_factors(inp, wa, f, *arrays, cap_limit=cap)
        runs.append(arrays)
    assert runs[0][0][ref.frame["valid"].to_numpy(), 14].min() > 3  # every valid combination rebalances > 3 times
    for a, b in zip(*runs, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_schedule_keys_are_pandas_months_and_iso_weeks():
    from backtester.research.sweep.inputs import schedule_keys

    days = pd.date_range("1999-12-20", "2032-01-10", freq="D")
    iso = days.isocalendar()
    assert np.array_equal(schedule_keys(days, "weekly"), iso["year"].to_numpy(int) * 100 + iso["week"].to_numpy(int))
    assert np.array_equal(schedule_keys(days, "monthly"), days.year * 12 + days.month)
    for rule in ("change+monthly", "change", "band"):  # months: a fixed-mix benchmark is rebalanced monthly
        assert np.array_equal(schedule_keys(days, rule), days.year * 12 + days.month)


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_cli_sweep_seed_thesis_500_combinations(snapshot_store, tmp_path):
    html = tmp_path / "heat.html"
    args = ["--grid", "floor=0.07:0.13:0.01", "--grid", "spread_bp=0,5,10", "--grid", "gold=0.3:0.7:0.1",
            "--grid", "btc=0.1:0.5:0.1", "--data-dir", str(snapshot_store.root)]  # fmt: skip
    code, out, err = run_cli("sweep", "seed-thesis", *args, "--format", "json", "--top", "5", "--heatmap", str(html))
    assert code == 0, err
    d = json.loads(out)
    assert d["combinations"]["total"] == 7 * 3 * 5 * 5 == 525
    # invalid exactly where gold + btc > 1 (the hedge is on at some point in every threshold set)
    n_over = sum(1 for g in np.arange(0.3, 0.71, 0.1) for b in np.arange(0.1, 0.51, 0.1) if g + b > 1 + 1e-9)
    assert d["combinations"]["invalid"] == 7 * 3 * n_over
    assert d["combinations"]["valid"] + d["combinations"]["invalid"] == 525
    sharpes = [r["sharpe"] for r in d["top"]]
    assert len(sharpes) == 5 and sharpes == sorted(sharpes, reverse=True) and d["best"] == d["top"][0]
    assert 0 <= d["deflated_sharpe"] <= 1 and 0 <= d["pbo"] <= 1
    assert d["pbo_detail"]["splits"] == 12870 and d["deflated_sharpe_detail"]["n_trials"] == d["combinations"]["valid"]
    assert d["period"] == {"start": "2014-09-18", "end": "2026-06-04"}
    text = html.read_text()
    assert "Plotly.newPlot" in text and "floor" in text
    assert not re.search(r"<(script|link|iframe|img)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)
    code, out, err = run_cli("sweep", "seed-thesis", *args, "--top", "3")
    assert code == 0, err
    assert "deflated Sharpe of the best" in out and "PBO (CSCV, 16 blocks, 12,870 splits)" in out
    assert "63 invalid" in out or f"{7 * 3 * n_over} invalid" in out


@pytest.mark.slow
def test_cli_static_mix_grid_png_and_all_invalid(snapshot_store, tmp_path):
    png = tmp_path / "heat.png"
    base = ["--data-dir", str(snapshot_store.root), "--rebalance", "monthly"]
    code, out, err = run_cli(
        "sweep", "static-mix", "--grid", "btc=0:0.6:0.1", "--grid", "gld=0:0.6:0.1", *base, "--format", "json",
        "--heatmap", str(png), "--metric", "cagr",
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    over = sum(1 for b in range(7) for g in range(7) if b + g > 10)
    assert d["combinations"]["total"] == 49 and d["combinations"]["invalid"] == over
    cagrs = [r["cagr"] for r in d["top"]]
    assert cagrs == sorted(cagrs, reverse=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = run_cli("sweep", "static-mix", "--grid", "btc=0.6,0.7", "--grid", "gld=0.5,0.6", *base)
    assert code == 2 and "all 4 combinations are invalid" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_best_report_saves_the_best_run_with_the_statistics(snapshot_store, tmp_path):
    reports = tmp_path / "reports"
    code, out, err = run_cli(
        "sweep", "static-mix", "--grid", "btc=0.05,0.1,0.2", "--grid", "gld=0.2,0.4", "--data-dir",
        str(snapshot_store.root), "--rebalance", "monthly", "--best-report", "--reports-dir", str(reports),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    manifest = json.loads((reports / d["run_id"] / "run.json").read_text())
    assert manifest["sweep"]["deflated_sharpe"] == pytest.approx(d["deflated_sharpe"])
    assert manifest["sweep"]["pbo"] == pytest.approx(d["pbo"])
    assert manifest["summary"]["params"]["btc"] == d["best"]["params"]["btc"]
    assert manifest["summary"]["strategy"]["sharpe"] == pytest.approx(d["best"]["sharpe"], rel=REL)
    assert "warning" not in d
    # issue 13: parameters chosen on the whole run; the page says so and shows the statistics
    assert manifest["selection_window"] == {"kind": "sweep", "windows": [d["period"]]}
    halves = manifest["sweep"]["rank_stability"]["halves"]
    assert len(halves) == 2 and all(1 <= h["rank"] <= h["of"] == 6 for h in halves)
    html = (reports / d["run_id"] / "tearsheet.html").read_text()
    assert "deflated Sharpe" in html and "PBO (CSCV)" in html and "trials (valid / all combinations)" in html
    assert "every number on this page is in sample" in html and "after the essay" not in html
    assert "is on the edge of its grid" in html  # btc=0.2 or 0.05 and gld 0.2 or 0.4: every value is an edge


def test_heatmap_aggregates_as_stated_centres_on_the_benchmark_and_labels_invalid_cells(tmp_path):
    from types import SimpleNamespace

    from backtester.report.heatmap import grid_matrix, write_heatmap

    frame = pd.DataFrame(
        {
            "a": [1, 1, 2, 2, 1, 1, 2, 2],
            "b": [10, 20, 10, 20, 10, 20, 10, 20],
            "c": [0, 0, 0, 0, 1, 1, 1, 1],
            "total_return": 0.0,
            "sharpe": [0.1, 0.2, 0.3, np.nan, 0.5, 0.6, 0.7, np.nan],
            "valid": [True, True, True, False, True, True, True, False],
        }
    )
    best = grid_matrix(frame, "a", "b", "sharpe", True, "max")
    mean = grid_matrix(frame, "a", "b", "sharpe", True, "mean")
    assert best.loc[10, 1] == 0.5 and mean.loc[10, 1] == pytest.approx(0.3)
    assert np.isnan(best.loc[20, 2]) and np.isnan(mean.loc[20, 2])  # every combination there is invalid
    res = SimpleNamespace(frame=frame, metric="sharpe", higher_is_better=True, benchmark={"sharpe": 0.4})
    for agg, words in (("max", "best (max) of the valid combinations over c"), ("mean", "mean of the valid")):
        text = write_heatmap(res, "a", "b", tmp_path / f"{agg}.html", "t", agg=agg).read_text()
        assert words in text and "centred on the benchmark" in text
        assert '"zmid":0.4' in text.replace(" ", "") and '"invalid"' in text
    png = write_heatmap(res, "a", "b", tmp_path / "h.png", "t", agg="mean")
    assert png.read_bytes()[:4] == b"\x89PNG"
