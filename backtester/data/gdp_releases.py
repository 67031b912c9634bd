"""First-release dates of US GDP (BEA "advance" estimate), per quarter.

FRED dates a GDP observation at the start of its quarter (2025-07-01 = 2025-Q3). The value for a
quarter first became public on the day of BEA's first estimate of that quarter: normally the
"advance" estimate about four weeks after the quarter ends, released at 08:30 ET (before the 16:00 ET
close, so that day's close may use it). Twice a federal funding lapse replaced the advance and second
estimates by a single, later "initial" estimate (2018-Q4 on 2019-02-28; 2025-Q3 on 2025-12-23); that
initial estimate is the first release and is what the table holds.

``FIRST_RELEASE`` maps the quarter-start date to the first-release date (ISO strings). Every date was
checked against a dated public record of the release itself, in this order of preference: BEA's own
news release / technical note / release highlights ("EMBARGOED UNTIL RELEASE AT 8:30 A.M. ...",
bea.gov and the FRASER "BEA News Releases" archive), BEA blog posts on the rescheduled releases, and
otherwise same-day wire or trade-press reports of the advance estimate. Sources per quarter are in the
comments. ALFRED's first vintage (``realtime_start``) of each GDP observation equals these dates.

Quarters left out (no verifiable date; ``release_date`` falls back to the conservative lag):
  * before 2007-Q1 (not needed for the backtest window);
  * 2026-Q2 (2026-04-01): BEA's 2026 schedule put the advance estimate in late July 2026 (one
    third-party note says "~30 Jul 2026"), but no dated record of the release itself was found.
"""

from __future__ import annotations

import pandas as pd

RELEASE_TIME_ET = "08:30"

