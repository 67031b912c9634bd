"""Input series on their native frequency, and the point-in-time join onto decision dates.

A ``Native`` is a derived series on its own dates (daily business days or H.4.1 Wednesdays) with the
``available_on`` of every row (the latest ``available_on`` of the inputs the row uses). ``join`` picks,
for each decision date, the latest row available by then, exactly as ``pit.as_known_on`` does, and
marks a value unknown when that row is older than the staleness limit. Rolling windows and changes
are computed on the native rows first, so a 20-day mean is over observations all known by the date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data import catalog

NS = "datetime64[ns]"
NAT = np.datetime64("NaT", "ns")
DAY = np.timedelta64(1, "D")

# static facts about a series' start, added to "not available yet" reasons
START_NOTES = {
    "IORB": "the rate paid on reserves is IOER from 2008-10-09 (IOER.csv), IORB from 2021-07-29",
    "SOFR": "SOFR is published from 2018-04-03",
}


@dataclass
class Input:
    id: str
    date: np.ndarray
    value: np.ndarray  # USD amounts converted to billions
    avail: np.ndarray  # monotone (cumulative max)
    staleness: int
    present: bool


def _read(source, sid: str) -> pd.DataFrame | None:
    if isinstance(source, Mapping):
        return source.get(sid)
    if sid in source.ids():
        return source.read(sid)
    return None


def load(source, sid: str) -> Input:
    spec = catalog.get(sid)
    frame = _read(source, sid)
    present = frame is not None
    if frame is None or frame.empty:
        e = np.array([], dtype=NS)
        return Input(sid, e, np.array([], dtype=float), e.copy(), spec.staleness_days, present)
    col = "value" if spec.kind == "macro" else "close"
    f = frame.sort_values("date", kind="stable")
    v = f[col].to_numpy(float) * (spec.to_billions or 1.0)
    ok = np.isfinite(v)
    date = f["date"].to_numpy(NS)[ok]
    avail = np.maximum.accumulate(f["available_on"].to_numpy(NS)[ok]) if ok.any() else date.copy()
    return Input(sid, date, v[ok], avail, spec.staleness_days, present)


def splice_before(early: Input, late: Input) -> Input:
    """``late`` continued backwards by ``early``'s rows dated before ``late``'s first (IOER, then IORB).

    Keeps ``late``'s id (signals and reasons name IORB); present if either is."""
    if not len(early.date):
        return late
    cut = early.date < late.date[0] if len(late.date) else np.ones(len(early.date), dtype=bool)
    date = np.concatenate([early.date[cut], late.date])
    avail = np.maximum.accumulate(np.concatenate([early.avail[cut], late.avail]))
    value = np.concatenate([early.value[cut], late.value])
    return Input(late.id, date, value, avail, late.staleness, late.present or early.present)


@dataclass
class Native:
    """Columns on native dates. ``why[col]`` gives, per row, why a NaN value is NaN (None elsewhere)."""

    date: np.ndarray
    avail: np.ndarray
    cols: dict[str, np.ndarray]
    inputs: tuple[str, ...]
    staleness: int
    why: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        if len(self.avail):
            self.avail = np.maximum.accumulate(self.avail)


def native_of(inp: Input, name: str = "value") -> Native:
    return Native(inp.date, inp.avail, {name: inp.value}, (inp.id,), inp.staleness)


@dataclass
class Joined:
    pos: np.ndarray  # row of the native series used (0 where none)
    has: np.ndarray  # some row was available
    fresh: np.ndarray  # ... and within the staleness limit
    obs: np.ndarray
    avail: np.ndarray


def join(nat: Native, dd: np.ndarray) -> Joined:
    n = len(nat.date)
    if n == 0:
        z = np.zeros(len(dd), dtype=bool)
        nat_arr = np.full(len(dd), NAT)
        return Joined(np.zeros(len(dd), dtype=int), z, z.copy(), nat_arr, nat_arr.copy())
    pos = np.searchsorted(nat.avail, dd, side="right") - 1
    has = pos >= 0
    p = np.where(has, pos, 0)
    obs = np.where(has, nat.date[p], NAT)
    av = np.where(has, nat.avail[p], NAT)
    with np.errstate(invalid="ignore"):
        age = (dd - obs) / DAY
    fresh = has & (age <= nat.staleness)
    return Joined(p, has, fresh, obs, av)


