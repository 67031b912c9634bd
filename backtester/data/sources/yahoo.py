"""Yahoo Finance daily bars through ``yfinance.download`` (ticker in ``spec.source_id``).

ETFs (catalog units ``USD/share``: GLD, SPY, ...) are pulled with ``auto_adjust=True``: ``open, high,
low, close`` are then dividend- and split-adjusted, so ``close`` IS the adjusted close and
``adj_close`` repeats it. Other tickers (GC=F, DX-Y.NYB, BTC-USD: no dividends) come unadjusted with
Yahoo's own ``Adj Close``. yfinance logs errors and returns an EMPTY frame instead of raising (offline,
rate-limited, unknown ticker): that is retried, then raised as DataError. Incremental pulls ask for two
weeks before ``since`` so a live ticker never answers empty on a weekend or holiday.
"""

from __future__ import annotations

import logging
import re
import warnings

import pandas as pd

from ...errors import DataError
from ..catalog import SeriesSpec
from . import http

SOURCE = "Yahoo Finance"
LOOKBACK = pd.Timedelta(days=14)
_FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
           "Volume": "volume"}  # fmt: skip


_SEE_URL = re.compile(r"\.?\s*See https?://\S+.*$")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(" ".join(record.getMessage().split()))


def fetch(spec: SeriesSpec, since: pd.Timestamp | None, *, timeout: float, retries: int) -> pd.DataFrame:
    import yfinance as yf

    adjusted = spec.units == "USD/share"
    kw = {"start": (since - LOOKBACK).strftime("%Y-%m-%d")} if since is not None else {"period": "max"}
    attempts = 1 + max(0, int(retries))
    reason = "empty answer"
    for attempt in range(attempts):
        raw, reason = _download(yf, spec.source_id, adjusted, timeout, kw)
        if raw is not None and not isinstance(raw, pd.DataFrame):
            raise http.malformed(SOURCE, spec.id, f"a {type(raw).__name__} instead of a frame")
        if raw is not None and not raw.empty:
            frame = _flatten(raw, spec)
            if frame["close"].notna().any():
                if adjusted:
                    frame["adj_close"] = frame["close"]
                return frame
        if attempt + 1 < attempts:
            http.sleep(http.BACKOFF_S * 2**attempt)
    raise DataError(
        f"{SOURCE} returned no prices for {spec.id} ({spec.source_id}): {reason}",
        "yfinance answers empty when offline, rate-limited or the ticker is unknown: retry later, "
        "or work offline with `hedge data import DIR`",
    )


def _download(yf, ticker: str, adjusted: bool, timeout: float, kw: dict):
    """One ``yf.download``: (frame or None, the reason yfinance logged or raised)."""
    collect = _Collect()
    yf_log = logging.getLogger("yfinance")
    yf_log.addHandler(collect)
    raw, reason = None, "empty answer"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # yfinance's own pandas-4 deprecations
            warnings.simplefilter("ignore", FutureWarning)
            raw = yf.download(
                ticker, interval="1d", auto_adjust=adjusted, actions=False, threads=False,
                progress=False, timeout=timeout, **kw,
            )  # fmt: skip
    except Exception as exc:  # yfinance mostly logs, but may raise (curl errors, bad JSON)
        reason = f"{type(exc).__name__}: {exc}"
    finally:
        yf_log.removeHandler(collect)
    if raw is not None and collect.messages:
        reason = collect.messages[-1]
    reason = _SEE_URL.sub("", " ".join(str(reason).split()))
    reason = reason.split("]: ", 1)[-1] if reason.startswith("[") else reason  # "['GLD']: ..." prefix
    return raw, reason[:160]


def _flatten(raw: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """Columns ``date, open, ..., volume`` from yfinance's (possibly MultiIndex) frame."""
    df = raw
    if isinstance(df.columns, pd.MultiIndex):
        if df.columns.nlevels != 2:
            raise http.malformed(SOURCE, spec.id, f"{df.columns.nlevels}-level columns")
        lvl = next((i for i in range(2) if "Close" in df.columns.get_level_values(i)), None)
        if lvl is None:
            raise http.malformed(SOURCE, spec.id, "no Close column")
        tickers = df.columns.get_level_values(1 - lvl)
        match = [t for t in dict.fromkeys(tickers) if str(t).upper() == spec.source_id.upper()]
        if not match and len(set(tickers)) != 1:
            raise http.malformed(SOURCE, spec.id, f"no column for ticker {spec.source_id}")
        df = df.xs(match[0] if match else tickers[0], axis=1, level=1 - lvl)
    if "Close" not in df.columns:
        raise http.malformed(SOURCE, spec.id, f"no Close column (got {', '.join(map(str, df.columns))[:80]})")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise http.malformed(SOURCE, spec.id, "index is not dates")
    idx = df.index.tz_localize(None) if df.index.tz is not None else df.index  # exchange-local date
    out = pd.DataFrame({"date": idx.normalize().astype("datetime64[ns]")})
    for src, col in _FIELDS.items():
        if src in df.columns:
            try:
                out[col] = pd.to_numeric(df[src], errors="raise").astype("float64").values
            except (TypeError, ValueError):
                raise http.malformed(SOURCE, spec.id, f"non-numeric {src}") from None
        else:
            out[col] = float("nan")
    return out
