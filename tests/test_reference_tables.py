"""Reference tables: BEA GDP first-release dates and the Fed balance-sheet event table."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from backtester.data import fomc as ev
from backtester.data import gdp_releases as gdp
from backtester.errors import UsageError

# ---------------------------------------------------------------- GDP first releases


def test_gdp_table_covers_2007q1_to_2026q1_without_gaps():
    t = gdp.table()
    assert t["quarter_start"].is_monotonic_increasing
    expected = pd.date_range("2007-01-01", "2026-01-01", freq="QS")
    assert list(t["quarter_start"]) == list(expected)


def test_gdp_release_dates_increase_fall_on_weekdays_and_after_quarter_end():
    t = gdp.table()
    assert t["first_release"].is_monotonic_increasing
    assert (t["first_release"].dt.day_of_week < 5).all()
    assert (t["lag_days"] > 0).all()


def test_shutdown_delayed_releases():
    # 2025 shutdown (Oct 1 - Nov 12): Q3 "initial" estimate on Dec 23, Q4 advance on Feb 20, 2026
    assert gdp.first_release(pd.Timestamp("2025-07-01")) == pd.Timestamp("2025-12-23")
    assert gdp.first_release(pd.Timestamp("2025-10-01")) == pd.Timestamp("2026-02-20")
    # 2013 shutdown and 2018-19 lapse
    assert gdp.first_release(pd.Timestamp("2013-07-01")) == pd.Timestamp("2013-11-07")
    assert gdp.first_release(pd.Timestamp("2018-10-01")) == pd.Timestamp("2019-02-28")
    # a normal quarter: ~30 days after quarter end
    assert gdp.first_release(pd.Timestamp("2020-04-01")) == pd.Timestamp("2020-07-30")


def test_q3_2025_not_available_in_november_2025():
    rel = gdp.release_date(pd.Timestamp("2025-07-01"))
    assert rel > pd.Timestamp("2025-11-30")
    for day in pd.date_range("2025-11-01", "2025-11-30"):
        assert day < rel


def test_q2_2025_first_release_after_mid_july():
    assert gdp.release_date(pd.Timestamp("2025-04-01")) > pd.Timestamp("2025-07-15")
    assert gdp.release_date(pd.Timestamp("2025-04-01")) == pd.Timestamp("2025-07-30")


def test_fallback_is_at_least_the_largest_lag():
    t = gdp.table()
    assert gdp.FALLBACK_DAYS_AFTER_QUARTER_END >= t["lag_days"].max()
    assert t["lag_days"].max() == 84  # 2025-Q3


def test_release_date_falls_back_for_unknown_quarter():
    # 2026-Q2 is not in the table (not verifiable): quarter end 2026-06-30 + fallback
    assert gdp.first_release(pd.Timestamp("2026-04-01")) is None
    expected = pd.Timestamp("2026-06-30") + pd.Timedelta(days=gdp.FALLBACK_DAYS_AFTER_QUARTER_END)
    assert gdp.release_date(pd.Timestamp("2026-04-01")) == expected
    # the fallback is never earlier than any verified release lag
    assert gdp.release_date(pd.Timestamp("2006-10-01")) >= pd.Timestamp("2007-01-01") + pd.Timedelta(days=84)


def test_release_date_accepts_any_day_in_quarter():
    assert gdp.release_date("2024-08-15") == gdp.release_date(pd.Timestamp("2024-07-01"))


# ---------------------------------------------------------------- Fed events


REQUIRED = [
    # announced, effective, type
    ("2008-11-25", "2008-12-05", "qe-start"),
    ("2010-11-03", "2010-11-12", "qe-start"),
    ("2012-09-13", "2012-09-14", "qe-start"),
    ("2013-12-18", "2014-01-01", "taper"),
    ("2017-09-20", "2017-10-01", "qt-start"),
    ("2019-07-31", "2019-08-01", "qt-end"),
    ("2019-10-11", "2019-10-15", "rmp-start"),
    ("2020-03-15", "2020-03-16", "qe-start"),
    ("2021-11-03", "2021-11-15", "taper"),
    ("2022-05-04", "2022-06-01", "qt-start"),
    ("2024-05-01", "2024-06-01", "qt-slowdown"),
    ("2025-03-19", "2025-04-01", "qt-slowdown"),
    ("2025-10-29", "2025-12-01", "qt-end"),
    ("2025-12-10", "2025-12-12", "rmp-start"),
]


def test_events_tuple_sorted_and_effective_after_announced():
    ann = [e.announced for e in ev.EVENTS]
    assert ann == sorted(ann)
    assert len(set(ann)) == len(ann)
    for e in ev.EVENTS:
        assert e.effective >= e.announced, e
        assert e.type in ev.EVENT_TYPES
        assert e.label and e.source


def test_event_is_frozen():
    with pytest.raises(AttributeError):
        ev.EVENTS[0].type = "qt-start"  # type: ignore[misc]


@pytest.mark.parametrize("announced,effective,kind", REQUIRED)
def test_required_event_present(announced, effective, kind):
    df = ev.events()
    row = df[df["announced"] == pd.Timestamp(announced)]
    assert len(row) == 1, announced
    assert row["effective"].iloc[0] == pd.Timestamp(effective)
    assert row["type"].iloc[0] == kind


def test_events_frame_schema():
    df = ev.events()
    assert list(df.columns) == ["announced", "effective", "type", "label", "source", "available_on"]
    for c in ("announced", "effective", "available_on"):
        assert df[c].dtype == "datetime64[ns]", c
    assert df["announced"].is_monotonic_increasing
    assert (df["effective"] >= df["announced"]).all()
    assert (df["available_on"] >= df["announced"]).all()
    assert df["available_on"].notna().all()


def test_available_on_sunday_announcement_is_next_session():
    df = ev.events()
    row = df[df["announced"] == pd.Timestamp("2020-03-15")]
    assert row["available_on"].iloc[0] == pd.Timestamp("2020-03-16")


def test_available_on_weekday_announcement_is_same_day():
    df = ev.events()
    row = df[df["announced"] == pd.Timestamp("2022-05-04")]
    assert row["available_on"].iloc[0] == pd.Timestamp("2022-05-04")


def test_bill_purchases_are_not_qe():
    rmp = ev.events(types=["rmp-start"])
    qe = ev.events(types=["qe-start"])
    assert set(rmp["announced"]).isdisjoint(set(qe["announced"]))
    assert list(rmp["announced"]) == [pd.Timestamp("2019-10-11"), pd.Timestamp("2025-12-10")]


def test_type_filter_and_until():
    df = ev.events(types=["qt-start", "qt-end"], until="2022-05-04")
    assert set(df["type"]) <= {"qt-start", "qt-end"}
    assert df["available_on"].max() <= pd.Timestamp("2022-05-04")
    assert pd.Timestamp("2022-05-04") in set(df["announced"])
    assert ev.events(until=date(2020, 3, 15))["announced"].max() < pd.Timestamp("2020-03-15")
    assert list(ev.events(types="taper")["type"].unique()) == ["taper"]


def test_unknown_type_raises_usage_error():
    with pytest.raises(UsageError) as exc:
        ev.events(types=["qe-start", "qe4"])
    assert "qe4" in exc.value.what
    assert exc.value.fix and "qe-start" in exc.value.fix