def status(inp: Input, dd: np.ndarray) -> np.ndarray:
    """Per decision date: None when the series has a fresh value, else why not (object array)."""
    j = join(native_of(inp), dd)
    out = np.full(len(dd), None, dtype=object)
    if not inp.present:
        out[:] = f"{inp.id} is not in the store"
        return out
    note = START_NOTES.get(inp.id)
    out[~j.has] = f"no {inp.id} observation available yet" + (f" ({note})" if note else "")
    stale = j.has & ~j.fresh
    if stale.any():
        uniq, inv = np.unique(j.obs[stale], return_inverse=True)
        msgs = np.array(
            [
                f"{inp.id}: last observation {str(u)[:10]} is older than the {inp.staleness}-day staleness limit"
                " (series ended or not updated)"
                for u in uniq
            ],
            dtype=object,
        )
        out[stale] = msgs[inv]
    return out


def combine_reasons(unknown: np.ndarray, parts: list[np.ndarray | None], fallback: str) -> np.ndarray:
    """Reason per date where ``unknown``: the non-empty ``parts`` joined by '; ', else ``fallback``."""
    out = np.full(len(unknown), None, dtype=object)
    idx = np.flatnonzero(unknown)
    if not len(idx):
        return out
    parts = [p for p in parts if p is not None]
    for i in idx:
        msg = [p[i] for p in parts if p[i] is not None]
        # keep order, drop duplicates
        seen = list(dict.fromkeys(msg))
        out[i] = "; ".join(seen) if seen else fallback
    return out


# ---- native-frequency helpers


def match_back(date: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """For each date, the row dated exactly ``days`` earlier: (index, found)."""
    if not len(date):
        return np.zeros(0, dtype=int), np.zeros(0, dtype=bool)
    target = date - days * DAY
    j = np.searchsorted(date, target)
    jc = np.minimum(j, len(date) - 1)
    return jc, (j < len(date)) & (date[jc] == target)


def change(date: np.ndarray, value: np.ndarray, weeks: int) -> np.ndarray:
    j, ok = match_back(date, 7 * weeks)
    out = np.full(len(date), np.nan)
    out[ok] = value[ok] - value[j[ok]]
    return out


def capped_change(date: np.ndarray, value: np.ndarray, weeks: int, cap: float) -> np.ndarray:
    """Sum of the last ``weeks`` week-on-week changes, each clipped to +-cap; NaN unless all are weekly."""
    if not len(date):
        return np.zeros(0)
    j, ok = match_back(date, 7)
    d = np.full(len(date), np.nan)
    d[ok] = value[ok] - value[j[ok]]
    d = np.clip(d, -cap, cap)
    return pd.Series(d).rolling(weeks, min_periods=weeks).sum().to_numpy()


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window, min_periods=window).mean().to_numpy()


def intersect(a: Input | Native, b: Input | Native) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Common dates of two series: (dates, index in a, index in b)."""
    d, ia, ib = np.intersect1d(a.date, b.date, assume_unique=True, return_indices=True)
    return d, ia, ib


def at_or_before(inp: Input, dates: np.ndarray, max_days: int) -> tuple[np.ndarray, np.ndarray]:
    """The latest row of ``inp`` dated on or before each date and at most ``max_days`` earlier."""
    if not len(inp.date):
        return np.zeros(len(dates), dtype=int), np.zeros(len(dates), dtype=bool)
    j = np.searchsorted(inp.date, dates, side="right") - 1
    jc = np.maximum(j, 0)
    ok = (j >= 0) & ((dates - inp.date[jc]) <= max_days * DAY)
    return jc, ok


def why_where(mask: np.ndarray, text: str) -> np.ndarray:
    out = np.full(len(mask), None, dtype=object)
    out[mask] = text
    return out
