"""The point-in-time store: one parquet file per series under ``<data-dir>/series/``.

Each file holds ``date``, the value columns (source units), ``published_on`` and ``available_on``, and
in its schema metadata (key ``hedge``): series id, source, units, availability rule, fetched_at,
first/last observation, rows and a sha256 checksum that covers the data AND the identity (series id,
units, last date, availability rule): a file copied over another one, or edited by hand, no longer
matches and is reported as damaged with the command that repairs it.

Writes are all or nothing: a transaction stages a complete new ``series/`` folder beside the live one
(unchanged files hard-linked, new ones written and fsynced) and swaps it in with one atomic rename
(``fsutil.swap_in``). A killed or disk-full import leaves the store exactly as before; the killed
process's staging folder is removed by the next writer. Writers take an exclusive lock
(``<data-dir>/.lock``); a second writer fails at once with a clear message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .. import fsutil
from ..errors import DataError, UsageError
from . import catalog

META_KEY = b"hedge"
FORMAT = 2  # 2: the checksum covers the identity too (format 1 files: data only, still readable)
IDENTITY = ("series", "units", "last", "rule")  # the metadata a checksum vouches for


def checksum(frame: pd.DataFrame, identity: dict | None = None) -> str:
    """sha256 of the frame's columns and values and, from format 2 on, of its identity (``IDENTITY``)."""
    h = hashlib.sha256()
    if identity is not None:
        h.update(json.dumps({k: identity.get(k) for k in IDENTITY}, sort_keys=True).encode())
    for col in frame.columns:
        h.update(col.encode())
        a = frame[col].to_numpy()
        if np.issubdtype(a.dtype, np.datetime64):
            a = a.astype("datetime64[ns]").view("int64")
        h.update(np.ascontiguousarray(a, dtype=a.dtype).tobytes())
    return h.hexdigest()


_STORE_FIX = "free disk space or fix the folder's permissions, or pass another data_dir"


