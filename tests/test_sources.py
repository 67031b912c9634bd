"""Online sources against a local HTTP server on 127.0.0.1 serving recorded answers (no real network)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from backtester.data import sources
from backtester.data.catalog import CATALOG
from backtester.data.sources import http
from backtester.errors import DataError

FIX = Path(__file__).parent / "fixtures" / "sources"
KEY = "abcdef0123456789secretkey"


class Server:
    """Routes: path -> list of answers (status, body, content_type, delay_s); the last answer repeats."""

    def __init__(self):
        self.routes: dict[str, list[tuple]] = {}
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                outer.requests.append((parts.path, parse_qs(parts.query)))
                answers = outer.routes.get(parts.path) or [(404, b"not found", "text/plain", 0)]
                status, body, ctype, delay = answers.pop(0) if len(answers) > 1 else answers[0]
                if callable(body):
                    body = body(parse_qs(parts.query))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    def route(self, path, *answers):
        self.routes[path] = [
            (a[0], a[1].encode() if isinstance(a[1], str) else a[1], a[2] if len(a) > 2 else "text/plain",
             a[3] if len(a) > 3 else 0)
            for a in answers
        ]  # fmt: skip

    def hits(self, path):
        return [q for p, q in self.requests if p == path]


@pytest.fixture
def server(monkeypatch):
    srv = Server()
    srv.thread.start()
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.setenv("HEDGE_FRED_API_URL", srv.url + "/fred")
    monkeypatch.setenv("HEDGE_FREDGRAPH_URL", srv.url + "/graph/fredgraph.csv")
    monkeypatch.setenv("HEDGE_TREASURY_URL", srv.url + "/dts")
    monkeypatch.setenv("HEDGE_LBMA_URL", srv.url + "/json")
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(autouse=True)
def sleeps(monkeypatch):
    """Backoff sleeps are recorded, not slept."""
    slept: list[float] = []
    monkeypatch.setattr(http, "sleep", slept.append)
    return slept


def fixture(name):
    return (FIX / name).read_bytes()


def dates(frame):
    return [d.strftime("%Y-%m-%d") for d in frame["date"]]


def assert_layout(frame, cols):
    assert list(frame.columns) == ["date", *cols]
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
    assert (frame["date"] == frame["date"].dt.normalize()).all()
    for c in cols:
        if c != "published_on":
            assert frame[c].dtype == "float64"


# -- FRED, keyless CSV ---------------------------------------------------------------------------


def test_fred_csv_ok_drops_dot_missing(server):
    server.route("/graph/fredgraph.csv", (200, fixture("fredgraph_WALCL.csv"), "text/csv"))
    out = sources.fetch(CATALOG["WALCL"])
    assert_layout(out, ["value"])
    assert dates(out) == ["2024-01-03", "2024-01-10", "2024-01-24"]
    assert out["value"].tolist() == [7713566.0, 7686238.0, 7677453.0]  # USD millions, as FRED serves
    assert server.hits("/graph/fredgraph.csv")[0]["id"] == ["WALCL"]


def test_fred_csv_since_filters_and_asks_from_since(server):
    server.route("/graph/fredgraph.csv", (200, fixture("fredgraph_WALCL.csv"), "text/csv"))
    out = sources.fetch(CATALOG["WALCL"], since=pd.Timestamp("2024-01-10"))
    assert dates(out) == ["2024-01-10", "2024-01-24"]
    assert server.hits("/graph/fredgraph.csv")[0]["cosd"] == ["2024-01-10"]


def test_fred_csv_old_header_and_rrp_zero_before_rule(server):
    server.route("/graph/fredgraph.csv", (200, fixture("fredgraph_RRPONTSYD.csv"), "text/csv"))
    out = sources.fetch(CATALOG["RRPONTSYD"])
    # '.' and empty before 2013-09-23 mean "no operation" (0.0); '.' after it is missing (dropped)
    assert dates(out) == ["2013-09-19", "2013-09-20", "2013-09-23", "2013-09-25"]
    assert out["value"].tolist() == [0.0, 0.0, 11.809, 8.652]


@pytest.mark.parametrize(
    "body, needle",
    [
        ("fredgraph_bad_header.csv", "unexpected CSV header"),
        ("fredgraph_WALCL_nonnumeric.csv", "non-numeric value 'n/a?'"),
        ("observation_date,WALCL\n2024-13-45,1\n", "bad date"),
        ("observation_date,DGS10\n2024-01-03,4.0\n", "want observation_date,WALCL"),
    ],
)
def test_fred_csv_malformed(server, sleeps, body, needle):
    data = fixture(body) if body.endswith(".csv") else body
    server.route("/graph/fredgraph.csv", (200, data, "text/csv"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["WALCL"])
    assert ei.value.what.startswith("malformed answer from FRED for WALCL")
    assert needle in ei.value.what
    assert "hedge data import" in ei.value.fix
    assert len(server.hits("/graph/fredgraph.csv")) == 1 and sleeps == []  # no retry on a bad answer


# -- HTTP failures: retry, no retry, timeout, refused ------------------------------------------


def test_500_then_success_retries(server, sleeps):
    server.route(
        "/graph/fredgraph.csv", (500, "oops"), (503, "busy"), (200, fixture("fredgraph_WALCL.csv"), "text/csv")
    )
    out = sources.fetch(CATALOG["WALCL"], retries=3)
    assert out["value"].iloc[-1] == 7677453.0
    assert len(server.hits("/graph/fredgraph.csv")) == 3
    assert sleeps == [http.BACKOFF_S, http.BACKOFF_S * 2]  # exponential backoff


def test_5xx_exhausts_bounded_retries(server, sleeps):
    server.route("/graph/fredgraph.csv", (502, "bad gateway"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["SOFR"], retries=2)
    assert ei.value.what == "cannot reach FRED for SOFR: HTTP 502 Bad Gateway (3 attempts)"
    assert ei.value.fix == "check the network, or work offline with `hedge data import DIR`"
    assert len(server.hits("/graph/fredgraph.csv")) == 3 and len(sleeps) == 2


def test_429_is_retried_with_short_retry_after(server, sleeps):
    server.route("/json/gold_pm.json", (429, "slow down"), (200, fixture("lbma_gold_pm.json"), "application/json"))
    out = sources.fetch(CATALOG["LBMA_GOLD"])
    assert len(out) == 3 and len(sleeps) == 1


def test_404_is_not_retried(server, sleeps):
    server.route("/graph/fredgraph.csv", (404, "Not Found"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["EFFR"], retries=3)
    assert ei.value.what == "FRED refused the request for EFFR: HTTP 404 Not Found"
    assert len(server.hits("/graph/fredgraph.csv")) == 1 and sleeps == []


def test_timeout_is_quick_and_bounded(server, sleeps):
    server.route("/graph/fredgraph.csv", (200, fixture("fredgraph_WALCL.csv"), "text/csv", 2.0))
    t0 = time.monotonic()
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["WALCL"], timeout=0.2, retries=1)
    assert time.monotonic() - t0 < 1.5
    assert ei.value.what == "cannot reach FRED for WALCL: no answer within 0.2s (2 attempts)"
    assert len(server.hits("/graph/fredgraph.csv")) == 2 and sleeps == [http.BACKOFF_S]


def test_connection_refused(monkeypatch, sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.setenv("HEDGE_FREDGRAPH_URL", f"http://127.0.0.1:{port}/graph/fredgraph.csv")
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["DGS10"], retries=2)
    assert ei.value.what == "cannot reach FRED for DGS10: Connection refused (3 attempts)"
    assert ei.value.line().startswith("error: cannot reach FRED for DGS10")
    assert len(sleeps) == 2


def test_bad_url_setting_is_not_retried(monkeypatch, sleeps):
    monkeypatch.setenv("HEDGE_LBMA_URL", "nonsense://nowhere")
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["LBMA_GOLD"])
    assert ei.value.what.startswith("cannot query LBMA for LBMA_GOLD: InvalidSchema")
    assert "HEDGE_" in ei.value.fix and sleeps == []


# -- FRED with a key: fredapi (and ALFRED first releases for GDP) --------------------------------


def test_fred_api_key_uses_fredapi(server, monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", KEY)
    server.route("/fred/series/observations", (200, fixture("fred_api_WALCL.xml"), "text/xml"))
    out = sources.fetch(CATALOG["WALCL"], since=pd.Timestamp("2024-01-05"))
    assert_layout(out, ["value"])
    assert dates(out) == ["2024-01-10", "2024-01-24"]
    assert out["value"].tolist() == [7686238.0, 7677453.0]
    (q,) = server.hits("/fred/series/observations")
    assert q["series_id"] == ["WALCL"] and q["api_key"] == [KEY]
    assert q["observation_start"] == ["2024-01-05"]
    assert server.hits("/graph/fredgraph.csv") == []


def test_alfred_gdp_first_release(server, monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", KEY)
    server.route("/fred/series/observations", (200, fixture("alfred_GDP.xml"), "text/xml"))
    out = sources.fetch(CATALOG["GDP"])
    assert_layout(out, ["value", "published_on"])
    assert dates(out) == ["2023-01-01", "2023-04-01", "2023-07-01"]
    assert out["value"].tolist() == [26486.3, 26834.8, 27623.5]  # first published, not revised
    assert [d.strftime("%Y-%m-%d") for d in out["published_on"]] == ["2023-04-27", "2023-07-27", "2023-10-26"]
    assert out["published_on"].dtype == "datetime64[ns]"
    (q,) = server.hits("/fred/series/observations")
    assert q["realtime_start"] == ["1776-07-04"] and q["realtime_end"] == ["9999-12-31"]


def test_fred_api_bad_xml_is_malformed(server, monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", KEY)
    bad = '<observations><observation date="2024-01-03" value="lots"/></observations>'
    server.route("/fred/series/observations", (200, bad, "text/xml"))
    with pytest.raises(DataError, match="malformed answer from FRED for WALCL: could not convert"):
        sources.fetch(CATALOG["WALCL"])
    server.route("/fred/series/observations", (200, "<html>", "text/html"))
    with pytest.raises(DataError, match="malformed answer from FRED for WALCL: not XML"):
        sources.fetch(CATALOG["WALCL"])


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _assert_no_key(excinfo, caplog):
    for e in _chain(excinfo.value):
        for text in (str(e), repr(e), getattr(e, "what", ""), getattr(e, "fix", "") or ""):
            assert KEY not in text
    for rec in caplog.records:
        assert KEY not in rec.getMessage()


def test_api_key_never_in_errors_or_logs(server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FRED_API_KEY", KEY)
    echo = f'<error code="400" message="Bad Request. The value {KEY} for variable api_key is not registered."/>'
    server.route("/fred/series/observations", (400, echo, "text/xml"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["WALCL"])
    assert ei.value.what == (
        "FRED refused the request for WALCL: HTTP 400 Bad Request: "
        "Bad Request. The value *** for variable api_key is not registered."
    )
    assert "FRED_API_KEY" in ei.value.fix
    _assert_no_key(ei, caplog)
    assert any("api_key=***" in r.getMessage() for r in caplog.records)  # urllib3's URL log, masked

    server.route("/fred/series/observations", (500, f"internal error for key {KEY}", "text/plain"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["WALCL"], retries=1)
    _assert_no_key(ei, caplog)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HEDGE_FRED_API_URL", f"http://127.0.0.1:{port}/fred")
    with pytest.raises(DataError, match="cannot reach FRED for WALCL: Connection refused") as ei:
        sources.fetch(CATALOG["WALCL"], retries=0)
    _assert_no_key(ei, caplog)


def test_mask():
    assert http.mask(f"GET /x?series_id=A&api_key={KEY}&b=1", [KEY]) == "GET /x?series_id=A&api_key=***&b=1"
    assert http.mask("api_key=zzz", []) == "api_key=***"


# -- Treasury and LBMA ---------------------------------------------------------------------------


def _tga_pages(query):
    page = query["page[number]"][0]
    return fixture(f"treasury_tga_page{page}.json")


def test_treasury_tga_paginated_millions(server):
    server.route("/dts/operating_cash_balance", (200, _tga_pages, "application/json"))
    out = sources.fetch(CATALOG["TGA"])
    assert_layout(out, ["value"])
    assert dates(out) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert out["value"].tolist() == [769151.0, 746452.0, 739863.0]  # USD millions
    hits = server.hits("/dts/operating_cash_balance")
    assert [q["page[number]"] for q in hits] == [["1"], ["2"]]
    assert hits[0]["filter"] == ["account_type:eq:Treasury General Account (TGA) Closing Balance"]


def test_treasury_since_in_filter(server):
    server.route("/dts/operating_cash_balance", (200, _tga_pages, "application/json"))
    out = sources.fetch(CATALOG["TGA"], since=pd.Timestamp("2024-01-03"))
    assert dates(out) == ["2024-01-03", "2024-01-04"]
    assert server.hits("/dts/operating_cash_balance")[0]["filter"][0].endswith(",record_date:gte:2024-01-03")


@pytest.mark.parametrize(
    "body, needle",
    [
        ("<html>maintenance</html>", "not JSON"),
        ('{"data": []}', "no data/meta.total-pages"),
        (
            '{"data": [{"record_date": "2024-01-02", "account_type": "Treasury General Account (TGA) Closing Balance",'
            ' "open_today_bal": "lots", "close_today_bal": "null"}], "meta": {"total-pages": 1}}',
            "non-numeric value 'lots'",
        ),
    ],
)
def test_treasury_malformed(server, body, needle):
    server.route("/dts/operating_cash_balance", (200, body, "application/json"))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["TGA"])
    assert ei.value.what.startswith("malformed answer from Treasury Fiscal Data for TGA")
    assert needle in ei.value.what


def test_lbma_ok(server):
    server.route("/json/gold_pm.json", (200, fixture("lbma_gold_pm.json"), "application/json"))
    out = sources.fetch(CATALOG["LBMA_GOLD"])
    assert_layout(out, ["open", "high", "low", "close", "adj_close", "volume"])
    assert dates(out) == ["2024-01-02", "2024-01-03", "2024-01-05"]  # the zero (no fixing) row is dropped
    assert out["close"].tolist() == [2064.4, 2034.85, 2042.5]  # the USD leg
    assert out["adj_close"].tolist() == out["close"].tolist()
    assert out[["open", "high", "low", "volume"]].isna().all().all()


def test_lbma_malformed(server):
    server.route("/json/gold_pm.json", (200, '[{"d": "2024-01-02", "v": "2064"}]', "application/json"))
    with pytest.raises(DataError, match=r"malformed answer from LBMA for LBMA_GOLD: expected a list"):
        sources.fetch(CATALOG["LBMA_GOLD"])


# -- Yahoo (yfinance.download replaced by recorded frames) ---------------------------------------


def _bars(ticker, days, *, adj=False, multi=True, tz=None):
    idx = pd.DatetimeIndex(pd.to_datetime(days), name="Date")
    if tz:
        idx = idx.tz_localize(tz)
    n = len(days)
    cols = {
        "Close": np.arange(n) + 100.5,
        "High": np.arange(n) + 101.0,
        "Low": np.arange(n) + 99.0,
        "Open": np.arange(n) + 100.0,
        "Volume": np.arange(n) * 1000.0 + 5e6,
    }
    if adj:
        cols["Adj Close"] = np.arange(n) + 100.25
    df = pd.DataFrame(cols, index=idx)
    if multi:
        df.columns = pd.MultiIndex.from_product([df.columns, [ticker]], names=["Price", "Ticker"])
    return df


class FakeDownload:
    def __init__(self, *frames, log=None):
        self.frames, self.calls, self.log = list(frames), [], log

    def __call__(self, tickers, **kw):
        self.calls.append((tickers, kw))
        if self.log:
            logging.getLogger("yfinance").error(self.log)
        return self.frames.pop(0) if len(self.frames) > 1 else self.frames[0]


def test_yahoo_etf_ok_adjusted_multiindex(monkeypatch):
    import yfinance

    fake = FakeDownload(_bars("GLD", ["2024-01-02", "2024-01-03", "2024-01-04"]))
    monkeypatch.setattr(yfinance, "download", fake)
    out = sources.fetch(CATALOG["GLD"], timeout=7)
    assert_layout(out, ["open", "high", "low", "close", "adj_close", "volume"])
    assert dates(out) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert out["close"].tolist() == [100.5, 101.5, 102.5]
    assert out["adj_close"].tolist() == out["close"].tolist()  # auto_adjust: close is the adjusted close
    assert out["volume"].tolist() == [5e6, 5.001e6, 5.002e6]
    ticker, kw = fake.calls[0]
    assert ticker == "GLD" and kw["auto_adjust"] is True and kw["timeout"] == 7 and kw["period"] == "max"


def test_yahoo_future_unadjusted_flat_tz_and_since(monkeypatch):
    import yfinance

    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    fake = FakeDownload(_bars("GC=F", days, adj=True, multi=False, tz="America/New_York"))
    monkeypatch.setattr(yfinance, "download", fake)
    out = sources.fetch(CATALOG["GC_F"], since=pd.Timestamp("2024-01-04"))
    assert dates(out) == ["2024-01-04", "2024-01-05"]  # exchange-local dates, not shifted by UTC
    assert out["close"].tolist() == [102.5, 103.5] and out["adj_close"].tolist() == [102.25, 103.25]
    ticker, kw = fake.calls[0]
    assert ticker == "GC=F" and kw["auto_adjust"] is False
    assert kw["start"] == "2023-12-21" and "period" not in kw  # two weeks of lookback before since


def test_yahoo_empty_frame_raises_after_retries(monkeypatch, sleeps):
    import yfinance

    fake = FakeDownload(pd.DataFrame(), log="['BTC-USD']: YFRateLimitError('Too Many Requests')")
    monkeypatch.setattr(yfinance, "download", fake)
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["BTC-USD"], retries=2)
    assert ei.value.what.startswith("Yahoo Finance returned no prices for BTC-USD (BTC-USD):")
    assert "Too Many Requests" in ei.value.what
    assert "hedge data import" in ei.value.fix
    assert len(fake.calls) == 3 and sleeps == [http.BACKOFF_S, http.BACKOFF_S * 2]


def test_yahoo_empty_then_ok(monkeypatch, sleeps):
    import yfinance

    fake = FakeDownload(pd.DataFrame(), _bars("SPY", ["2024-01-02"]))
    monkeypatch.setattr(yfinance, "download", fake)
    out = sources.fetch(CATALOG["SPY"])
    assert out["close"].tolist() == [100.5] and len(fake.calls) == 2


@pytest.mark.parametrize(
    "frame, needle",
    [
        (_bars("QQQ", ["2024-01-02"]).drop(columns="Close", level=0), "no Close column"),
        (_bars("OTHER", ["2024-01-02"]).join(_bars("MORE", ["2024-01-02"])), "no column for ticker QQQ"),
        (pd.DataFrame({"Close": ["abc"]}, index=pd.DatetimeIndex(["2024-01-02"])), "non-numeric Close"),
        (pd.DataFrame({"Close": [1.0]}, index=["x"]), "index is not dates"),
        (pd.Series([1.0], index=pd.DatetimeIndex(["2024-01-02"])), "a Series instead of a frame"),
    ],
)
def test_yahoo_malformed(monkeypatch, sleeps, frame, needle):
    import yfinance

    monkeypatch.setattr(yfinance, "download", FakeDownload(frame))
    with pytest.raises(DataError) as ei:
        sources.fetch(CATALOG["QQQ"])
    assert ei.value.what.startswith("malformed answer from Yahoo Finance for QQQ")
    assert needle in ei.value.what and sleeps == []


def test_yahoo_raising_download_becomes_dataerror(monkeypatch, sleeps):
    import yfinance

    def boom(*a, **k):
        raise RuntimeError("curl: (6) Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yfinance, "download", boom)
    with pytest.raises(DataError, match="Could not resolve host"):
        sources.fetch(CATALOG["DX-Y_NYB"], retries=1)
    assert len(sleeps) == 1


def test_unknown_source_is_usage_error():
    from dataclasses import replace

    from backtester.errors import UsageError

    with pytest.raises(UsageError, match="no online source 'ftp' for WALCL"):
        sources.fetch(replace(CATALOG["WALCL"], source="ftp"))
