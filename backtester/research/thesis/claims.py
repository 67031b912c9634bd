"""The essay's nine claims (/work/shared/thesis-claims.md), each scored from the data.

A claim's entry: ``id``, ``key``, ``claim``, ``essay`` (the essay's figures, as it states them),
``essay_value`` (the figure the rule compares with, or None), ``at_essay`` (computed as of the essay
session from the point-in-time signal frame, or the history the claim is about) and ``after`` (computed
from the data after it), each a dict whose ``value`` is the figure compared, their one-line
``at_essay_text`` / ``after_text``, the ``rule`` (its thresholds are the constants below), the
``verdict`` (``held`` | ``failed`` | ``too early``) and the ``reason`` (the comparison that decided it).

The essay's figures are typed in here (they are what is being scored); every computed figure comes
from the store. "too early" means the data after the essay do not reach what the rule needs.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import pandas as pd

from .facts import DAYS_PER_MONTH, iso

HELD, FAILED, TOO_EARLY = "held", "failed", "too early"
VERDICTS = (HELD, FAILED, TOO_EARLY)

# ---- rule thresholds
RELATIVE_TOLERANCE = 0.25  # a $ figure "holds" if it reaches at least 75% of the essay's size, on the claimed side
RATIO_TOLERANCE = 0.005  # a ratio "holds" within 0.5 percentage point of the essay's
SPREAD_WIDENED_BP = 5.0  # "widened": mean above +5 bp (the signal frame's default spread_threshold_bp)
SPREAD_WINDOW_OBS = 60  # "structurally": judged on the mean of the last 60 daily observations
MIN_MONTHS_AFTER = 3.0  # balance-sheet growth is judged on at least 3 months of data
MIN_SESSIONS_AFTER = 63  # returns are judged on at least 63 sessions (about 3 months)

# ---- the essay's figures
ESSAY_RRP_DRAWN = 0.99  # "down >99%" from the 2022 peak
ESSAY_RESERVES_BN = 2960.0
ESSAY_GDP_BN = 30486.0  # 2025-Q2
ESSAY_RESERVES_TO_GDP = 0.0971
RESERVES_FLOOR = 0.10  # the low end of the essay's 10-11% "ample" floor
ESSAY_LIQUIDITY_JAN_2025_BN = 4000.0  # reserves ~3.4T + RRP ~0.6T
ESSAY_LIQUIDITY_DROP_BN = 1000.0  # "down >1T in under a year"
JAN_2025 = _dt.date(2025, 1, 1)
ESSAY_QT_BN_PER_MONTH = 25.0
ESSAY_SEPT_2019_RATIO = 0.07  # ~1.5T of ~21.4T GDP
SEPT_2019_BREAK = _dt.date(2019, 9, 17)
ESSAY_SPREAD_NOW_BP = 19.0
ESSAY_SPREAD_2020_22_BP = -2.0
ESSAY_SPREAD_LOW = (_dt.date(2022, 6, 14), -14.0)
ESSAY_SPREAD_2024 = (_dt.date(2024, 10, 1), 20.0)
QT_END_DEADLINE = _dt.date(2026, 1, 31)  # "at the December or January FOMC": the end of January 2026
ESSAY_QE_BN_PER_MONTH = (60.0, 100.0)
ESSAY_GOLD_JAN_2025 = 2500.0
ESSAY_GOLD_NOW = 4000.0
GOLD = "GLD"
BITCOIN = "BTC-USD"
RIVALS = ("SPY", "CASH")


@dataclass
class Context:
    signals: pd.DataFrame  # the point-in-time signal frame
    session: pd.Timestamp  # the essay session (first NYSE session on/after --since)
    asof: pd.Timestamp  # the store's last common date
    rrp: pd.Series  # RRPONTSYD by observation date ($B)
    spread: pd.Series  # SOFR - EFFR by observation date (bp)
    sofr: pd.Series  # SOFR by observation date (percent)
    qt: dict  # facts.qt_end
    growth: dict  # {"from_qt_end": facts.fed_asset_growth, "from_bill_purchases": ...}
    returns: dict  # facts.asset_returns report
    gold: dict  # facts.gold_history


# ---------------------------------------------------------------- helpers
def _f(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _bn(v) -> str:
    if v is None:
        return "-"
    sign = "-" if v < 0 else ""
    return f"{sign}${abs(v):,.{1 if abs(v) < 10 else 0}f}B"


def _pct(v, d: int = 2) -> str:
    return "-" if v is None else f"{100 * v:.{d}f}%"


def _bp(v) -> str:
    return "-" if v is None else f"{v:+.1f} bp"


def _key(asset: str) -> str:
    return asset.lower().replace("-", "_")


def _last_known(frame: pd.DataFrame, key: str) -> tuple[pd.Timestamp | None, float | None]:
    s = frame[key].dropna()
    return (s.index[-1], float(s.iloc[-1])) if len(s) else (None, None)


def _entry(cid, key, claim, essay, essay_value, at, after, at_text, after_text, rule, verdict, reason) -> dict:
    assert verdict in VERDICTS
    return {
        "id": cid,
        "key": key,
        "claim": claim,
        "essay": essay,
        "essay_value": essay_value,
        "at_essay": at,
        "after": after,
        "at_essay_text": at_text,
        "after_text": after_text,
        "rule": rule,
        "verdict": verdict,
        "reason": reason,
    }


# ---------------------------------------------------------------- 1..9
def rrp_drained(c: Context) -> dict:
    row = c.signals.loc[c.session]
    dd, rrp = _f(row["rrp_drawdown_from_peak"]), _f(row["rrp_balance"])
    obs = row["rrp_balance__obs"]
    upto = c.rrp.loc[:obs] if pd.notna(obs) else c.rrp.iloc[:0]
    peak_date = upto.idxmax() if len(upto) else None
    after_rrp = c.rrp.loc[c.session + pd.Timedelta(days=1) :]
    last_date, last_dd = _last_known(c.signals, "rrp_drawdown_from_peak")
    at = {
        "date": iso(c.session),
        "value": dd,
        "rrp_bn": rrp,
        "observation_date": iso(obs),
        "peak_bn": _f(upto.max()) if len(upto) else None,
        "peak_date": iso(peak_date),
    }
    after = {
        "date": iso(last_date),
        "value": last_dd,
        "rrp_bn": _f(c.signals.loc[last_date, "rrp_balance"]) if last_date is not None else None,
        "max_rrp_bn": _f(after_rrp.max()) if len(after_rrp) else None,
        "max_rrp_date": iso(after_rrp.idxmax()) if len(after_rrp) else None,
    }
    verdict = HELD if dd is not None and dd >= ESSAY_RRP_DRAWN else FAILED
    return _entry(
        1,
        "rrp_drained",
        "RRP, the buffer of excess liquidity, is gone",
        'peak in 2022; "a few billion" now, down >99%',
        ESSAY_RRP_DRAWN,
        at,
        after,
        f"{_bn(rrp)} ({at['observation_date']}), {_pct(dd)} below the {_bn(at['peak_bn'])} peak of {at['peak_date']}",
        f"{_bn(after['rrp_bn'])} on {after['date']}, {_pct(last_dd)} below the peak; "
        f"highest after the essay {_bn(after['max_rrp_bn'])} ({after['max_rrp_date']})",
        f"held if RRP is at least {ESSAY_RRP_DRAWN:.0%} below its running peak on the essay date (point in time)",
        verdict,
        f"drawdown {_pct(dd)} {'>=' if verdict == HELD else '<'} {ESSAY_RRP_DRAWN:.0%}",
    )


def reserves_below_floor(c: Context) -> dict:
    row = c.signals.loc[c.session]
    ratio = _f(row["reserves_to_gdp"])
    after_rows = c.signals.loc[c.session :, "reserves_to_gdp"].dropna()
    last_date, last = _last_known(c.signals, "reserves_to_gdp")
    at = {
        "date": iso(c.session),
        "value": ratio,
        "reserves_bn": _f(row["reserves"]),
        "reserves_observation": iso(row["reserves__obs"]),
        "gdp_bn": _f(row["gdp"]),
        "gdp_quarter": iso(row["gdp__obs"]),
        "floor": RESERVES_FLOOR,
    }
    after = {
        "date": iso(last_date),
        "value": last,
        "min": _f(after_rows.min()) if len(after_rows) else None,
        "min_date": iso(after_rows.idxmin()) if len(after_rows) else None,
        "max": _f(after_rows.max()) if len(after_rows) else None,
        "max_date": iso(after_rows.idxmax()) if len(after_rows) else None,
        "share_below_floor": _f((after_rows < RESERVES_FLOOR).mean()) if len(after_rows) else None,
    }
    verdict = HELD if ratio is not None and ratio < RESERVES_FLOOR else FAILED
    return _entry(
        2,
        "reserves_below_floor",
        'bank reserves are below "ample"',
        "reserves 2.96T; GDP 30.486T (2025-Q2); 9.71% vs a 10-11% floor",
        ESSAY_RESERVES_TO_GDP,
        at,
        after,
        f"{_pct(ratio)} = reserves {_bn(at['reserves_bn'])} (week of {at['reserves_observation']}) / "
        f"GDP {_bn(at['gdp_bn'])} (quarter {at['gdp_quarter']})",
        f"{_pct(last)} on {after['date']}; range after the essay {_pct(after['min'])}..{_pct(after['max'])}, "
        f"below the floor on {_pct(after['share_below_floor'], 0)} of sessions",
        f"held if reserves / GDP (point in time) is below the {RESERVES_FLOOR:.0%} floor on the essay date",
        verdict,
        f"{_pct(ratio)} {'<' if verdict == HELD else '>='} {RESERVES_FLOOR:.0%}",
    )


def liquidity_fell(c: Context) -> dict:
    f = c.signals
    row = f.loc[c.session]
    chg = _f(row["total_liquidity_52w_change"])
    level = _f(row["total_liquidity"])
    year = f.loc[c.session - pd.Timedelta(weeks=52) : c.session, "total_liquidity"].dropna()
    jan = f.loc[pd.Timestamp(JAN_2025) :, "total_liquidity"].dropna()
    last_date, last = _last_known(f, "total_liquidity_52w_change")
    need = -ESSAY_LIQUIDITY_DROP_BN * (1 - RELATIVE_TOLERANCE)
    at = {
        "date": iso(c.session),
        "value": chg,
        "level_bn": level,
        "observation_date": iso(row["total_liquidity__obs"]),
        "high_52w_bn": _f(year.max()) if len(year) else None,
        "high_52w_date": iso(year.idxmax()) if len(year) else None,
        "drop_from_52w_high_bn": _f(level - year.max()) if len(year) and level is not None else None,
        "jan_2025_date": iso(jan.index[0]) if len(jan) else None,
        "jan_2025_bn": _f(jan.iloc[0]) if len(jan) else None,
    }
    after = {
        "date": iso(last_date),
        "value": last,
        "level_bn": _f(f.loc[last_date, "total_liquidity"]) if last_date is not None else None,
    }
    verdict = HELD if chg is not None and chg <= need else FAILED
    return _entry(
        3,
        "liquidity_fell",
        "total liquidity (reserves + RRP) fell fast",
        "Jan 2025: reserves ~3.4T + RRP ~0.6T = ~4T; down >1T in under a year",
        -ESSAY_LIQUIDITY_DROP_BN,
        at,
        after,
        f"{_bn(level)}, 52-week change {_bn(chg)}; {_bn(at['drop_from_52w_high_bn'])} from the 52-week high "
        f"{_bn(at['high_52w_bn'])} ({at['high_52w_date']}); {_bn(at['jan_2025_bn'])} on {at['jan_2025_date']}",
        f"52-week change {_bn(last)} on {after['date']} (level {_bn(after['level_bn'])})",
        f"held if the 52-week change of reserves + RRP on the essay date is at most {_bn(need)} "
        f"(the essay's -$1,000B within {RELATIVE_TOLERANCE:.0%})",
        verdict,
        f"{_bn(chg)} {'<=' if verdict == HELD else '>'} {_bn(need)}",
    )


def _per_month_13w(v):
    return None if v is None else v / (13 * 7 / DAYS_PER_MONTH)


def qt_draining(c: Context) -> dict:
    f = c.signals
    row = f.loc[c.session]
    chg = _f(row["fed_assets_13w_change"])
    pm = _per_month_13w(chg)
    last_date, last = _last_known(f, "fed_assets_13w_change")
    need = -ESSAY_QT_BN_PER_MONTH * (1 - RELATIVE_TOLERANCE)
    at = {
        "date": iso(c.session),
        "value": pm,
        "change_13w_bn": chg,
        "observation_date": iso(row["fed_assets_13w_change__obs"]),
        "qt_state": row["qt_state"] if pd.notna(row["qt_state"]) else None,
    }
    after = {
        "date": iso(last_date),
        "value": _per_month_13w(last),
        "change_13w_bn": last,
        "qt_state": f.loc[last_date, "qt_state"] if last_date is not None else None,
    }
    verdict = HELD if pm is not None and pm <= need else FAILED
    return _entry(
        4,
        "qt_draining",
        "QT still drains",
        "$25B a month",
        -ESSAY_QT_BN_PER_MONTH,
        at,
        after,
        f"WALCL {_bn(chg)} over 13 weeks (to {at['observation_date']}) = {_bn(pm)}/month; qt_state {at['qt_state']}",
        f"{_bn(after['value'])}/month (13 weeks to {after['date']}); qt_state {after['qt_state']}",
        f"held if the Fed's assets (WALCL 13-week change / 2.99 months) fell at least {_bn(-need)} a month "
        f"on the essay date (the essay's $25B within {RELATIVE_TOLERANCE:.0%})",
        verdict,
        f"{_bn(pm)}/month {'<=' if verdict == HELD else '>'} {_bn(need)}/month",
    )


def sept_2019(c: Context) -> dict:
    f = c.signals
    d = pd.Timestamp(SEPT_2019_BREAK)
    row = f.loc[d]
    ratio = _f(row["reserves_to_gdp"])
    sept = f.loc["2019-09-01":"2019-09-30", "reserves_to_gdp"].dropna()
    now = _f(f.loc[c.session, "reserves_to_gdp"])
    before = c.sofr.loc[: d - pd.Timedelta(days=1)]
    at = {
        "date": iso(d),
        "value": ratio,
        "reserves_bn": _f(row["reserves"]),
        "reserves_observation": iso(row["reserves__obs"]),
        "gdp_bn": _f(row["gdp"]),
        "gdp_quarter": iso(row["gdp__obs"]),
        "sept_2019_low": _f(sept.min()) if len(sept) else None,
        "sept_2019_low_date": iso(sept.idxmin()) if len(sept) else None,
        "sofr_day_before": _f(before.iloc[-1]) if len(before) else None,
        "sofr_on_day": _f(c.sofr.get(d)),
        "essay_date_ratio": now,
    }
    close = ratio is not None and abs(ratio - ESSAY_SEPT_2019_RATIO) <= RATIO_TOLERANCE
    lower = ratio is not None and now is not None and ratio < now
    verdict = HELD if close and lower else FAILED
    return _entry(
        5,
        "sept_2019_lower",
        "2019 broke at lower reserves; today needs more",
        "2019: ~1.5T, ~7% of ~21.4T GDP; repo 2% -> 10% on 2019-09-17",
        ESSAY_SEPT_2019_RATIO,
        at,
        {},
        f"{_pct(ratio)} on {at['date']} (reserves {_bn(at['reserves_bn'])} / GDP {_bn(at['gdp_bn'])}), "
        f"Sept low {_pct(at['sept_2019_low'])}; SOFR {at['sofr_day_before']}% -> {at['sofr_on_day']}%; "
        f"essay date {_pct(now)}",
        "history: nothing to observe after the essay",
        f"held if reserves / GDP on {SEPT_2019_BREAK} (point in time) is within {100 * RATIO_TOLERANCE:.1f} pp "
        "of 7% and below the essay date's ratio. The essay's 10% repo print was an intraday high that is not "
        "in the data: SOFR is shown, not scored",
        verdict,
        f"|{_pct(ratio)} - 7%| {'<=' if close else '>'} {100 * RATIO_TOLERANCE:.1f} pp; "
        f"{_pct(ratio)} {'<' if lower else '>='} {_pct(now)}",
    )


def spread_widened(c: Context) -> dict:
    f = c.signals
    row = f.loc[c.session]
    s = c.spread
    hist = s.loc["2020-01-01":"2022-12-31"]
    y22 = s.loc["2022-01-01":"2022-12-31"]
    after = s.loc[c.session + pd.Timedelta(days=1) :]
    tail = after.iloc[-SPREAD_WINDOW_OBS:]
    m20 = _f(row["sofr_effr_bp_20d"])
    at = {
        "date": iso(c.session),
        "value": m20,
        "daily_bp": _f(row["sofr_effr_bp"]),
        "observation_date": iso(row["sofr_effr_bp__obs"]),
        "max_in_essay_week_bp": _f(s.loc[c.session : c.session + pd.Timedelta(days=6)].max()),
        "mean_2020_2022_bp": _f(hist.mean()) if len(hist) else None,
        "low_2022_bp": _f(y22.min()) if len(y22) else None,
        "low_2022_date": iso(y22.idxmin()) if len(y22) else None,
        "on_2022_06_14_bp": _f(s.get(pd.Timestamp(ESSAY_SPREAD_LOW[0]))),
        "on_2024_10_01_bp": _f(s.get(pd.Timestamp(ESSAY_SPREAD_2024[0]))),
    }
    aft = {
        "date": iso(after.index[-1]) if len(after) else None,
        "value": _f(tail.mean()) if len(after) >= SPREAD_WINDOW_OBS else None,
        "observations": int(len(after)),
        "mean_since_essay_bp": _f(after.mean()) if len(after) else None,
        "share_positive": _f((after > 0).mean()) if len(after) else None,
        "last_20d_bp": _f(after.iloc[-20:].mean()) if len(after) >= 20 else None,
    }
    if len(after) < SPREAD_WINDOW_OBS:
        verdict, reason = TOO_EARLY, f"{len(after)} observations after the essay < {SPREAD_WINDOW_OBS}"
    else:
        ok_at = m20 is not None and m20 >= SPREAD_WIDENED_BP
        ok_after = aft["value"] >= SPREAD_WIDENED_BP
        verdict = HELD if ok_at and ok_after else FAILED
        reason = (
            f"20-day mean at the essay {_bp(m20)} {'>=' if ok_at else '<'} {_bp(SPREAD_WIDENED_BP)}; "
            f"last {SPREAD_WINDOW_OBS} days {_bp(aft['value'])} {'>=' if ok_after else '<'} {_bp(SPREAD_WIDENED_BP)}"
        )
    return _entry(
        6,
        "spread_widened",
        "the SOFR-EFFR spread widened structurally",
        "+19 bp now; 2020-22 average about -2 bp; low -14 bp on 2022-06-14; +20 bp on 2024-10-01",
        ESSAY_SPREAD_NOW_BP,
        at,
        aft,
        f"20-day mean {_bp(m20)}, day {_bp(at['daily_bp'])} ({at['observation_date']}), max in the essay's week "
        f"{_bp(at['max_in_essay_week_bp'])}; 2020-22 mean {_bp(at['mean_2020_2022_bp'])}, 2022 low "
        f"{_bp(at['low_2022_bp'])} ({at['low_2022_date']}), 2024-10-01 {_bp(at['on_2024_10_01_bp'])}",
        f"last {SPREAD_WINDOW_OBS} days {_bp(aft['value'])} (to {aft['date']}); since the essay "
        f"{_bp(aft['mean_since_essay_bp'])}, positive on {_pct(aft['share_positive'], 0)} of days",
        f"held if the 20-day mean on the essay date AND the mean of the last {SPREAD_WINDOW_OBS} daily "
        f"observations are both >= {_bp(SPREAD_WIDENED_BP)} (structural = still wide months later); too early "
        f"with fewer than {SPREAD_WINDOW_OBS} observations after the essay",
        verdict,
        reason,
    )


def qt_ends_soon(c: Context) -> dict:
    q = c.qt
    off = q["official"]
    left = q["state_left_qt"]
    at = {"date": iso(c.session), "value": None, "qt_state": q["state_at_essay"]}
    row = c.signals.loc[c.session]
    at["qt_ended"] = _f(row["qt_ended"])
    at["last_event_type"] = row["last_event_type"] if pd.notna(row["last_event_type"]) else None
    after = {
        "value": off["effective"] if off else None,
        "announced": off["announced"] if off else None,
        "effective": off["effective"] if off else None,
        "state_left_qt_on": left["date"] if left else None,
        "state_left_qt_observation": left["observation_date"] if left else None,
        "state_left_qt_to": left["to"] if left else None,
        "state_expanding_on": q["state_expanding"]["date"] if q["state_expanding"] else None,
    }
    deadline = pd.Timestamp(QT_END_DEADLINE)
    if off and pd.Timestamp(off["effective"]) <= deadline:
        verdict = HELD
        reason = f"effective {off['effective']} <= {QT_END_DEADLINE}"
    elif c.asof <= deadline:
        verdict, reason = TOO_EARLY, f"no QT end by the data's last date {iso(c.asof)}; the deadline {QT_END_DEADLINE}"
    else:
        verdict = FAILED
        reason = f"effective {off['effective']} > {QT_END_DEADLINE}" if off else f"no QT end by {QT_END_DEADLINE}"
    data_txt = (
        f"; WALCL's qt_state left qt on {after['state_left_qt_on']} (week of {after['state_left_qt_observation']}, "
        f"-> {after['state_left_qt_to']}), expanding from {after['state_expanding_on']}"
        if left
        else "; WALCL's qt_state has not left qt"
    )
    return _entry(
        7,
        "qt_ends_soon",
        "QT ends soon",
        "at the December or January FOMC",
        QT_END_DEADLINE.isoformat(),
        at,
        after,
        f"qt_state {at['qt_state']}, no QT end announced (last FOMC event: {at['last_event_type']})",
        (f"FOMC: announced {off['announced']}, effective {off['effective']}" if off else "FOMC: no QT end") + data_txt,
        f"held if the FOMC table's first QT end after the essay takes effect on or before {QT_END_DEADLINE} "
        "(the month of the January FOMC, the later of the essay's two dates); WALCL's direction is shown "
        "as a check",
        verdict,
        reason,
    )


def qe_follows(c: Context) -> dict:
    g = c.growth.get("from_qt_end")
    gb = c.growth.get("from_bill_purchases")
    pm = _per_month_13w(_f(c.signals.loc[c.session, "fed_assets_13w_change"]))
    q = c.qt
    at = {"date": iso(c.session), "value": pm}
    after = {
        "value": g["bn_per_month"] if g else None,
        "from_qt_end": g["bn_per_month"] if g else None,
        "from_qt_end_slope": g["slope_bn_per_month"] if g else None,
        "from_bill_purchases": gb["bn_per_month"] if gb else None,
        "months": g["months"] if g else None,
        "end_observation": g["end_observation"] if g else None,
        "qe_announced": q["qe_announced"]["announced"] if q["qe_announced"] else None,
        "bill_purchases_start": q["bill_purchases"]["effective"] if q["bill_purchases"] else None,
    }
    lo, hi = ESSAY_QE_BN_PER_MONTH
    if not g or g["months"] < MIN_MONTHS_AFTER:
        verdict = TOO_EARLY
        reason = "no QT end yet" if not g else f"{g['months']:.1f} months of data < {MIN_MONTHS_AFTER:g}"
    else:
        verdict = HELD if g["bn_per_month"] >= lo else FAILED
        reason = f"{_bn(g['bn_per_month'])}/month {'>=' if verdict == HELD else '<'} {_bn(lo)}/month"
    after_txt = "-"
    if g:
        after_txt = (
            f"{_bn(g['bn_per_month'])}/month from QT's end ({g['base_observation']} -> {g['end_observation']}, "
            f"{g['months']:.1f} months)"
        )
        if gb:
            after_txt += f"; {_bn(gb['bn_per_month'])}/month from the bill purchases ({gb['start']})"
        after_txt += "; QE announced: " + (after["qe_announced"] or "no (reserve-management bill purchases only)")
    return _entry(
        8,
        "qe_follows",
        "QE follows, and big",
        '$60-100B a month of Treasury purchases; the Fed "always overshoots"',
        list(ESSAY_QE_BN_PER_MONTH),
        at,
        after,
        f"{_bn(pm)}/month (WALCL 13-week change)",
        after_txt,
        f"held if WALCL grew at least {_bn(lo)} a month from QT's effective end to its last observation "
        f"(above {_bn(hi)} counts as held: overshooting); too early with under {MIN_MONTHS_AFTER:g} months",
        verdict,
        reason,
    )


def gold_bitcoin_win(c: Context) -> dict:
    r = c.returns
    common, own = r["common"], r["assets"]
    at = {"date": r["start"], "value": None}
    at.update({f"{_key(a)}_close": own[a]["start_close"] for a in own if a != "CASH"})
    at.update(c.gold)
    after = {
        "value": None,
        "common_end": r["common_end"],
        "common_sessions": r["common_sessions"],
        **{f"{_key(a)}_return": common[a] for a in common},
    }
    beats = {a: all(common[a] > common[b] for b in RIVALS) for a in (GOLD, BITCOIN)}
    after["gold_beats_spy_and_cash"] = beats[GOLD]
    after["bitcoin_beats_spy_and_cash"] = beats[BITCOIN]
    if r["common_sessions"] < MIN_SESSIONS_AFTER:
        verdict, reason = TOO_EARLY, f"{r['common_sessions']} sessions < {MIN_SESSIONS_AFTER}"
    else:
        verdict = HELD if all(beats.values()) else FAILED
        parts = []
        for a in (GOLD, BITCOIN):
            won = [f"{b} {_pct(common[b], 1)}" for b in RIVALS if common[a] > common[b]]
            lost = [f"{b} {_pct(common[b], 1)}" for b in RIVALS if common[a] <= common[b]]
            parts.append(
                f"{a} {_pct(common[a], 1)}: "
                + (f"beats {', '.join(won)}" if won else "")
                + ("; " if won and lost else "")
                + (f"not {', '.join(lost)}" if lost else "")
            )
        reason = " | ".join(parts)
    g = c.gold
    at_txt = (
        f"LBMA gold {g.get('lbma_jan', 0):,.0f} ({g.get('lbma_jan_date')}) -> {g.get('lbma_at_essay', 0):,.0f} "
        f"({g.get('lbma_at_essay_date')}), {_pct(g.get('lbma_gain_jan_to_essay'), 1)}; "
        f"BTC {own[BITCOIN]['start_close']:,.0f}"
        if g
        else "-"
    )
    after_txt = f"to {r['common_end']}: " + ", ".join(f"{a} {_pct(v, 1)}" for a, v in common.items())
    return _entry(
        9,
        "gold_bitcoin_win",
        "gold and bitcoin are the assets to hold",
        "gold ~2,500 (Jan 2025) -> >4,000 (+70%); bitcoin to catch up with gold and beat it",
        None,
        at,
        after,
        at_txt,
        after_txt,
        f"held if gold ({GOLD}) and bitcoin ({BITCOIN}) each returned more than SPY and CASH from the essay "
        f"session to the earliest last date among them (SPY's); too early under {MIN_SESSIONS_AFTER} sessions",
        verdict,
        reason,
    )


CLAIMS = (
    rrp_drained,
    reserves_below_floor,
    liquidity_fell,
    qt_draining,
    sept_2019,
    spread_widened,
    qt_ends_soon,
    qe_follows,
    gold_bitcoin_win,
)


def score_claims(c: Context) -> list[dict]:
    return [fn(c) for fn in CLAIMS]
