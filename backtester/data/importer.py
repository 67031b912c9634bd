"""Import the real data snapshot (``../shared/data``, layout in its MANIFEST.md) into the store.

Everything is parsed and validated first; only when every file passes is anything written (each file
atomically, under the store lock). A bad file therefore leaves the store exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, UsageError
from . import availability, catalog, validate
from .store import Store


def import_snapshot(src: str | Path, store: Store, series: list[str] | None = None, progress=None) -> list[dict]:
    src = Path(src)
    if not src.is_dir():
        raise UsageError(f"snapshot folder {src} does not exist", "pass the folder that holds fred/ and prices/")
    specs = [catalog.get(s) for s in series] if series else list(catalog.CATALOG.values())
    found = [(s, src / s.snapshot_path) for s in specs if (src / s.snapshot_path).is_file()]
    if not found:
        raise UsageError(f"no known series files under {src}", "expected fred/*.csv and prices/*.csv (see MANIFEST.md)")
    missing = [s.id for s in specs if not (src / s.snapshot_path).is_file()]
    if series and missing:
        raise DataError(f"{src}: no file for {', '.join(missing)}", "check the snapshot folder")
    frames = []
    for spec, path in found:
        frame = validate.read_csv(spec, path)
        frames.append((spec, availability.annotate(spec, frame)))
        if progress:
            progress(spec.id)
    written = []
    with store.lock():
        for spec, frame in frames:
            meta = store.write(spec.id, frame, source=f"snapshot:{spec.snapshot_path}")
            written.append(meta)
    if missing:
        for m in missing:
            written.append({"series": m, "skipped": "not in snapshot"})
    return written
