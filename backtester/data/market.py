"""Prices on decision dates for the engine: holdable closes on NYSE sessions and the CASH index.

``load_prices(store, assets, start, end)`` returns one column per requested holdable asset plus
``CASH``, indexed by the NYSE sessions between ``start`` and ``end``:

* an asset's value on session d is the ``close`` of its row dated d: the NYSE close for ETFs, the LBMA
  PM fixing of that London day for ``LBMA_GOLD`` (a labelled proxy), and the Yahoo bar dated d for
  ``BTC-USD`` (that bar closes 00:00 UTC on d+1, i.e. 20:00 ET on d: bitcoin is valued four hours
  after the NYSE close). A session without a row is NaN (no fresh close): nothing is carried here --
  the engine carries a held asset's last close for valuation only;
* ``start=None`` starts at the earliest first close among the assets (later assets are unavailable
  until their first close: the engine sends their weight to its ``fallback``); the run ends at the
  earliest last close among the assets (``end`` can only shorten it), and a note says so;
* ``CASH`` is :func:`cash_index` of FRED ``DFF``.

``cash_index(dff, sessions)`` accrues the overnight rate actual/360, compounded daily: the CASH return
from session d-1 to session d is ``prod(1 + DFF_k / 100 / 360)`` over the calendar days k in
``[d-1, d)`` -- a Friday-to-Monday return accrues Friday's, Saturday's and Sunday's rates. Calendar
days without a DFF value (DFF is published for every calendar day; only the latest days can be
missing) carry the last known rate. The index is 1.0 on the first session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import CASH
from ..errors import DataError, UsageError
from . import catalog
from .calendar import nyse_sessions

DAY_COUNT = 360.0
# assets whose close dated d is only known after the 16:00 ET decision of d (bitcoin's bar closes 00:00 UTC):
# anything decided at d (e.g. the engine's volatility scale) may use their closes up to d-1 only
LATE_CLOSE = frozenset({"BTC-USD"})


def check_holdable(assets, store=None, *, user_ok: bool = False) -> list[str]:
    """The requested assets, deduplicated and in order, after checking each is holdable.

    With ``store``, the user's declared price series in it are holdable too (``hedge data add``);
    ``user_ok`` accepts any id outside the catalog as a user price (the engine, whose prices come from
    ``load_prices``, which checked them against the store)."""
    user = set(_user_prices(store))
    out: list[str] = []
    for a in assets:
        a = str(a)
        if a in catalog.CATALOG and not catalog.CATALOG[a].holdable:
            spec = catalog.CATALOG[a]
            raise UsageError(
                f"{a} is not holdable ({spec.note or spec.title})",
                f"hold one of: {', '.join(catalog.HOLDABLE)}",
            )
        if store is not None and hasattr(store, "user_specs") and a in store.user_specs() and a not in user:
            raise UsageError(f"{a} is a user series, not a price: not holdable", "declare prices with --kind price")
        if a not in catalog.HOLDABLE and a not in user and not (user_ok and a not in catalog.CATALOG):
            from .declared import unknown_asset

            raise unknown_asset(a)
        if a not in out:
            out.append(a)
    return out


def holdable_assets(store) -> list[str]:
    """Every asset a strategy may hold that has prices in ``store`` (CASH excluded): the built-ins in
    catalog order, then the user's declared price series (``hedge data add``) in id order.

    The one list that price features, strategy validation and benchmarks use."""
    have = set(store.ids())
    return [a for a in catalog.HOLDABLE if a != CASH and a in have] + _user_prices(store)


def _user_prices(store) -> list[str]:
    """The user's declared price series in ``store`` (any object with ``ids``/``read`` has none)."""
    if store is None or not hasattr(store, "user_specs"):
        return []
    return [sid for sid, spec in store.user_specs().items() if spec.holdable]


def resolve_asset(name: str) -> str:
    """A user-typed asset name -> its id: case-insensitive, ``btc`` -> BTC-USD, ``eth`` -> ETH-USD,
    ``gc=f`` style '=' -> '_'. Unknown names come back canonicalised (``check_holdable`` names them)."""
    from .declared import canonical_id

    sid = canonical_id(name)
    return {"BTC": "BTC-USD", "ETH": "ETH-USD"}.get(sid, sid)