# quarter start (FRED observation date) -> first release (BEA advance, or "initial" after a shutdown)
FIRST_RELEASE: dict[str, str] = {
    # 2007 -- bea.gov/news/2007/... advance releases (Apr 27, Jul 27 with annual revision, Oct 31)
    "2007-01-01": "2007-04-27",
    "2007-04-01": "2007-07-27",
    "2007-07-01": "2007-10-31",
    "2007-10-01": "2008-01-30",  # same-day reports of the 0.6% advance print, 30 Jan 2008
    # 2008 -- bea.gov news releases (Q2 Jul 31, Q3 Oct 30); Commerce Secretary statement Apr 30
    "2008-01-01": "2008-04-30",
    "2008-04-01": "2008-07-31",
    "2008-07-01": "2008-10-30",
    "2008-10-01": "2009-01-30",  # BEA technical note "Fourth Quarter of 2008 (Advance) January 30, 2009"
    # 2009 -- BEA release "WEDNESDAY, APRIL 29, 2009"; tech notes Jul 31 and Oct 29; Q4 Jan 29, 2010
    "2009-01-01": "2009-04-29",
    "2009-04-01": "2009-07-31",
    "2009-07-01": "2009-10-29",
    "2009-10-01": "2010-01-29",  # Econoday "Released On 1/29/2010 8:30:00 AM For Q4(a):2009"
    # 2010 -- FRASER tech note Apr 30; bea.gov release "FRIDAY, JULY 30, 2010"; Oct 29 reports
    "2010-01-01": "2010-04-30",
    "2010-04-01": "2010-07-30",
    "2010-07-01": "2010-10-29",
    "2010-10-01": "2011-01-28",  # BEA technical note "Fourth Quarter of 2010 (Advance) January 28, 2011"
    # 2011 -- Apr 28 (EconEdLink on the Apr 28 advance), Jul 29 (BEA: annual revision "on July 29"),
    # Oct 27 (White House CEA blog 2011-10-27), Jan 27, 2012 (CEA blog 2012-01-27)
    "2011-01-01": "2011-04-28",
    "2011-04-01": "2011-07-29",
    "2011-07-01": "2011-10-27",
    "2011-10-01": "2012-01-27",
    # 2012 -- BEA tech notes Apr 27 and Jul 27 (FRASER); bea.gov release "FRIDAY, OCTOBER 26, 2012";
    # bea.gov release "WEDNESDAY, JANUARY 30, 2013"
    "2012-01-01": "2012-04-27",
    "2012-04-01": "2012-07-27",
    "2012-07-01": "2012-10-26",
    "2012-10-01": "2013-01-30",
    # 2013 -- tech note Apr 26; Jul 31 (comprehensive revision, Reuters 2013-07-31); Q3 delayed by the
    # Oct 1-16, 2013 shutdown to Nov 7 (FRASER highlights "THURSDAY, November 7, 2013"); tech note Jan 30
    "2013-01-01": "2013-04-26",
    "2013-04-01": "2013-07-31",
    "2013-07-01": "2013-11-07",
    "2013-10-01": "2014-01-30",
    # 2014 -- bea.gov releases Apr 30, Oct 30; release text "WEDNESDAY, JULY 30, 2014";
    # Q4: Commerce report "said Friday", Washington Jan 30, 2015
    "2014-01-01": "2014-04-30",
    "2014-04-01": "2014-07-30",
    "2014-07-01": "2014-10-30",
    "2014-10-01": "2015-01-30",
    # 2015 -- bea.gov release "WEDNESDAY, APRIL 29, 2015"; BEA: annual revision with the advance on
    # July 30; Q3 "released ... Thursday (Oct. 29)"; BEA release "FRIDAY, JANUARY 29, 2016"
    "2015-01-01": "2015-04-29",
    "2015-04-01": "2015-07-30",
    "2015-07-01": "2015-10-29",
    "2015-10-01": "2016-01-29",
    # 2016 -- Apr 28 (release reported "April 28, 2016"); Jul 29 (BEA FAQ 1166: "released on July 29");
    # FRASER "Third Quarter 2016 (Advance Estimate) ... (October 28, 2016)"; Jan 27, 2017
    "2016-01-01": "2016-04-28",
    "2016-04-01": "2016-07-29",
    "2016-07-01": "2016-10-28",
    "2016-10-01": "2017-01-27",
    # 2017 -- BEA tech note Apr 28; BEA: annual update with the advance "on July 28"; Oct 27 (Comerica
    # alert dated Oct 27, 2017); bea.gov release "Friday, January 26, 2018"
    "2017-01-01": "2017-04-28",
    "2017-04-01": "2017-07-28",
    "2017-07-01": "2017-10-27",
    "2017-10-01": "2018-01-26",
    # 2018 -- tech note Apr 27; Jul 27 (with the 2018 comprehensive update); bea.gov release
    # "Friday, October 26, 2018"; Q4: Dec 22, 2018 - Jan 25, 2019 lapse: BEA blog 2019-02-06 "Initial
    # Gross Domestic Product for the 4th Quarter ... will be released on Feb. 28" (replaced the Jan 30
    # advance and Feb 28 second estimates)
    "2018-01-01": "2018-04-27",
    "2018-04-01": "2018-07-27",
    "2018-07-01": "2018-10-26",
    "2018-10-01": "2019-02-28",
    # 2019 -- BEA blog 2019-04-02 (advance "April 26 at 8:30 a.m."); BEA blog 2019-07-11 (July 26);
    # bea.gov GDP page "Current release: October 30, 2019"; BEA blog 2020-01-30
    "2019-01-01": "2019-04-26",
    "2019-04-01": "2019-07-26",
    "2019-07-01": "2019-10-30",
    "2019-10-01": "2020-01-30",
    # 2020 -- Apr 29 (advance -4.8%), Jul 30 (BEA "July 30, 2020"), Oct 29, FRASER tech note Jan 28, 2021
    "2020-01-01": "2020-04-29",
    "2020-04-01": "2020-07-30",
    "2020-07-01": "2020-10-29",
    "2020-10-01": "2021-01-28",
    # 2021 -- release "THURSDAY, APRIL 29, 2021"; BEA blog: advance Q2 "at 8:30 a.m. on July 29";
    # FRASER highlights "Thursday, October 28, 2021"; Q4 figures "released Jan. 27" (2022)
    "2021-01-01": "2021-04-29",
    "2021-04-01": "2021-07-29",
    "2021-07-01": "2021-10-28",
    "2021-10-01": "2022-01-27",
    # 2022 -- Apr 28, Jul 28, Oct 27 (same-day reports); Jan 26, 2023 ("advance estimate released ...
    # on January 26, 2023")
    "2022-01-01": "2022-04-28",
    "2022-04-01": "2022-07-28",
    "2022-07-01": "2022-10-27",
    "2022-10-01": "2023-01-26",
    # 2023 -- Apr 27, Jul 27, Oct 26, Jan 25, 2024 (same-day reports of each advance print)
    "2023-01-01": "2023-04-27",
    "2023-04-01": "2023-07-27",
    "2023-07-01": "2023-10-26",
    "2023-10-01": "2024-01-25",
    # 2024 -- Apr 25; FRASER highlights "Thursday, July 25, 2024"; FRASER comparisons "October 30,
    # 2024"; Jan 30, 2025
    "2024-01-01": "2024-04-25",
    "2024-04-01": "2024-07-25",
    "2024-07-01": "2024-10-30",
    "2024-10-01": "2025-01-30",
    # 2025 -- Apr 30; bea.gov "July 30, 2025 Gross Domestic Product, 2nd Quarter 2025 (Advance
    # Estimate)"; Q3: Oct 1 - Nov 12, 2025 shutdown; the Oct 30 advance was cancelled and the Nov 26
    # second estimate replaced by "GDP, 3rd Quarter 2025 (Initial Estimate)" released Dec 23, 2025;
    # Q4: advance rescheduled from Jan 29 to Feb 20, 2026 (bea.gov "February 20, 2026 GDP (Advance
    # Estimate), 4th Quarter and Year 2025")
    "2025-01-01": "2025-04-30",
    "2025-04-01": "2025-07-30",
    "2025-07-01": "2025-12-23",
    "2025-10-01": "2026-02-20",
    # 2026 -- Q1 advance Thursday Apr 30, 2026, 8:30 ET (third-party reports of the release and of
    # BEA's schedule; the May 28, 2026 second-estimate report refers to the April advance)
    "2026-01-01": "2026-04-30",
}

