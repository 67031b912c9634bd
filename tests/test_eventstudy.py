"""Event study (``backtester.research.eventstudy``, ``hedge events``) on the real snapshot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtester.data.calendar import nyse_sessions
from backtester.research import eventstudy as es
from tests.conftest import run_cli

QT_ENDS = ("2019-07-31", "2025-10-29")


@pytest.fixture(scope="module")
def qt_end(snapshot_store):
    return es.event_study(snapshot_store, "qt-end", assets="BTC-USD,GLD,SPY")


def _result(study, asset, horizon, type_="qt-end"):
    t = next(t for t in study["types"] if t["type"] == type_)
    return next(r for r in t["results"] if r["asset"] == asset and r["horizon"] == horizon)


def _hand_return(store, asset, date, sessions):
    """close on the session `sessions` NYSE sessions after `date` / close on `date` - 1, from the raw rows."""
    f = store.read(asset)
    close = dict(zip(f["date"], f["close"], strict=True))
    cal = nyse_sessions()
    t = pd.Timestamp(date)
    end = cal[cal.get_loc(t) + sessions]
    return close[end] / close[t] - 1.0, end


def test_qt_end_events_and_hand_computed_returns(snapshot_store, qt_end):
    t = qt_end["types"][0]
    assert [e["date"] for e in t["events"]] == list(QT_ENDS)
    for asset in ("GLD", "BTC-USD"):
        for horizon, h in es.HORIZONS.items():
            r = _result(qt_end, asset, horizon)
            assert r["sessions"] == h
            for ev in r["events"]:
                if ev["date"] == "2025-10-29" and horizon == "52w":
                    continue
                want, end = _hand_return(snapshot_store, asset, ev["date"], h)
                assert ev["status"] == "ok"
                assert ev["end_date"] == str(end.date())
                assert ev["return"] == pytest.approx(want, rel=1e-12)
    # spot values and end dates (5 / 65 sessions after each QT end)
    g1 = _result(qt_end, "GLD", "1w")["events"]
    assert [e["end_date"] for e in g1] == ["2019-08-07", "2025-11-05"]
    assert [e["end_date"] for e in _result(qt_end, "GLD", "13w")["events"]] == ["2019-10-31", "2026-02-03"]
    f = snapshot_store.read("GLD").set_index("date")["close"]
    assert g1[0]["return"] == pytest.approx(f[pd.Timestamp("2019-08-07")] / f[pd.Timestamp("2019-07-31")] - 1)


def test_horizon_past_the_data_is_missing_not_shortened(qt_end):
    for asset in ("BTC-USD", "GLD", "SPY"):
        r = _result(qt_end, asset, "52w")
        ev = {e["date"]: e for e in r["events"]}
        assert ev["2025-10-29"]["return"] is None
        assert ev["2025-10-29"]["status"] == "past data"
        assert ev["2025-10-29"]["end_date"] > "2026-08-20"
        assert ev["2019-07-31"]["status"] == "ok"
        assert r["n"] == 1 and r["n_missing"] == 1
        assert r["anecdotal"] is True and r["ci95"] is None
    # SPY ends 2026-06-04: 26w after 2025-10-29 (2026-05-07) is in, nothing is cut at the data's end
    assert _result(qt_end, "SPY", "26w")["n"] == 2


def test_stats_and_baseline(snapshot_store, qt_end):
    r = _result(qt_end, "GLD", "13w")
    rets = [e["return"] for e in r["events"]]
    assert r["mean"] == pytest.approx(np.mean(rets))
    assert r["median"] == pytest.approx(np.median(rets))
    assert r["hit_rate"] == pytest.approx(np.mean(np.array(rets) > 0))
    px = es.closes_on_sessions(snapshot_store, "GLD")
    assert px.notna().all()
    base = r["baseline"]
    assert base["n"] == len(px) - 65
    assert base["mean"] == pytest.approx(np.mean(px.to_numpy()[65:] / px.to_numpy()[:-65] - 1))
    assert "note" in qt_end["types"][0] and "anecdotes" in qt_end["types"][0]["note"]


def test_no_event_before_its_available_on(snapshot_store):
    from backtester import signals
    from backtester.data.fomc import events

    fomc = events()
    for et in ("qt-end", "qt-start", "qe-start", "rmp-start"):
        t = es.event_table(et)
        rows = fomc[fomc["type"] == et]
        assert list(t["date"]) == list(rows["available_on"])
        assert (t["date"] >= t["announced"]).all()
    frame = signals.compute(snapshot_store)
    cols = {"reserves-below-10": "reserves_to_gdp", "rrp-drained": "rrp_drained", "spread-spike": "spread_widening"}
    for et, col in cols.items():
        dates = es.signal_event_dates(frame, et)
        assert len(dates) > 0
        avail = frame.loc[dates, f"{col}__avail"]
        assert (avail.notna()).all() and (avail <= dates).all()
        if et == "reserves-below-10":
            assert (frame.loc[dates, col] < 0.10).all()
        else:
            assert (frame.loc[dates, col] == 1.0).all()


def test_turns_true_needs_a_known_false_before():
    idx = pd.DatetimeIndex(nyse_sessions("2024-01-02", "2024-01-31")[:8])
    frame = pd.DataFrame(
        {
            "spread_widening": [1.0, 1.0, 0.0, np.nan, 1.0, 1.0, 0.0, 1.0],
            "reserves_to_gdp": [0.09, 0.11, 0.10, 0.0999, np.nan, 0.12, 0.08, 0.07],
            "rrp_drained": pd.array([None, True, False, None, True, True, False, True], dtype="boolean"),
        },
        index=idx,
    )
    # first known value true is a state, not a crossing; unknown days are skipped
    assert list(es.signal_event_dates(frame, "spread-spike")) == [idx[4], idx[7]]
    assert list(es.signal_event_dates(frame, "reserves-below-10")) == [idx[3], idx[6]]
    assert list(es.signal_event_dates(frame, "rrp-drained")) == [idx[4], idx[7]]


def test_non_overlap_rule_on_hand_built_events(snapshot_store):
    assert es.non_overlapping([0, 3, 5, 9, 10, 20], 5).tolist() == [True, False, True, False, True, True]
    assert es.non_overlapping([10, 0, 3], 5).tolist() == [True, True, False]  # applied in date order
    assert es.non_overlapping([], 5).tolist() == []

    cal = nyse_sessions("2020-01-01", "2021-12-31")
    flag = pd.Series(0.0, index=cal)
    for k in (10, 13, 40, 100):  # events at sessions 10, 13 (3 later), 40 and 100
        flag.iloc[k] = 1.0
    study = es.event_study(
        snapshot_store,
        "spread-spike",
        "1w,4w,13w",
        "GLD",
        signal_frame=pd.DataFrame({"spread_widening": flag}),
    )
    res = {r["horizon"]: r for r in study["types"][0]["results"]}
    status = {h: [e["status"] for e in r["events"]] for h, r in res.items()}
    assert status["1w"] == ["ok", "overlap", "ok", "ok"]
    assert status["4w"] == ["ok", "overlap", "ok", "ok"]
    assert status["13w"] == ["ok", "overlap", "overlap", "ok"]  # 100 - 10 >= 65, 40 - 10 < 65
    assert [r["n"] for r in res.values()] == [3, 3, 2]
    assert res["13w"]["events"][1]["return"] is None


def test_cli_events_qt_end(snapshot_store, tmp_path):
    code, out, err = run_cli("events", "--type", "qt-end", "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    assert "2019-07-31" in out and "2025-10-29" in out
    assert "MISSING" in out and "anecdotes" in out
    # 52 weeks after the 2025 QT end is past the data: listed as n/a (missing), never shortened
    flat = " ".join(out.split())
    assert "52w: 2019-07-31 +13.1%, 2025-10-29 n/a" in flat

    html = tmp_path / "paths.html"
    code, out, err = run_cli(
        "events",
        "--type",
        "qt-end",
        "--horizons",
        "4w,52w",
        "--assets",
        "GLD,BTC-USD",
        "--format",
        "json",
        "--plot",
        str(html),
        "--data-dir",
        str(snapshot_store.root),
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["horizons"] == {"4w": 20, "52w": 260}
    r = next(r for r in doc["types"][0]["results"] if r["asset"] == "BTC-USD" and r["horizon"] == "52w")
    assert r["events"][1] == {
        "date": "2025-10-29",
        "end_date": r["events"][1]["end_date"],
        "return": None,
        "status": "past data",
    }
    text = html.read_text()
    assert "<script src=" not in text and "Plotly" in text and len(text) > 1_000_000  # plotly.js inlined
    # each panel states its n: both QT ends drawn (2025's path as far as the prices go), of 2 ("/" escaped)
    assert "qt-end \\u002f BTC-USD: n = 2 of 2" in text and "qt-end \\u002f GLD: n = 2 of 2" in text


@pytest.mark.parametrize(
    "args",
    [("--type", "qt-stop"), ("--assets", "DOGE"), ("--horizons", "3w"), ("--type", "qt-end,nope")],
)
def test_cli_unknown_names_exit_2(snapshot_store, args):
    code, out, err = run_cli("events", *args, "--data-dir", str(snapshot_store.root))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: unknown")
