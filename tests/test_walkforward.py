"""hedge walkforward: windows, no look-ahead in the choices (instrumented and perturbed), the stitched book
against run_backtest, the command on the real snapshot and its usage errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from backtester.errors import UsageError
from backtester.research import walkforward as W
from backtester.research.sweep import evaluation as ev
from backtester.research.sweep import parse_grid, prepare
from backtester.run import RunSpec, run_backtest
from backtester.strategy import get
from tests.conftest import run_cli

GRID = ["floor=0.08,0.10,0.12", "spread_bp=0,10", "gold=0.3,0.7", "btc=0.1,0.3"]  # 24 combinations


def dur(text, zero=False):
    return W.parse_duration(text, "--x", allow_zero=zero)


@pytest.fixture(scope="module")
def signals(snapshot_store):
    from backtester import signals as sig

    return sig.compute(snapshot_store)


@pytest.fixture(scope="module")
def inputs(snapshot_store, signals):
    g = parse_grid(GRID, get("seed-thesis"))
    return prepare(snapshot_store, RunSpec("seed-thesis"), g, signals=signals)


# ---------------------------------------------------------------- durations and windows


def test_durations():
    assert dur("3y").offset == pd.DateOffset(years=3) and dur(" 6M ").text == "6m"
    assert dur("13w").offset == pd.DateOffset(weeks=13) and dur("90d").offset == pd.DateOffset(days=90)
    assert dur("0", zero=True).n == 0 and dur("0m", zero=True).n == 0
    for bad in ("3", "3x", "y", "-1y", "1.5y", "", "0y", "101y"):
        with pytest.raises(UsageError):
            dur(bad)


def test_windows_roll_by_the_test_length_with_the_embargo_gap():
    dates = pd.bdate_range("2010-01-04", "2016-03-31")
    train, test, emb = dur("2y"), dur("6m"), dur("1m", True)
    ws = W.plan_windows(dates, train, test, emb, exec_lag=1)
    assert len(ws) == 9 and [w.partial for w in ws] == [False] * 8 + [True]  # tests from 2012-02-04, 6m apart
    first = dates[0] + pd.DateOffset(years=2, months=1)
    for k, w in enumerate(ws):
        ta = first + pd.DateOffset(months=6 * k)
        te = ta - pd.DateOffset(months=1)
        assert dates[w.test_a - 1] < ta <= dates[w.test_a]
        assert dates[w.train_b - 1] < te <= dates[w.train_b]
        assert w.train_a == dates.searchsorted(te - pd.DateOffset(years=2))
        # the embargo: the last training session is a month or more before the first test decision
        assert dates[w.train_b - 1] + pd.DateOffset(months=1) <= dates[w.test_a]
        if k:  # consecutive test windows tile the period without overlap
            assert w.test_a == ws[k - 1].test_b
    assert ws[-1].test_b == len(dates)
    month_end = pd.bdate_range("2010-08-31", "2013-12-31")  # month ends clip: still no gap, no overlap
    me = W.plan_windows(month_end, dur("1y"), dur("1m"), dur("1m", True))
    assert len(me) > 20 and all(a.test_b == b.test_a for a, b in zip(me[:-1], me[1:], strict=True))
    days = W.plan_windows(dates[:600], dur("2y"), dur("1d"), dur("0", True))  # weekends: no empty window
    assert all(w.test_b - w.test_a == 1 for w in days) and all(
        a.test_b == b.test_a for a, b in zip(days[:-1], days[1:], strict=True)
    )
    with pytest.raises(UsageError, match="do not fit in the data"):
        W.plan_windows(dates, dur("6y"), test, emb)
    with pytest.raises(UsageError, match="daily returns"):
        W.plan_windows(dates, dur("10d"), test, emb)


# ---------------------------------------------------------------- no look-ahead


def test_each_choice_sees_only_its_training_window(snapshot_store, signals, inputs, monkeypatch):
    """Instrumented: every evaluation the choices are made from ends before the embargo of its test window;
    the evaluations of the test windows (ranks, for the table) happen only after every choice is made; and
    the book's target on every test decision session is the strategy's weights with that window's choice."""
    calls = []
    phase = {"now": "before"}
    real_eval, real_choose = ev.evaluate, W.choose

    def recording_evaluate(inp, *, window=None, **kw):
        res = real_eval(inp, window=window, **kw)
        calls.append({"phase": phase["now"], "window": window, "best": res.best_index, "end": res.end})
        return res

    def recording_choose(*a, **kw):
        phase["now"] = "choose"
        try:
            return real_choose(*a, **kw)
        finally:
            phase["now"] = "after"

    monkeypatch.setattr(ev, "evaluate", recording_evaluate)
    monkeypatch.setattr(W, "choose", recording_choose)
    emb = dur("1m", True)
    wf = W.walk_forward(snapshot_store, None, None, train=dur("2y"), test=dur("1y"), embargo=emb, inputs=inputs)
    d = inputs.dates
    chosen = [c for c in calls if c["phase"] == "choose"]
    assert len(wf.windows) == 10 and len(chosen) == len(wf.windows)  # tests from 2016-10-17, yearly
    assert all(c["phase"] == "after" for c in calls[len(chosen) :]) and len(calls) == 2 * len(chosen)
    for w, ch, call in zip(wf.windows, wf.choices, chosen, strict=True):
        a, b = call["window"]
        assert (a, b) == (w.train_a, w.train_b) and ch.combination == call["best"]
        last_seen = d[b - 1]
        assert call["end"] == str(last_seen.date()) == ch.seen[1]
        # the data a choice saw end an embargo or more before its first decision
        assert last_seen < d[w.test_a] and last_seen + emb.offset <= d[w.test_a]
        assert w.test_a - b >= 15  # a month of sessions between
        # the book trades exactly these parameters on every decision of the window
        own = inputs.strategy.weights(signals.reindex(d), {**inputs.base_params, **ch.params})
        tgt = W.stitched_weights(inputs, wf.choices).loc[d[w.test_a] : d[w.test_b - 1]]
        assert np.array_equal(tgt.to_numpy(), own.loc[tgt.index, tgt.columns].to_numpy())
    assert len({tuple(c.params.items()) for c in wf.choices}) > 1  # the choice does move between windows


