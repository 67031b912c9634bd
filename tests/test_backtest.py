"""Strategies and `hedge backtest` / `hedge now` on the real snapshot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtester import signals
from backtester.data import market
from backtester.run import RunSpec, run_backtest
from backtester.strategy import registry
from tests.conftest import run_cli
from tests.reference_rebalancer import reference_backtest

SIGNAL_STRATEGIES = ["seed-thesis", "qt-pivot", "reserve-scarcity", "spread-stress", "net-liquidity-trend"]


@pytest.fixture(scope="module")
def raw(snapshot_store):
    return {k: snapshot_store.read(k) for k in snapshot_store.ids()}


@pytest.fixture(scope="module")
def full_signals(raw):
    return signals.compute(raw)


def test_buy_hold_btc_equals_close_ratio(snapshot_store, tmp_path):
    code, out, err = run_cli(
        "backtest", "buy-hold", "--param", "asset=BTC-USD", "--start", "2016-01-04", "--end", "2024-12-31",
        "--fees-bp", "0", "--slippage-bp", "0", "--data-dir", str(snapshot_store.root),
        "--reports-dir", str(tmp_path), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    btc = snapshot_store.read("BTC-USD").set_index("date")["close"]
    # decided at the 2016-01-04 close, filled at the next session's close (exec lag 1)
    assert got["period"]["start"] == "2016-01-05" and got["period"]["end"] == "2024-12-31"
    expected = btc.loc["2024-12-31"] / btc.loc["2016-01-05"] - 1
    assert got["strategy"]["total_return"] == pytest.approx(expected, rel=1e-9)
    run_dir = tmp_path / got["run_id"]
    eq = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=True)["strategy"]
    assert eq.index[0] == pd.Timestamp("2016-01-05") and eq.iloc[0] == 0.0  # the curve starts at the fill


def test_static_mix_matches_reference_rebalancer(snapshot_store):
    spec = RunSpec(
        "static-mix",
        {"spy": "0.5", "tlt": "0.3", "gld": "0.1"},
        start="2010-01-04",
        end="2020-12-31",
        rebalance="monthly",
    )
    run = run_backtest(snapshot_store, spec)
    prices, _ = market.load_prices(snapshot_store, ["SPY", "TLT", "GLD"], "2010-01-04", "2020-12-31")
    w = pd.DataFrame({"SPY": 0.5, "TLT": 0.3, "GLD": 0.1}, index=prices.index)
    from backtester.engine import FEES_BP, SLIPPAGE_BP

    ref = reference_backtest(w, prices, fees_bp=FEES_BP, slippage_bp=SLIPPAGE_BP, rebalance="monthly")
    eq = run.result.equity
    ref_eq = pd.Series(ref["equity"]).reindex(eq.index)
    np.testing.assert_allclose(eq.to_numpy(), ref_eq.to_numpy(), rtol=1e-9)
    assert run.metrics["costs"] > 0  # costs were charged in both


def test_every_strategy_is_point_in_time(raw, full_signals):
    """Cut the data at 20 random dates: no weight before a cut changes, and every input was available."""
    reg = registry()
    rng = np.random.default_rng(7)
    days = full_signals.loc["2008-01-01":"2026-08-14"].index
    cuts = sorted(pd.to_datetime(rng.choice(days.values, 20, replace=False)))
    full_w = {n: reg[n].weights(full_signals, reg[n].resolve({})) for n in SIGNAL_STRATEGIES}
    for cut in cuts:
        part = {k: f[f["date"] <= cut] for k, f in raw.items()}
        s = signals.compute(part, end=cut)
        for n in SIGNAL_STRATEGIES:
            w = reg[n].weights(s, reg[n].resolve({}))
            before = w.loc[:cut]
            pd.testing.assert_frame_equal(
                before, full_w[n].loc[before.index, before.columns], check_freq=False, obj=f"{n} cut at {cut.date()}"
            )
    for n in SIGNAL_STRATEGIES:
        for c in reg[n].uses:
            avail = full_signals[f"{c}__avail"]
            known = avail.notna()
            assert (avail[known] <= avail.index[known]).all(), (n, c)


def test_seed_thesis_hedges_in_the_essay_window(full_signals):
    s = registry()["seed-thesis"]
    w = s.weights(full_signals, s.resolve({}))
    oct25 = w.loc["2025-10-14":"2025-10-24"]
    assert (oct25["GLD"] == 0.5).all() and (oct25["BTC-USD"] == 0.3).all()  # reserves/GDP under 10%
    early = w.loc["2016-06-01":"2016-06-30"]
    assert (early["SPY"] == 0.6).all() and (early["GLD"] == 0).all()  # ample reserves, QT not ended


def test_unknown_input_means_condition_false(full_signals):
    s = registry()["spread-stress"]
    w = s.weights(full_signals, s.resolve({}))
    pre_sofr = w.loc["2015-01-02":"2015-12-31"]  # SOFR starts 2018: the spread is unknown
    assert (pre_sofr["GLD"] == 0).all() and (pre_sofr["SPY"] == 0.6).all()


def test_backtest_json_is_reproducible_and_saves_the_run(snapshot_store, tmp_path):
    args = [
        "backtest",
        "seed-thesis",
        "--data-dir",
        str(snapshot_store.root),
        "--reports-dir",
        str(tmp_path),
        "--format",
        "json",
        "--param",
        "floor=0.1",
        "--export-weights",
        str(tmp_path / "w.csv"),
    ]
    c1, o1, e1 = run_cli(*args)
    c2, o2, e2 = run_cli(*args)
    assert c1 == 0 and c2 == 0, e1 + e2
    assert o1 == o2  # byte-identical
    got = json.loads(o1)
    assert set(got) >= {"run_id", "strategy", "benchmark", "params", "period", "notes", "run_dir"}
    assert got["benchmark_name"] == "SPY" and got["period"]["end"] == "2026-06-04"
    for side in ("strategy", "benchmark"):
        for k in (
            "total_return",
            "cagr",
            "volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
            "calmar",
            "turnover",
            "costs",
            "time_in_market",
        ):
            assert k in got[side], k
    assert got["strategy"]["max_drawdown"] < 0 and 0 < got["strategy"]["time_in_market"]["BTC-USD"] < 1
    run_dir = tmp_path / got["run_id"]
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["data"]["hash"] and manifest["spec"]["params"] == {"floor": "0.1"}
    for f in ("returns.csv", "weights.csv", "trades.csv", "signals.csv", "target.csv"):
        assert (run_dir / f).stat().st_size > 0
    assert pd.read_csv(tmp_path / "w.csv").shape[0] == got["strategy"]["days"]


def test_gold_proxy_and_benchmark_mix(snapshot_store, tmp_path):
    c, o, e = run_cli(
        "backtest",
        "qt-pivot",
        "--gold",
        "LBMA_GOLD",
        "--benchmark",
        "spy=0.6,tlt=0.4",
        "--rebalance",
        "monthly",
        "--data-dir",
        str(snapshot_store.root),
        "--reports-dir",
        str(tmp_path),
        "--format",
        "json",
    )
    assert c == 0, e
    got = json.loads(o)
    assert "LBMA_GOLD" in got["strategy"]["time_in_market"] and "GLD" not in got["strategy"]["time_in_market"]
    assert got["benchmark_name"] == "spy=0.6,tlt=0.4"


@pytest.mark.parametrize(
    "args, text",
    [
        (["backtest", "nope"], "unknown strategy 'nope'"),
        (["backtest", "seed-thesis", "--param", "bogus=1"], "unknown parameter 'bogus'"),
        (["backtest", "seed-thesis", "--param", "floor=0.5"], "floor=0.5 is out of range"),
        (["backtest", "seed-thesis", "--param", "floor"], "is not name=value"),
        (["backtest", "seed-thesis", "--start", "2020-01-01", "--end", "2019-01-01"], "is after --end"),
        (
            ["backtest", "buy-hold", "--param", "asset=SPY", "--start", "1980-01-02", "--end", "1985-01-02"],
            "SPY has no price between 1980-01-02 and 1985-01-02",
        ),
        (["backtest", "seed-thesis", "--fees-bp", "-1"], "--fees-bp -1 is out of range"),
        (["backtest", "seed-thesis", "--exec-lag", "0"], "--exec-lag 0"),
        (["backtest", "seed-thesis", "--gold", "GC_F"], "--gold 'GC_F'"),
        (["backtest", "buy-hold", "--param", "asset=GC_F"], "GC_F is not holdable"),
        (["backtest", "seed-thesis", "--rebalance", "daily"], "--rebalance 'daily'"),
        (["backtest", "static-mix", "--param", "spy=0.7", "--param", "tlt=0.7"], "sum to 1.4"),
        (["now", "seed-thesis", "--holdings", "/nonexistent.csv"], "holdings file"),
    ],
)
def test_bad_arguments_exit_2(snapshot_store, tmp_path, args, text):
    c, out, err = run_cli(
        *args,
        "--data-dir",
        str(snapshot_store.root),
        *(["--reports-dir", str(tmp_path)] if args[0] == "backtest" else []),
    )
    assert c == 2, err
    assert err.startswith("error: ") and text in err and err.count("\n") == 1 and out == ""


def test_broken_store_exits_1(tmp_path, snapshot_dir):
    from backtester.data.importer import import_snapshot
    from backtester.data.store import Store

    store = Store(tmp_path / "s")
    import_snapshot(snapshot_dir, store)
    p = store.path("GLD")
    p.write_bytes(p.read_bytes()[:200])
    c, out, err = run_cli("backtest", "seed-thesis", "--data-dir", str(store.root), "--reports-dir", str(tmp_path))
    assert c == 1 and "GLD" in err and "damaged" in err and err.count("\n") == 1


def test_now_orders(snapshot_store, tmp_path):
    h = tmp_path / "h.csv"
    h.write_text("asset,value\nSPY,60000\nIEF,40000\n")
    c, o, e = run_cli(
        "now", "seed-thesis", "--holdings", str(h), "--data-dir", str(snapshot_store.root), "--format", "json"
    )
    assert c == 0, e
    got = json.loads(o)
    assert got["asof"] == "2026-08-19" and got["fill_on"] == "2026-08-20"
    orders = {x["asset"]: x for x in got["orders"]}
    assert orders["GLD"]["target_weight"] == 0.5 and orders["BTC-USD"]["target_weight"] == 0.3
    assert orders["SPY"]["order_usd"] == -60000 and orders["IEF"]["order_usd"] == -40000
    assert orders["BTC-USD"]["price_date"] == "2026-08-18"  # its 08-19 bar closes after the 16:00 ET decision
    assert sum(x["target_usd"] for x in got["orders"]) == pytest.approx(100000)
    assert set(got["signals"]) == {"reserves_to_gdp", "rrp_balance", "sofr_effr_bp_20d", "qt_ended"}


def test_user_strategy_folder(snapshot_store, tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "always_gold.py").write_text(
        "import pandas as pd\n"
        "from backtester.strategy import Param, Strategy\n"
        "STRATEGY = Strategy(name='always-gold', description='All in gold.', "
        "params={'w': Param(float, 1.0, 0.0, 1.0)}, fn=lambda s, p: pd.DataFrame({'GLD': p['w']}, index=s.index), "
        "assets=lambda p: ('GLD',))\n"
    )
    c, o, e = run_cli("strategies", "--strategies-dir", str(d), "--format", "json")
    assert c == 0 and "always-gold" in json.loads(o)["strategies"]
    c, o, e = run_cli(
        "backtest",
        "always-gold",
        "--strategies-dir",
        str(d),
        "--benchmark",
        "GLD",
        "--data-dir",
        str(snapshot_store.root),
        "--reports-dir",
        str(tmp_path),
        "--format",
        "json",
    )
    assert c == 0, e
    got = json.loads(o)
    assert got["strategy"]["total_return"] == pytest.approx(got["benchmark"]["total_return"], rel=1e-12)


def test_now_without_a_portfolio_invents_no_orders(snapshot_store):
    c, o, e = run_cli("now", "seed-thesis", "--data-dir", str(snapshot_store.root), "--format", "json")
    assert c == 0, e
    got = json.loads(o)
    assert got["orders"] == [] and got["value_usd"] is None and "--value" in got["order_hint"]
    weights = {t["asset"]: t["target_weight"] for t in got["targets"]}
    assert weights == pytest.approx({"BTC-USD": 0.3, "CASH": 0.2, "GLD": 0.5}, abs=1e-12)
    c, o, e = run_cli("now", "seed-thesis", "--data-dir", str(snapshot_store.root))
    assert c == 0 and "no orders: give --value USD or --holdings FILE" in o and "order" not in o.split("no orders")[0]


def test_now_whole_shares_fees_and_stale_prices(snapshot_store, tmp_path):
    h = tmp_path / "h.csv"
    h.write_text("asset,value\nSPY,60000\nIEF,40000\n")
    args = ["now", "seed-thesis", "--holdings", str(h), "--data-dir", str(snapshot_store.root), "--format", "json"]
    got = json.loads(run_cli(*args)[1])
    o = {x["asset"]: x for x in got["orders"]}
    gld = o["GLD"]
    assert gld["order_units"] == int(50_000 / gld["price"])  # whole shares, rounded toward zero
    assert gld["order_usd"] == pytest.approx(gld["order_units"] * gld["price"])
    assert o["BTC-USD"]["order_units"] == pytest.approx(30_000 / o["BTC-USD"]["price"])  # bitcoin in fractions
    # what rounding leaves stays in CASH: the book still adds up to the portfolio
    assert sum(x["current_usd"] + x["order_usd"] for x in got["orders"]) == pytest.approx(100_000)
    # fees + slippage at the engine's defaults: ETFs 1 + 2 bp, BTC 10 + 10 bp
    assert gld["fees_usd"] == pytest.approx(abs(gld["order_usd"]) * 3e-4)
    assert o["BTC-USD"]["fees_usd"] == pytest.approx(30_000 * 20e-4)
    assert got["fees_usd"] == pytest.approx(sum(x["fees_usd"] for x in got["orders"]))
    # SPY and IEF end on 2026-06-04 in the snapshot: stale at a 2026-08-19 decision
    assert any(w.startswith("SPY: stale price, last close 2026-06-04") for w in got["warnings"])
    frac = json.loads(run_cli(*args, "--fractional")[1])
    g2 = next(x for x in frac["orders"] if x["asset"] == "GLD")
    assert g2["order_units"] == pytest.approx(50_000 / g2["price"]) and not float(g2["order_units"]).is_integer()
