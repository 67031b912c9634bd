"""Import the real data snapshot (``../shared/data``, layout in its MANIFEST.md) into the store.

Everything is parsed and validated first; only when every file passes is anything written (each file
in one transaction under the store lock: staged, then swapped in together). A bad file, a full disk
or a killed import therefore leaves the store exactly as it was.
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
        warnings = list(frame.attrs.get("warnings") or [])
        frames.append((spec, availability.annotate(spec, frame), warnings))
        if progress:
            progress(spec.id)
    written = []
    with store.lock(), store.transaction():  # every series or none (see Store.transaction)
        for spec, frame, warnings in frames:
            meta = store.write(spec.id, frame, source=f"snapshot:{spec.snapshot_path}")
            written.append({**meta, "warnings": warnings} if warnings else meta)
    if missing:
        for m in missing:
            written.append({"series": m, "skipped": "not in snapshot"})
    return written
