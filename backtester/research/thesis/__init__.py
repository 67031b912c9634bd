"""The essay's call scored on the data after it (``hedge thesis``).

The essay ("Why QT is Dead and QE is Coming", mid-October 2025; claims in /work/shared/thesis-claims.md)
is scored from the store, as of the **essay session**: the first NYSE session on or after ``--since``
(default 2025-10-14, Powell's remark). Nothing computed is typed in; the essay's own figures and the
rule thresholds are named constants in ``thesis.claims``.

* **QT's end** (``qt_end``): the official FOMC table (``backtester.data.fomc``): the first ``qt-end``
  announced on or after the essay session (2025-10-29, effective 2025-12-01), the first reserve-
  management bill purchases (``rmp-start``) and any ``qe-start``; and the data: WALCL's ``qt_state``
  from the point-in-time signal frame, each change after the essay session (decision date and the
  WALCL week behind it), the first away from ``qt``.
* **Fed asset growth** (``fed_assets``), in $B a month: ``facts.GROWTH_METHOD`` -- from the last WALCL
  week on or before QT's effective end, and from the bill-purchase start, to the last WALCL week.
* **Returns since the essay** (``returns``): close of the last row / close of the first row on or after
  the essay session - 1, per asset to its own last date (SPY ends 2026-06-04 in the snapshot; GLD,
  BTC-USD 2026-08-20; LBMA 2026-08-19), and all on their common window (to the earliest last date);
  CASH is DFF accrued actual/360.
* **seed-thesis out of sample** (``strategy``): ``run.run_backtest`` with start = the essay session
  (default parameters, SPY benchmark, costs), its metrics and the benchmark's, and the stationary
  block bootstrap of the Sharpe difference; out of sample because its thresholds were chosen in
  hindsight of the data before the essay.
* **Claims** (``claims``): one verdict each, ``held`` / ``failed`` / ``too early`` (see ``thesis.claims``).

``score(store, since)`` returns a :class:`Thesis`: ``report`` (the json object of ``hedge thesis``) and
the series behind the charts (``thesis.page.write_page``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ...constants import ESSAY_DATE

DEFAULT_SINCE = ESSAY_DATE


@dataclass
class Thesis:
    report: dict
    walcl_bn: pd.Series
    curves: dict[str, pd.Series]
    equity: dict[str, pd.Series] = field(default_factory=dict)


def thresholds() -> dict:
    from . import claims as c

    names = [
        "RELATIVE_TOLERANCE",
        "RATIO_TOLERANCE",
        "SPREAD_WIDENED_BP",
        "SPREAD_WINDOW_OBS",
        "MIN_MONTHS_AFTER",
        "MIN_SESSIONS_AFTER",
        "RESERVES_FLOOR",
        "QT_END_DEADLINE",
    ]
    return {n.lower(): getattr(c, n) for n in names}


def score(
    store,
    since=DEFAULT_SINCE,
    *,
    signal_frame: pd.DataFrame | None = None,
    strategy: bool = True,
    n_boot: int = 2000,
    seed: int = 0,
) -> Thesis:
    """Score the essay from the store as of the first session on or after ``since`` (see the module doc)."""
    from ... import signals as sig
    from . import claims, facts

    since = pd.Timestamp(since)
    asof = store.last_common_date()
    frame = sig.compute(store) if signal_frame is None else signal_frame
    frame = frame.loc[:asof]  # the store's last common date is the "as of" of every command
    session = facts.essay_session(since, frame)
    walcl = facts.series(store, "WALCL") / 1000.0
    qt = facts.qt_end(frame, session, asof)
    growth = {
        "from_qt_end": facts.fed_asset_growth(
            walcl, qt["official"]["effective"] if qt["official"] else None, "from QT's effective end"
        ),
        "from_bill_purchases": facts.fed_asset_growth(
            walcl,
            qt["bill_purchases"]["effective"] if qt["bill_purchases"] else None,
            "from the first reserve-management bill purchases",
        ),
    }
    returns, curves = facts.asset_returns(store, session)
    sofr, effr = facts.series(store, "SOFR"), facts.series(store, "EFFR")
    spread = ((sofr - effr) * 100.0).dropna().round(6)  # bp; rounding drops float noise (19.00000000000004)
    ctx = claims.Context(
        signals=frame,
        session=session,
        asof=asof,
        rrp=facts.series(store, "RRPONTSYD"),
        spread=spread,
        sofr=sofr,
        qt=qt,
        growth=growth,
        returns=returns,
        gold=facts.gold_history(store, session, claims.JAN_2025),
    )
    scored = claims.score_claims(ctx)
    report = {
        "since": since.date().isoformat(),
        "essay_session": facts.iso(session),
        "asof": facts.iso(asof),
        "qt_end": qt,
        "fed_assets": {
            "unit": "usd_bn_per_month",
            "method": facts.GROWTH_METHOD,
            "predicted_bn_per_month": list(claims.ESSAY_QE_BN_PER_MONTH),
            "last_observation": facts.iso(walcl.index[-1]),
            "last_bn": float(walcl.iloc[-1]),
            **growth,
        },
        "returns": returns,
        "strategy": None,
        "claims": scored,
        "verdicts": {v.replace(" ", "_"): sum(c["verdict"] == v for c in scored) for v in claims.VERDICTS},
        "thresholds": thresholds(),
    }
    equity = {}
    if strategy:
        oos, run = facts.out_of_sample(store, session, frame, n_boot=n_boot, seed=seed)
        report["strategy"] = oos
        equity = {
            oos["name"]: (1.0 + run.result.returns).cumprod(),
            oos["benchmark_name"]: (1.0 + run.bench.returns).cumprod(),
        }
    return Thesis(report, walcl, curves, equity)
