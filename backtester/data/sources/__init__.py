"""Online pulls: ``fetch(spec, since)`` returns a series' rows in the catalog's raw units.

- ``fred``: with ``FRED_API_KEY`` set, fredapi over our timed ``http.get`` (GDP: ALFRED first releases,
  with a ``published_on`` column); without a key, the keyless fredgraph CSV.
  URLs: ``HEDGE_FRED_API_URL``, ``HEDGE_FREDGRAPH_URL``.
- ``yahoo``: ``yfinance.download``. ETFs (units ``USD/share``) use ``auto_adjust=True``: their ``close``
  IS the dividend/split-adjusted close (``adj_close`` repeats it).
- ``treasury``: Fiscal Data API, Daily Treasury Statement TGA closing balance, USD millions.
  URL: ``HEDGE_TREASURY_URL``.
- ``lbma``: LBMA JSON feed (``gold_pm``), USD leg in ``close``. URL: ``HEDGE_LBMA_URL``.

The returned frame has ``date`` (datetime64[ns], normalized, sorted, unique) and the value columns
(``value``, or ``open, high, low, close, adj_close, volume`` as float64, NaN where the source lacks
one), plus ``published_on`` for ALFRED first releases. Rows without a value (``close`` for prices) are
dropped, except before ``spec.empty_as_zero_before`` where they mean 0.0. ``since`` keeps dates >= since.
``published_on``/``available_on`` rules are the caller's (``availability.annotate``).
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

from ...errors import DataError, UsageError
from ..catalog import MACRO_COLUMNS, PRICE_COLUMNS, SeriesSpec
from .http import OFFLINE_FIX

SOURCES = {"fred": "FRED", "yahoo": "Yahoo Finance", "treasury": "Treasury Fiscal Data", "lbma": "LBMA"}

__all__ = ["SOURCES", "fetch", "finish"]


def fetch(
    spec: SeriesSpec, since: pd.Timestamp | None = None, *, timeout: float = 20, retries: int = 3
) -> pd.DataFrame:
    """Pull ``spec`` from its online source (rows dated >= ``since`` if given). Raises DataError."""
    if spec.source not in SOURCES:
        raise UsageError(f"no online source {spec.source!r} for {spec.id}", f"known sources: {', '.join(SOURCES)}")
    since = _day(since)
    module = importlib.import_module(f".{spec.source}", __name__)
    raw = module.fetch(spec, since, timeout=timeout, retries=retries)
    return finish(spec, raw, since)


def _day(ts) -> pd.Timestamp | None:
    if ts is None:
        return None
    ts = pd.Timestamp(ts)
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def finish(spec: SeriesSpec, raw: pd.DataFrame, since: pd.Timestamp | None = None) -> pd.DataFrame:
    """Normalize a source's raw rows to the stored-frame layout (see the module docstring)."""
    cols = list(MACRO_COLUMNS if spec.kind == "macro" else PRICE_COLUMNS)
    extra = [c for c in ("published_on",) if c in raw.columns]
    out = pd.DataFrame({"date": _dates(raw["date"])})
    for c in cols:
        out[c] = pd.to_numeric(raw[c], errors="raise").astype("float64").values if c in raw else np.nan
    for c in extra:
        out[c] = _dates(raw[c])
    key = "value" if spec.kind == "macro" else "close"
    if spec.empty_as_zero_before:
        early = out[key].isna() & (out["date"] < pd.Timestamp(spec.empty_as_zero_before))
        out.loc[early, key] = 0.0
    out = out[out[key].notna() & out["date"].notna()]
    if since is not None:
        out = out[out["date"] >= _day(since)]
    out = out.sort_values("date", kind="stable").drop_duplicates("date", keep="last")
    if out.empty and since is None:
        raise DataError(f"{SOURCES.get(spec.source, spec.source)} returned no observations for {spec.id}", OFFLINE_FIX)
    return out[["date", *cols, *extra]].reset_index(drop=True)


def _dates(values) -> np.ndarray:
    ser = pd.to_datetime(pd.Series(values).reset_index(drop=True))
    if ser.dt.tz is not None:
        ser = ser.dt.tz_localize(None)  # keep the wall-clock (exchange-local) date
    return ser.dt.normalize().astype("datetime64[ns]").values
