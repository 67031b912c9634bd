"""User-declared series: a trader's own prices and series beside the built-in catalog.

A declaration says what a user series is (``kind`` price or series), on which calendar a price trades
(``nyse``, or ``crypto``: every day), when a value dated t may be used (``available``), its units,
frequency and staleness limit. It is stored in the series' own parquet file (schema metadata, key
``declaration``), so data and declaration are written and removed together, atomically.

| --available | meaning | internal rule |
|---|---|---|
| same-session | usable at the close of the session dated t (an NYSE close) | close |
| next-session | usable from the first session after t (a crypto UTC bar, a foreign close) | close_next |
| next-business-day | published the next Fed business day, usable at that session's close | next_bday |
| weekly-h41 | Wednesday data published with the H.4.1 (Thursday 16:30 ET) | h41 |
| lag:Nd | usable from the first session on or after t + N calendar days | lag:N |

Defaults: an NYSE price is same-session, a crypto price next-session, a daily series next-business-day;
weekly, monthly and quarterly series must say ``--available`` (no rule is guessed for them). Staleness
defaults: daily 10 days (crypto prices 5), weekly 21, monthly 100, quarterly 320.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from .catalog import CATALOG, SeriesSpec

KINDS = {"price": "price", "series": "macro"}
CALENDARS = ("nyse", "crypto")
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly")
AVAILABLE = {
    "same-session": "close",
    "next-session": "close_next",
    "next-business-day": "next_bday",
    "weekly-h41": "h41",
}
STALENESS = {"daily": 10, "weekly": 21, "monthly": 100, "quarterly": 320}
_LAG = re.compile(r"^lag:([0-9]{1,3})d$")
_ID = re.compile(r"^[A-Z0-9^][A-Z0-9_.^-]{0,39}$")
_ADD = "add it with `hedge data add FILE --id ID --kind price|series`"


def canonical_id(raw: str) -> str:
    """Ids are upper case; '=' (Yahoo futures, e.g. GC=F) becomes '_' as in the built-in GC_F."""
    return str(raw).strip().upper().replace("=", "_")


def valid_id(sid: str) -> bool:
    """``sid`` has the form of a series id (canonical: upper case, letters, digits and . _ - ^)."""
    return bool(_ID.match(sid)) and sid == canonical_id(sid)


def check_id(raw: str) -> str:
    sid = canonical_id(raw)
    if not _ID.match(sid):
        raise UsageError(
            f"series id {raw!r} is not valid",
            "use letters, digits and . _ - ^ (at most 40 characters), e.g. GDXJ or ECBASSETSW",
        )
    if sid in CATALOG or sid == "CASH":
        raise UsageError(
            f"series id {sid} is a built-in series",
            f"choose another id; {sid} comes with `hedge data import` / `hedge data pull --series {sid}`",
        )
    return sid


def rule_of(available: str) -> str:
    if available in AVAILABLE:
        return AVAILABLE[available]
    m = _LAG.match(available or "")
    if m:
        return f"lag:{int(m.group(1))}"
    raise UsageError(
        f"--available {available!r} is not a known rule",
        f"use one of: {', '.join(AVAILABLE)}, lag:Nd (e.g. lag:3d)",
    )


def declare(
    series_id: str,
    kind: str,
    *,
    calendar: str | None = None,
    available: str | None = None,
    units: str | None = None,
    frequency: str | None = None,
    staleness: int | None = None,
    title: str | None = None,
    source: str = "file",
    source_id: str | None = None,
) -> dict:
    """A checked declaration (plain dict, json-able) with every default filled in. Raises UsageError."""
    sid = check_id(series_id)
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is unknown", f"use one of: {', '.join(KINDS)}")
    if calendar is not None and calendar not in CALENDARS:
        raise UsageError(f"--calendar {calendar!r} is unknown", f"use one of: {', '.join(CALENDARS)}")
    if kind == "series" and calendar is not None:
        raise UsageError("--calendar applies to prices only", "drop --calendar or use --kind price")
    if frequency is not None and frequency not in FREQUENCIES:
        raise UsageError(f"--frequency {frequency!r} is unknown", f"use one of: {', '.join(FREQUENCIES)}")
    if kind == "price" and frequency not in (None, "daily"):
        raise UsageError(f"a price series is daily, not {frequency}", "drop --frequency or use --kind series")
    cal = calendar or "nyse"
    freq = frequency or "daily"
    if available is None:
        if kind == "price":
            available = "same-session" if cal == "nyse" else "next-session"
        elif freq == "daily":
            available = "next-business-day"
        else:
            raise UsageError(
                f"a {freq} series needs --available (when is a value dated t known?)",
                "e.g. --available weekly-h41 or --available lag:30d",
            )
    rule = rule_of(available)
    if kind == "price" and cal == "crypto" and rule == "close":
        raise UsageError(
            "a crypto price cannot be same-session: its UTC bar closes after the NYSE close",
            "use --available next-session (the default for --calendar crypto)",
        )
    if staleness is None:
        staleness = 5 if (kind == "price" and cal == "crypto") else STALENESS[freq]
    if not (1 <= int(staleness) <= 3660):
        raise UsageError(f"--staleness {staleness} is out of range", "give 1 to 3660 calendar days")
    if units is None:
        units = ("USD/share" if cal == "nyse" else "USD") if kind == "price" else "value"
    return {
        "id": sid,
        "kind": kind,
        "calendar": cal if kind == "price" else None,
        "available": available,
        "rule": rule,
        "units": str(units),
        "frequency": freq,
        "staleness_days": int(staleness),
        "title": title or f"user {kind} {sid}",
        "source": source,
        "source_id": source_id or sid,
    }


def to_spec(decl: dict) -> SeriesSpec:
    price = decl["kind"] == "price"
    cal = decl.get("calendar") or "nyse"
    return SeriesSpec(
        id=decl["id"],
        title=decl.get("title") or decl["id"],
        source=decl.get("source", "file"),
        source_id=decl.get("source_id") or decl["id"],
        snapshot_path=decl.get("file") or "",
        kind=KINDS[decl["kind"]],
        units=decl["units"],
        frequency=decl["frequency"],
        date_meaning=f"user declaration: {decl['available']}",
        rule=decl["rule"],
        staleness_days=int(decl["staleness_days"]),
        holdable=price,
        min_value=0.0 if price else None,
        calendar=cal,
        asset_class=("crypto" if cal == "crypto" else "equity") if price else "",
        user=True,
    )


def unknown_asset(name: str) -> UsageError:
    return UsageError(f"unknown asset {name!r}", "see hedge data status; add it with hedge data add")


def add_file(store, path, decl: dict) -> dict:
    """Validate ``path`` exactly like an import, then store it with its declaration (atomically).

    Returns the stored metadata plus ``replaced`` (the id was already a user series). Nothing is
    written when anything fails."""
    from pathlib import Path

    from . import availability, validate

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"file {path} does not exist", "give the path of a CSV file (date,close or date,value)")
    spec = to_spec({**decl, "file": str(p.name)})
    frame = availability.annotate(spec, validate.read_csv(spec, p))
    with store.lock():
        replaced = decl["id"] in store.ids()
        meta = store.write(decl["id"], frame, source=f"file:{p.name}", declaration=decl)
    return {**meta, "replaced": replaced}


def remove(store, series_id: str) -> dict:
    """Drop a user series (data and declaration). Built-ins are refused: re-import or pull them."""
    sid = canonical_id(series_id)
    if sid in CATALOG:
        raise UsageError(
            f"{sid} is a built-in series, not a user series",
            "`hedge data remove` drops series added with `hedge data add` or pulled with --ticker/--fred",
        )
    if sid not in store.ids():
        raise UsageError(f"no user series {sid!r} in the store at {store.root}", "see `hedge data status`")
    meta = store.meta(sid)
    with store.lock():
        store.remove(sid)
    return {"series": sid, "rows": meta.get("rows"), "source": meta.get("source")}
