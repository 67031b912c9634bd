"""Point-in-time prices on decision dates: the ``px:<ASSET>`` columns of the signal frame.

For every holdable asset with prices in the store (``backtester.data.market.holdable_assets``), the
column ``px:<ASSET>`` holds the close *as known at that decision date's 16:00 ET close*: the latest
stored row whose ``available_on`` (``data/availability.py``) is on or before the session. So

* NYSE-listed assets (GLD, SPY, QQQ, TLT, IEF; rule ``close``): that session's own close;
* ``BTC-USD`` (rule ``utc_bar``: Yahoo's bar dated D closes 00:00 UTC on D+1, 20:00 ET on D): the
  previous bar -- on Monday the Sunday bar, never the bar that closes four hours after the decision;
* ``LBMA_GOLD`` (rule ``fixing``, 10:00 ET): that London day's PM fixing.

A close older than the series' catalog staleness limit is unknown (NaN), never carried forward. The
price features of the strategy-file language are computed from these columns over decision dates
(sessions), so they inherit the point-in-time property (a row never changes when later data arrive):

* ``close(A)``     the known close;
* ``sma(A, n)``    mean of the last ``n`` known closes (unknown until ``n`` are known in the window);
* ``ret(A, n)``    ``close / close n sessions earlier - 1``;
* ``vol(A, n)``    annualised (x sqrt(252)) standard deviation of the last ``n`` session returns;
* ``drawdown(A)``  ``1 - close / running peak of the known closes`` (0 at a new high, 0.3 = 30% below).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..data import catalog
from ..data.pit import as_known_on

PREFIX = "px:"
ANNUAL = 252.0


def column(asset: str) -> str:
    return PREFIX + asset


def assets_of(store) -> list[str]:
    """The holdable assets with prices in ``store`` (a Store or a mapping ``series id -> frame``)."""
    if isinstance(store, Mapping):
        return [a for a in catalog.HOLDABLE if a != "CASH" and store.get(a) is not None]
    from ..data.market import holdable_assets

    return holdable_assets(store)


def _frame(store, asset: str) -> pd.DataFrame | None:
    f = store.get(asset) if isinstance(store, Mapping) else store.read(asset)
    if f is None or "close" not in f.columns or "available_on" not in f.columns:
        return None
    return f


def known_closes(store, dates) -> dict[str, np.ndarray]:
    """``{"px:<ASSET>": closes as known at each of ``dates``}`` for every holdable asset with prices."""
    dates = pd.DatetimeIndex(dates)
    out: dict[str, np.ndarray] = {}
    for a in assets_of(store):
        f = _frame(store, a)
        if f is None:
            continue
        f = f.assign(close=pd.to_numeric(f["close"], errors="coerce")).dropna(subset=["close"])
        if f.empty:  # listed in the store, no price yet: unknown on every date
            out[column(a)] = np.full(len(dates), np.nan)
            continue
        staleness = catalog.CATALOG[a].staleness_days if a in catalog.CATALOG else None
        out[column(a)] = as_known_on(f, dates, staleness, column="close")["value"].to_numpy(float)
    return out


# ---------------------------------------------------------------- features (pandas Series on decision dates)
def sma(px: pd.Series, n: int) -> pd.Series:
    return px.rolling(n, min_periods=n).mean()


def ret(px: pd.Series, n: int) -> pd.Series:
    return px / px.shift(n) - 1.0


def vol(px: pd.Series, n: int) -> pd.Series:
    r = px / px.shift(1) - 1.0
    return r.rolling(n, min_periods=n).std(ddof=1) * np.sqrt(ANNUAL)


def drawdown(px: pd.Series) -> pd.Series:
    peak = px.cummax()  # NaN rows stay NaN; the peak is of the known closes so far
    return 1.0 - px / peak
