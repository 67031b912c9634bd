"""Official Federal Reserve balance-sheet decisions (QE, taper, QT, reserve-management purchases).

Each event has the date of the announcement (FOMC statement, implementation note, or Board press
release), the date the purchases / runoff / change in pace took effect, a type, a short label and the
source document. Every date was checked against the Fed's own text (federalreserve.gov / FRASER
statements, New York Fed operating-policy statements) or same-day reports quoting it.

Types:
  qe-start      a program of net asset purchases begins (QE1, QE2, QE3, March 2020)
  qe-expansion  an existing program is enlarged (March 2009, Dec 2012, March 23 2020)
  taper         the pace of net purchases is reduced
  qe-end        net purchases stop (principal is still reinvested)
  qt-start      runoff of holdings (redemption caps) begins
  qt-slowdown   the runoff caps are lowered
  qt-end        runoff stops
  rmp-start     reserve-management purchases of Treasury bills begin. The Fed states these are
                technical, "not a change in the stance of monetary policy": they are NOT QE and are
                kept apart from ``qe-start``.

When an event is known: FOMC statements are released between 12:30 and 14:15 ET (14:00 ET since
2013), the 2008-11-25 Board release at 08:15 ET, the 2019-10-11 bill-purchase statement at 11:00 ET and
the 2020-03-23 statement at 08:00 ET, i.e. all before the 16:00 ET close, so the announcement day's
close may use them. The 2020-03-15 statement came on a Sunday (17:00 ET) and is usable from Monday 2020-03-16.
``available_on`` is therefore the first NYSE session on or after ``announced``; none of the listed
announcements came after the close of a session day.

Corrections / precisions against the requested list:
  * QE1 (2008-11-25): purchases began with the first agency-debt operation on 2008-12-05 ("will begin
    next week"); agency MBS purchases began 2009-01-05.
  * Taper 2013-12-18 and QT1 2017-09-20 state a month ("beginning in January", "in October"); effective
    is the first day of that month. Same for the 2012-12-12 expansion (Treasury buying "in January").
  * Taper 2021-11-03: the reduced pace applied from the New York Fed's mid-November monthly purchase
    period, which began Monday 2021-11-15.
  * QT1 end 2019-07-31: Treasury runoff concluded "in August" (two months earlier than the March 2019
    plan); effective 2019-08-01. QT2 end 2025-10-29: "conclude ... on December 1" (2025-12-01).
  * Added (not in the requested list, verified): the 2009-03-18 and 2012-12-12 and 2020-03-23
    expansions, the ends of QE1/QE2/QE3, the 2019-03-20 QT slowdown (Treasury cap $30bn -> $15bn from
    May 2019) and the 2021-12-15 faster taper.
  * Not included: the end of net purchases in March 2022 (announced 2022-01-26: "bringing them to an end
    in early March"); the exact day of the last net purchase was not verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from backtester.errors import UsageError


@dataclass(frozen=True)
class FomcEvent:
    announced: date
    effective: date
    type: str
    label: str
    source: str


EVENT_TYPES: tuple[str, ...] = (
    "qe-start",
    "qe-expansion",
    "taper",
    "qe-end",
    "qt-start",
    "qt-slowdown",
    "qt-end",
    "rmp-start",
)

_E = FomcEvent
_d = date

EVENTS: tuple[FomcEvent, ...] = (
    _E(
        _d(2008, 11, 25),
        _d(2008, 12, 5),
        "qe-start",
        "QE1: up to $100bn GSE debt and $500bn agency MBS",
        "Board press release 2008-11-25 (08:15 ET), 'Federal Reserve announces it will initiate a program "
        "to purchase the direct obligations of housing-related GSEs and MBS'; first agency-debt purchase "
        "2008-12-05",
    ),
    _E(
        _d(2009, 3, 18),
        _d(2009, 3, 25),
        "qe-expansion",
        "QE1 expanded: +$750bn MBS, +$100bn agency debt, up to $300bn Treasuries",
        "FOMC statement 2009-03-18; New York Fed 2009-03-24: first Treasury purchase Wednesday 2009-03-25",
    ),
    _E(
        _d(2010, 3, 16),
        _d(2010, 4, 1),
        "qe-end",
        "QE1 ends: remaining MBS/agency purchases executed by end of March 2010",
        "FOMC statement 2010-03-16 ('the remaining transactions will be executed by the end of this month')",
    ),
    _E(
        _d(2010, 11, 3),
        _d(2010, 11, 12),
        "qe-start",
        "QE2: $600bn Treasuries by end of Q2 2011 (~$75bn/month)",
        "FOMC statement 2010-11-03; first QE2 purchase operation Friday 2010-11-12",
    ),
    _E(
        _d(2011, 6, 22),
        _d(2011, 7, 1),
        "qe-end",
        "QE2 ends: $600bn Treasury purchases completed June 30, 2011",
        "FOMC statement 2011-06-22; New York Fed 'Fast Facts: $600 Billion Treasury LSAP' (completed 2011-06-30)",
    ),
    _E(
        _d(2012, 9, 13),
        _d(2012, 9, 14),
        "qe-start",
        "QE3: open-ended agency MBS purchases, $40bn/month",
        "FOMC statement 2012-09-13; New York Fed statement 2012-09-13 ('purchases ... will begin tomorrow')",
    ),
    _E(
        _d(2012, 12, 12),
        _d(2013, 1, 1),
        "qe-expansion",
        "QE3 expanded: + $45bn/month Treasuries from January 2013",
        "FOMC statement 2012-12-12",
    ),
    _E(
        _d(2013, 12, 18),
        _d(2014, 1, 1),
        "taper",
        "Taper: $85bn -> $75bn/month beginning January 2014",
        "FOMC statement 2013-12-18 ('Beginning in January ... $35 billion ... $40 billion per month')",
    ),
    _E(
        _d(2014, 10, 29),
        _d(2014, 11, 1),
        "qe-end",
        "QE3 ends: asset purchase program concluded in October 2014",
        "FOMC statement 2014-10-29 ('decided to conclude its asset purchase program this month')",
    ),
    _E(
        _d(2017, 9, 20),
        _d(2017, 10, 1),
        "qt-start",
        "QT1: balance sheet normalization program starts in October 2017",
        "FOMC statement 2017-09-20 ('In October, the Committee will initiate the balance sheet normalization program')",
    ),
    _E(
        _d(2019, 3, 20),
        _d(2019, 5, 1),
        "qt-slowdown",
        "QT1 slowed: Treasury cap $30bn -> $15bn from May 2019",
        "Balance Sheet Normalization Principles and Plans, 2019-03-20",
    ),
    _E(
        _d(2019, 7, 31),
        _d(2019, 8, 1),
        "qt-end",
        "QT1 ends in August 2019, two months early",
        "FOMC statement 2019-07-31 ('conclude the reduction of its aggregate securities holdings ... in "
        "August, two months earlier than previously indicated')",
    ),
    _E(
        _d(2019, 10, 11),
        _d(2019, 10, 15),
        "rmp-start",
        "Reserve-management T-bill purchases (~$60bn/month) from mid-October 2019",
        "FOMC Statement Regarding Monetary Policy Implementation 2019-10-11 (11:00 ET); purchases began 2019-10-15",
    ),
    _E(
        _d(2020, 3, 15),
        _d(2020, 3, 16),
        "qe-start",
        "QE (COVID): at least $500bn Treasuries and $200bn agency MBS",
        "FOMC statement 2020-03-15 (Sunday, 17:00 ET); New York Fed: purchases begin Monday 2020-03-16",
    ),
    _E(
        _d(2020, 3, 23),
        _d(2020, 3, 23),
        "qe-expansion",
        "QE made open-ended: purchases 'in the amounts needed'",
        "FOMC statement 2020-03-23 (08:00 ET)",
    ),
    _E(
        _d(2021, 11, 3),
        _d(2021, 11, 15),
        "taper",
        "Taper: -$10bn Treasuries, -$5bn MBS per month from mid-November 2021",
        "FOMC statement 2021-11-03; New York Fed schedule: reduced purchases start Monday 2021-11-15",
    ),
    _E(
        _d(2021, 12, 15),
        _d(2022, 1, 14),
        "taper",
        "Faster taper: -$20bn Treasuries, -$10bn MBS per month from mid-January 2022",
        "FOMC statement 2021-12-15; New York Fed operating policy 2021-12-15 (purchase period beginning 2022-01-14)",
    ),
    _E(
        _d(2022, 5, 4),
        _d(2022, 6, 1),
        "qt-start",
        "QT2: runoff caps $30bn Treasuries / $17.5bn MBS from June 1, 2022",
        "Plans for Reducing the Size of the Federal Reserve's Balance Sheet, 2022-05-04 ('Beginning on June 1')",
    ),
    _E(
        _d(2024, 5, 1),
        _d(2024, 6, 1),
        "qt-slowdown",
        "QT2 slowed: Treasury cap $60bn -> $25bn from June 2024",
        "FOMC statement 2024-05-01",
    ),
    _E(
        _d(2025, 3, 19),
        _d(2025, 4, 1),
        "qt-slowdown",
        "QT2 slowed: Treasury cap $25bn -> $5bn from April 2025",
        "FOMC statement 2025-03-19 ('Beginning in April ... from $25 billion to $5 billion')",
    ),
    _E(
        _d(2025, 10, 29),
        _d(2025, 12, 1),
        "qt-end",
        "QT2 ends December 1, 2025",
        "FOMC statement 2025-10-29 ('conclude the reduction of its aggregate securities holdings on December 1')",
    ),
    _E(
        _d(2025, 12, 10),
        _d(2025, 12, 12),
        "rmp-start",
        "Reserve-management T-bill purchases (~$40bn first round) from December 12, 2025",
        "FOMC statement and implementation note 2025-12-10; purchases commence 2025-12-12",
    ),
)

COLUMNS = ["announced", "effective", "type", "label", "source", "available_on"]


def _check_types(types: Iterable[str] | None) -> list[str] | None:
    if types is None:
        return None
    wanted = [types] if isinstance(types, str) else list(types)
    unknown = sorted({t for t in wanted if t not in EVENT_TYPES})
    if unknown:
        raise UsageError(
            f"unknown event type(s): {', '.join(unknown)}",
            f"use one of: {', '.join(EVENT_TYPES)}",
        )
    return wanted


def events(types: Iterable[str] | None = None, until=None) -> pd.DataFrame:
    """The event table as a frame, sorted by announcement.

    Columns: announced, effective, type, label, source, available_on (datetime64[ns] dates).
    ``available_on`` is the first NYSE session on or after ``announced``: the first decision (16:00 ET
    close) that may use the event. ``types`` keeps only those types (unknown names raise UsageError);
    ``until`` keeps only events already available at that date's close (``available_on <= until``).
    """
    from backtester.data.calendar import next_session

    wanted = _check_types(types)
    df = pd.DataFrame(
        {
            "announced": pd.to_datetime([e.announced for e in EVENTS]).astype("datetime64[ns]"),
            "effective": pd.to_datetime([e.effective for e in EVENTS]).astype("datetime64[ns]"),
            "type": [e.type for e in EVENTS],
            "label": [e.label for e in EVENTS],
            "source": [e.source for e in EVENTS],
        }
    )
    df["available_on"] = pd.DatetimeIndex(next_session(df["announced"], strictly_after=False)).astype("datetime64[ns]")
    if wanted is not None:
        df = df[df["type"].isin(wanted)]
    if until is not None:
        df = df[df["available_on"] <= pd.Timestamp(until)]
    return df.sort_values("announced", kind="stable").reset_index(drop=True)[COLUMNS]
