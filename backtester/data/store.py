"""The point-in-time store: one parquet file per series under ``<data-dir>/series/``.

Each file holds ``date``, the value columns (source units), ``published_on`` and ``available_on``, and
in its schema metadata (key ``hedge``): series id, source, units, fetched_at, first/last observation,
rows and a sha256 checksum of the data. Reads verify the checksum, so a file damaged on disk is
detected and named with the command that repairs it. Writes are atomic (temp file in the same folder,
fsync, rename): an interrupted import or pull leaves the previous version intact. Writers take an
exclusive lock (``<data-dir>/.lock``); a second writer fails at once with a clear message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, UsageError
from . import catalog

META_KEY = b"hedge"
FORMAT = 1


def checksum(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for col in frame.columns:
        h.update(col.encode())
        a = frame[col].to_numpy()
        if np.issubdtype(a.dtype, np.datetime64):
            a = a.astype("datetime64[ns]").view("int64")
        h.update(np.ascontiguousarray(a, dtype=a.dtype).tobytes())
    return h.hexdigest()


def _repair_hint(series_id: str) -> str:
    return f"repair it with `hedge data import DIR` or `hedge data pull --series {series_id}`"


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.series_dir = self.root / "series"
        self._cache: dict[str, pd.DataFrame] = {}

    # ---- paths and listing
    def path(self, series_id: str) -> Path:
        return self.series_dir / f"{series_id}.parquet"

    def ids(self) -> list[str]:
        if not self.series_dir.is_dir():
            return []
        return sorted(p.stem for p in self.series_dir.glob("*.parquet"))

    def exists(self) -> bool:
        return bool(self.ids())

    def require(self) -> None:
        if not self.exists():
            raise DataError(
                f"the data store at {self.root} is empty",
                "fill it with `hedge data import ../shared/data` or `hedge data pull`",
            )

    # ---- reading
    def meta(self, series_id: str) -> dict:
        import pyarrow.parquet as pq

        p = self.path(series_id)
        if not p.exists():
            raise DataError(
                f"series {series_id} is not in the store at {self.root}",
                "run `hedge data import ../shared/data` or `hedge data pull`",
            )
        try:
            md = pq.read_schema(p).metadata or {}
            return json.loads(md[META_KEY])
        except Exception as e:  # noqa: BLE001 - any parse failure means a damaged file
            raise DataError(f"store file {p} is damaged ({type(e).__name__})", _repair_hint(series_id)) from None

    def read(self, series_id: str) -> pd.DataFrame:
        if series_id in self._cache:
            return self._cache[series_id]
        import pyarrow.parquet as pq

        meta = self.meta(series_id)
        p = self.path(series_id)
        try:
            frame = pq.read_table(p).to_pandas()
        except Exception as e:  # noqa: BLE001
            raise DataError(f"store file {p} is damaged ({type(e).__name__})", _repair_hint(series_id)) from None
        for c in ("date", "published_on", "available_on"):
            frame[c] = frame[c].astype("datetime64[ns]")
        if checksum(frame) != meta.get("checksum"):
            raise DataError(f"store file {p} is damaged (checksum mismatch)", _repair_hint(series_id))
        self._cache[series_id] = frame
        return frame

    # ---- what a stored series is: a built-in catalog row, or a user declaration kept in its metadata
    def spec(self, series_id: str) -> catalog.SeriesSpec:
        if series_id in catalog.CATALOG:
            return catalog.CATALOG[series_id]
        from . import declared

        decl = self.meta(series_id).get("declaration") if series_id in self.ids() else None
        if not decl:
            raise UsageError(
                f"unknown series {series_id!r}", "see `hedge data status`; add your own with `hedge data add`"
            )
        return declared.to_spec(decl)

    def user_specs(self) -> dict[str, catalog.SeriesSpec]:
        """The user-declared series in the store (id -> spec), in id order."""
        return {sid: self.spec(sid) for sid in self.ids() if sid not in catalog.CATALOG and self._declared(sid)}

    def _declared(self, series_id: str) -> bool:
        return bool(self.meta(series_id).get("declaration"))

    def last_common_date(self) -> pd.Timestamp:
        """The default "as of": the earliest last observation among the core series in the store."""
        self.require()
        lasts = [
            pd.Timestamp(self.meta(s)["last"]) for s in self.ids() if s in catalog.CATALOG and catalog.CATALOG[s].core
        ]
        if not lasts:
            lasts = [pd.Timestamp(self.meta(s)["last"]) for s in self.ids()]
        return min(lasts)

    # ---- writing
    @contextlib.contextmanager
    def lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EACCES):
                    raise DataError(
                        f"another hedge process is writing to the store at {self.root}",
                        "wait for it to finish, then run the command again",
                    ) from None
                raise
            self._remove_stale_temps()
            yield self
        finally:
            os.close(fd)

    def _remove_stale_temps(self) -> None:
        """Temp files are only written under the lock, so any found on taking it are a killed writer's."""
        if self.series_dir.is_dir():
            for p in self.series_dir.glob(".*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def write(
        self,
        series_id: str,
        frame: pd.DataFrame,
        *,
        source: str,
        fetched_at: str | None = None,
        declaration: dict | None = None,
    ) -> dict:
        """Atomically replace one series file. Caller holds ``lock()`` and has validated ``frame``.

        A user series passes its ``declaration`` (``declared.declare``) on its first write; later writes
        (pulls) keep the stored one."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if declaration is None and series_id not in catalog.CATALOG:
            declaration = self.meta(series_id).get("declaration")
        if declaration is not None:
            from . import declared

            spec = declared.to_spec(declaration)
        else:
            spec = catalog.get(series_id)
        frame = frame.reset_index(drop=True)
        meta = {
            "format": FORMAT,
            "series": series_id,
            "source": source,
            "units": spec.units,
            "kind": spec.kind,
            "fetched_at": fetched_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "first": str(frame["date"].iloc[0].date()),
            "last": str(frame["date"].iloc[-1].date()),
            "rows": int(len(frame)),
            "checksum": checksum(frame),
            **({"declaration": declaration} if declaration is not None else {}),
        }
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta)})
        self.series_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{series_id}.", suffix=".tmp", dir=self.series_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path(series_id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dfd = os.open(self.series_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._cache.pop(series_id, None)
        return meta

    def remove(self, series_id: str) -> None:
        """Delete one series file (caller holds ``lock()``)."""
        self.path(series_id).unlink()
        self._cache.pop(series_id, None)
        dfd = os.open(self.series_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def status_rows(store) -> tuple[str, list[dict]]:
    """``hedge data status``: (the store's as-of date, one row per catalogued or user-declared series: source,
    units, first and last dates, rows, fetch time, days behind the as-of date and whether that exceeds its
    staleness limit; for user series their declaration: kind, calendar, availability, holdable)."""
    import pandas as pd

    from . import catalog

    asof = store.last_common_date()
    rows = []
    user = store.user_specs()
    for sid in store.ids():
        if sid not in catalog.CATALOG and sid not in user:
            continue
        spec, m = store.spec(sid), store.meta(sid)
        lag = max(0, int((asof - pd.Timestamp(m["last"])).days))  # a series past the as-of date is not behind
        rows.append(
            {
                "series": sid,
                "user": spec.user,
                "kind": "price" if spec.kind == "price" else "series",
                "holdable": spec.holdable,
                "calendar": spec.calendar if spec.kind == "price" else None,
                "available": m.get("declaration", {}).get("available") or spec.rule,
                "source": m["source"].split(":")[0],
                "units": spec.units,
                "frequency": spec.frequency,
                "first": m["first"],
                "last": m["last"],
                "rows": m["rows"],
                "fetched_at": m["fetched_at"],
                "days_behind": lag,
                "staleness_limit_days": spec.staleness_days,
                "stale": lag > spec.staleness_days,
            }
        )
    return str(asof.date()), rows
