"""The series catalog: one declarative table of every series the tool knows.

Each row says where a series comes from, its units, what its date means, and its availability rule:
which first decision date (an NYSE close, 16:00 ET) may use a value dated t. The rules themselves live
in ``availability.py``; ``staleness_days`` is the largest age (decision date minus observation date, in
calendar days) at which a value is still used -- older values come back missing, never carried forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

MACRO_COLUMNS = ("value",)
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass(frozen=True)
class SeriesSpec:
    id: str  # canonical id, no '=' in it
    title: str
    source: str  # fred | yahoo | treasury | lbma
    source_id: str  # id at the source (FRED series id, Yahoo ticker, ...)
    snapshot_path: str  # path inside the snapshot folder
    kind: str  # macro (date,value) | price (date,open,high,low,close,adj_close,volume)
    units: str
    frequency: str  # daily | daily-7 | weekly | monthly | quarterly
    date_meaning: str
    rule: str  # availability rule, see availability.py
    staleness_days: int
    to_billions: float | None = None  # multiply to get USD billions (USD amounts only)
    holdable: bool = False
    core: bool = False  # counts toward the store's "last common date"
    min_value: float | None = 0.0  # values below are impossible (None: no bound, e.g. spreads)
    empty_as_zero_before: str | None = None  # empty rows before this date mean zero, not missing
    note: str = ""
    # prices only: nyse | crypto (trades every day) | CMES | XLON (exchange_calendars) | weekdays
    # (validate.check_calendar refuses prices dated on days the calendar is closed)
    calendar: str = "nyse"
    asset_class: str = ""  # holdable prices: equity (ETF/equity) | crypto | other -- picks the default costs
    user: bool = False  # declared by the user (``hedge data add``), stored with its declaration


def _fred(id, title, units, freq, meaning, rule, stale, **kw) -> SeriesSpec:
    return SeriesSpec(id, title, "fred", id, f"fred/{id}.csv", "macro", units, freq, meaning, rule, stale, **kw)


def _px(id, ticker, title, units, meaning, rule, stale, path=None, source="yahoo", **kw) -> SeriesSpec:
    if kw.get("holdable"):
        kw.setdefault("asset_class", "equity")
    return SeriesSpec(
        id, title, source, ticker, path or f"prices/{id}.csv", "price", units, "daily", meaning, rule, stale, **kw
    )


def _etf(id, title, **kw) -> SeriesSpec:
    return _px(id, id, title, "USD/share", "NYSE session close", "close", 10, holdable=True, **kw)


def _crypto(id, title, **kw) -> SeriesSpec:
    meaning = "UTC day (bar closes 00:00 UTC next day)"
    kw.update(holdable=True, calendar="crypto", asset_class="crypto")
    return _px(id, id, title, "USD", meaning, "utc_bar", 5, **kw)


_H41 = "Wednesday level (H.4.1)"
_BDAY = "business day"

CATALOG: dict[str, SeriesSpec] = {
    s.id: s
    for s in [
        _fred("WALCL", "Fed total assets", "USD millions", "weekly", _H41, "h41", 21, to_billions=1e-3, core=True),
        _fred(
            "WRESBAL",
            "Reserve balances with F.R. Banks",
            "USD millions",
            "weekly",
            "week average ending Wednesday (H.4.1)",
            "h41",
            21,
            to_billions=1e-3,
            core=True,
        ),
        _fred(
            "WTREGEN",
            "Treasury General Account, week average (H.4.1)",
            "USD millions",
            "weekly",
            "average of the 7 days ending Wednesday (H.4.1)",
            "h41",
            21,
            to_billions=1e-3,
        ),
        _fred(
            "WDTGAL",
            "Treasury General Account, Wednesday level (H.4.1)",
            "USD millions",
            "weekly",
            _H41,
            "h41",
            21,
            to_billions=1e-3,
            note="the Wednesday level used by net liquidity; WTREGEN is the week average",
        ),
        _fred(
            "RRPONTSYD",
            "Overnight reverse repo (Treasury collateral)",
            "USD billions",
            "daily",
            _BDAY,
            "next_bday",
            10,
            to_billions=1.0,
            core=True,
            empty_as_zero_before="2013-09-23",
            note="empty rows before the ON RRP test program (2013-09-23) mean no operation: zero",
        ),
        _fred("SOFR", "Secured overnight financing rate", "percent", "daily", _BDAY, "next_bday", 10, core=True),
        _fred("EFFR", "Effective federal funds rate", "percent", "daily", _BDAY, "next_bday", 10, core=True),
        _fred("DFF", "Fed funds effective (7-day)", "percent", "daily-7", "calendar day", "next_bday", 10, core=True),
        _fred("IORB", "Interest on reserve balances", "percent", "daily-7", "calendar day", "next_bday", 10),
        _fred(
            "IOER",
            "Interest on excess reserves (IORB's predecessor)",
            "percent",
            "daily-7",
            "calendar day",
            "next_bday",
            10,
            note="discontinued 2021-07-28; IORB continues it from 2021-07-29",
        ),
        _fred("GDP", "Nominal GDP (SAAR)", "USD billions", "quarterly", "quarter start", "gdp", 320, to_billions=1.0),
        _fred("DGS10", "10-year Treasury yield", "percent", "daily", _BDAY, "next_bday", 10),
        _fred("DGS2", "2-year Treasury yield", "percent", "daily", _BDAY, "next_bday", 10),
        _fred("DTWEXBGS", "Broad dollar index", "index Jan2006=100", "daily", _BDAY, "h10_weekly", 16),
        _fred("VIXCLS", "VIX close", "index", "daily", _BDAY, "next_bday", 10),
        _fred(
            "M2SL",
            "M2 money stock (SA)",
            "USD billions",
            "monthly",
            "month start (average)",
            "monthly",
            100,
            to_billions=1.0,
        ),
        _fred(
            "TOTRESNS",
            "Total reserves (H.3)",
            "USD billions",
            "monthly",
            "month start (average)",
            "monthly",
            100,
            to_billions=1.0,
        ),
        SeriesSpec(
            "TGA",
            "Treasury General Account closing balance (Daily Treasury Statement)",
            "treasury",
            "operating_cash_balance",
            "treasury/TGA_DTS_closing_balance.csv",
            "macro",
            "USD millions",
            "daily",
            _BDAY,
            "dts",
            10,
            to_billions=1e-3,
            note="Treasury accounting, differs from H.4.1 WTREGEN by ~$20bn typically: never spliced with it",
        ),
        _crypto("BTC-USD", "Bitcoin (Yahoo)", core=True),
        _crypto(
            "ETH-USD",
            "Ether (Yahoo)",
            note="suspect row 2026-03-27 (close 1980.40, probably an intraday snapshot; see MANIFEST.md)",
        ),
        _px(
            "GLD",
            "GLD",
            "SPDR Gold Shares ETF",
            "USD/share",
            "NYSE session close",
            "close",
            10,
            holdable=True,
            core=True,
        ),
        _px(
            "GC_F",
            "GC=F",
            "COMEX gold continuous front month",
            "USD/oz",
            "COMEX session",
            "close_next",
            10,
            note="continuous contract with roll jumps: a signal input, not holdable",
            calendar="CMES",
        ),
        _px(
            "LBMA_GOLD",
            "gold_pm",
            "LBMA Gold Price PM (USD)",
            "USD/oz",
            "London 15:00 auction",
            "fixing",
            10,
            path="prices/XAUUSD_LBMA_PM.csv",
            source="lbma",
            holdable=True,
            asset_class="other",
            note="a fixing, not a tradable close: a labelled proxy for gold",
            calendar="XLON",
        ),
        _px("SPY", "SPY", "SPDR S&P 500 ETF (adjusted)", "USD/share", "NYSE session close", "close", 10, holdable=True),
        _px("QQQ", "QQQ", "Invesco QQQ (adjusted)", "USD/share", "NYSE session close", "close", 10, holdable=True),
        _px(
            "TLT",
            "TLT",
            "iShares 20+y Treasury (adjusted)",
            "USD/share",
            "NYSE session close",
            "close",
            10,
            holdable=True,
        ),
        _px(
            "IEF",
            "IEF",
            "iShares 7-10y Treasury (adjusted)",
            "USD/share",
            "NYSE session close",
            "close",
            10,
            holdable=True,
        ),
        _etf("SLV", "iShares Silver Trust"),
        _etf("UUP", "Invesco DB US Dollar Index Bullish (adjusted)"),
        _etf("BIL", "SPDR 1-3 Month T-Bill ETF (adjusted)", note="ends 2025-12-08 in the snapshot (see MANIFEST.md)"),
        _etf("SGOV", "iShares 0-3 Month Treasury ETF (adjusted)", note="ends 2025-12-19 in the snapshot"),
        _px(
            "DX-Y_NYB",
            "DX-Y.NYB",
            "ICE US dollar index",
            "index",
            "ICE session (closes 17:00 ET)",
            "close_next",
            10,
            calendar="weekdays",
        ),  # fmt: skip
    ]
}

HOLDABLE = tuple(s.id for s in CATALOG.values() if s.holdable) + ("CASH",)


def get(series_id: str) -> SeriesSpec:
    try:
        return CATALOG[series_id]
    except KeyError:
        known = ", ".join(CATALOG)
        raise UsageError(f"unknown series {series_id!r}", f"known series: {known}") from None


def by_snapshot_path() -> dict[str, SeriesSpec]:
    return {s.snapshot_path: s for s in CATALOG.values()}
