"""Derived data cached on disk, keyed by what it is derived from (never by the wall clock alone).

* The signal frame: in the store, ``<store>/cache/signals-<key>.pkl``, where the key hashes every stored
  series' checksum, the source of the code that computes signals (``backtester/signals``,
  ``backtester/data``) and the package versions that matter. Change the data or that code and the key
  changes; an old file is simply never read again (the newest few are kept).
* NYSE sessions: in the per-user cache folder, keyed by the exchange_calendars version and the month.

Reading or writing a cache never fails a command: a missing, damaged or unwritable cache is recomputed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import cache, lru_cache
from pathlib import Path

KEEP = 4  # cached signal frames kept per store


@cache
def dist_version(pkg: str) -> str:
    """An installed package's version from its dist-info folder name (importlib.metadata scans every
    installed distribution: a third of a second on a busy machine)."""
    import importlib.util

    spec = importlib.util.find_spec(pkg)
    if spec is not None and spec.origin:
        site = Path(spec.origin).resolve().parent.parent
        for d in site.glob(f"{pkg}-*.dist-info"):
            return d.name[len(pkg) + 1 : -len(".dist-info")]
    from importlib.metadata import version

    return version(pkg)


@lru_cache(maxsize=8)
def code_hash(subs: tuple[str, ...], pkgs: tuple[str, ...]) -> str:
    """The package version, the versions of ``pkgs`` and the source of the package's folders ``subs``
    (``("",)``: every module): what derived data computed by that code is a function of, besides its inputs."""
    from .. import __version__

    h = hashlib.sha256(__version__.encode())
    for pkg in pkgs:
        h.update(f"{pkg}={dist_version(pkg)}".encode())
    root = Path(__file__).resolve().parent.parent
    for sub in subs:
        for p in sorted((root / sub).rglob("*.py")):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def signals_key(store) -> str:
    h = hashlib.sha256(code_hash(("signals", "data"), ("exchange_calendars", "pandas", "numpy")).encode())
    for sid in store.ids():
        h.update(f"{sid}:{store.meta(sid).get('checksum')}".encode())
    return h.hexdigest()[:24]


def load(path: Path):
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # noqa: BLE001 - absent or damaged: recompute
        return None


def save(path: Path, obj, keep: int | None = None) -> None:
    """Write atomically; ignore an unwritable folder. ``keep``: leave only the newest files of that prefix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        if keep:
            prefix = path.name.split("-")[0] + "-"
            old = sorted(path.parent.glob(prefix + "*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
            for p in old[keep:]:
                p.unlink(missing_ok=True)
    except OSError:
        pass


def signals_path(store) -> Path:
    return Path(store.root) / "cache" / f"signals-{signals_key(store)}.pkl"


def user_cache(name: str) -> Path | None:
    try:
        from platformdirs import user_cache_dir

        return Path(user_cache_dir("liquidity-hedge", appauthor=False)) / name
    except Exception:  # noqa: BLE001
        return None
