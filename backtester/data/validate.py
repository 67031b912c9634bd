"""Validation of incoming data (snapshot import and online pulls).

Every check raises ``DataError`` with one line naming the file or series, the problem and where it is;
callers validate everything before writing anything, so a failure leaves the store untouched.

Checks: header/schema, ISO dates, duplicate or unsorted dates, field counts (truncated rows),
non-numeric values, empty files, impossible values (negative balances, non-positive prices) and unit
breaks (a ~1000x level shift, such as WRESBAL in billions spliced onto millions).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .catalog import MACRO_COLUMNS, PRICE_COLUMNS, SeriesSpec

ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_FIX = "re-export the file from its source or restore it from the snapshot; the store was not changed"
UNIT_WINDOW = 8
UNIT_RATIO = 300.0  # a level shift of this size or more between two adjacent windows is a unit break


def expected_columns(spec: SeriesSpec) -> tuple[str, ...]:
    return ("date",) + (MACRO_COLUMNS if spec.kind == "macro" else PRICE_COLUMNS)


def read_csv(spec: SeriesSpec, path: Path) -> pd.DataFrame:
    """Parse and validate one snapshot CSV into a frame (``date`` + value columns, source units)."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"{name}: cannot read ({e.strerror})", _FIX) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text", _FIX) from None
    if not text.strip():
        raise DataError(f"{name}: file is empty", _FIX)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise DataError(f"{name}: not a readable CSV ({e})", _FIX) from None
    header = [h.strip() for h in rows[0]]
    want = list(expected_columns(spec))
    if header[:1] == ["observation_date"]:
        header[0] = "date"
    if spec.kind == "macro" and len(header) == 2 and header[1] == spec.source_id:
        header[1] = "value"
    if spec.user and spec.kind == "price" and header != want:
        want = _user_price_header(header, want, name, spec)
    if header != want:
        raise DataError(f"{name}: header is {','.join(header)!r}, expected {','.join(want)!r} for {spec.id}", _FIX)
    body = rows[1:]
    if not body:
        raise DataError(f"{name}: no data rows after the header", _FIX)
    ncol = len(want)
    for i, r in enumerate(body, start=2):
        if len(r) != ncol:
            what = "truncated" if len(r) < ncol else "has extra fields"
            raise DataError(f"{name}: line {i} {what} ({len(r)} fields, expected {ncol})", _FIX)
    if not text.endswith("\n") and len(body[-1]) == ncol and body[-1][-1] == "" and spec.kind == "macro":
        raise DataError(f"{name}: last line is truncated", _FIX)
    dates = [r[0].strip() for r in body]
    for i, d in enumerate(dates, start=2):
        if not ISO.match(d):
            raise DataError(f"{name}: line {i} date {d!r} is not ISO YYYY-MM-DD", _FIX)
    try:
        idx = pd.to_datetime(pd.Series(dates), format="%Y-%m-%d").astype("datetime64[ns]")
    except (ValueError, TypeError) as e:  # incl. OutOfBoundsDatetime: years outside 1677..2262
        raise DataError(f"{name}: invalid date ({e})", _FIX) from None
    data = {"date": idx.values}
    for j, col in enumerate(want[1:], start=1):
        vals = np.empty(len(body))
        for i, r in enumerate(body):
            s = r[j].strip()
            if s in ("", "."):
                vals[i] = np.nan
                continue
            try:
                vals[i] = float(s)
            except ValueError:
                raise DataError(f"{name}: line {i + 2} {col} {s!r} is not a number", _FIX) from None
            if not np.isfinite(vals[i]):
                raise DataError(f"{name}: line {i + 2} {col} {s!r} is not a finite number", _FIX)
        data[col] = vals
    frame = pd.DataFrame(data)
    for col in expected_columns(spec)[1:]:  # a user price file may omit open/high/low/adj_close/volume
        if col not in frame:
            frame[col] = np.nan
    return clean(spec, frame[list(expected_columns(spec))], name)


def _user_price_header(header: list[str], full: list[str], name: str, spec: SeriesSpec) -> list[str]:
    """A user price file: ``date,close`` at least, any of the other price columns, in any order."""
    ok = header[:1] == ["date"] and "close" in header and len(set(header)) == len(header)
    if ok and set(header) <= set(full):
        return header
    raise DataError(
        f"{name}: header is {','.join(header)!r}; a price file for {spec.id} needs date,close"
        f" (optional: {','.join(c for c in full[1:] if c != 'close')})",
        "rename the columns; the store was not changed",
    )


