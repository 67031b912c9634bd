"""Signals from the FOMC balance-sheet event table, each usable from the event's ``available_on``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _native as nv


def _latest(avail: np.ndarray, dd: np.ndarray) -> np.ndarray:
    """Index of the latest event available on each decision date (-1: none)."""
    return np.searchsorted(avail, dd, side="right") - 1 if len(avail) else np.full(len(dd), -1)


def event_columns(out, ev: pd.DataFrame | None) -> None:
    dd, n = out.dd, out.n
    keys = ("last_event_type", "last_event_label", "days_since_qt_end", "qt_ended")
    if ev is None:
        why = np.full(n, "the FOMC event table (backtester.data.fomc) is not installed", dtype=object)
        for k in keys:
            label = k in ("last_event_type", "last_event_label")
            out.put(
                k,
                np.full(n, None if label else np.nan, dtype=object if label else float),
                np.full(n, nv.NAT),
                np.full(n, nv.NAT),
                why.copy(),
            )
        return
    ev = ev.sort_values(["available_on", "announced"], kind="stable")
    ann = ev["announced"].to_numpy(nv.NS)
    av = np.maximum.accumulate(ev["available_on"].to_numpy(nv.NS)) if len(ev) else ann.copy()
    typ = ev["type"].astype(object).to_numpy()
    lab = ev["label"].astype(object).to_numpy()

    k = _latest(av, dd)
    has = k >= 0
    kc = np.maximum(k, 0)
    none = nv.why_where(~has, "no FOMC balance-sheet event announced yet")
    obs = np.where(has, ann[kc] if len(ann) else nv.NAT, nv.NAT)
    avl = np.where(has, av[kc] if len(av) else nv.NAT, nv.NAT)
    out.put("last_event_type", np.where(has, typ[kc] if len(typ) else None, None).astype(object), obs, avl, none)
    out.put(
        "last_event_label",
        np.where(has, lab[kc] if len(lab) else None, None).astype(object),
        obs.copy(),
        avl.copy(),
        none.copy(),
    )

    def of(t):
        m = typ == t
        return ann[m], av[m]

    e_ann, e_av = of("qt-end")
    s_ann, s_av = of("qt-start")
    ke, ks = _latest(e_av, dd), _latest(s_av, dd)
    he, hs = ke >= 0, ks >= 0
    e_date = np.where(he, e_ann[np.maximum(ke, 0)] if len(e_ann) else nv.NAT, nv.NAT)
    e_avail = np.where(he, e_av[np.maximum(ke, 0)] if len(e_av) else nv.NAT, nv.NAT)
    s_date = np.where(hs, s_ann[np.maximum(ks, 0)] if len(s_ann) else nv.NAT, nv.NAT)
    s_avail = np.where(hs, s_av[np.maximum(ks, 0)] if len(s_av) else nv.NAT, nv.NAT)

    days = np.where(he, (dd - e_date) / nv.DAY, np.nan)
    out.put(
        "days_since_qt_end",
        days,
        e_date,
        e_avail,
        nv.why_where(~he, "no QT-end announcement known on this date"),
    )

    # qt_ended: the latest known qt-end is more recent than the latest known qt-start
    restarted = hs & (~he | (s_date > e_date))
    ended = he & ~restarted
    # provenance: the event that decides the flag (the qt-end, or the later qt-start); none before any
    use_s = hs & ~ended
    q_obs = np.where(ended, e_date, np.where(use_s, s_date, nv.NAT))
    q_av = np.where(ended, e_avail, np.where(use_s, s_avail, nv.NAT))
    out.put("qt_ended", ended.astype(float), q_obs, q_av, np.full(n, None, dtype=object))