def _repair_hint(series_id: str) -> str:
    return f"repair it with `hedge data import DIR` or `hedge data pull --series {series_id}`"


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.series_dir = self.root / "series"
        self._cache: dict[str, pd.DataFrame] = {}
        self._staging: Path | None = None

    # ---- paths and listing
    def path(self, series_id: str) -> Path:
        return self.series_dir / f"{series_id}.parquet"

    def ids(self) -> list[str]:
        if not self.series_dir.is_dir():
            return []
        return sorted(p.stem for p in self.series_dir.glob("*.parquet"))

    def exists(self) -> bool:
        return bool(self.ids())

    def check_root(self) -> None:
        """A data dir that exists but is not a folder (or a series/ that is a file) is an error."""
        for d, what in ((self.root, "data dir"), (self.series_dir, "store's series folder")):
            if d.exists() and not d.is_dir():
                raise DataError(
                    f"the {what} {d} is a file, not a folder", "pass a folder as data_dir", param="data_dir"
                )

    def require(self) -> None:
        self.check_root()
        if not self.exists():
            raise DataError(
                f"the data store at {self.root} is empty",
                "fill it with `hedge data import ../shared/data` or `hedge data pull`",
            )

    # ---- reading
    def _missing(self, series_id: str) -> DataError:
        return DataError(
            f"series {series_id} is not in the store at {self.root}",
            "run `hedge data import ../shared/data` or `hedge data pull`",
        )

    def _damaged(self, series_id: str, why: str) -> DataError:
        return DataError(f"store file {self.path(series_id)} is damaged ({why})", _repair_hint(series_id))

    def _check_identity(self, series_id: str, meta: dict) -> None:
        if meta.get("series") != series_id:
            raise self._damaged(series_id, f"it holds series {meta.get('series')!r}, not {series_id}")

    def meta(self, series_id: str) -> dict:
        import pyarrow.parquet as pq

        p = self.path(series_id)
        if not p.exists():
            raise self._missing(series_id)
        if not p.is_file():
            raise self._damaged(series_id, "a folder or other non-file is in its place")
        try:
            md = pq.read_schema(p).metadata or {}
            meta = json.loads(md[META_KEY])
        except Exception as e:  # noqa: BLE001 - any parse failure means a damaged file
            raise self._damaged(series_id, type(e).__name__) from None
        self._check_identity(series_id, meta)
        return meta

    def read(self, series_id: str) -> pd.DataFrame:
        if series_id in self._cache:
            return self._cache[series_id]
        import pyarrow.parquet as pq

        p = self.path(series_id)
        if not p.exists():
            raise self._missing(series_id)
        if not p.is_file():
            raise self._damaged(series_id, "a folder or other non-file is in its place")
        try:  # data and metadata from one open: a concurrent import's swap cannot mix two versions
            table = pq.read_table(p)
            meta = json.loads((table.schema.metadata or {})[META_KEY])
            frame = table.to_pandas()
            for c in ("date", "published_on", "available_on"):
                frame[c] = frame[c].astype("datetime64[ns]")
        except Exception as e:  # noqa: BLE001
            raise self._damaged(series_id, type(e).__name__) from None
        self._check_identity(series_id, meta)
        self.verify(series_id, frame, meta)
        self._cache[series_id] = frame
        return frame

    def verify(self, series_id: str, frame: pd.DataFrame, meta: dict) -> None:
        """Raise the "damaged" DataError unless ``frame`` and ``meta`` match the stored checksum."""
        identity = meta if meta.get("format", 1) >= 2 else None
        if checksum(frame, identity) != meta.get("checksum"):
            raise self._damaged(series_id, "checksum mismatch")
        if len(frame) and str(frame["date"].iloc[-1].date()) != meta.get("last"):
            raise self._damaged(series_id, "its last date does not match its metadata")

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
        self.check_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno == errno.EISDIR:
                raise DataError(
                    f"the store's lock {self.root / '.lock'} is a folder, not a file",
                    f"remove it (rmdir {self.root / '.lock'}) when no hedge process is running",
                ) from None
            raise fsutil.os_error(
                e, f"cannot use the data store at {self.root}", _STORE_FIX, param="data_dir"
            ) from None
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
        """Temp files are only written under the lock, so any found on taking it are a killed writer's:
        format-1 temp files in ``series/`` and staging folders (``.series.p<pid>.*.tmp``) at the root."""
        if self.series_dir.is_dir():
            for p in self.series_dir.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()
        fsutil.clean_stale(self.root)

    @contextlib.contextmanager
    def transaction(self):
        """Stage writes in a copy of ``series/`` and swap it in at the end: every write or none.
        Caller holds ``lock()``. Nested use joins the open transaction."""
        if self._staging is not None:
            yield self
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = fsutil.mkdtemp(self.root, "series")
            os.chmod(staging, 0o755)
        except OSError as e:
            raise fsutil.os_error(
                e, f"cannot write to the data store at {self.root}", _STORE_FIX, param="data_dir"
            ) from None
        self._staging = staging
        try:
            if self.series_dir.is_dir():
                for entry in os.scandir(self.series_dir):
                    # only regular files carry over: temp files and anything that is not a file (a damaged
                    # entry that became a folder, a symlink) are dropped, so a re-import repairs them
                    if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                        continue
                    try:
                        os.link(entry.path, staging / entry.name)
                    except OSError:
                        shutil.copy2(entry.path, staging / entry.name)
            yield self
            fsutil.fsync_dir(staging)
            self._staging = None
            old = fsutil.swap_in(staging, self.series_dir)
            fsutil.fsync_dir(self.root)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise fsutil.os_error(e, f"cannot write to the data store at {self.root} (nothing was changed)",
                                  _STORE_FIX, param="data_dir") from None  # fmt: skip
        finally:
            self._staging = None
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        self._cache.clear()

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
        if self._staging is None:
            with self.transaction():
                return self.write(series_id, frame, source=source, fetched_at=fetched_at, declaration=declaration)
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
            "rule": spec.rule,
            "kind": spec.kind,
            "fetched_at": fetched_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "first": str(frame["date"].iloc[0].date()),
            "last": str(frame["date"].iloc[-1].date()),
            "rows": int(len(frame)),
            **({"declaration": declaration} if declaration is not None else {}),
        }
        meta["checksum"] = checksum(frame, meta)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta)})
        target = self._staging / f"{series_id}.parquet"
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # a hard link to the live file: never write through it
        with open(target, "wb") as fh:
            pq.write_table(table, fh)
            fh.flush()
            os.fsync(fh.fileno())
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
    """``hedge data status``: (the store's as-of date, one row per catalogued series: source, units, first and
    last dates, rows, fetch time, days behind the as-of date and whether that exceeds its staleness limit).
    Every file is read and its checksum verified: a damaged one (edited, copied over another series,
    unreadable) is a row with ``damaged`` (the error) and ``repair`` (the command) and no numbers."""
    import pandas as pd

    metas, damaged = {}, {}
    user = store.user_specs()
    for sid in store.ids():
        if sid not in catalog.CATALOG and sid not in user:
            continue
        try:
            store.read(sid)
            metas[sid] = store.meta(sid)
        except DataError as e:
            damaged[sid] = e
    core = [pd.Timestamp(m["last"]) for s, m in metas.items() if s in catalog.CATALOG and catalog.CATALOG[s].core]
    every = [pd.Timestamp(m["last"]) for m in metas.values()]
    asof = min(core or every) if every else None
    rows = []
    for sid in sorted(metas.keys() | damaged.keys()):
        spec = catalog.CATALOG[sid] if sid in catalog.CATALOG else user[sid]
        if sid in damaged:
            rows.append({"series": sid, "units": spec.units, "frequency": spec.frequency, "damaged": damaged[sid].what,
                         "repair": damaged[sid].fix, "user": spec.user})  # fmt: skip
            continue
        m = metas[sid]
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
                "damaged": None,
            }
        )
    return (str(asof.date()) if asof is not None else None), rows
