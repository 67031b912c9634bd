"""The engine against hand-computed numbers and an independent plain-pandas reference rebalancer.

Tolerances: the engine (vectorbt, run in CASH units) and the reference (pandas loop, CASH held as units
of the cash index) agree to 1e-9 relative on every equity value, with or without costs. (vectorbt's
own closeness rules act at 1e-9 relative; in practice the gap is ~1e-15.)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtester import engine
from backtester.data import market
from backtester.data.calendar import nyse_sessions
from backtester.errors import DataError, UsageError
from backtester.paths import default_snapshot_dir
from tests.reference_rebalancer import reference_backtest


def backtest(weights, prices, fallback=engine.CASH, **options):
    """``engine.backtest`` with the execution options as keywords (``engine.ExecOptions``' fields)."""
    return engine.backtest(weights, prices, engine.ExecOptions(**options), fallback=fallback)


REL = 1e-9
SHARED = default_snapshot_dir()  # $HEDGE_SNAPSHOT_DIR, else ../shared/data beside the repository


def synthetic_prices(start="2021-01-04", end="2022-06-30", seed=7, assets=("GLD", "SPY", "BTC-USD")):
    d = nyse_sessions(start, end)
    rng = np.random.default_rng(seed)
    vol = {"GLD": 0.01, "SPY": 0.012, "BTC-USD": 0.04, "TLT": 0.009, "LBMA_GOLD": 0.01, "QQQ": 0.015}
    base = {"GLD": 170.0, "SPY": 370.0, "BTC-USD": 32000.0, "TLT": 160.0, "LBMA_GOLD": 1900.0, "QQQ": 310.0}
    px = pd.DataFrame(index=d)
    for a in assets:
        px[a] = base[a] * np.cumprod(1 + rng.normal(0.0003, vol[a], len(d)))
    dff = pd.Series(0.08 + 0.02 * np.sin(np.arange(600) / 40), index=pd.date_range(d[0], periods=600, freq="D"))
    px["CASH"] = market.cash_index(dff, d).to_numpy()
    return px


def assert_close(a: pd.Series, b: pd.Series, rel=REL):
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=rel, atol=0)


def one_row(date, **w):
    return pd.DataFrame({k.replace("_", "-"): [v] for k, v in w.items()}, index=pd.DatetimeIndex([date]))


# ---------------------------------------------------------------- hand-computed


def test_buy_and_hold_total_return_starts_at_fill():
    px = synthetic_prices()
    d = px.index
    w = one_row(d[0], GLD=1.0)
    r = backtest(w, px, fees_bp=0, slippage_bp=0)
    assert r.returns.index[0] == d[1] == r.equity.index[0]  # decision at d0 fills at the close of d1
    assert r.returns.iloc[0] == pytest.approx(0.0, abs=1e-15)
    total = (1 + r.returns).prod() - 1
    expected = px["GLD"].iloc[-1] / px["GLD"].iloc[1] - 1
    assert total == pytest.approx(expected, rel=1e-9)
    assert r.equity.iloc[-1] - 1 == pytest.approx(expected, rel=1e-9)
    assert r.weights["GLD"].iloc[-1] == pytest.approx(1.0, rel=1e-12)
    assert r.metrics()["total_return"] == pytest.approx(expected, rel=1e-9)
    assert len(r.trades) == 1 and r.trades["side"].iloc[0] == "buy"


def test_cost_of_a_single_trade():
    px = synthetic_prices()
    d = px.index
    f, s = 1e-4, 2e-4  # 1 bp fees, 2 bp slippage
    r = backtest(one_row(d[0], GLD=1.0), px, fees_bp=1, slippage_bp=2)
    # all-in: the buy is cut to what CASH pays: value = 1 / ((1 + s)(1 + f))
    assert r.equity.iloc[0] == pytest.approx(1 / ((1 + s) * (1 + f)), rel=1e-12)
    assert r.costs.iloc[0] == pytest.approx(1 - 1 / ((1 + s) * (1 + f)), rel=1e-9)
    assert any("less CASH than the trading costs" in n for n in r.notes)

    r = backtest(one_row(d[0], GLD=0.5), px, fees_bp=1, slippage_bp=2)
    cost = 0.5 * s + 0.5 * (1 + s) * f  # slippage on 0.5 at the close, fee on the filled value
    assert r.equity.iloc[0] == pytest.approx(1 - cost, rel=1e-12)
    assert r.costs.iloc[0] == pytest.approx(cost, rel=1e-9)
    assert r.weights["GLD"].iloc[0] == pytest.approx(0.5 / (1 - cost), rel=1e-12)  # costs came out of CASH
    t = r.trades.iloc[0]
    assert t["price"] == pytest.approx(px["GLD"].iloc[1] * (1 + s), rel=1e-12)
    assert t["cost"] == pytest.approx(cost, rel=1e-9)
    assert t["size"] == pytest.approx(0.5, rel=1e-12)
    assert r.trades["cost"].sum() == pytest.approx((r.costs * (r.equity / (1 - r.costs))).sum(), rel=1e-9)


