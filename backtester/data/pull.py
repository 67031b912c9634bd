"""Online pulls into the store: fetch, merge incrementally, validate, then write everything atomically.

Incremental: without ``since``, each series is fetched from ``OVERLAP_DAYS`` before its last stored
observation (so late revisions of recent rows are picked up); the fetched rows replace stored rows
from their first date on. Every series is fetched and validated before any is written, so a failed or
interrupted pull leaves the store exactly as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from . import availability, validate
from .catalog import SeriesSpec
from .store import Store

OVERLAP_DAYS = 45


def merge(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    if old is None or old.empty:
        return new.reset_index(drop=True)
    first_new = new["date"].min()
    keep = old[old["date"] < first_new]
    cols = [c for c in new.columns if c in keep.columns or c == "published_on"]
    return pd.concat([keep[[c for c in cols if c in keep.columns]], new[cols]], ignore_index=True)


def pull_series(
    store: Store, specs: list[SeriesSpec], since=None, progress=None, fetch=None, declarations=None
) -> list[dict]:
    """``declarations``: id -> declaration (``declared.declare``) of user series pulled for the first time."""
    declarations = declarations or {}
    if fetch is None:
        from .sources import fetch
    staged, results = [], []
    for spec in specs:
        old = store.read(spec.id) if spec.id in store.ids() else None
        start = since
        if start is None and old is not None and spec.rule != "gdp":
            start = old["date"].iloc[-1] - pd.Timedelta(days=OVERLAP_DAYS)
        new = fetch(spec, start)
        new = validate.clean(spec, new, f"{spec.source} {spec.id}")
        value_cols = [c for c in new.columns if c != "published_on"]
        base = (
            None
            if old is None
            else old[
                [c for c in old.columns if c in value_cols or (c == "published_on" and "published_on" in new.columns)]
            ]
        )
        merged = merge(base, new)
        merged = validate.clean(spec, merged, f"{spec.source} {spec.id}")
        warnings = list(merged.attrs.get("warnings") or [])  # kept rows worth a look (validate.check_calendar)
        merged = availability.annotate(spec, merged)
        staged.append((spec, merged))
        results.append(
            {
                "series": spec.id,
                "source": spec.source,
                "new_rows": int(len(merged) - (0 if old is None else len(old))),
                "first": merged["date"].iloc[0],
                "last": merged["date"].iloc[-1],
                "warnings": warnings,
            }
        )
        if progress:
            progress(spec.id)
    fetched_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.lock(), store.transaction():  # every series or none
        for spec, frame in staged:
            store.write(
                spec.id, frame, source=spec.source, fetched_at=fetched_at, declaration=declarations.get(spec.id)
            )
    return results