def clean(spec: SeriesSpec, frame: pd.DataFrame, name: str | None = None) -> pd.DataFrame:
    """Validate a parsed frame and apply the catalog's missing-value rule. Returns a new frame."""
    name = name or spec.id
    if frame.empty:
        raise DataError(f"{name}: no observations", _FIX)
    d = pd.DatetimeIndex(frame["date"])
    dup = d.duplicated()
    if dup.any():
        raise DataError(f"{name}: duplicate date {d[dup][0].date()}", _FIX)
    if not d.is_monotonic_increasing:
        bad = np.nonzero(np.diff(d.values) < np.timedelta64(0, "ns"))[0][0]
        raise DataError(f"{name}: dates not sorted ({d[bad].date()} is followed by {d[bad + 1].date()})", _FIX)
    main = "value" if spec.kind == "macro" else "close"
    out = frame.copy()
    out["date"] = d.astype("datetime64[ns]")
    if spec.empty_as_zero_before:
        early = (out["date"] < pd.Timestamp(spec.empty_as_zero_before)) & out[main].isna()
        out.loc[early, main] = 0.0
    out = out[out[main].notna()].reset_index(drop=True)
    if out.empty:
        raise DataError(f"{name}: every {main} is empty", _FIX)
    v = out[main].to_numpy(float)
    if spec.min_value is not None:
        low = v < spec.min_value if spec.kind == "macro" else v <= 0
        if low.any():
            i = int(np.argmax(low))
            raise DataError(
                f"{name}: impossible {main} {v[i]:g} on {out['date'].iloc[i].date()} ({spec.units} cannot be"
                f" {'negative' if spec.kind == 'macro' else 'zero or negative'})",
                _FIX,
            )
    check_unit_break(spec, out["date"], v, name)
    warned = check_calendar(spec, out["date"], name)
    if warned:
        out.attrs["warnings"] = warned
    return out


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Off-calendar weekdays tolerated (warned about by count) for prices whose calendar is not their own
# listing venue's close (a futures feed, a London fixing): at most this many, or 1 per 1,000 rows.
# Weekend rows are never tolerated, nor any off-session row of an NYSE-listed price.
CALENDAR_TOLERANCE = 3
_EXCHANGE = {"XNYS": "NYSE", "CMES": "CME/COMEX", "XLON": "London"}


def check_calendar(spec: SeriesSpec, dates, name: str) -> list[str]:
    """Prices dated on days their exchange was closed make every return around them wrong (a file whose
    dates are all shifted by a day, the usual time-zone export bug, has one on every Saturday or Sunday).
    ``spec.calendar``: ``24/7`` (crypto: any day), ``weekdays`` (no Saturday/Sunday), or an exchange
    calendar (``XNYS`` strict; ``CMES``/``XLON`` weekday holidays tolerated up to ``CALENDAR_TOLERANCE``,
    warned about by count). Raises DataError at the first bad date; returns the warnings."""
    cal = {"nyse": "XNYS", "crypto": "24/7"}.get(getattr(spec, "calendar", None), getattr(spec, "calendar", None))
    if spec.kind != "price" or cal in (None, "24/7"):
        return []
    d = pd.DatetimeIndex(dates)
    if d.empty:
        return []
    fix = "check the file's dates (shifted by a time zone?) against the exchange calendar; the store was not changed"
    weekend = d.day_of_week >= 5
    if weekend.any():
        i = int(np.argmax(weekend))
        raise DataError(
            f"{name}: {spec.id} has a price dated {d[i].date()}, a {WEEKDAY_NAMES[d[i].day_of_week]}, when its "
            f"market is closed ({int(weekend.sum())} weekend row(s) in all)",
            fix,
        )
    if cal == "weekdays":
        return []
    from .calendar import exchange_sessions

    sessions = exchange_sessions(cal)
    inside = (d >= sessions[0]) & (d <= sessions[-1])
    off = inside & ~d.isin(sessions)
    n = int(off.sum())
    if not n:
        return []
    first = d[int(np.argmax(off))].date()
    where = f"{cal} ({_EXCHANGE.get(cal, cal)})"
    allowed = 0 if cal == "XNYS" else max(CALENDAR_TOLERANCE, len(d) // 1000)
    if n > allowed:
        raise DataError(
            f"{name}: {spec.id} has a price dated {first}, not a session of {where} ({n} such row(s) in all)",
            fix,
        )
    return [f"{name}: {n} {spec.id} row(s) dated on days that are not {where} sessions (first {first}); kept"]


def check_unit_break(spec: SeriesSpec, dates: pd.Series, v: np.ndarray, name: str) -> None:
    """Flag a level shift of ~1000x between two adjacent windows of nonzero values (median ratio)."""
    nz = np.abs(v) > 0
    x, dd = np.abs(v[nz]), pd.DatetimeIndex(dates[nz])
    k = UNIT_WINDOW
    if len(x) < 2 * k:
        return
    logx = np.log10(x)
    win = np.lib.stride_tricks.sliding_window_view(logx, k)
    med = np.median(win, axis=1)  # med[i] = median of x[i:i+k]
    spread = win.max(axis=1) - win.min(axis=1)
    calm = spread <= 1.0  # a window whose values lie within 10x of each other: a settled level
    before, after = med[:-k], med[k:]  # windows x[i:i+k] and x[i+k:i+2k]
    jump = after - before
    # the step itself must be the big one, not a slow drift: compare the two adjacent raw values
    step = logx[k : len(logx) - k + 1] - logx[k - 1 : len(logx) - k]
    # both sides settled (near-zero balances such as RRP in 2020 swing wildly and are not unit breaks)
    hit = (np.abs(jump) >= np.log10(UNIT_RATIO)) & (np.abs(step) >= np.log10(UNIT_RATIO)) & calm[:-k] & calm[k:]
    if hit.any():
        i = int(np.argmax(hit)) + k
        factor = 10 ** abs(float(jump[i - k]))
        raise DataError(
            f"{name}: unit break at {dd[i].date()} (level changes ~{factor:,.0f}x from {x[i - 1]:g} to {x[i]:g};"
            f" {spec.id} is in {spec.units})",
            "convert the spliced part to the catalog's units; the store was not changed",
        )
