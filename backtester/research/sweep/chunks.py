"""A sweep's results on disk, one parquet file per chunk of combinations, so an interrupted sweep resumes.

``<reports>/<sweep-id>/`` holds ``sweep.json`` (the manifest: what determines the numbers) and
``chunks/<lo>-<hi>.parquet`` (combinations [lo, hi): the metric rows, the held-time shares, the status
codes and the per-block PBO sums; each written to a temp file and renamed, so a chunk file is whole or
absent). The sweep id is ``sweep-<strategy>-<12 hex>``, the run id hash of ``backtester.run.run_id_for``
over the run options (strategy and its file's content, fixed parameters, window, costs, lag, schedule,
gold, benchmark), the grid, the sample and its seed, the PBO block count, the store's data checksums and
the tool's version: the same sweep on the same data has the same id, anything that moves a number moves
it.

A chunk is reused (``resume``) only when the manifest equals this sweep's and the file reads back whole:
its metadata names this sweep and this range, its shape is the expected one and the sha256 of its
numbers (kept in the file's metadata) matches; anything else is recomputed, never trusted. Without
``resume`` the chunks of an earlier run of the same id are removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...errors import DataError

MANIFEST = "sweep.json"
FORMAT = 1
CHUNK_ENV = "HEDGE_SWEEP_CHUNK"  # combinations per chunk file (tests use small chunks)
DEFAULT_FILE_CHUNK = 16384


def file_chunk() -> int:
    """Combinations per chunk file: ``$HEDGE_SWEEP_CHUNK`` (a positive integer) or 16,384."""
    raw = os.environ.get(CHUNK_ENV)
    if not raw:
        return DEFAULT_FILE_CHUNK
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        from ...errors import UsageError

        raise UsageError(f"${CHUNK_ENV} {raw!r} is not a positive integer", f"unset {CHUNK_ENV} or give e.g. 16384")
    return n


def sweep_key(store, spec, grid, *, strategy, sample=None, seed=0, blocks: int = 16) -> tuple[str, dict]:
    """(sweep id, the identity recorded in the manifest) of ``spec`` x ``grid`` on ``store``'s data."""
    from ... import __version__
    from ...jsonplain import plain
    from ...run import data_fingerprint, run_id_for

    params = strategy.resolve(spec.params)
    what = {
        "params": params,
        "grid": grid.as_dict(),
        "sample": sample,
        "sample_seed": seed if sample is not None else None,
        "pbo_blocks": int(blocks),
    }
    data = data_fingerprint(store)["hash"]
    rid = run_id_for(spec, what, data, strategy)
    identity = plain({"spec": {**asdict(spec), "strategies_dir": None}, **what, "data": data, "version": __version__})
    return f"sweep-{rid}", identity


