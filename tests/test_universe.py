"""The trader's own universe (issue 12): declared user series (add / remove / import with catalog.toml),
online pulls of any ticker or FRED id, nothing skipped silently, any price holdable, new snapshot files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli


@pytest.fixture
def store_dir(snapshot_store, tmp_path) -> Path:
    """A private copy of the snapshot store (tests here write to it)."""
    d = tmp_path / "store"
    shutil.copytree(snapshot_store.root, d)
    return d


def real_prices(snapshot_dir, name: str, cols=("date", "close")) -> pd.DataFrame:
    return pd.read_csv(snapshot_dir / "prices" / f"{name}.csv")[list(cols)].dropna()


@pytest.fixture
def my_csv(snapshot_dir, tmp_path) -> Path:
    """A user price file made from real snapshot prices (SLV closes, date,close only)."""
    p = tmp_path / "my.csv"
    real_prices(snapshot_dir, "SLV").to_csv(p, index=False)
    return p


def fingerprint(d: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((d / "series").glob("*"))}


def hedge(store_dir, *args):
    return run_cli(*args, "--data-dir", str(store_dir))


def hedge_json(store_dir, *args):
    code, out, err = hedge(store_dir, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------- hedge data add / remove / status / show


def test_add_price_then_buy_hold_equals_close_ratio_and_mix_benchmark(store_dir, my_csv, snapshot_dir):
    out = hedge_json(store_dir, "data", "add", str(my_csv), "--id", "gdxj", "--kind", "price")
    assert out["series"] == "GDXJ" and out["rows"] == 5111 and out["replaced"] is False
    d = out["declaration"]
    assert (d["kind"], d["calendar"], d["available"], d["staleness_days"]) == ("price", "nyse", "same-session", 10)

    st = hedge_json(store_dir, "data", "status")
    row = next(r for r in st["series"] if r["series"] == "GDXJ")
    assert row["user"] is True and row["holdable"] is True and row["available"] == "same-session"
    show = hedge_json(store_dir, "data", "show", "GDXJ", "--asof", "2024-01-03")
    assert show["observation_date"] == "2024-01-03" and show["declaration"]["calendar"] == "nyse"

    res = hedge_json(
        store_dir, "backtest", "buy-hold", "--param", "asset=GDXJ", "--start", "2020-01-02", "--end", "2024-12-31",
        "--fees-bp", "0", "--slippage-bp", "0", "--benchmark", "spy=0.6,gdxj=0.4",
    )  # fmt: skip
    px = real_prices(snapshot_dir, "SLV").set_index("date")["close"]
    # decided at the 2020-01-02 close, filled at the next close (exec lag 1): equity = close ratio from then
    assert (res["strategy"]["start"], res["strategy"]["end"]) == ("2020-01-03", "2024-12-31")
    ratio = px.loc["2024-12-31"] / px.loc["2020-01-03"]
    assert ratio != pytest.approx(1.0, abs=0.05)
    assert res["strategy"]["total_return"] == pytest.approx(ratio - 1, rel=1e-9)
    assert res["benchmark_name"] == "spy=0.6,gdxj=0.4"
    assert res["benchmark"]["time_in_market"]["GDXJ"] > 0.99


def test_add_series_and_lag_rule_is_point_in_time(store_dir, snapshot_dir, tmp_path):
    p = tmp_path / "ecb.csv"
    f = pd.read_csv(snapshot_dir / "fred" / "WALCL.csv").rename(columns={"value": "value"})
    f.to_csv(p, index=False)
    out = hedge_json(
        store_dir, "data", "add", str(p), "--id", "ECBASSETSW", "--kind", "series", "--frequency", "weekly",
        "--available", "lag:8d", "--units", "EUR millions",
    )  # fmt: skip
    assert out["declaration"]["staleness_days"] == 21 and out["declaration"]["units"] == "EUR millions"
    show = hedge_json(store_dir, "data", "show", "ECBASSETSW", "--asof", "2026-08-26")
    # Wednesday 2026-08-19 + 8 days = Thursday 2026-08-27: not yet known on the 26th; 2026-08-12 is (08-20)
    assert show["observation_date"] == "2026-08-12" and show["available_on"] == "2026-08-20"
    # a weekly series without --available is refused: no rule is guessed for it
    code, _, err = hedge(store_dir, "data", "add", str(p), "--id", "X2", "--kind", "series", "--frequency", "weekly")
    assert code == 2 and "needs --available" in err


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (("--id", "X1", "--kind", "bond"), 2, "--kind 'bond' is unknown"),
        (("--id", "X1", "--kind", "price", "--calendar", "lse"), 2, "--calendar 'lse' is unknown"),
        (("--id", "X1", "--kind", "price", "--available", "tomorrow"), 2, "--available 'tomorrow' is not a known"),
        (("--id", "X1", "--kind", "price", "--calendar", "crypto", "--available", "same-session"), 2, "crypto"),
        (("--id", "GLD", "--kind", "price"), 2, "GLD is a built-in series"),
        (("--id", "btc-usd", "--kind", "price"), 2, "BTC-USD is a built-in series"),
        (("--id", "A/B", "--kind", "price"), 2, "is not valid"),
        (("--id", "X1", "--kind", "series"), 1, "header is 'date,close'"),  # a price file declared as a series
    ],
)
def test_bad_declarations_one_line_store_unchanged(store_dir, my_csv, args, code, needle):
    before = fingerprint(store_dir)
    c, out, err = hedge(store_dir, "data", "add", str(my_csv), *args)
    assert c == code, err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err
    assert out == "" and fingerprint(store_dir) == before


@pytest.mark.parametrize(
    "body, needle",
    [
        ("date,close\n2024-01-02,10\n2024-01-02,11\n", "duplicate date 2024-01-02"),
        ("date,close\n2024-01-02,10\n2024-01-03,-1\n", "impossible close"),
        ("date,price\n2024-01-02,10\n", "needs date,close"),
        ("date,close\n02/01/2024,10\n", "not ISO"),
    ],
)
def test_file_failing_validation_exits_1_store_unchanged(store_dir, tmp_path, body, needle):
    p = tmp_path / "bad.csv"
    p.write_text(body)
    before = fingerprint(store_dir)
    c, _, err = hedge(store_dir, "data", "add", str(p), "--id", "BAD", "--kind", "price")
    assert c == 1 and err.count("\n") == 1 and needle in err
    assert fingerprint(store_dir) == before


def test_ohlcv_optional_columns_any_order(store_dir, snapshot_dir, tmp_path):
    p = tmp_path / "eth.csv"
    f = real_prices(snapshot_dir, "ETH-USD", ("date", "volume", "close", "open"))
    f.to_csv(p, index=False)
    out = hedge_json(store_dir, "data", "add", str(p), "--id", "MYETH", "--kind", "price", "--calendar", "crypto")
    assert out["declaration"]["available"] == "next-session" and out["declaration"]["staleness_days"] == 5
    show = hedge_json(store_dir, "data", "show", "MYETH", "--asof", "2024-01-08")  # a Monday
    assert show["observation_date"] == "2024-01-07"  # Sunday's UTC bar, usable at Monday's close


def test_remove_user_series_and_refuse_builtin(store_dir, my_csv):
    before = fingerprint(store_dir)
    hedge_json(store_dir, "data", "add", str(my_csv), "--id", "GDXJ", "--kind", "price")
    out = hedge_json(store_dir, "data", "remove", "gdxj")
    assert out["removed"]["series"] == "GDXJ"
    assert fingerprint(store_dir) == before
    c, _, err = hedge(store_dir, "data", "remove", "GLD")
    assert c == 2 and "built-in" in err and fingerprint(store_dir) == before
    c, _, err = hedge(store_dir, "data", "remove", "NOPE")
    assert c == 2 and "no user series 'NOPE'" in err


def test_unknown_asset_message(store_dir):
    c, _, err = hedge(store_dir, "backtest", "buy-hold", "--benchmark", "spy=0.6,gdx=0.4")
    assert c == 2
    assert err.strip() == "error: unknown asset 'GDX' (see hedge data status; add it with hedge data add)"
    c, _, err = hedge(store_dir, "backtest", "buy-hold", "--param", "asset=GDX")
    assert c == 2 and "unknown asset 'GDX'" in err


# ---------------------------------------------------------------- import: catalog.toml and skipped files


def test_import_lists_every_skipped_file(tmp_path, snapshot_dir):
    out = json.loads(
        run_cli("data", "import", str(snapshot_dir), "--data-dir", str(tmp_path / "s"), "--format", "json")[1]
    )
    skipped = {s["file"]: s["reason"] for s in out["skipped"]}
    assert "unknown id 'CBBTCUSD'" in skipped["fred/CBBTCUSD.csv"]
    assert set(skipped) == {"fred/CBBTCUSD.csv", "MANIFEST.md", "sources.json"}
    imported = {m["series"] for m in out["imported"]}
    assert {"WDTGAL", "IOER", "ETH-USD", "SLV", "UUP", "BIL", "SGOV"} <= imported
    assert out["missing"] == []


def test_import_folder_with_catalog_toml(tmp_path, snapshot_dir):
    src = tmp_path / "mine"
    (src / "prices").mkdir(parents=True)
    (src / "fred").mkdir()
    shutil.copy(snapshot_dir / "prices" / "GLD.csv", src / "prices" / "GLD.csv")
    real_prices(snapshot_dir, "SLV").to_csv(src / "prices" / "GDXJ.csv", index=False)
    shutil.copy(snapshot_dir / "fred" / "CBBTCUSD.csv", src / "fred" / "CBBTCUSD.csv")
    (src / "notes.csv").write_text("a,b\n1,2\n")
    (src / "catalog.toml").write_text(
        '[series.GDXJ]\nfile = "prices/GDXJ.csv"\nkind = "price"\n\n'
        '[series.CBBTCUSD]\nfile = "fred/CBBTCUSD.csv"\nkind = "series"\navailable = "next-business-day"\n'
    )
    d = tmp_path / "s"
    out = json.loads(run_cli("data", "import", str(src), "--data-dir", str(d), "--format", "json")[1])
    got = {m["series"]: m["user"] for m in out["imported"]}
    assert got == {"GLD": False, "GDXJ": True, "CBBTCUSD": True}
    assert [s["file"] for s in out["skipped"]] == ["notes.csv"]
    st = json.loads(run_cli("data", "status", "--data-dir", str(d), "--format", "json")[1])
    assert {r["series"] for r in st["series"] if r["user"]} == {"GDXJ", "CBBTCUSD"}
    # a declaration that collides with a built-in refuses the whole import: nothing written
    (src / "catalog.toml").write_text('[series.SPY]\nfile = "prices/GDXJ.csv"\nkind = "price"\n')
    before = fingerprint(d)
    c, _, err = run_cli("data", "import", str(src), "--data-dir", str(d))
    assert c == 2 and "SPY is a built-in series" in err and fingerprint(d) == before


# ---------------------------------------------------------------- online: any ticker, any FRED id


def test_pull_ticker_and_fred_add_user_series(store_dir, monkeypatch, snapshot_dir):
    import yfinance

    from backtester.data.sources import http
    from tests.test_sources import FakeDownload, Server

    monkeypatch.setattr(http, "sleep", lambda s: None)
    gld = pd.read_csv(snapshot_dir / "prices" / "GLD.csv").tail(30)
    bars = pd.DataFrame(
        {"Open": gld["close"].values, "High": gld["close"].values, "Low": gld["close"].values,
         "Close": gld["close"].values, "Volume": 1e6},
        index=pd.DatetimeIndex(gld["date"]),
    )  # fmt: skip
    fake = FakeDownload(bars)
    monkeypatch.setattr(yfinance, "download", fake)
    srv = Server()
    srv.thread.start()
    try:
        monkeypatch.setenv("HEDGE_FREDGRAPH_URL", srv.url + "/graph/fredgraph.csv")
        body = "observation_date,ECBASSETSW\n2026-07-31,6180000\n2026-08-07,6175000\n2026-08-14,6170000\n"
        srv.route("/graph/fredgraph.csv", (200, body, "text/csv"))
        out = hedge_json(
            store_dir, "data", "pull", "--ticker", "ibit", "--fred", "ECBASSETSW", "--frequency", "weekly",
            "--available", "lag:7d",
        )  # fmt: skip
        assert fake.calls[0][0] == "IBIT" and fake.calls[0][1]["auto_adjust"] is True
        assert srv.hits("/graph/fredgraph.csv")[0]["id"] == ["ECBASSETSW"]
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    got = {r["series"]: r for r in out["pulled"]}
    assert got["IBIT"]["new_rows"] == 30 and got["IBIT"]["user"] is True
    assert got["ECBASSETSW"]["new_rows"] == 3
    show = hedge_json(store_dir, "data", "show", "ECBASSETSW")
    assert show["declaration"]["source"] == "fred" and show["declaration"]["available"] == "lag:7d"
    assert show["rows"][-1]["available_on"] == "2026-08-21"  # 08-14 + 7 days
    # the same ids again are an update, with the stored declaration; built-in ids are refused
    c, _, err = hedge(store_dir, "data", "pull", "--ticker", "GLD")
    assert c == 2 and "pull it with `hedge data pull --series GLD`" in err


def test_pull_ticker_offline_one_line_store_unchanged(store_dir, monkeypatch):
    import yfinance

    from backtester.data.sources import http
    from tests.test_sources import FakeDownload

    monkeypatch.setattr(http, "sleep", lambda s: None)
    monkeypatch.setattr(yfinance, "download", FakeDownload(pd.DataFrame()))
    before = fingerprint(store_dir)
    c, _, err = hedge(store_dir, "data", "pull", "--ticker", "GDX")
    assert c == 1 and err.count("\n") == 1 and "returned no prices for GDX" in err
    assert fingerprint(store_dir) == before


# ---------------------------------------------------------------- new snapshot files in the signals


def test_signals_cli_net_liquidity_2026_and_sofr_ioer_2019(snapshot_store):
    root = str(snapshot_store.root)
    code, out, err = run_cli("signals", "--asof", "2026-03-02", "--format", "json", "--data-dir", root)
    assert code == 0, err
    nl = json.loads(out)["signals"]["net_liquidity"]
    assert nl["value"] == pytest.approx(6613.797 - 838.975 - 1.159)  # WALCL - WDTGAL - RRP, 2026-02-25
    code, out, err = run_cli("signals", "--asof", "2019-09-18", "--format", "json", "--data-dir", root)
    s = json.loads(out)["signals"]["sofr_iorb_bp"]
    assert s["value"] == pytest.approx(315.0) and s["observation_date"] == "2019-09-17"  # SOFR 5.25 - IOER 2.10


def test_new_builtin_prices_are_holdable(snapshot_store):
    from backtester.data.market import holdable_assets, load_prices

    have = holdable_assets(snapshot_store)
    assert {"ETH-USD", "SLV", "UUP", "BIL", "SGOV"} <= set(have)
    px, notes = load_prices(snapshot_store, ["BIL", "SGOV"], "2024-01-02", None)
    assert str(px.index[-1].date()) == "2025-12-08" and "BIL ends there" in notes[0]
    assert np.isfinite(px.loc["2025-12-08", "SGOV"])


# ---------------------------------------------------------------- instruments as parameters, costs by class


def test_seed_thesis_hedge_param_eth_gold(snapshot_store):
    from backtester.run import RunSpec, run_backtest

    run = run_backtest(snapshot_store, RunSpec("seed-thesis", params={"hedge": "ETH-USD:0.3,GLD:0.5"}))
    w = run.result.target
    on = w["ETH-USD"] > 0
    assert on.any() and (~on).any()
    assert np.allclose(w.loc[on, "ETH-USD"], 0.3) and np.allclose(w.loc[on, "GLD"], 0.5)
    assert "BTC-USD" not in w.columns
    assert str(run.result.returns.index[0].date()) >= "2017-11-09"  # ETH-USD's first price
    assert any("ETH-USD 10+10 (crypto)" in n for n in run.notes)
    # the same rule with the default instruments holds GLD 0.5 + BTC 0.3 on exactly the same decisions
    base = run_backtest(snapshot_store, RunSpec("seed-thesis", start=str(w.index[0].date())))
    b_on = base.result.target["BTC-USD"].reindex(w.index) > 0
    assert (b_on == on).all()


def test_cli_seed_thesis_hedge_and_neutral_mix(snapshot_store):
    code, out, err = run_cli(
        "backtest", "seed-thesis", "--param", "hedge=ETH-USD:0.3,GLD:0.5", "--param", "neutral_mix=SPY:0.5,TLT:0.5",
        "--data-dir", str(snapshot_store.root), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["params"]["hedge"] == "ETH-USD:0.3,GLD:0.5"
    assert set(doc["strategy"]["time_in_market"]) == {"ETH-USD", "GLD", "SPY", "TLT"}
    code, _, err = run_cli(
        "backtest", "seed-thesis", "--param", "hedge=ETH-USD:0.7,GLD:0.5", "--data-dir", str(snapshot_store.root)
    )
    assert code == 2 and "weights sum to 1.2" in err


def test_cost_overrides_in_notes_and_manifest(snapshot_store):
    from backtester.run import RunSpec, run_backtest

    spec = RunSpec("buy-hold", params={"asset": "SLV"}, start="2020-01-02", end="2020-12-31")
    default = run_backtest(snapshot_store, spec)
    dear = run_backtest(snapshot_store, RunSpec(**{**spec.__dict__, "costs": {"SLV": [50.0, 50.0]}}))
    assert any("SLV 1+2 (equity)" in n for n in default.notes)
    assert any("SLV 50+50 (--cost)" in n for n in dear.notes)
    # one buy at the first fill: 100 bp instead of 3 bp of the traded value
    assert dear.metrics["costs"] == pytest.approx(0.01, rel=0.02) and default.metrics["costs"] < 0.0004
    assert dear.run_id != default.run_id


def test_cli_cost_flag_and_bad_cost(snapshot_store, tmp_path):
    root = str(snapshot_store.root)
    code, out, err = run_cli(
        "backtest", "buy-hold", "--param", "asset=eth-usd", "--cost", "ETH-USD=5+5", "--start", "2024-01-02",
        "--data-dir", root, "--reports-dir", str(tmp_path), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert any("ETH-USD 5+5 (--cost)" in n for n in doc["notes"])
    manifest = json.loads((Path(doc["run_dir"]) / "run.json").read_text())
    assert manifest["spec"]["costs"] == {"ETH-USD": [5.0, 5.0]}
    for bad, needle in (("IBIT=5", "not ASSET=FEE+SLIPPAGE"), ("GLD=5+5", "does not hold"), ("SPY=x+1", "numbers")):
        code, _, err = run_cli(
            "backtest", "buy-hold", "--cost", bad, "--data-dir", root, "--reports-dir", str(tmp_path)
        )
        assert code == 2 and needle in err, (bad, err)


def test_now_with_a_user_price_in_the_hedge(store_dir, my_csv):
    hedge_json(store_dir, "data", "add", str(my_csv), "--id", "GDXJ", "--kind", "price")
    out = hedge_json(store_dir, "now", "seed-thesis", "--param", "hedge=GDXJ:0.4,GLD:0.4", "--value", "100000")
    got = {o["asset"]: o for o in out["orders"]}
    assert "GDXJ" in got and got["GDXJ"]["target_weight"] in (0.0, 0.4)
    assert got["GDXJ"]["price"] > 0


def test_pull_prints_the_calendar_warnings_import_prints(store_dir, monkeypatch, snapshot_dir):
    """The snapshot's GC=F has 2 rows on CME holidays (kept, warned at import): a pull that merges new bars
    into that history warns the same way, on stderr and in the json."""
    import yfinance

    from backtester.data.sources import http
    from tests.test_sources import FakeDownload

    monkeypatch.setattr(http, "sleep", lambda s: None)
    gc = pd.read_csv(snapshot_dir / "prices" / "GC_F.csv").dropna(subset=["close"]).tail(10)
    bars = pd.DataFrame({k: gc["close"].values for k in ("Open", "High", "Low", "Close")},
                        index=pd.DatetimeIndex(gc["date"])).assign(Volume=1e3)  # fmt: skip
    monkeypatch.setattr(yfinance, "download", FakeDownload(bars))
    c, out, err = hedge(store_dir, "data", "pull", "--series", "GC_F", "--format", "json")
    assert c == 0, err
    (row,) = json.loads(out)["pulled"]
    assert row["series"] == "GC_F" and row["new_rows"] == 0
    assert len(row["warnings"]) == 1 and "2 GC_F row(s)" in row["warnings"][0] and "CMES" in row["warnings"][0]
    assert err.startswith("warning: ") and "GC_F row(s) dated on days that are not CMES" in err


# ---------------------------------------------------------------- strategy files on the user's own prices
SILVER_RULE = """name = "silver-trend"
description = "My silver price while it is above its 200-day average, else SPY."
{assets}
[params]
window = {{ default = 200, min = 20, max = 400, help = "average length (sessions)" }}
share = {{ default = 0.5, min = 0.0, max = 1.0, help = "silver weight" }}
[[rule]]
label = "trend"
when = "close(MY_SILVER) > sma(MY_SILVER, window)"
weights = {{ {held} }}
[[rule]]
label = "else"
default = true
weights = {{ SPY = 1.0 }}
"""


def silver_file(tmp_path, assets='assets = ["MY_SILVER"]', held='MY_SILVER = "share", GLD = 0.2') -> str:
    p = tmp_path / "silver.toml"
    p.write_text(SILVER_RULE.format(assets=assets, held=held))
    return str(p)


def test_strategy_file_trades_and_reads_a_price_of_your_own(store_dir, my_csv, tmp_path, snapshot_dir):
    """`assets = [...]` in a strategy file names prices added with `hedge data add`: its rules hold them and
    read their point-in-time closes; the rule fires exactly when the added closes are above their average."""
    hedge_json(store_dir, "data", "add", str(my_csv), "--id", "MY_SILVER", "--kind", "price")
    f = silver_file(tmp_path)
    out = hedge_json(store_dir, "backtest", f, "--start", "2012-01-03", "--reports-dir", str(tmp_path / "r"))
    on = out["strategy"]["time_in_market"]["MY_SILVER"]
    assert 0.2 < on < 0.8  # both states held
    # the same share of days from the added closes themselves (decided on the close, held from the next day)
    c = real_prices(snapshot_dir, "SLV").set_index("date")["close"]
    c.index = pd.to_datetime(c.index)
    above = (c > c.rolling(200).mean()).loc["2012-01-03":"2026-06-04"]
    assert abs(above.mean() - on) < 0.02
    sw = hedge_json(store_dir, "sweep", f, "--grid", "window=100,200", "--grid", "share=0.3,0.5",
                    "--start", "2012-01-03", "--reports-dir", str(tmp_path / "r"))  # fmt: skip
    row = next(r for r in sw["top"] if r["params"] == {"window": 200, "share": 0.5})
    assert row["sharpe"] == pytest.approx(out["strategy"]["sharpe"], rel=1e-9)


def test_strategy_file_own_prices_errors(store_dir, my_csv, tmp_path):
    # not listed in assets: the error says how to list it
    c, _, err = hedge(store_dir, "backtest", silver_file(tmp_path, assets=""))
    assert c == 2 and "unknown asset 'MY_SILVER' in close()" in err and 'assets = ["MY_SILVER"]' in err
    # listed, read by a rule, but never added to the store: exit 2 naming it (not a rule that never fires)
    c, _, err = hedge(store_dir, "backtest", silver_file(tmp_path, held="GLD = 0.5"))
    assert c == 2 and "reads the prices of MY_SILVER, which the store does not have" in err
    assert len(err.strip().splitlines()) == 1
    # listed and held but not in the store
    c, _, err = hedge(store_dir, "backtest", silver_file(tmp_path))
    assert c == 2 and "MY_SILVER" in err and len(err.strip().splitlines()) == 1
    # not a price id
    c, _, err = hedge(store_dir, "backtest", silver_file(tmp_path, assets='assets = ["my silver"]'))
    assert c == 2 and "is not a price id" in err