def test_changing_data_after_a_training_window_leaves_its_choice_alone(snapshot_store, signals, inputs):
    """Perturbed: prices and signals from the first session after window k's training data are scrambled;
    the choices (and their in-sample numbers) of windows 0..k are unchanged, later ones move."""
    train, test, emb = dur("2y"), dur("1y"), dur("1m", True)
    ws = W.plan_windows(inputs.dates, train, test, emb, inputs.exec_lag)
    base = W.choose(inputs, ws, "sharpe")
    k = 3
    cut = ws[k].train_b
    rng = np.random.default_rng(7)
    s = signals.copy()
    after = s.index >= inputs.dates[cut]
    for c in ("reserves_to_gdp", "sofr_effr_bp_20d", "sofr_iorb_bp_20d", "rrp_balance"):
        s.loc[after, c] = s.loc[after, c].to_numpy() * rng.uniform(0.5, 1.5, after.sum())
    s.loc[after, "qt_ended"] = rng.integers(0, 2, after.sum()).astype(float)
    g = parse_grid(GRID, get("seed-thesis"))
    other = prepare(snapshot_store, RunSpec("seed-thesis"), g, signals=s)
    px = other.close_raw.copy()
    px[cut:] *= np.cumprod(rng.uniform(0.97, 1.03, px[cut:].shape), axis=0)
    other = replace(other, close_raw=px)
    assert np.array_equal(other.dates, inputs.dates)
    moved = W.choose(other, ws, "sharpe")
    for j in range(k + 1):
        assert moved[j].params == base[j].params and moved[j].in_sample == base[j].in_sample, j
    assert any(moved[j].params != base[j].params for j in range(k + 1, len(ws)))


# ---------------------------------------------------------------- the stitched book


def test_one_combination_stitched_book_equals_run_backtest(snapshot_store, signals):
    """With nothing to choose the walk-forward book is run_backtest from the first test decision."""
    g = parse_grid(["floor=0.11"], get("seed-thesis"))
    spec = RunSpec("seed-thesis", params={"btc": "0.2"}, rebalance="monthly")
    wf = W.walk_forward(
        snapshot_store, spec, g, train=dur("3y"), test=dur("6m"), embargo=dur("0", True), signals=signals
    )
    first = wf.inp.dates[wf.windows[0].test_a]
    run = run_backtest(
        snapshot_store, replace(spec, params={"btc": "0.2", "floor": "0.11"}, start=str(first.date())), signals=signals
    )
    pd.testing.assert_series_equal(wf.result.returns, run.result.returns, check_names=False, rtol=1e-12)
    pd.testing.assert_series_equal(wf.bench.returns, run.bench.returns, check_names=False, rtol=1e-12)
    for k in ("sharpe", "cagr", "max_drawdown", "turnover", "costs"):
        assert wf.metrics[k] == pytest.approx(run.metrics[k], rel=1e-12), k
    # the window slices tile the stitched returns exactly
    assert sum(p["strategy"]["days"] for p in wf.per_window) == len(wf.result.returns)
    ends = [p["strategy"]["end"] for p in wf.per_window]
    starts = [p["strategy"]["start"] for p in wf.per_window]
    idx = [str(x.date()) for x in wf.result.returns.index]
    assert starts[0] == idx[0] and ends[-1] == idx[-1]
    assert all(idx.index(s) == idx.index(e) + 1 for e, s in zip(ends[:-1], starts[1:], strict=True))
    r = wf.result.returns.loc[starts[2] : ends[2]]
    assert wf.per_window[2]["strategy"]["total_return"] == pytest.approx(float((1 + r).prod() - 1), rel=1e-12)


