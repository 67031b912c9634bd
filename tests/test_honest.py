"""Issue 13: honest defaults -- targets held (change+monthly), no look-ahead in volatility targeting,
turnover without the opening trade."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtester import engine
from backtester.data import market
from backtester.run import RunSpec, run_backtest
from backtester.strategy import get

from .test_engine import backtest, one_row, synthetic_prices


@pytest.fixture(scope="module")
def thesis_inputs(snapshot_store):
    from backtester import signals as sig

    px, _ = market.load_prices(snapshot_store, ["GLD", "BTC-USD", "SPY", "IEF"], "2014-09-17", None)
    s = sig.compute(snapshot_store).reindex(px.index)
    strat = get("seed-thesis")
    w = strat.weights(s, strat.resolve({}))
    return px, w


def _targets(w, px, **kw):
    p = engine.plan(w, px, engine.ExecOptions(vol_target=0.15, **kw))
    return pd.DataFrame(p.target, index=p.dates, columns=[*p.assets, "CASH"]), p.scale


def test_bitcoin_close_of_the_decision_date_does_not_move_its_targets(thesis_inputs):
    px, w = thesis_inputs
    full, k_full = _targets(w, px)
    rng = np.random.default_rng(13)
    btc = w["BTC-USD"].reindex(px.index).fillna(0.0).to_numpy()
    ok = [j for j in range(200, len(px) - 70) if btc[j + 1] > 0 and k_full[j + 1] < 1]  # plan row r = decision r
    assert len(ok) > 100
    for j in rng.choice(ok, 8, replace=False):
        d, fill = px.index[j], px.index[j + 1]  # decided at the close of d, in force from the fill at d + 1
        bumped = px.copy()
        bumped.loc[d, "BTC-USD"] *= 1.3
        t, k = _targets(w, bumped)
        pd.testing.assert_frame_equal(t.loc[:fill], full.loc[:fill], check_exact=True, obj=f"targets of {d.date()}")
        # the bump is real information from the next decision on: the scale of d + 1 moves
        assert k[j] == k_full[j] and k[j + 1] != k_full[j + 1]


def test_vol_target_is_point_in_time_at_20_cuts(thesis_inputs):
    """Cut the prices at the 16:00 ET close of 20 random decision dates (ETF closes of d known, bitcoin's
    bar of d not yet: NaN; the next session unknown): every target decided up to d is unchanged."""
    px, w = thesis_inputs
    full, _ = _targets(w, px)
    rng = np.random.default_rng(7)
    for j in sorted(rng.choice(np.arange(100, len(px) - 2), 20, replace=False)):
        d, nxt = px.index[j], px.index[j + 1]
        cut = px.loc[:nxt].copy()
        cut.loc[d, "BTC-USD"] = np.nan
        cut.loc[nxt, [c for c in cut.columns if c != "CASH"]] = np.nan
        t, _ = _targets(w.loc[:d], cut)
        pd.testing.assert_frame_equal(t, full.loc[:nxt], check_exact=False, rtol=1e-12, obj=f"cut at {d.date()}")


def test_change_plus_monthly_is_the_default_and_rebalances_a_fixed_mix():
    px = synthetic_prices()
    w = one_row(px.index[0], GLD=0.5, SPY=0.5)
    r = backtest(w, px)
    assert r.params["rebalance"] == "change+monthly"
    assert int(r.rebalanced.sum()) == 18  # the opening + the first session of each later month (Feb 2021 ..)
    once = backtest(w, px, rebalance="change")
    assert int(once.rebalanced.sum()) == 1
    drift = lambda x: float((x.weights["GLD"] - 0.5).abs().max())  # noqa: E731
    assert drift(r) < 0.05 < drift(once)
    # a target change in mid-month still trades at once
    w2 = pd.concat([w, one_row(px.index[50], GLD=0.1, SPY=0.9)])
    r2 = backtest(w2, px)
    assert bool(r2.rebalanced.loc[px.index[51]])


def test_turnover_excludes_the_opening_trade():
    px = synthetic_prices()
    hold = backtest(one_row(px.index[0], SPY=1.0), px)
    m = hold.metrics()
    assert m["turnover"] < 1e-9 and m["turnover_total"] < 1e-9
    assert m["opening_cost"] == pytest.approx(float(hold.costs.iloc[0])) and m["opening_cost"] > 0
    # a switch half-way: the turnover is the switch's buys alone
    w = pd.concat([one_row(px.index[0], SPY=1.0), one_row(px.index[100], GLD=1.0)])
    sw = backtest(w, px, rebalance="change")
    buys = sw.trades[(sw.trades["size"] > 0) & (sw.trades["date"] == px.index[101])]["size"].sum()
    assert sw.metrics()["turnover_total"] == pytest.approx(buys, rel=1e-12)
    assert 0.9 < buys < 1.0


def test_snapshot_static_mix_stays_near_60_40_and_buy_hold_turnover(snapshot_store):
    run = run_backtest(snapshot_store, RunSpec("static-mix", params={"spy": "0.6", "tlt": "0.4"}, start="2002-07-30"))
    spy = run.result.weights["SPY"]
    assert run.metrics["start"] < "2003-01-01"
    assert float((spy - 0.6).abs().max()) < 0.1  # a month's drift at most (2008, 2020: the worst months)
    assert float((spy.iloc[-250:] - 0.6).abs().mean()) < 0.03  # not the 89/11 of a never-rebalanced mix
    bh = run_backtest(snapshot_store, RunSpec("buy-hold", params={"asset": "SPY"}, start="2014-01-02"))
    assert bh.metrics["turnover"] < 0.005
    assert bh.metrics["opening_cost"] > 0
    # a mix benchmark is rebalanced even when the strategy's own rule is `change`
    mix = run_backtest(snapshot_store, RunSpec("buy-hold", rebalance="change", benchmark="spy=0.6,tlt=0.4"))
    assert float((mix.bench.weights["SPY"] - 0.6).abs().max()) < 0.1


# ---------------------------------------------------------------- attribution and controls


@pytest.fixture(scope="module")
def thesis_run(snapshot_store):
    return run_backtest(snapshot_store, RunSpec("seed-thesis"))


def test_static_control_equals_a_static_mix_run(snapshot_store, thesis_run):
    from backtester.research import controls
    from backtester.strategies.benchmarks import PARAM_OF

    st = controls.static_control(thesis_run)
    w = st["weights"]
    cash = float(thesis_run.result.weights["CASH"].mean())
    assert set(w) == {"GLD", "BTC-USD", "SPY", "IEF"} and sum(w.values()) + cash == pytest.approx(1.0)
    params = {PARAM_OF[a]: v for a, v in w.items()}
    start = str(thesis_run.signals.index[0].date())
    ref = run_backtest(snapshot_store, RunSpec("static-mix", params=params, start=start, rebalance="monthly"))
    assert ref.metrics["start"] == thesis_run.metrics["start"] and ref.metrics["end"] == thesis_run.metrics["end"]
    for k in ("total_return", "cagr", "volatility", "sharpe", "max_drawdown", "costs"):
        assert st["metrics"][k] == pytest.approx(ref.metrics[k], rel=1e-9), k


def test_random_timing_keeps_switches_and_time_on(thesis_run):
    from backtester.research import controls

    state = controls.decision_state(thesis_run).to_numpy(bool)
    sh = controls.shuffled_states(state, 50, seed=1)
    switches = lambda x: int((x[1:] != x[:-1]).sum())  # noqa: E731
    assert all(switches(x) == switches(state) and x.sum() == state.sum() for x in sh)
    assert sum((x != state).any() for x in sh) >= 45  # the dates do move
    rt = controls.random_timing(thesis_run, n=200, seed=3)
    # the strategy's own timing with its two baskets is the strategy itself (a two-state rule)
    assert rt["sharpe"] == pytest.approx(thesis_run.metrics["sharpe"], rel=1e-9)
    assert 0 < rt["p_value"] <= 1 and 0 <= rt["percentile"] <= 1
    assert rt["p_value"] == pytest.approx(1 - rt["percentile"] + 1 / 201, abs=0.02)
    assert controls.random_timing(thesis_run, n=200, seed=3) == rt  # seeded


def test_attribution_splits_the_days_by_the_condition(thesis_run):
    from backtester.metrics import from_arrays
    from backtester.research import controls

    a = controls.attribution(thesis_run)
    on, off = a["hedge_on"], a["hedge_off"]
    assert on["days"] + off["days"] == thesis_run.metrics["days"]
    assert 0.2 < a["hedge_on_share"] < 0.8 and a["switches"] >= 2
    # compounding the two states' returns gives the whole run's
    total = (1 + on["strategy"]["total_return"]) * (1 + off["strategy"]["total_return"]) - 1
    assert total == pytest.approx(thesis_run.metrics["total_return"], rel=1e-9)
    # the state of a day = the condition at the decision that formed the portfolio earning it
    state = controls.return_state(thesis_run)
    r = thesis_run.result.returns[state.to_numpy()]
    c = thesis_run.result.cash_returns.reindex(r.index)
    assert on["strategy"]["cagr"] == pytest.approx(from_arrays(r.to_numpy(), c.to_numpy())["cagr"], rel=1e-12)
    sig = thesis_run.signals
    cond = get("seed-thesis").hedge_on(sig, thesis_run.params)
    d = state.index[100]
    prev = sig.index[sig.index.get_loc(d) - 2]  # decided two sessions before (lag 1, then held from the fill)
    assert bool(state[d]) == bool(cond[prev])


def test_backtest_json_has_attribution_and_controls(snapshot_store, tmp_path):
    import json

    from .conftest import run_cli

    code, out, err = run_cli(
        "backtest", "seed-thesis", "--data-dir", str(snapshot_store.root), "--reports-dir", str(tmp_path), "--format",
        "json",
    )  # fmt: skip
    assert code == 0, err
    o = json.loads(out)
    assert {"hedge_on", "hedge_off"} <= set(o["attribution"])
    assert o["controls"]["static"]["metrics"]["sharpe"] > 0
    assert 0 < o["controls"]["random_timing"]["p_value"] <= 1
    saved = json.loads((tmp_path / o["run_id"] / "run.json").read_text())
    assert saved["controls"] == o["controls"] and saved["attribution"] == o["attribution"]
    assert saved["spec"]["rebalance"] == "change+monthly"


# ---------------------------------------------------------------- out of sample, labelled truthfully


def test_fixed_rule_page_marks_the_essay_and_thesis_states_both_numbers(snapshot_store, thesis_run):
    from backtester.report import honesty, tables
    from backtester.report.panels import ESSAY, OOS_START
    from backtester.research.thesis.facts import continuing

    rets = pd.DataFrame(
        {"strategy": thesis_run.result.returns, "benchmark": thesis_run.bench.returns,
         "cash": thesis_run.result.cash_returns}
    )  # fmt: skip
    sel = {"kind": "fixed", "windows": []}
    parts = honesty.samples(rets, sel)
    assert [p[0] for p in parts] == ["before the essay (fixed rule)", "after the essay (continuing positions)"]
    assert honesty.chart_marker(sel, rets.index) == ESSAY
    assert honesty.chart_marker({"kind": "sweep", "windows": [{}]}, rets.index) is None
    wf = honesty.chart_marker({"kind": "walkforward", "windows": [{}]}, rets.index)
    assert wf[0] == rets.index[0] and "whole" in wf[1]
    page = tables.by_sample(rets, parts)
    c = continuing(snapshot_store, OOS_START, thesis_run.signals)
    # hedge thesis's "continuing" number is the tearsheet's after-the-essay row
    after = page["after the essay (continuing positions)|strategy"]
    assert c["strategy"]["total_return"] == pytest.approx(after["total_return"], rel=1e-12)
    assert c["period"]["start"] == after["start"] and "tearsheet" in c["definition"]


def test_sweep_page_statistics_and_warnings():
    from backtester.report import honesty

    manifest = {
        "summary": {"params": {"floor": 0.13, "gold": 0.5, "btc": 0.3}},
        "sweep": {
            "grid": {"floor": [0.07, 0.1, 0.13], "gold": [0.3, 0.5, 0.7], "btc": [0.1, 0.3, 0.5]},
            "metric": "sharpe", "combinations": {"total": 27, "valid": 25}, "deflated_sharpe": 0.91, "pbo": 0.4,
            "rank_stability": {"halves": [{"start": "a", "end": "b", "rank": 3, "of": 25}], "spearman": 0.25},
        },
    }  # fmt: skip
    html = honesty.sweep_html(manifest, {"max_drawdown": -0.5}, {"max_drawdown": -0.3})
    assert "25 / 27" in html and "0.910" in html and "0.400" in html and "3 of 25" in html and "0.25" in html
    assert "floor = 0.13 is on the edge of its grid" in html and "gold" not in html.split("warning")[1]
    assert "worse than the benchmark" in html
    calm = honesty.sweep_html(
        {**manifest, "summary": {"params": {"floor": 0.1, "gold": 0.5, "btc": 0.3}}},
        {"max_drawdown": -0.2},
        {"max_drawdown": -0.3},
    )
    assert "warning" not in calm
