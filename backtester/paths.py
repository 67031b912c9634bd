"""Where things live: the data store and the reports folder.

Data: ``--data-dir`` > ``$HEDGE_DATA_DIR`` > per-user store (platformdirs).
Reports: ``--reports-dir`` > ``$HEDGE_REPORTS_DIR`` > ``./reports``.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,150}$")


def slug(name: str, limit: int = 60) -> str:
    """A name as a safe path component: letters, digits and ``_ . + -`` only, never ``..``, never empty."""
    out = re.sub(r"[^A-Za-z0-9_.+-]+", "_", str(name)).replace("..", "_").strip("._-+")[:limit]
    return out or "strategy"


def check_run_id(run_id: str) -> str:
    """A run id names one folder directly inside the reports folder: anything else is a usage error."""
    from .errors import UsageError

    if not isinstance(run_id, str) or not _SAFE.match(run_id) or ".." in run_id:
        raise UsageError(
            f"{run_id!r} is not a run id",
            "give a run id as printed by `hedge backtest` or listed in index.html (letters, digits, _ . + -)",
        )
    return run_id


@contextlib.contextmanager
def reports_lock(reports_dir: Path):
    """Exclusive lock on ``<reports-dir>/.lock`` (waits for another saver; released on exit or death)."""
    import fcntl

    from . import fsutil
    from .errors import DataError

    reports_dir = Path(reports_dir)
    if reports_dir.exists() and not reports_dir.is_dir():
        raise DataError(
            f"cannot write to the reports folder {reports_dir}: it is a file, not a folder",
            "pass a folder as reports_dir",
            param="reports_dir",
        )
    try:
        reports_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(reports_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise fsutil.os_error(
            e,
            f"cannot write to the reports folder {reports_dir}",
            "pass a writable folder as reports_dir",
            param="reports_dir",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield reports_dir
    finally:
        os.close(fd)


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("HEDGE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("liquidity-hedge", appauthor=False))


def reports_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("HEDGE_REPORTS_DIR")
    if env:
        return Path(env).expanduser()
    return Path("reports")


def default_snapshot_dir() -> Path:
    """``$HEDGE_SNAPSHOT_DIR``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("HEDGE_SNAPSHOT_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"
