"""Liquidity signals on the real snapshot: the figures of the argument, point-in-time discipline
(look-ahead by cutting the data), unknown inputs, hysteresis, and the ``hedge signals`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtester import signals
from backtester.data.calendar import nyse_sessions
from backtester.data.fomc import events as event_table
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def frame(snapshot_store):
    return signals.compute(snapshot_store)


@pytest.fixture(scope="module")
def raw(snapshot_store):
    from backtester.data.market import holdable_assets

    # the signal inputs and the holdable prices (the frame's px:<ASSET> columns are cut-tested too)
    return {sid: snapshot_store.read(sid) for sid in (*signals.INPUTS, *holdable_assets(snapshot_store))}


def _between(frame, a, b, col):
    s = frame.loc[a:b, col]
    assert len(s) == len(nyse_sessions(a, b)), "every decision date in the window is in the frame"
    return s


# ---------------------------------------------------------------- the figures (done-when list)


def test_reserves_to_gdp_oct_2025_and_sept_2019(frame):
    oct25 = _between(frame, "2025-10-14", "2025-10-24", "reserves_to_gdp")
    assert oct25.between(0.095, 0.101).all(), oct25
    sep19 = _between(frame, "2019-09-06", "2019-09-30", "reserves_to_gdp")
    assert (sep19 < 0.07).all(), sep19
    # the essay's 9.71%: reserves 2.96T over 2025-Q2 GDP 30.486T, as available on 2025-10-20
    row = frame.loc["2025-10-20"]
    assert row["gdp"] == pytest.approx(30485.729)
    assert row["gdp__obs"] == pd.Timestamp("2025-04-01")
    assert row["reserves_to_gdp"] == pytest.approx(3019.028 / 30485.729)


def test_rrp_drained_from_peak(frame):
    dd = _between(frame, "2025-10-14", "2025-10-24", "rrp_drawdown_from_peak")
    assert (dd > 0.99).all(), dd
    assert (frame.loc["2025-10-14":"2025-10-24", "rrp_drained"] == 1.0).all()
    # also drained in 2018-2019: "drained" alone is not a 2025 signal
    assert (frame.loc["2019-01-02":"2019-06-28", "rrp_drained"] == 1.0).mean() > 0.9
    assert (frame.loc["2022-06-01":"2022-12-30", "rrp_drained"] == 0.0).all()


def test_sofr_effr_spread(frame):
    # the -14 bp low of observation 2022-06-14 is published the next morning: decision date 2022-06-15
    hit = frame[frame["sofr_effr_bp__obs"] == pd.Timestamp("2022-06-14")]
    assert hit["sofr_effr_bp"].iloc[0] == pytest.approx(-14.0)
    assert hit.index[0] == pd.Timestamp("2022-06-15")
    assert frame.loc["2022-06-14", "sofr_effr_bp"] == pytest.approx(-10.0)  # known that day: 2022-06-13
    mean = frame.loc["2020-01-01":"2022-12-31", "sofr_effr_bp"].mean()
    assert -4.0 < mean < -2.0, mean
    # 2024-10-01 quarter-turn spike (+22 bp observed), and the 2019-09-17 repo spike
    assert frame.loc["2024-10-02", "sofr_effr_bp"] == pytest.approx(22.0)
    assert frame.loc["2019-09-18", "sofr_effr_bp"] == pytest.approx(525 - 230)


def test_qt_state(frame):
    y2023 = frame.loc["2023-01-01":"2023-12-31", "qt_state"]
    assert (y2023 == "qt").mean() >= 0.70
    after = frame.loc["2026-02-06":, "qt_state"]
    assert len(after) > 100 and not (after == "qt").any()
    # the March 2023 bank-failure lending (+$390bn in two weeks) does not flip it, though the plain
    # 13-week change is positive for 13 weeks
    spring = frame.loc["2023-03-20":"2023-06-15"]
    assert (spring["fed_assets_13w_change"] > 25).mean() > 0.9
    assert (spring["qt_state"] == "qt").all()
    assert set(frame["qt_state"].dropna().unique()) == {"qt", "flat", "expanding"}
    assert (frame.loc["2020-04-01":"2020-08-31", "qt_state"] == "expanding").all()
    assert (frame.loc["2020-10-15":"2021-12-31", "qt_state"] == "expanding").all()


def test_spreads_iorb_from_ioer_then_iorb(frame):
    before = frame.loc[:"2018-04-03"]  # SOFR is published from 2018-04-03 (usable 2018-04-04)
    assert before["sofr_iorb_bp"].isna().all()
    assert before["sofr_iorb_bp__reason"].str.contains("SOFR").all()
    # IOER (2.10 until the 2019-09-18 FOMC) under SOFR's 2019-09-17 spike of 5.25, known on 2019-09-18
    assert frame.loc["2019-09-18", "sofr_iorb_bp"] == pytest.approx((5.25 - 2.10) * 100)
    assert frame.loc["2019-09-18", "sofr_iorb_bp__obs"] == pd.Timestamp("2019-09-17")
    assert frame.loc["2019-09-17", "sofr_iorb_bp"] == pytest.approx((2.43 - 2.10) * 100)  # 09-16 SOFR 2.43
    assert frame.loc["2021-07-29", "sofr_iorb_bp"] == pytest.approx(5.0 - 15.0)  # SOFR 0.05 - IOER 0.15
    assert frame.loc["2021-07-30", "sofr_iorb_bp"] == pytest.approx(5.0 - 15.0)  # SOFR 0.05 - IORB 0.15
    after = frame.loc["2018-05-01":"2026-08-19"]
    assert after["sofr_iorb_bp"].notna().all()
    # spread_widening: 20-day mean above +5 bp and above its 60-day mean
    w = frame["spread_widening"]
    k = w.notna()
    expect = (frame["sofr_effr_bp_20d"] > 5) & (frame["sofr_effr_bp_20d"] > frame["sofr_effr_bp_60d"])
    assert (w[k] == expect[k].astype(float)).all()
    assert w.loc["2025-10-20"] == 1.0 and w.loc["2021-06-01"] == 0.0


def test_wtregen_end_makes_week_avg_net_liquidity_unknown_not_carried(frame, raw):
    # WTREGEN's last observation is 2025-11-19 (available 2025-11-21); staleness limit 21 days
    wed = pd.Timestamp("2025-11-19")
    walcl, tga, rrp = (raw[s].set_index("date").loc[wed, "value"] for s in ("WALCL", "WTREGEN", "RRPONTSYD"))
    last = frame.loc["2025-12-10"]  # 21 days after the observation: still used
    assert last["net_liquidity_week_avg__obs"] == wed
    assert last["net_liquidity_week_avg"] == pytest.approx(walcl / 1e3 - tga / 1e3 - rrp, abs=1e-6)
    late = frame.loc["2025-12-11":]
    for key in ("tga_week_avg", "net_liquidity_week_avg"):
        assert late[key].isna().all(), key
        assert late[key + "__reason"].str.contains("WTREGEN: last observation 2025-11-19").all()


def test_net_liquidity_uses_wednesday_tga_through_august_2026(frame, raw):
    # net liquidity = WALCL - WDTGAL - RRP of the same Wednesday, all in billions
    r = frame.loc["2026-03-02"]
    wed = pd.Timestamp("2026-02-25")
    walcl, tga, rrp = (raw[s].set_index("date").loc[wed, "value"] for s in ("WALCL", "WDTGAL", "RRPONTSYD"))
    assert r["net_liquidity__obs"] == wed
    assert r["net_liquidity"] == pytest.approx(walcl / 1e3 - tga / 1e3 - rrp, abs=1e-6)
    assert r["net_liquidity"] == pytest.approx(6613.797 - 838.975 - 1.159, abs=1e-6)
    assert r["tga"] == pytest.approx(838.975)
    known = frame.loc["2020-01-01":"2026-08-19", ["net_liquidity", "net_liquidity_13w_change"]]
    assert known.notna().all().all()
    # the two definitions differ by the TGA's Wednesday level minus its week average
    both = frame.loc["2025-01-01":"2025-11-19", ["net_liquidity", "net_liquidity_week_avg"]].dropna()
    assert len(both) > 200 and (both.iloc[:, 0] != both.iloc[:, 1]).any()
    assert ((both.iloc[:, 0] - both.iloc[:, 1]).abs() < 300).all()


def test_total_liquidity_52w(frame):
    r = frame.loc["2025-10-20"]
    assert r["total_liquidity"] == pytest.approx(3019.028 + 5.484)  # WRESBAL + RRP of Wed 2025-10-15
    assert r["total_liquidity_52w_change"] < -400  # claim 3: fell fast
    # Jan 2025: about 3.4-3.6T (the essay's "~4T" counted RRP at ~0.6T; it was 0.1-0.5T)
    jan = frame.loc["2025-01-02":"2025-01-31", "total_liquidity"]
    assert jan.between(3300, 3700).all()


def test_events_columns(frame):
    assert frame.loc["2025-10-28", "qt_ended"] == 0.0
    assert frame.loc["2025-10-29", "qt_ended"] == 1.0  # usable from the announcement's close
    assert frame.loc["2025-10-29", "days_since_qt_end"] == 0.0
    assert frame.loc["2025-10-29", "last_event_type"] == "qt-end"
    assert frame.loc["2025-12-10", "last_event_type"] == "rmp-start"
    assert frame.loc["2026-03-02", "qt_ended"] == 1.0  # an rmp-start does not resume QT
    assert (frame.loc["2019-07-31":"2022-05-03", "qt_ended"] == 1.0).all()
    assert (frame.loc["2022-05-04":"2025-10-28", "qt_ended"] == 0.0).all()
    assert pd.isna(frame.loc["2008-11-24", "last_event_type"])
    assert frame.loc["2008-11-25", "last_event_type"] == "qe-start"
    assert (
        frame.loc["2026-01-05", "days_since_qt_end"] == (pd.Timestamp("2026-01-05") - pd.Timestamp("2025-10-29")).days
    )


def test_stress_and_regime(frame):
    s = frame["liquidity_stress"].dropna()
    assert s.between(0, 100).all()
    assert set(frame["regime"].dropna().unique()) <= {"ample", "tightening", "scarce", "easing"}
    assert frame.loc["2019-09-18", "regime"] == "scarce"
    assert frame.loc["2025-10-20", "regime"] == "scarce"
    assert frame.loc["2021-06-01", "regime"] == "easing"
    assert frame.loc["2016-06-01", "regime"] == "ample"
    assert frame.loc["2023-06-01", "regime"] == "tightening"
    assert frame.loc["2026-06-01", "regime"] == "easing"
    assert frame.loc["2019-09-18", "liquidity_stress"] > frame.loc["2016-06-01", "liquidity_stress"] + 40


def test_config_thresholds(raw):
    cfg = signals.SignalConfig(rrp_drained_bn=1.0, qt_tolerance_bn=100.0, spread_threshold_bp=50.0)
    f = signals.compute(raw, start="2025-10-01", end="2025-10-31", config=cfg)
    assert f.index[0] >= pd.Timestamp("2025-10-01") and f.index[-1] <= pd.Timestamp("2025-10-31")
    assert (f["rrp_drained"] == 0.0).all()
    assert (f["qt_state"] == "flat").all()  # -63bn over 13 weeks is inside a 100bn tolerance
    assert (f["spread_widening"] == 0.0).all()
    with pytest.raises(ValueError):
        signals.SignalConfig(widening_spread="nope")


def test_cached_frame_equals_a_fresh_computation(snapshot_store):
    first = signals.compute(snapshot_store)  # computes (or loads) and warms the cache
    f = signals.compute(snapshot_store)  # from the cache: speed is measured in bench/, not here
    pd.testing.assert_frame_equal(f, first)
    assert f.index[0] <= pd.Timestamp("2003-01-02") and f.index[-1] >= pd.Timestamp("2026-08-19")
    assert pd.DatetimeIndex(f.index).equals(nyse_sessions(f.index[0], f.index[-1]))


# ---------------------------------------------------------------- point in time


def test_available_on_never_after_decision_date(frame):
    idx = frame.index.to_numpy("datetime64[ns]")
    for key in signals.KEYS:
        known = frame[key].notna().to_numpy()
        av = frame[key + "__avail"].to_numpy("datetime64[ns]")
        obs = frame[key + "__obs"].to_numpy("datetime64[ns]")
        has = ~np.isnat(av)
        assert (av[has] <= idx[has]).all(), key
        assert (obs[has] <= av[has]).all(), key
        # every known value has its provenance, except flags that are simply false before any event
        if key != "qt_ended":
            assert has[known].all(), key
        # every unknown value says why
        assert frame.loc[~known, key + "__reason"].map(lambda r: isinstance(r, str) and len(r) > 0).all(), key


def _cut(raw: dict, ev: pd.DataFrame, cut: pd.Timestamp):
    frames = {sid: f[f["date"] <= cut].reset_index(drop=True) for sid, f in raw.items()}
    return frames, ev[ev["announced"] <= cut].reset_index(drop=True)


def test_look_ahead_cut_at_20_random_dates(frame, raw):
    rng = np.random.default_rng(20251020)
    days = nyse_sessions("2003-06-01", "2026-08-14")
    cuts = sorted(pd.Timestamp(d) for d in rng.choice(days.values, 20, replace=False))
    ev = event_table()
    for cut in cuts:
        frames, ev_cut = _cut(raw, ev, cut)
        g = signals.compute(frames, events=ev_cut)
        a, b = frame.loc[:cut], g.loc[:cut]
        assert len(a) == len(b) > 0, cut
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"signals cut at {cut.date()}")


def test_look_ahead_also_holds_for_a_cut_inside_a_week(frame, raw):
    # a Thursday: the Wednesday's H.4.1 row exists, the next morning's RRP does not
    cut = pd.Timestamp("2025-10-16")
    frames, ev_cut = _cut(raw, event_table(), cut)
    g = signals.compute(frames, events=ev_cut)
    pd.testing.assert_frame_equal(frame.loc[:cut], g.loc[:cut], check_exact=True)


def test_mapping_input_and_missing_series(raw):
    frames = {k: v for k, v in raw.items() if k not in ("IORB", "IOER")}
    f = signals.compute(frames, start="2025-10-01", end="2025-10-31")
    assert f["sofr_iorb_bp"].isna().all()
    assert f["sofr_iorb_bp__reason"].str.contains("IORB is not in the store").all()
    assert f["sofr_effr_bp"].notna().all()


def _weekly(dates, values, lag_days=2):
    d = pd.DatetimeIndex(dates)
    return pd.DataFrame(
        {
            "date": d,
            "value": np.asarray(values, float),
            "published_on": d + pd.Timedelta(days=1),
            "available_on": d + pd.Timedelta(days=lag_days),
        }
    )


def test_hysteresis_one_noisy_week_does_not_flip_qt_state():
    wed = pd.date_range("2021-01-06", periods=60, freq="7D")
    level = 8000 - 20.0 * np.arange(60)  # steady QT of $20bn a week
    level[30:] += 300.0  # one week of emergency lending that stays on the balance sheet
    year_end = level.copy()
    year_end[45] += 80.0  # a year-end spike that reverses the next week
    for series in (level, year_end):
        f = signals.compute({"WALCL": _weekly(wed, series * 1e3)}, events=event_table().iloc[:0])
        st = f["qt_state"].dropna()
        assert (st == "qt").all(), st[st != "qt"].head()
    # a lasting change of direction does flip it, after the confirmation weeks
    turn = np.r_[8000 - 20.0 * np.arange(30), 7420 + 20.0 * np.arange(1, 31)]
    f = signals.compute({"WALCL": _weekly(wed, turn * 1e3)}, events=event_table().iloc[:0])
    assert f["qt_state"].dropna().iloc[-1] == "expanding"
    assert {"qt", "flat", "expanding"} <= set(f["qt_state"].dropna())


# ---------------------------------------------------------------- CLI


def test_cli_json_has_every_key(snapshot_store):
    code, out, err = run_cli(
        "signals", "--asof", "2025-10-20", "--format", "json", "--data-dir", str(snapshot_store.root)
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["asof"] == "2025-10-20"
    sig = doc["signals"]
    assert set(signals.KEYS) <= set(sig)
    for key, rec in sig.items():
        assert {"value", "threshold", "state", "observation_date", "available_on"} <= set(rec), key
        if rec["value"] is None:
            assert rec["reason"], key
        else:
            assert rec["available_on"] is None or rec["available_on"] <= "2025-10-20", key
    assert 0.095 <= sig["reserves_to_gdp"]["value"] <= 0.101
    assert sig["reserves_to_gdp"]["threshold"] == 0.10
    assert sig["rrp_drained"]["value"] is True
    assert sig["qt_state"]["value"] == "qt"
    assert sig["qt_ended"]["value"] is False
    assert isinstance(sig["liquidity_stress"]["value"], float)
    assert sig["regime"]["value"] in ("ample", "tightening", "scarce", "easing")


def test_cli_default_asof_and_table(snapshot_store):
    code, out, err = run_cli("signals", "--format", "json", "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["asof"] == "2026-08-19"  # the store's last common date (a session)
    sig = doc["signals"]
    assert sig["net_liquidity"]["value"] == pytest.approx(6759.955 - 959.405 - 0.725)  # Wednesday 2026-08-12
    assert sig["net_liquidity_week_avg"]["value"] is None and "WTREGEN" in sig["net_liquidity_week_avg"]["reason"]
    assert sig["liquidity_stress"]["unknown_inputs"] == []
    code, out, err = run_cli("signals", "--asof", "2025-10-19", "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    assert "2025-10-17 close" in out  # a Sunday: Friday's close
    assert "reserves_to_gdp" in out and "below-floor" in out


@pytest.mark.parametrize(
    "args",
    [
        ("--asof", "2030-01-02"),
        ("--asof", "1999-01-04"),
        ("--asof", "2025-13-01"),
        ("--plot", "x.pdf"),
        ("--export", "x.parquet"),
    ],
)
def test_cli_usage_errors(snapshot_store, tmp_path, args):
    a = list(args)
    if a[0] != "--asof":
        a[1] = str(tmp_path / a[1])
    code, out, err = run_cli("signals", *a, "--data-dir", str(snapshot_store.root))
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_cli_export_csv(snapshot_store, tmp_path):
    p = tmp_path / "signals.csv"
    code, out, err = run_cli("signals", "--export", str(p), "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    back = pd.read_csv(p, index_col="date", parse_dates=["date"], low_memory=False)
    assert set(signals.KEYS) <= set(back.columns)
    assert back.loc["2025-10-20", "reserves_to_gdp"] == pytest.approx(3019.028 / 30485.729)


def test_cli_plot_html_is_offline(snapshot_store, tmp_path):
    p = tmp_path / "signals.html"
    code, out, err = run_cli("signals", "--plot", str(p), "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    html = p.read_text()
    assert len(html) > 1_000_000  # plotly.js inlined
    # nothing is loaded from outside: no external script/style/frame (URL strings inside the inlined
    # plotly.js bundle, e.g. its default topojson URL for geo maps, are never fetched by this chart)
    import re

    assert not re.search(r"<(script|link|iframe|img)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert re.search(r"<script type=\"text/javascript\">/\*\*\s*\n?\s*\* plotly\.js", html) or "plotly.js v" in html
    assert "Fed total assets" in html and "qt-end" in html


def test_cli_plot_png(snapshot_store, tmp_path):
    p = tmp_path / "signals.png"
    code, out, err = run_cli(
        "signals", "--plot", str(p), "--asof", "2025-10-20", "--data-dir", str(snapshot_store.root)
    )
    assert code == 0, err
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 50_000