def cash_index(dff: pd.Series, sessions) -> pd.Series:
    """CASH price index on ``sessions`` from DFF (percent per year, one value per calendar day).

    Actual/360, compounded daily; 1.0 on the first session; calendar days without a value carry the
    last known rate. Raises DataError if DFF starts after the first session.
    """
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    if len(sessions) == 0:
        return pd.Series([], index=pd.DatetimeIndex([], name="date"), name=CASH, dtype=float)
    rate = pd.Series(dff, dtype=float).dropna()
    rate.index = pd.DatetimeIndex(rate.index).astype("datetime64[ns]")
    rate = rate[~rate.index.duplicated(keep="last")].sort_index()
    first = sessions[0]
    if rate.empty or rate.index[0] > first:
        start = "no data" if rate.empty else f"starts {rate.index[0].date()}"
        raise DataError(
            f"DFF ({start}) does not cover the first session {first.date()}",
            "start the run later or update DFF with `hedge data pull`",
        )
    days = pd.date_range(first, sessions[-1], freq="D")
    daily = rate.reindex(rate.index.union(days)).ffill().reindex(days).to_numpy(float)
    growth = 1.0 + daily / 100.0 / DAY_COUNT
    # level[k] = value at the start of calendar day k: product of the growth of days before k
    level = np.concatenate([[1.0], np.cumprod(growth[:-1])])
    pos = ((sessions - first) / pd.Timedelta(days=1)).astype(int)
    return pd.Series(level[pos], index=pd.DatetimeIndex(sessions, name="date"), name=CASH)


def closes(store, asset: str) -> pd.Series:
    frame = store.read(asset)
    if frame is None or len(frame) == 0 or "close" not in frame:
        raise DataError(f"no prices for {asset} in the store", "run `hedge data import` or `hedge data pull`")
    s = pd.Series(
        pd.to_numeric(frame["close"], errors="coerce").to_numpy(float),
        index=pd.DatetimeIndex(frame["date"]).astype("datetime64[ns]"),
    ).dropna()
    s = s[~s.index.duplicated(keep="last")].sort_index()
    if s.empty:
        raise DataError(f"no prices for {asset} in the store", "run `hedge data import` or `hedge data pull`")
    return s


def load_prices(store, assets, start=None, end=None) -> tuple[pd.DataFrame, list[str]]:
    """Closes of ``assets`` and ``CASH`` on NYSE sessions in [start, end]; returns (prices, notes)."""
    wanted = [a for a in check_holdable(assets, store) if a != CASH]
    notes: list[str] = []
    by_asset = {a: closes(store, a) for a in wanted}
    dff_frame = store.read("DFF")
    dff = pd.Series(
        pd.to_numeric(dff_frame["value"], errors="coerce").to_numpy(float),
        index=pd.DatetimeIndex(dff_frame["date"]).astype("datetime64[ns]"),
    ).dropna()
    if dff.empty:
        raise DataError("no DFF data in the store", "run `hedge data import` or `hedge data pull`")

    lo = pd.Timestamp(start) if start is not None else None
    if lo is None:
        lo = min(s.index[0] for s in by_asset.values()) if by_asset else dff.index[0]
    lo = max(lo, dff.index[0])
    last_by_asset = {a: s.index[-1] for a, s in by_asset.items()}
    hi = min(last_by_asset.values()) if by_asset else dff.index[-1]
    if end is not None and pd.Timestamp(end) < hi:
        hi = pd.Timestamp(end)
    elif by_asset and (pd.Timestamp(end) > hi if end is not None else len(set(last_by_asset.values())) > 1):
        short = [a for a, d in last_by_asset.items() if d == hi]
        asked = f" (end {pd.Timestamp(end).date()} was asked)" if end is not None else ""
        notes.append(
            f"the run ends {hi.date()}, the last date with prices for every asset"
            f" ({', '.join(short)} end{'s' if len(short) == 1 else ''} there){asked}"
        )

    sessions = nyse_sessions(lo, hi)
    if len(sessions) == 0:
        raise UsageError(
            f"no NYSE session with data between {lo.date()} and {hi.date()}",
            "choose a window inside the data (see `hedge data status`)",
        )
    prices = pd.DataFrame(index=pd.DatetimeIndex(sessions, name="date"))
    for a, s in by_asset.items():
        col = s.reindex(sessions)
        if col.isna().all():
            raise UsageError(
                f"{a} has no price between {sessions[0].date()} and {sessions[-1].date()}",
                f"its data run from {s.index[0].date()} to {s.index[-1].date()}: choose a window inside",
            )
        prices[a] = col.to_numpy(float)
    prices[CASH] = cash_index(dff, sessions).to_numpy(float)
    needed = sessions[-1] - pd.Timedelta(days=1)
    if dff.index[-1] < needed:
        carried = (needed - dff.index[-1]).days
        notes.append(
            f"DFF ends {dff.index[-1].date()}: CASH carried its last rate ({dff.iloc[-1]:.2f}%) for {carried} "
            "calendar days"
        )
    return prices, notes
