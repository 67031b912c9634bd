"""Point-in-time access: what was known at each decision date.

``as_known_on`` returns, for each decision date, the latest observation whose ``available_on`` is on or
before it, with its observation date, ``available_on`` and age in calendar days. Values older than the
staleness limit come back missing (NaN) -- never carried forward.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_known_on(frame: pd.DataFrame, decision_dates, staleness_days: int | None, column: str = "value") -> pd.DataFrame:
    dd = pd.DatetimeIndex(decision_dates).astype("datetime64[ns]")
    f = frame.sort_values("date", kind="stable")
    avail = f["available_on"].to_numpy("datetime64[ns]")
    # available_on is monotone in the observation date; guard anyway so searchsorted stays valid
    avail = np.maximum.accumulate(avail) if len(avail) else avail
    pos = np.searchsorted(avail, dd.values, side="right") - 1
    has = pos >= 0
    p = np.where(has, pos, 0)
    nat = np.datetime64("NaT", "ns")
    if len(f):
        obs = np.where(has, f["date"].to_numpy("datetime64[ns]")[p], nat)
        av = np.where(has, f["available_on"].to_numpy("datetime64[ns]")[p], nat)
        val = np.where(has, f[column].to_numpy(float)[p], np.nan)
    else:
        obs = av = np.full(len(dd), nat)
        val = np.full(len(dd), np.nan)
    age = (dd.values - obs) / np.timedelta64(1, "D")
    if staleness_days is not None:
        val = np.where(age > staleness_days, np.nan, val)
    out = pd.DataFrame(
        {"value": val, "observation_date": obs, "available_on": av, "age_days": age},
        index=pd.DatetimeIndex(dd, name="date"),
    )
    return out
