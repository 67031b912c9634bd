"""Availability rules: when a value dated t is published, and the first decision date that may use it.

A decision is taken at an NYSE close (16:00 ET). ``published_on`` is the day the source releases the
value; ``available_on`` is the first NYSE session whose close comes after the release.

| rule | series | published_on | available_on |
|---|---|---|---|
| h41 | WALCL, WRESBAL, WTREGEN | H.4.1: Thursday 16:30 ET after the Wednesday date (next Fed business day when Thursday is a holiday) | next session strictly after (16:30 is after the close) |
| next_bday | SOFR, EFFR, DFF, IORB, RRPONTSYD, DGS10, DGS2, VIXCLS | next Fed business day after t (morning releases) | first session on or after published_on |
| h10_weekly | DTWEXBGS | H.10: the Monday after the week of t, 16:15 ET (next Fed business day if a holiday) | next session strictly after |
| monthly | M2SL, TOTRESNS | conservatively the last day of the month after t's month (H.6 / H.3 come out in that month) | next session strictly after |
| gdp | GDP | the BEA's first (advance) release, from ``gdp_releases``; a conservative fallback otherwise | first session on or after (08:30 ET release) |
| dts | TGA | Daily Treasury Statement for t: ~16:00 ET the next business day | next session strictly after |
| close | GLD, SPY, QQQ, TLT, IEF | the session close itself | the same session (the decision is at that close) |
| utc_bar | BTC-USD | Yahoo's bar dated D closes 00:00 UTC on D+1 (20:00 ET on D) | first session on or after D+1 |
| close_next | GC_F, DX-Y_NYB | their close comes after 16:00 ET | next session strictly after |
| fixing | LBMA_GOLD | 15:00 London (10:00 ET) | first session on or after |
| lag:N | user series declared ``--available lag:Nd`` | t + N calendar days | first session on or after |

Every rule is monotone in t, so ``available_on`` never decreases with the observation date.
Rows may carry their own ``published_on`` (ALFRED first-release vintages for GDP): then it is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import next_fed_business_day, next_session
from .catalog import SeriesSpec

DAY = np.timedelta64(1, "D")


def _dt(values) -> np.ndarray:
    return pd.DatetimeIndex(values).astype("datetime64[ns]").values


def published_on(spec: SeriesSpec, dates) -> np.ndarray:
    d = _dt(dates)
    rule = spec.rule
    if rule == "h41":
        # Thursday after the Wednesday date; on or after t+1 for robustness, shifted past Fed holidays
        return next_fed_business_day(d + DAY, strictly_after=False)
    if rule in ("next_bday", "dts"):
        return next_fed_business_day(d, strictly_after=True)
    if rule == "h10_weekly":
        wd = pd.DatetimeIndex(d).day_of_week.values  # Monday=0
        to_monday = (7 - wd) % 7
        to_monday[to_monday == 0] = 7
        return next_fed_business_day(d + to_monday * DAY, strictly_after=False)
    if rule == "monthly":
        idx = pd.DatetimeIndex(d)
        end_next = (idx + pd.offsets.MonthBegin(2) - pd.Timedelta(days=1)).astype("datetime64[ns]").values
        return next_fed_business_day(end_next, strictly_after=False)
    if rule == "gdp":
        from .gdp_releases import release_date

        return _dt([release_date(pd.Timestamp(x)) for x in d])
    if rule in ("close", "fixing", "close_next"):
        return d
    if rule == "utc_bar":
        return d + DAY
    if rule.startswith("lag:"):
        return d + int(rule[4:]) * DAY
    raise ValueError(f"unknown availability rule {rule!r} for {spec.id}")


def available_on(spec: SeriesSpec, published: np.ndarray, dates=None) -> np.ndarray:
    p = _dt(published)
    if spec.rule in ("h41", "h10_weekly", "monthly", "dts", "close_next"):
        return next_session(p, strictly_after=True)
    if spec.rule in ("next_bday", "gdp", "close", "fixing", "utc_bar") or spec.rule.startswith("lag:"):
        return next_session(p, strictly_after=False)
    raise ValueError(f"unknown availability rule {spec.rule!r} for {spec.id}")


def annotate(spec: SeriesSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``published_on`` and ``available_on`` (keeps a given ``published_on``)."""
    out = frame.copy()
    if "published_on" in out.columns and out["published_on"].notna().all():
        pub = _dt(out["published_on"])
    else:
        pub = published_on(spec, out["date"])
    out["published_on"] = pub
    avail = available_on(spec, pub)
    # monotone by construction; enforce it for vintage-driven rows (a later quarter never known earlier)
    avail = pd.Series(avail).cummax().values if len(avail) else avail
    out["available_on"] = avail
    if len(out) and pd.isna(out["available_on"]).any():
        from ..errors import DataError

        bad = out.loc[pd.isna(out["available_on"]), "date"].iloc[0]
        raise DataError(
            f"{spec.id}: date {pd.Timestamp(bad).date()} is beyond the market calendar (no decision date can use it)",
            "remove future-dated rows; the store was not changed",
        )
    return out
