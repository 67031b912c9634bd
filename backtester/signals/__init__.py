"""Liquidity signals: the indicators the macro argument rests on, point in time on NYSE decision dates.

``compute(store)`` returns one row per NYSE session (``calendar.nyse_sessions``, from 2002-12-18 to the
last ``available_on`` of the inputs, or ``end``). Every value is a pure function of the observations whose
``available_on`` is on or before that row's date: each input is first transformed on its native
frequency (daily business days, H.4.1 Wednesdays, quarters), rolling windows and changes included, then
joined to the decision dates by ``available_on`` (the latest row available by the 16:00 ET close), as
``pit.as_known_on`` does. A value whose row is older than the input's catalog staleness limit is unknown
(NaN), never carried forward. The whole history is always computed (the hysteresis states depend on it)
and then cut to ``[start, end]``, so a row never depends on ``start``.

Frame layout
------------
* ``<key>``: the value. Numbers are float; booleans are float 1.0/0.0; labels (``qt_state``,
  ``last_event_type``, ``regime``) are ``str`` columns. Unknown is NaN in every case.
* ``<key>__obs``: the observation date of the row used (for two-input ratios, the first input's; for
  FOMC signals the announcement; for the composite, the latest of its known inputs).
* ``<key>__avail``: when that value became usable (the latest ``available_on`` of everything it uses);
  always on or before the row's date.
* ``<key>__reason``: ``None`` when known, else why not (object column), e.g. ``WTREGEN: last observation
  2025-11-19 is older than the 21-day staleness limit (series ended or not updated)``.
* extras: ``last_event_label``, and ``liquidity_stress_unknown_inputs`` (comma-separated stress inputs
  that were unknown that day, ``''`` if none). ``signal_columns(frame)`` lists the value columns.
``frame.attrs`` holds the ``signal_config`` (as a dict) and ``data_end``.

Signals (json keys of ``hedge signals``; USD in billions, ratios as fractions, spreads in bp)
-------------------------------------------------------------------------------------------
* ``reserves``, ``gdp``, ``fed_assets``, ``tga``: WRESBAL, GDP (SAAR), WALCL, WTREGEN as known that day.
* ``reserves_to_gdp``: WRESBAL / nominal GDP as available that day (GDP from its BEA first-release date,
  ``gdp_releases``; the value is the store's vintage, not the first print). Thresholds
  ``ample_ratio`` 0.11, ``floor_ratio`` 0.10 (the "ample" floor) and ``crisis_ratio`` 0.07 (Sept 2019);
  state ``ample`` / ``near-floor`` / ``below-floor`` / ``below-sept-2019``.
* ``rrp_balance`` (RRPONTSYD, daily), ``rrp_drawdown_from_peak`` = 1 - RRP / running peak of all
  observations so far (unknown while the peak is 0), ``rrp_drained`` = RRP < ``rrp_drained_bn`` (50).
  NOTE: RRP was also near zero in 2018-2020 (and before 2013), so ``rrp_drained`` alone is not a 2025
  signal: strategies should combine it (e.g. with ``reserves_to_gdp`` below the floor, or with a
  drawdown from a large peak).
* ``total_liquidity`` = WRESBAL (week average ending Wednesday) + RRP of that Wednesday (or the last
  business day before it, within 6 days), weekly; ``total_liquidity_52w_change`` = minus 52 weeks earlier.
* ``sofr_effr_bp`` = (SOFR - EFFR) x 100 on dates both exist; ``sofr_iorb_bp`` likewise with IORB, which
  exists from 2021-07-29 only (before it: unknown; IOER is not in the store). ``*_20d`` / ``*_60d`` are
  means of the last 20 / 60 native observations (``spread_short_window`` / ``spread_long_window``; the
  columns keep these names), so the whole window is known by the date. ``spread_widening`` = the
  ``widening_spread`` (default ``sofr_effr``) 20-day mean is above ``spread_threshold_bp`` (+5) AND above
  its 60-day mean.
* ``fed_assets_13w_change`` = WALCL minus 13 weeks earlier. ``fed_assets_13w_trend`` = the sum of the last
  13 week-on-week WALCL changes, each capped at +-``qt_jump_cap_bn`` (50): one lumpy week (year-end repo,
  the March 2023 bank-failure lending of ~$390bn in two weeks) counts at most 50. ``qt_state``: raw state
  ``qt`` if the trend < -``qt_tolerance_bn`` (25), ``expanding`` if > +25, else ``flat``; HYSTERESIS: a
  new raw state replaces the current one only after ``qt_confirm_weeks`` (2) consecutive weekly readings.
  It is the balance sheet's direction, not the official program (it reads ``qt`` when 2009-2012 emergency
  lending ran off, for instance); for the official program use the FOMC signals.
* FOMC table (``backtester.data.fomc``), each event usable from its ``available_on`` (the announcement
  day's close): ``last_event_type`` (label; ``last_event_label`` has the text), ``days_since_qt_end``
  (calendar days since the latest qt-end announcement; unknown before the first), ``qt_ended`` (1.0 when
  a qt-end has been announced and no qt-start since; 0.0 otherwise, also before any event). "From a
  QT-end announcement until QT resumes" is ``qt_ended == 1``.
* ``net_liquidity`` = WALCL - WTREGEN - RRP, all of the same Wednesday (RRP of the last business day on
  or before it), billions; available when the H.4.1 is (the Friday session: the Wednesday RRP is out on
  Thursday morning); ``net_liquidity_13w_change``. WTREGEN ends 2025-11-19 in the snapshot, so both are
  unknown from 2025-12-11 (21-day staleness limit), with that reason.

``liquidity_stress`` (0-100) and ``regime``
-------------------------------------------
Each input is scored linearly from 0 (calm) to 100 (stressed), clipped, and the composite is the
weighted mean of the scores of the inputs KNOWN that day (weights re-normalised); it is unknown when the
known inputs weigh less than ``stress_min_weight`` (0.6). Defaults (``SignalConfig.stress_components``):

  input                        weight  score 0 at   score 100 at
  reserves_to_gdp              0.35    0.12         0.07
  rrp_balance                  0.15    $300bn       $0
  sofr_effr_bp_20d (*)         0.25    -5 bp        +15 bp
  fed_assets_13w_change        0.10    +$100bn      -$300bn
  net_liquidity_13w_change     0.15    +$300bn      -$300bn
  (*) the ``widening_spread``'s 20-day mean

``liquidity_stress_unknown_inputs`` names the inputs left out each day (the SOFR spread before
2018-05, net liquidity after WTREGEN ends). ``regime``: first a level from the stress with a hysteresis
band (``scarce`` from >= 60, kept while >= 55; ``tight`` from >= 40, kept while >= 35; else calm), then

  easing      qt_state is expanding (the Fed is adding reserves)
  scarce      else the level is scarce
  easing      else a QT end is announced and QT has not resumed (qt_ended)
  tightening  else the level is tight or qt_state is qt
  ample       otherwise

Caveat: the reserve thresholds are calibrated on today's floor system. Before October 2008 reserves were
~1% of GDP (a corridor system) and in 2009-2012 5-10%, so the composite reads ``scarce`` then whenever the
Fed was not expanding: compare stress levels within a regime of monetary operations, not across them.
"""

