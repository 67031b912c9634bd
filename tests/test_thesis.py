"""`hedge thesis` (the essay scored out of sample) and `hedge significance` on the real snapshot.

The headline numbers are recomputed here independently from the stored series (not through the
thesis modules): QT's end, the Fed's asset growth after it, the GLD / BTC-USD / SPY close ratios, cash
accrued from DFF, and reserves / GDP on the essay date.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

SINCE = pd.Timestamp("2025-10-14")
TOP_KEYS = {
    "since", "essay_session", "asof", "qt_end", "fed_assets", "returns", "strategy", "claims", "verdicts",
    "thresholds", "html",
}  # fmt: skip
CLAIM_KEYS = {
    "id", "key", "claim", "essay", "essay_value", "at_essay", "after", "at_essay_text", "after_text", "rule",
    "verdict", "reason",
}  # fmt: skip
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _closes(store, sid, col="close") -> pd.Series:
    f = store.read(sid)
    s = pd.Series(pd.to_numeric(f[col], errors="coerce").to_numpy(float), index=pd.DatetimeIndex(f["date"]))
    return s.dropna()


@pytest.fixture(scope="module")
def thesis(snapshot_store, tmp_path_factory):
    page = tmp_path_factory.mktemp("thesis") / "thesis.html"
    code, out, err = run_cli("thesis", "--data-dir", str(snapshot_store.root), "--format", "json", "--html", str(page))
    assert code == 0, err
    assert out.count("\n") == 1  # one json object on one line
    return json.loads(out), page


def test_json_shape_keys_and_plain_values(thesis):
    r, _ = thesis
    assert set(r) == TOP_KEYS
    assert r["since"] == "2025-10-14" and r["essay_session"] == "2025-10-14"
    assert [c["id"] for c in r["claims"]] == list(range(1, 10))
    for c in r["claims"]:
        assert set(c) == CLAIM_KEYS
        assert c["verdict"] in ("held", "failed", "too early")
        assert isinstance(c["rule"], str) and c["rule"] and c["reason"]
    assert sum(r["verdicts"].values()) == 9
    assert r["verdicts"]["held"] == sum(c["verdict"] == "held" for c in r["claims"])

    def walk(o, path=""):
        if isinstance(o, dict):
            for k, v in o.items():
                assert re.fullmatch(r"[a-z0-9_]+|[A-Z_-]+[A-Z]", k), f"key {path}.{k}"
                walk(v, f"{path}.{k}")
        elif isinstance(o, list):
            for v in o:
                walk(v, path)
        elif isinstance(o, float):
            assert np.isfinite(o)
        elif isinstance(o, str) and (path.endswith("date") or path.endswith(("start", "end", "effective"))):
            assert ISO.match(o), f"{path} = {o!r}"

    walk(r)
    # fractions, not percents
    assert abs(r["returns"]["assets"]["GLD"]["return"]) < 1
    assert 0 < r["claims"][1]["at_essay"]["value"] < 0.2


def test_qt_ended_in_december_2025(thesis, snapshot_store):
    r, _ = thesis
    off = r["qt_end"]["official"]
    assert off["announced"] == "2025-10-29" and off["effective"].startswith("2025-12")
    # the data: qt_state on the essay session is `qt`, and it later leaves `qt`
    q = r["qt_end"]
    assert q["state_at_essay"] == "qt"
    left = q["state_left_qt"]
    assert left["from"] == "qt" and left["to"] != "qt"
    assert pd.Timestamp(left["observation_date"]) < pd.Timestamp(left["date"])  # known after the H.4.1 week
    c7 = r["claims"][6]
    assert c7["verdict"] == "held" and c7["after"]["effective"] == off["effective"]


def test_fed_asset_growth_recomputed_from_walcl(thesis, snapshot_store):
    r, _ = thesis
    w = _closes(snapshot_store, "WALCL", "value") / 1000.0
    for key, start in (("from_qt_end", "2025-12-01"), ("from_bill_purchases", "2025-12-12")):
        base = w.loc[:start]
        months = (w.index[-1] - base.index[-1]).days / (365.25 / 12)
        expected = (w.iloc[-1] - base.iloc[-1]) / months
        g = r["fed_assets"][key]
        assert g["bn_per_month"] == pytest.approx(expected, rel=1e-12)
        assert g["end_observation"] == w.index[-1].date().isoformat()
    c8 = r["claims"][7]
    assert c8["after"]["value"] == pytest.approx(r["fed_assets"]["from_qt_end"]["bn_per_month"])
    assert c8["verdict"] == ("held" if c8["after"]["value"] >= 60 else "failed")


def test_returns_since_essay_recomputed(thesis, snapshot_store):
    r, _ = thesis
    ret = r["returns"]["assets"]
    for asset in ("GLD", "BTC-USD", "SPY", "LBMA_GOLD"):
        c = _closes(snapshot_store, asset).loc[SINCE:]
        assert ret[asset]["start"] == c.index[0].date().isoformat()
        assert ret[asset]["end"] == c.index[-1].date().isoformat()
        assert ret[asset]["return"] == pytest.approx(c.iloc[-1] / c.iloc[0] - 1, rel=1e-12)
    assert ret["GLD"]["return"] > 0 and ret["LBMA_GOLD"]["return"] > 0  # gold up
    assert ret["BTC-USD"]["return"] < 0  # bitcoin down
    assert ret["SPY"]["end"] == "2026-06-04"  # SPY ends earlier in the snapshot
    # cash: DFF actual/360 over the calendar days from the essay session to the day before CASH's end
    dff = _closes(snapshot_store, "DFF", "value")
    days = pd.date_range(SINCE, pd.Timestamp(ret["CASH"]["end"]) - pd.Timedelta(days=1), freq="D")
    rate = dff.reindex(dff.index.union(days)).ffill().reindex(days)
    assert ret["CASH"]["return"] == pytest.approx(np.prod(1 + rate / 100 / 360) - 1, rel=1e-10)
    # the verdict on claim 9 follows from the common-window returns
    common = r["returns"]["common"]
    beats = all(common[a] > common[b] for a in ("GLD", "BTC-USD") for b in ("SPY", "CASH"))
    assert r["claims"][8]["verdict"] == ("held" if beats else "failed")
    assert r["returns"]["common_end"] == "2026-06-04"


def test_point_in_time_reserves_to_gdp(thesis, snapshot_store):
    r, _ = thesis
    at = r["claims"][1]["at_essay"]
    res = snapshot_store.read("WRESBAL")
    known = res[res["available_on"] <= SINCE].iloc[-1]
    assert at["reserves_observation"] == pd.Timestamp(known["date"]).date().isoformat()
    gdp = snapshot_store.read("GDP").set_index("date")["value"]
    ratio = known["value"] / 1000 / gdp.loc[pd.Timestamp(at["gdp_quarter"])]
    assert at["value"] == pytest.approx(ratio, rel=1e-6)
    assert r["claims"][1]["verdict"] == ("held" if ratio < 0.10 else "failed")


def test_seed_thesis_out_of_sample(thesis, snapshot_store):
    r, _ = thesis
    s = r["strategy"]
    assert s["name"] == "seed-thesis" and s["sample"] == "out of sample"
    assert s["period"]["start"] == "2025-10-15"  # decided at the essay close, filled at the next
    spy = _closes(snapshot_store, "SPY")
    # buy-and-hold SPY bought at the first fill: the close ratio less one purchase's costs (a few bp)
    ratio = spy.loc[s["period"]["end"]] / spy.loc[s["period"]["start"]] - 1
    assert s["benchmark"]["total_return"] == pytest.approx(ratio, abs=1e-3)
    sig = s["significance"]
    assert sig["n"] == s["strategy"]["days"]
    assert sig["sharpe_difference"]["observed"] == pytest.approx(s["strategy"]["sharpe"] - s["benchmark"]["sharpe"])


def test_html_page_self_contained_and_escaped(thesis):
    r, page = thesis
    assert r["html"] == str(page)
    text = page.read_text()
    assert not re.search(r"(?i)(https?:|//[a-z0-9.-]+\.[a-z]{2,}/)", text)
    assert text.count("data:image/png;base64,") == 3
    assert "&quot;ample&quot;" in text and '"ample"' not in text  # user-visible text escaped
    for c in r["claims"]:
        assert f">{c['verdict']}<" in text


def test_table_output(snapshot_store):
    code, out, err = run_cli("thesis", "--data-dir", str(snapshot_store.root))
    assert code == 0, err
    for s in ("The essay's claims, scored", "2025-10-29", "2025-12-01", "$B/month", "OUT OF SAMPLE", "GLD"):
        assert s in out


@pytest.mark.parametrize(
    "args",
    [["--since", "2025-13-01"], ["--since", "2031-01-01"], ["--html", "page.txt"], ["--format", "xml"]],
)
def test_usage_errors_exit_2(snapshot_store, args):
    code, out, err = run_cli("thesis", "--data-dir", str(snapshot_store.root), *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


# ---------------------------------------------------------------- the verdict rules
def _ctx(growth=None, official=None, asof="2026-08-19", returns=None):
    from backtester.research.thesis.claims import Context

    idx = pd.DatetimeIndex([SINCE])
    frame = pd.DataFrame({"fed_assets_13w_change": [-70.0], "qt_state": ["qt"], "qt_ended": [0.0]}, index=idx)
    frame["last_event_type"] = "qt-slowdown"
    qt = {
        "official": official, "bill_purchases": None, "qe_announced": None, "state_at_essay": "qt",
        "state_left_qt": None, "state_expanding": None, "state_changes": [],
    }  # fmt: skip
    empty = pd.Series([], dtype=float)
    return Context(frame, SINCE, pd.Timestamp(asof), empty, empty, empty, qt, growth or {}, returns or {}, {})


@pytest.mark.parametrize(
    "rate,months,verdict", [(70.0, 6.0, "held"), (150.0, 6.0, "held"), (30.0, 6.0, "failed"), (90.0, 1.0, "too early")]
)
def test_qe_rule(rate, months, verdict):
    from backtester.research.thesis.claims import qe_follows

    g = {"bn_per_month": rate, "slope_bn_per_month": rate, "months": months, "end_observation": "2026-06-01",
         "base_observation": "2025-11-26", "start": "2025-12-01"}  # fmt: skip
    assert qe_follows(_ctx(growth={"from_qt_end": g}))["verdict"] == verdict


@pytest.mark.parametrize(
    "effective,asof,verdict",
    [("2025-12-01", "2026-08-19", "held"), ("2026-03-01", "2026-08-19", "failed"), (None, "2025-12-15", "too early"),
     (None, "2026-08-19", "failed")],
)  # fmt: skip
def test_qt_end_rule(effective, asof, verdict):
    from backtester.research.thesis.claims import qt_ends_soon

    off = {"announced": "2025-10-29", "effective": effective} if effective else None
    assert qt_ends_soon(_ctx(official=off, asof=asof))["verdict"] == verdict


def test_returns_rule_too_early_and_held():
    from backtester.research.thesis.claims import gold_bitcoin_win

    own = {a: {"start_close": 1.0} for a in ("GLD", "BTC-USD", "SPY", "CASH")}
    common = {"GLD": 0.2, "BTC-USD": 0.3, "SPY": 0.1, "CASH": 0.01}
    ret = {"start": "2025-10-14", "common_end": "2026-06-04", "common_sessions": 161, "assets": own, "common": common}
    assert gold_bitcoin_win(_ctx(returns=ret))["verdict"] == "held"
    assert gold_bitcoin_win(_ctx(returns={**ret, "common": {**common, "BTC-USD": 0.05}}))["verdict"] == "failed"
    assert gold_bitcoin_win(_ctx(returns={**ret, "common_sessions": 20}))["verdict"] == "too early"


# ---------------------------------------------------------------- hedge significance
@pytest.fixture(scope="module")
def saved_run(snapshot_store, tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    code, out, err = run_cli(
        "backtest", "seed-thesis", "--start", "2018-01-02", "--end", "2024-12-31",
        "--data-dir", str(snapshot_store.root), "--reports-dir", str(reports), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    return reports, json.loads(out)


def test_significance_json_matches_run(saved_run):
    reports, run = saved_run
    args = ("significance", run["run_id"], "--reports-dir", str(reports), "--format", "json", "--n-boot", "500")
    code, out, err = run_cli(*args)
    assert code == 0, err
    got = json.loads(out)
    assert got["run_id"] == run["run_id"] and got["strategy_name"] == "seed-thesis" and got["benchmark_name"] == "SPY"
    assert got["n"] == run["strategy"]["days"] and got["n_boot"] == 500
    assert (got["start"], got["end"]) == (run["period"]["start"], run["period"]["end"])
    d = got["sharpe_difference"]
    assert d["observed"] == pytest.approx(run["strategy"]["sharpe"] - run["benchmark"]["sharpe"], abs=1e-9)
    assert 0 < d["p_value"] <= 1 and d["ci95"][0] < d["ci95"][1]
    # same seed, same answer; another seed, another draw
    assert run_cli(*args)[1] == out
    other = json.loads(run_cli(*args, "--seed", "7")[1])
    assert other["sharpe_difference"]["p_value"] != d["p_value"] or other["sharpe_difference"]["ci95"] != d["ci95"]


def test_significance_for_run_reads_the_folder(saved_run):
    from backtester.bootstrap import sharpe_difference_test
    from backtester.research.significance import significance_for_run

    reports, run = saved_run
    got = significance_for_run(reports / run["run_id"], n_boot=300, seed=3)
    rets = pd.read_csv(reports / run["run_id"] / "returns.csv", index_col="date", parse_dates=True)
    ref = sharpe_difference_test(rets["strategy"], rets["benchmark"], rets["cash"], n_boot=300, seed=3)
    assert got["sharpe_difference"] == ref["sharpe_difference"] and got["mean_excess"] == ref["mean_excess"]


def test_significance_table(saved_run):
    reports, run = saved_run
    code, out, err = run_cli("significance", run["run_id"], "--reports-dir", str(reports), "--n-boot", "200")
    assert code == 0, err
    assert "p-value" in out and "95% interval" in out and "Sharpe difference" in out


@pytest.mark.parametrize(
    "rid, message",
    [("no-such-run-123", "error: no saved run"), ("../etc", "error: '../etc' is not a run id"),
     (".", "error: '.' is not a run id")],
)  # fmt: skip
def test_significance_unknown_run_exit_2(saved_run, rid, message):
    reports, _ = saved_run
    code, out, err = run_cli("significance", rid, "--reports-dir", str(reports))
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1