class ChunkStore:
    """The chunk files of one sweep (see the module text). ``open(combinations, assets, blocks, chunk)``
    writes the manifest; ``load``/``save`` read and write one chunk; ``block_sums()`` reads them back."""

    def __init__(self, reports_dir, sweep_id: str, identity: dict, resume: bool = False):
        self.root = Path(reports_dir) / sweep_id
        self.dir = self.root / "chunks"
        self.sweep_id = sweep_id
        self.identity = identity
        self.resume = resume
        self.manifest: dict | None = None
        self.discarded = None  # why existing chunks were not reused (None: nothing to say)
        self._lock = None

    # ------------------------------------------------------------------ the folder
    def open(self, combinations: int, assets: list[str], blocks: int, chunk: int, columns: list[str]) -> None:
        """Lock the folder, write the manifest; keep the existing chunks only when resuming the same sweep."""
        from ... import fsutil

        man = {
            "format": FORMAT,
            "sweep_id": self.sweep_id,
            **self.identity,
            "combinations": int(combinations),
            "assets": list(assets),
            "blocks": int(blocks),
            "chunk": int(chunk),
            "columns": list(columns),
        }
        man = json.loads(json.dumps(man))  # as it reads back
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise fsutil.os_error(e, f"cannot write the sweep folder {self.root}", "pass a writable --reports-dir",
                                  param="reports_dir") from None  # fmt: skip
        self._take_lock()
        path = self.root / MANIFEST
        old = None
        if path.exists():
            try:
                old = json.loads(path.read_text())
            except (OSError, ValueError):
                old = None
        keep = self.resume and old == man
        if self.resume and old is not None and old != man:
            self.discarded = f"{path} describes another sweep (or another chunk size): every chunk recomputed"
        elif self.resume and old is None and any(self.dir.iterdir()):
            self.discarded = f"{path} is missing or unreadable: every chunk recomputed"
        if not keep:
            for f in self.dir.iterdir():
                with contextlib.suppress(OSError):
                    f.unlink()
        fsutil.clean_stale(self.dir)
        with fsutil.atomic_output(path, "pass a writable --reports-dir", param="reports_dir") as tmp:
            tmp.write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
        self.manifest = man

    def _take_lock(self) -> None:
        import fcntl

        from ... import fsutil

        try:
            fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise fsutil.os_error(e, f"cannot write the sweep folder {self.root}", "pass a writable --reports-dir",
                                  param="reports_dir") from None  # fmt: skip
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataError(
                f"another process is running sweep {self.sweep_id} in {self.root}",
                "wait for it to finish (or stop it), then run with --resume",
            ) from None
        self._lock = fd

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def path(self, lo: int, hi: int) -> Path:
        return self.dir / f"{lo:012d}-{hi:012d}.parquet"

    # ------------------------------------------------------------------ one chunk
    def save(self, lo: int, hi: int, out, tim, blk, status) -> None:
        """Write chunk [lo, hi) atomically (temp file + rename)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ... import fsutil

        cols, meta = self._columns(lo, hi, out, tim, blk, status)
        table = pa.table(cols).replace_schema_metadata({"hedge_sweep": json.dumps(meta)})
        with fsutil.atomic_output(self.path(lo, hi), "pass a writable --reports-dir", param="reports_dir") as tmp:
            pq.write_table(table, tmp, compression="zstd")

    def load(self, lo: int, hi: int):
        """Chunk [lo, hi) as (out, tim, blk, status), or None when it is absent, foreign, incomplete or
        does not match its checksum."""
        import pyarrow.parquet as pq

        p = self.path(lo, hi)
        if not p.is_file():
            return None
        man = self.manifest
        n, S = len(man["assets"]), man["blocks"]
        try:
            table = pq.read_table(p)
            meta = json.loads((table.schema.metadata or {}).get(b"hedge_sweep", b"null"))
            if not isinstance(meta, dict) or table.num_rows != hi - lo:
                return None
            c = hi - lo
            out = np.column_stack([table.column(f"m_{k}").to_numpy() for k in man["columns"]]).reshape(c, -1)
            tim = np.column_stack([table.column(f"t_{a}").to_numpy() for a in man["assets"]]).reshape(c, n)
            blk = np.zeros((c, S, 2))
            for s in range(S):
                blk[:, s, 0] = table.column(f"b1_{s}").to_numpy()
                blk[:, s, 1] = table.column(f"b2_{s}").to_numpy()
            status = table.column("status").to_numpy().astype(np.int8)
        except Exception:  # noqa: BLE001 - any unreadable file is recomputed, never trusted
            return None
        out, tim = np.ascontiguousarray(out, dtype=float), np.ascontiguousarray(tim, dtype=float)
        if meta != self._meta(lo, hi, out, tim, blk, status):
            return None
        return out, tim, blk, status

    def _meta(self, lo, hi, out, tim, blk, status) -> dict:
        h = hashlib.sha256()
        for a in (out, tim, blk, status):
            h.update(np.ascontiguousarray(a).tobytes())
        return {"sweep_id": self.sweep_id, "lo": int(lo), "hi": int(hi), "sha256": h.hexdigest()}

    def _columns(self, lo, hi, out, tim, blk, status) -> tuple[dict, dict]:
        man = self.manifest
        cols = {f"m_{k}": out[:, i] for i, k in enumerate(man["columns"])}
        cols.update({f"t_{a}": tim[:, i] for i, a in enumerate(man["assets"])})
        cols["status"] = status
        for s in range(man["blocks"]):
            cols[f"b1_{s}"] = np.ascontiguousarray(blk[:, s, 0])
            cols[f"b2_{s}"] = np.ascontiguousarray(blk[:, s, 1])
        return cols, self._meta(lo, hi, out, tim, blk, status)

    def block_sums(self, ranges: list[tuple[int, int]]):
        """The per-block sums of the valid rows of each chunk, in order (read back from the files): an
        iterator of (k, S, 2) arrays. A file that no longer reads back raises DataError."""
        import pyarrow.parquet as pq

        S = self.manifest["blocks"]
        for lo, hi in ranges:
            p = self.path(lo, hi)
            try:
                t = pq.read_table(p, columns=["status", *[f"b{j}_{s}" for s in range(S) for j in (1, 2)]])
                ok = t.column("status").to_numpy() == 0
                blk = np.empty((int(ok.sum()), S, 2))
                for s in range(S):
                    blk[:, s, 0] = t.column(f"b1_{s}").to_numpy()[ok]
                    blk[:, s, 1] = t.column(f"b2_{s}").to_numpy()[ok]
            except Exception as e:  # noqa: BLE001
                raise DataError(
                    f"the sweep chunk {p} cannot be read back ({type(e).__name__})",
                    "run the sweep again with --resume (the chunk is recomputed)",
                ) from None
            yield blk