from __future__ import annotations

from ._asof import decision_date, snapshot_row
from ._frame import INPUTS, compute
from .definitions import BOOLS, KEYS, LABELS, SIGNALS, SignalConfig, SignalDef, StressComponent

__all__ = [
    "resolve_asof",
    "BOOLS",
    "INPUTS",
    "KEYS",
    "LABELS",
    "SIGNALS",
    "SignalConfig",
    "SignalDef",
    "StressComponent",
    "compute",
    "decision_date",
    "snapshot_row",
    "signal_columns",
]


def resolve_asof(frame, store, asof=None):
    """The decision date of ``asof`` (default: the store's last common date): the last NYSE session on or
    before it; a date outside the signal frame's data is a UsageError naming ``asof``."""
    import pandas as pd

    from ..data.calendar import session_on_or_before
    from ..errors import UsageError

    when = pd.Timestamp(asof) if asof is not None else store.last_common_date()
    first, last = frame.index[0], pd.Timestamp(frame.attrs.get("data_end", frame.index[-1]))
    session = session_on_or_before(when)
    if session is None or session < first or when > last:
        raise UsageError(
            f"asof {when.date()} is outside the data ({first.date()} to {last.date()})",
            f"give a date between {first.date()} and {last.date()}",
            param="asof",
        )
    return session


def signal_columns(frame) -> list[str]:
    """The value columns of a signal frame (no provenance columns)."""
    return [c for c in frame.columns if "__" not in c]


from .._callable import make_callable  # noqa: E402  (hb.signals(...) is also the API function)

make_callable(__name__)