def test_invalid_grid_combinations_are_refused_up_front(snapshot_store, signals):
    g = parse_grid(["gold=0.5,0.8", "btc=0.3,0.5"], get("seed-thesis"))
    inp = prepare(snapshot_store, RunSpec("seed-thesis"), g, signals=signals)
    assert list(W.invalid_combinations(inp)) == [2, 3]
    with pytest.raises(UsageError, match="2 of 4 grid combinations"):
        W.walk_forward(snapshot_store, None, None, train=dur("3y"), test=dur("6m"), embargo=dur("0", True), inputs=inp)


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_cli_walkforward_seed_thesis_default_grid(snapshot_store, tmp_path):
    reports = tmp_path / "reports"
    code, out, err = run_cli(
        "walkforward", "seed-thesis", "--data-dir", str(snapshot_store.root), "--reports-dir", str(reports),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    assert d["grid_source"] == "default" and d["combinations"] == 90 and d["grid"]["floor"][0] == 0.08
    assert (d["train"], d["test"], d["embargo"], d["metric"], d["book"]) == ("3y", "6m", "1m", "sharpe", "continuous")
    ws = d["windows"]
    assert len(ws) >= 15 and ws[-1]["test_end"] == d["out_of_sample"]["period"]["end"] == d["period"]["end"]
    for w in ws:
        assert w["train_end"] < w["first_decision"] < w["test_start"] <= w["test_end"]
        assert set(w["params"]) == {"floor", "spread_bp", "gold", "btc"}
        assert 1 <= w["oos_rank"] <= w["oos_rank_of"] == 90
    for a, b in zip(ws[:-1], ws[1:], strict=True):
        assert a["test_end"] < b["test_start"] and a["train_start"] < b["train_start"]
    deg = d["degradation"]
    ins = [w["in_sample_metric"] for w in ws]
    assert deg["mean_in_sample"] == pytest.approx(np.mean(ins), rel=1e-12)
    assert deg["out_of_sample"] == d["out_of_sample"]["strategy"]["sharpe"]
    assert deg["difference"] == pytest.approx(deg["mean_in_sample"] - deg["out_of_sample"], rel=1e-12)
    run_dir = reports / d["run_id"]
    assert d["run_dir"] == str(run_dir) and d["report"] == str(run_dir / "tearsheet.html")
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["walkforward"]["windows"] == json.loads(json.dumps(ws))
    rets = pd.read_csv(run_dir / "returns.csv", index_col="date")
    assert list(rets.columns) == ["strategy", "benchmark", "cash"] and str(rets.index[0]) == ws[0]["test_start"]
    html = (run_dir / "tearsheet.html").read_text()
    assert "walk-forward" in html and f"from {ws[0]['first_decision']}" in html
    # issue 13: the whole book is out of sample, and the run says which windows chose its parameters
    assert manifest["selection_window"]["kind"] == "walkforward"
    assert len(manifest["selection_window"]["windows"]) == len(ws)
    assert "the whole book is out of sample" in html and "out of sample: the whole walk-forward book" in html
    assert "before the essay" not in html
    code, out, err = run_cli("report", d["run_id"], "--reports-dir", str(reports))
    assert code == 0, err


@pytest.mark.parametrize(
    "args, match",
    [
        (["nope"], "unknown strategy 'nope'"),
        (["seed-thesis", "--grid", "nope=1,2"], "unknown parameter 'nope'"),
        (["seed-thesis", "--train", "3x"], "--train '3x' is not a duration"),
        (["seed-thesis", "--test", "0m"], "--test '0m' is zero"),
        (["seed-thesis", "--metric", "luck"], "--metric 'luck' is unknown"),
        (["buy-hold"], "no --grid for strategy buy-hold"),
        (["seed-thesis", "--exec-lag", "0"], "--exec-lag 0 is below 1"),
    ],
)
def test_cli_usage_errors_exit_2_before_any_data(args, match, tmp_path):
    code, out, err = run_cli("walkforward", *args, "--data-dir", str(tmp_path / "missing"))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and match in err, err


@pytest.mark.parametrize(
    "args, match",
    [
        (["--train", "12y"], "do not fit in the data"),
        (["--grid", "gold=0.5,0.8", "--grid", "btc=0.3,0.5"], "summing above 1"),
        (["--start", "2024-01-01", "--train", "2y", "--test", "1y"], "do not fit in the data"),
    ],
)
def test_cli_windows_that_do_not_fit_exit_2(args, match, snapshot_store, tmp_path):
    code, out, err = run_cli(
        "walkforward", "seed-thesis", *args, "--data-dir", str(snapshot_store.root), "--no-report",
        "--reports-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and match in err, err
