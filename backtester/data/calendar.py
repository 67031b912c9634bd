"""Calendars: NYSE sessions (decision dates) and Federal Reserve business days (publication dates).

Decision dates are NYSE trading days from the ``exchange_calendars`` XNYS calendar (pinned), which
includes unscheduled closures (2001-09-11..14, 2012-10-29/30, days of mourning). A decision is taken at
the 16:00 ET close of a session. Publication dates of Fed/Treasury data follow the US federal holiday
calendar (the Fed's and Treasury's holidays).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

FIRST = "1950-01-01"


@lru_cache(maxsize=1)
def _nyse_sessions() -> pd.DatetimeIndex:
    """XNYS sessions from ``FIRST``; cached per user (building the calendar takes about a second)."""
    from . import cache

    today = pd.Timestamp.now()
    path = cache.user_cache(f"xnys-{cache.dist_version('exchange_calendars')}-{FIRST}-{today:%Y-%m}.pkl")
    got = cache.load(path) if path else None  # int64 nanoseconds (a pickled DatetimeIndex loads slowly)
    if isinstance(got, np.ndarray) and got.dtype == np.int64 and len(got):
        return pd.DatetimeIndex(got.view("datetime64[ns]"), name="date")
    sessions = _build_nyse_sessions()
    if path:
        cache.save(path, sessions.values.astype("datetime64[ns]").view(np.int64), keep=2)
    return sessions


def _build_nyse_sessions() -> pd.DatetimeIndex:
    import warnings

    import exchange_calendars as xc

    with warnings.catch_warnings():  # exchange_calendars trips a pandas 3.1 deprecation internally
        warnings.simplefilter("ignore")
        cal = xc.get_calendar("XNYS", start=FIRST)
    return pd.DatetimeIndex(cal.sessions.tz_localize(None).astype("datetime64[ns]"), name="date")


@lru_cache(maxsize=1)
def _fed_business_days() -> pd.DatetimeIndex:
    from pandas.tseries.holiday import USFederalHolidayCalendar
    from pandas.tseries.offsets import CustomBusinessDay

    last = _nyse_sessions()[-1]
    bday = CustomBusinessDay(calendar=USFederalHolidayCalendar())
    return pd.DatetimeIndex(pd.date_range(FIRST, last, freq=bday).astype("datetime64[ns]"), name="date")


def nyse_sessions(start=None, end=None) -> pd.DatetimeIndex:
    s = _nyse_sessions()
    if start is not None:
        s = s[s >= pd.Timestamp(start)]
    if end is not None:
        s = s[s <= pd.Timestamp(end)]
    return s


def _next_in(days: pd.DatetimeIndex, dates, strictly_after: bool) -> np.ndarray:
    """For each date, the first day of ``days`` on or (strictly) after it; NaT beyond the calendar."""
    d = pd.DatetimeIndex(dates).astype("datetime64[ns]")
    side = "right" if strictly_after else "left"
    pos = days.searchsorted(d, side=side)
    out = np.full(len(d), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = pos < len(days)
    out[ok] = days.values[pos[ok]]
    return out


def next_session(dates, strictly_after: bool = True) -> np.ndarray:
    """First NYSE session strictly after (or on) each date."""
    return _next_in(_nyse_sessions(), dates, strictly_after)


def next_fed_business_day(dates, strictly_after: bool = True) -> np.ndarray:
    """First Fed business day (weekday, not a federal holiday) after (or on) each date."""
    return _next_in(_fed_business_days(), dates, strictly_after)


def session_on_or_before(date) -> pd.Timestamp | None:
    s = _nyse_sessions()
    pos = s.searchsorted(pd.Timestamp(date), side="right") - 1
    return None if pos < 0 else s[pos]


@lru_cache(maxsize=8)
def exchange_sessions(name: str) -> pd.DatetimeIndex:
    """Sessions of an ``exchange_calendars`` calendar (XNYS, CMES, XLON, ...) from 1950 (or the calendar's
    own first date) to its last (about a year ahead)."""
    import warnings

    import exchange_calendars as xc

    if name == "XNYS":
        return _nyse_sessions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cal = xc.get_calendar(name, start=FIRST)
        except Exception:  # noqa: BLE001 - a calendar with a later lower bound: from that bound
            cal = xc.get_calendar(name, start=xc.get_calendar(name).__class__.bound_min())
    return pd.DatetimeIndex(cal.sessions.tz_localize(None).astype("datetime64[ns]"), name="date")