# Conservative fallback for a quarter missing from the table: the largest lag in the table is 84 days
# after quarter end (2025-Q3: quarter ended 2025-09-30, first released 2025-12-23, after the 43-day
# shutdown); add a two-week margin so an unknown quarter is never treated as known earlier than any
# quarter ever was. Normal advance estimates come 25-31 days after quarter end.
FALLBACK_DAYS_AFTER_QUARTER_END = 98


def _quarter_start(date) -> pd.Timestamp:
    return pd.Timestamp(date).to_period("Q").start_time.normalize()


def _quarter_end(quarter_start) -> pd.Timestamp:
    return pd.Timestamp(quarter_start).to_period("Q").end_time.normalize()


def first_release(quarter_start: pd.Timestamp) -> pd.Timestamp | None:
    """Verified first-release date of the quarter containing ``quarter_start``, or None if not in the table."""
    hit = FIRST_RELEASE.get(_quarter_start(quarter_start).strftime("%Y-%m-%d"))
    return None if hit is None else pd.Timestamp(hit)


def release_date(quarter_start) -> pd.Timestamp:
    """First-release date from the table, else quarter end + ``FALLBACK_DAYS_AFTER_QUARTER_END``.

    The release is at 08:30 ET, so a decision at that day's 16:00 ET close may use it.
    """
    hit = first_release(quarter_start)
    if hit is not None:
        return hit
    return _quarter_end(quarter_start) + pd.Timedelta(days=FALLBACK_DAYS_AFTER_QUARTER_END)


def table() -> pd.DataFrame:
    """The table as a frame: quarter_start, first_release, lag_days (after quarter end)."""
    q = pd.DatetimeIndex(pd.to_datetime(list(FIRST_RELEASE))).astype("datetime64[ns]")
    r = pd.DatetimeIndex(pd.to_datetime(list(FIRST_RELEASE.values()))).astype("datetime64[ns]")
    ends = pd.DatetimeIndex([_quarter_end(x) for x in q]).astype("datetime64[ns]")
    return pd.DataFrame({"quarter_start": q, "first_release": r, "lag_days": (r - ends).days})
