"""Import the real data snapshot (``../shared/data``, layout in its MANIFEST.md) into the store.

Everything is parsed and validated first; only when every file passes is anything written (each file
in one transaction under the store lock: staged, then swapped in together). A bad file, a full disk
or a killed import therefore leaves the store exactly as it was.

Besides the built-in files, a folder may hold the user's own series declared in a ``catalog.toml``
beside them (``[series.GDXJ]`` with ``file = "prices/GDXJ.csv"``, ``kind = "price"`` and the optional
keys of ``hedge data add``: calendar, available, units, frequency, staleness, title). Every other file
is listed as skipped, with the reason (``skipped_files``): nothing is skipped silently.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, UsageError
from . import availability, catalog, declared, validate
from .store import Store

DECLARATIONS = "catalog.toml"
_DOC = {".md", ".json", ".txt", ".toml"}


def read_declarations(src: Path) -> dict[str, tuple[dict, Path]]:
    """``catalog.toml`` of a folder: id -> (checked declaration, file). Raises UsageError/DataError."""
    import tomllib

    p = src / DECLARATIONS
    if not p.is_file():
        return {}
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise DataError(f"{p}: not readable TOML ({e})", "fix the file; the store was not changed") from None
    table = doc.get("series", {})
    if not isinstance(table, dict):
        raise UsageError(f"{p}: 'series' must be a table of [series.ID] entries", "see README, Your own series")
    out: dict[str, tuple[dict, Path]] = {}
    keys = {"file", "kind", "calendar", "available", "units", "frequency", "staleness", "title"}
    for sid, entry in table.items():
        if not isinstance(entry, dict) or "file" not in entry or "kind" not in entry:
            raise UsageError(f"{p}: [series.{sid}] needs file and kind", 'e.g. file = "prices/GDXJ.csv"')
        extra = set(entry) - keys
        if extra:
            raise UsageError(
                f"{p}: [series.{sid}] has unknown keys {', '.join(sorted(extra))}", f"use: {', '.join(sorted(keys))}"
            )
        kw = {k: entry.get(k) for k in ("calendar", "available", "units", "frequency", "staleness", "title")}
        decl = declared.declare(sid, entry["kind"], **kw)
        f = (src / entry["file"]).resolve()
        if not f.is_file():
            raise UsageError(
                f"{p}: file {entry['file']} of {decl['id']} does not exist", "fix the path in catalog.toml"
            )
        out[decl["id"]] = ({**decl, "file": str(entry["file"])}, f)
    return out


def plan(src: Path, series: list[str] | None = None):
    """What an import of ``src`` would do: (built-in (spec, path) pairs, user (decl, path) pairs,
    skipped files [{file, reason}], built-ins with no file)."""
    specs = [catalog.get(s) for s in series] if series else list(catalog.CATALOG.values())
    found = [(s, src / s.snapshot_path) for s in specs if (src / s.snapshot_path).is_file()]
    missing = [s.id for s in specs if not (src / s.snapshot_path).is_file()]
    user = read_declarations(src)
    if series:
        user = {}
    used = {p.resolve() for _, p in found} | {p for _, p in user.values()} | {(src / DECLARATIONS).resolve()}
    known = {(src / s.snapshot_path).resolve() for s in catalog.CATALOG.values()}
    skipped = []
    for f in sorted(
        x for x in src.rglob("*") if x.is_file() and not any(part.startswith(".") for part in x.relative_to(src).parts)
    ):
        r = f.resolve()
        if r in used:
            continue
        rel = str(f.relative_to(src))
        if r in known:
            why = "not selected (--series)"
        elif series and r in {p for _, p in read_declarations(src).values()}:
            why = "user series, not selected (--series)"
        elif f.suffix.lower() in _DOC:
            why = "not a data file (documentation or metadata)"
        elif f.suffix.lower() == ".csv":
            why = f"unknown id {f.stem!r}, no declaration (hedge data add, or {DECLARATIONS})"
        else:
            why = "not a CSV file"
        skipped.append({"file": rel, "reason": why})
    return found, list(user.values()), skipped, missing


def import_snapshot(src: str | Path, store: Store, series: list[str] | None = None, progress=None) -> list[dict]:
    src = Path(src)
    if not src.is_dir():
        raise UsageError(f"snapshot folder {src} does not exist", "pass the folder that holds fred/ and prices/")
    found, user, skipped, missing = plan(src, series)
    if not found and not user:
        raise UsageError(f"no known series files under {src}", "expected fred/*.csv and prices/*.csv (see MANIFEST.md)")
    if series and missing:
        raise DataError(f"{src}: no file for {', '.join(missing)}", "check the snapshot folder")
    frames = []
    for spec, path in found:
        frame = validate.read_csv(spec, path)
        frames.append(
            (spec.id, availability.annotate(spec, frame), f"snapshot:{spec.snapshot_path}", None, _warnings(frame))
        )
        if progress:
            progress(spec.id)
    for decl, path in user:
        spec = declared.to_spec(decl)
        frame = validate.read_csv(spec, path)
        frames.append((spec.id, availability.annotate(spec, frame), f"snapshot:{decl['file']}", decl, _warnings(frame)))
        if progress:
            progress(spec.id)
    written = []
    with store.lock(), store.transaction():  # every series or none (see Store.transaction)
        for sid, frame, source, decl, warnings in frames:
            meta = store.write(sid, frame, source=source, declaration=decl)
            written.append({**meta, "warnings": warnings} if warnings else meta)
    for m in missing:
        written.append({"series": m, "skipped": "not in snapshot"})
    for s in skipped:
        written.append({"file": s["file"], "skipped": s["reason"]})
    return written


def _warnings(frame) -> list[str]:
    """What validation kept but flagged (``validate.check_calendar``)."""
    return list(frame.attrs.get("warnings") or [])