def test_default_costs_and_overrides():
    fees, slip = engine.resolve_costs(["GLD", "BTC-USD", "LBMA_GOLD"])
    assert fees == {"GLD": 1.0, "BTC-USD": 10.0, "LBMA_GOLD": 5.0}
    assert slip == {"GLD": 2.0, "BTC-USD": 10.0, "LBMA_GOLD": 5.0}
    fees, slip = engine.resolve_costs(["GLD", "BTC-USD"], fees_bp=3, slippage_bp={"GLD": 0})
    assert fees == {"GLD": 3.0, "BTC-USD": 3.0} and slip == {"GLD": 0.0, "BTC-USD": 10.0}


def test_cash_index_weekend_by_hand():
    # Friday 2024-01-05 -> Monday 2024-01-08 accrues Fri, Sat and Sun at actual/360
    dff = pd.Series(
        [5.33, 5.33, 5.31, 5.32, 5.30],
        index=pd.to_datetime(["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]),
    )
    sessions = pd.DatetimeIndex(["2024-01-05", "2024-01-08"])
    idx = market.cash_index(dff, sessions)
    assert idx.iloc[0] == 1.0
    hand = (1 + 0.0533 / 360) * (1 + 0.0531 / 360) * (1 + 0.0532 / 360)
    assert idx.iloc[1] == pytest.approx(hand, rel=1e-15)
    assert idx.iloc[1] - 1 == pytest.approx(15.96 / 36000 + 6.6e-8, abs=1e-9)  # sum + cross terms
    with pytest.raises(DataError):
        market.cash_index(dff, pd.DatetimeIndex(["2024-01-02", "2024-01-05"]))


def test_all_cash_earns_the_cash_index():
    px = synthetic_prices()
    d = px.index
    r = backtest(one_row(d[0], GLD=0.0), px)
    assert r.trades.empty
    expected = px["CASH"].iloc[-1] / px["CASH"].iloc[1] - 1
    assert r.equity.iloc[-1] - 1 == pytest.approx(expected, rel=1e-12)
    assert_close(r.returns, r.cash_returns, rel=1e-9)
    assert r.cash_returns.iloc[0] == 0.0
    # a target frame without asset columns (the CASH benchmark) is all CASH, even with CASH-only prices
    for p in (px, px[["CASH"]]):
        c = backtest(pd.DataFrame(index=d), p)
        assert c.equity.index[0] == d[1] and c.equity.iloc[-1] - 1 == pytest.approx(expected, rel=1e-12)


def test_exec_lag_shifts_fills():
    px = synthetic_prices()
    d = px.index
    w = pd.DataFrame({"GLD": [1.0, 0.0, 1.0]}, index=d[[5, 20, 40]])
    for lag in (1, 3):
        r = backtest(w, px, exec_lag=lag, fees_bp=0, slippage_bp=0)
        assert r.equity.index[0] == d[5 + lag]
        assert list(r.trades["date"]) == [d[5 + lag], d[20 + lag], d[40 + lag]]
        ref = reference_backtest(w, px, exec_lag=lag)
        assert_close(r.equity, ref["equity"])
    with pytest.raises(UsageError):
        backtest(w, px, exec_lag=0)


# ---------------------------------------------------------------- against the reference


@pytest.mark.parametrize("costs", [False, True])
def test_static_mix_monthly_matches_reference(costs):
    px = synthetic_prices()
    w = one_row(px.index[0], GLD=0.4, SPY=0.3, BTC_USD=0.2)
    fees = engine.FEES_BP if costs else 0
    slip = engine.SLIPPAGE_BP if costs else 0
    r = backtest(w, px, rebalance="monthly", fees_bp=fees, slippage_bp=slip)
    ref = reference_backtest(w, px, rebalance="monthly", fees_bp=fees, slippage_bp=slip)
    assert_close(r.equity, ref["equity"])
    assert_close(r.costs, ref["costs"], rel=1e-7)
    assert r.rebalanced.sum() == 18  # Jan 2021 .. Jun 2022
    assert list(r.rebalanced) == list(ref["rebalanced"])
    np.testing.assert_allclose(r.weights[ref["weights"].columns].to_numpy(), ref["weights"].to_numpy(), atol=1e-12)
    if costs:
        assert (
            r.costs.sum() > 0
            and r.equity.iloc[-1] < backtest(w, px, rebalance="monthly", fees_bp=0, slippage_bp=0).equity.iloc[-1]
        )


def switching_weights(px, seed=3, every=7):
    rng = np.random.default_rng(seed)
    d = px.index[::every]
    assets = [c for c in px.columns if c != "CASH"]
    rows = []
    for _ in d:
        x = rng.dirichlet(np.ones(len(assets) + 1))[: len(assets)]
        x[rng.random(len(assets)) < 0.4] = 0.0  # some assets out entirely
        rows.append(x)
    return pd.DataFrame(rows, index=d, columns=assets)


@pytest.mark.parametrize("rebalance", ["change+monthly", "change", "weekly", "band"])
@pytest.mark.parametrize("costs", [False, True])
def test_switching_strategy_matches_reference(rebalance, costs):
    px = synthetic_prices()
    w = switching_weights(px)
    kw = dict(rebalance=rebalance, band=0.03, fees_bp=25 if costs else 0, slippage_bp=15 if costs else 0)
    r = backtest(w, px, **kw)
    ref = reference_backtest(w, px, **kw)
    assert_close(r.equity, ref["equity"])
    assert list(r.rebalanced) == list(ref["rebalanced"])
    assert len(r.trades) == len(ref["trades"])
    np.testing.assert_allclose(r.trades["price"], ref["trades"]["price"], rtol=1e-12)


def test_all_in_switches_with_costs_match_reference():
    # 100% risky targets: the cut-buy path (CASH smaller than the costs) on every switch
    px = synthetic_prices()
    d = px.index
    w = pd.DataFrame(
        {"GLD": [1, 0, 0.5, 0], "SPY": [0, 1, 0.5, 0.3], "BTC-USD": [0, 0, 0, 0.7]}, index=d[[0, 30, 60, 90]]
    ).astype(float)
    kw = dict(fees_bp=engine.FEES_BP, slippage_bp=engine.SLIPPAGE_BP)
    r = backtest(w, px, **kw)
    ref = reference_backtest(w, px, **kw)
    assert_close(r.equity, ref["equity"])
    assert r.weights["CASH"].max() < 1e-9


def test_vol_target_matches_reference_and_scales_down():
    px = synthetic_prices()
    w = switching_weights(px, every=15)
    kw = dict(vol_target=0.10, rebalance="band", band=0.02, fees_bp=5, slippage_bp=5)
    r = backtest(w, px, **kw)
    ref = reference_backtest(w, px, **kw)
    assert_close(r.equity, ref["equity"])
    risky = r.target.drop(columns="CASH").sum(axis=1)
    raw = backtest(w, px, rebalance="band", band=0.02).target.drop(columns="CASH").sum(axis=1)
    assert (risky <= raw + 1e-12).all() and (risky < raw - 0.05).any()
    assert any(n.startswith("vol target 10.0%") for n in r.notes)


# ---------------------------------------------------------------- availability


def test_unavailable_asset_goes_to_fallback_with_note():
    px = synthetic_prices()
    d = px.index
    listing = d[50]
    px.loc[px.index < listing, "BTC-USD"] = np.nan
    w = one_row(d[0], GLD=0.5, BTC_USD=0.3)
    r = backtest(w, px, fees_bp=0, slippage_bp=0)
    n_unavail = 50 - 1  # fills d1 .. d49
    assert r.unavailable_days == {"BTC-USD": n_unavail}
    assert r.unavailable_share == pytest.approx(n_unavail / len(r.returns))
    assert f"BTC-USD had no price before {listing.date()}: its weight went to CASH on {n_unavail} fill dates" in r.notes
    assert r.weights.loc[: d[49], "BTC-USD"].max() == 0
    assert r.target.loc[d[49], "CASH"] == pytest.approx(0.5)
    assert r.trades.loc[r.trades["asset"] == "BTC-USD", "date"].min() == listing  # bought on its first price
    assert_close(r.equity, reference_backtest(w, px)["equity"])

    r = backtest(w, px, fallback="GLD", fees_bp=0, slippage_bp=0)
    assert r.target.loc[d[10], "GLD"] == pytest.approx(0.8)
    assert any("went to GLD" in n for n in r.notes)
    assert_close(r.equity, reference_backtest(w, px, fallback="GLD")["equity"])


def test_missing_close_while_held_is_carried_and_trades_wait():
    px = synthetic_prices(assets=("GLD", "LBMA_GOLD"))
    d = px.index
    px.loc[d[30], "LBMA_GOLD"] = np.nan  # a UK holiday
    w = pd.DataFrame({"LBMA_GOLD": [0.6, 0.2], "GLD": [0.0, 0.5]}, index=d[[0, 29]])
    r = backtest(w, px, rebalance="change")
    # the switch decided on d29 would fill on d30, when LBMA has no fresh close: it waits for d31
    assert not r.rebalanced[d[30]] and r.rebalanced[d[31]]
    assert set(r.trades["date"]) == {d[1], d[31]}
    # valued at the carried close on d30
    lb_units = r.weights.loc[d[29], "LBMA_GOLD"] * r.equity[d[29]] / px.loc[d[29], "LBMA_GOLD"]
    assert r.weights.loc[d[30], "LBMA_GOLD"] * r.equity[d[30]] == pytest.approx(lb_units * px.loc[d[29], "LBMA_GOLD"])
    assert any("waited 1 sessions" in n for n in r.notes)
    kw = dict(fees_bp=engine.FEES_BP, slippage_bp=engine.SLIPPAGE_BP)
    assert_close(r.equity, reference_backtest(w, px, rebalance="change", **kw)["equity"])


def test_no_decision_rows_and_asof_weights():
    px = synthetic_prices()
    d = px.index
    w = pd.DataFrame({"GLD": [np.nan, 1.0, np.nan], "SPY": [np.nan, np.nan, np.nan]}, index=d[[2, 4, 9]])
    r = backtest(w, px, fees_bp=0, slippage_bp=0)
    assert r.equity.index[0] == d[5]  # the all-NaN row on d2 is no decision; NaN next to 1.0 is 0
    assert len(r.trades) == 1
    early = pd.DataFrame({"GLD": [1.0]}, index=pd.DatetimeIndex(["2020-06-01"]))  # before the prices start
    assert backtest(early, px).equity.index[0] == d[1]


# ---------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    "w, kw",
    [
        ({"GLD": 0.7, "SPY": 0.4}, {}),
        ({"GLD": -0.1}, {}),
        ({"GC_F": 0.5}, {}),
        ({"XYZ": 0.5}, {}),
        ({"TLT": 0.5}, {}),  # no prices for it
        ({"GLD": np.inf}, {}),
        ({"GLD": 0.5}, {"exec_lag": 0}),
        ({"GLD": 0.5}, {"exec_lag": 1.5}),
        ({"GLD": 0.5}, {"fees_bp": -1}),
        ({"GLD": 0.5}, {"slippage_bp": {"GLD": -2}}),
        ({"GLD": 0.5}, {"rebalance": "daily"}),
        ({"GLD": 0.5}, {"rebalance": "band", "band": 0}),
        ({"GLD": 0.5}, {"vol_target": -0.1}),
        ({"GLD": 0.5}, {"fallback": "GC_F"}),
        ({"GLD": 0.5}, {"fallback": "QQQ"}),
    ],
)
def test_usage_errors(w, kw):
    px = synthetic_prices()
    with pytest.raises(UsageError):
        backtest(pd.DataFrame(w, index=px.index[:1]), px, **kw)


def test_prices_checks():
    px = synthetic_prices()
    w = one_row(px.index[0], GLD=1.0)
    with pytest.raises(UsageError, match="CASH"):
        backtest(w, px.drop(columns="CASH"))
    with pytest.raises(UsageError, match="consecutive NYSE sessions"):
        backtest(w, px.drop(index=px.index[3]))
    sums_to_one_plus_eps = one_row(px.index[0], GLD=0.5 + 5e-10, SPY=0.5)
    assert backtest(sums_to_one_plus_eps, px).target["CASH"].iloc[0] == 0.0


# ---------------------------------------------------------------- market.load_prices


class FakeStore:
    def __init__(self, frames):
        self.frames = frames

    def read(self, series_id):
        return self.frames[series_id]


def _price_frame(dates, values):
    dates = pd.DatetimeIndex(dates)
    return pd.DataFrame({"date": dates, "close": values, "available_on": dates})


def test_load_prices_with_a_fake_store():
    cal = pd.date_range("2024-03-01", "2024-03-20", freq="D")
    btc = _price_frame(cal, np.arange(len(cal), dtype=float) + 100)  # 7 days a week
    nyse = nyse_sessions("2024-03-01", "2024-03-20")
    gld = _price_frame(nyse[:-2], np.linspace(190, 200, len(nyse) - 2))  # ends two sessions earlier
    dff = pd.DataFrame({"date": pd.date_range("2024-01-01", "2024-03-16", freq="D"), "value": 5.33})
    store = FakeStore({"BTC-USD": btc, "GLD": gld, "DFF": dff})
    px, notes = market.load_prices(store, ["BTC-USD", "GLD"], start="2024-03-04")
    assert list(px.columns) == ["BTC-USD", "GLD", "CASH"]
    assert px.index[0] == pd.Timestamp("2024-03-04") and px.index[-1] == nyse[-3]
    assert list(px.index) == list(nyse_sessions("2024-03-04", nyse[-3]))
    # BTC on a session is the close of its bar dated that session (weekends dropped)
    assert px.loc["2024-03-11", "BTC-USD"] == 110.0
    assert any("GLD ends there" in n for n in notes)
    assert any("DFF ends 2024-03-16" in n for n in notes)
    mon = px.loc["2024-03-11", "CASH"] / px.loc["2024-03-08", "CASH"]
    assert mon == pytest.approx((1 + 0.0533 / 360) ** 3, rel=1e-14)
    with pytest.raises(UsageError):
        market.load_prices(store, ["GC_F"])
    with pytest.raises(UsageError):
        market.load_prices(store, ["GLD"], start="2025-01-01")


# ---------------------------------------------------------------- real snapshot sanity


def _csv(path):
    f = pd.read_csv(path, parse_dates=["date"])
    return f


@pytest.mark.skipif(not (SHARED / "prices" / "GLD.csv").is_file(), reason="snapshot not available")
def test_real_snapshot_gold_bitcoin_matches_reference():
    store = FakeStore(
        {
            "GLD": _csv(SHARED / "prices" / "GLD.csv"),
            "BTC-USD": _csv(SHARED / "prices" / "BTC-USD.csv"),
            "DFF": _csv(SHARED / "fred" / "DFF.csv"),
        }
    )
    px, _ = market.load_prices(store, ["GLD", "BTC-USD"], start="2014-01-02", end="2019-12-31")
    w = pd.DataFrame({"GLD": [0.5], "BTC-USD": [0.3]}, index=px.index[:1])
    r = backtest(w, px, rebalance="monthly")
    ref = reference_backtest(w, px, rebalance="monthly", fees_bp=engine.FEES_BP, slippage_bp=engine.SLIPPAGE_BP)
    assert_close(r.equity, ref["equity"])
    assert any(n.startswith("BTC-USD had no price before 2014-09-17") for n in r.notes)
    m = r.metrics()
    assert m["start"] == "2014-01-03" and m["end"] == "2019-12-31"
    assert 0 < m["cagr"] < 1 and -1 < m["max_drawdown"] < 0
    # GLD buy-and-hold, zero costs: the snapshot's own closes
    g = backtest(pd.DataFrame({"GLD": [1.0]}, index=px.index[:1]), px, fees_bp=0, slippage_bp=0)
    assert g.equity.iloc[-1] - 1 == pytest.approx(px["GLD"].iloc[-1] / px["GLD"].iloc[1] - 1, rel=1e-9)
    # CASH over 2014-2019 (~0.1%..2.4% a year) compounds to a few percent
    assert 0.03 < px["CASH"].iloc[-1] / px["CASH"].iloc[0] - 1 < 0.06
    assert math.isfinite(m["sharpe"])


# ---------------------------------------------------------------- start-up cost and the numba cache


def test_importing_the_engine_does_not_import_vectorbt():
    import subprocess
    import sys

    code = (
        "import sys, backtester.engine, backtester.metrics, backtester.data.market;"
        "assert 'vectorbt' not in sys.modules and 'numba' not in sys.modules, 'heavy import at start-up'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


def test_numba_cache_dir_defaults_to_the_user_cache(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = (
        "from backtester._numba import ensure_numba_cache as e; import os;"
        "p = e(); print(p, os.environ['NUMBA_CACHE_DIR'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    assert out[0] == out[1] == str(tmp_path / "liquidity-hedge" / "numba")
    assert (tmp_path / "liquidity-hedge" / "numba").is_dir()
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout.split()
    assert out[0] == str(tmp_path / "mine")
