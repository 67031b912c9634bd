"""Where things live: the data store and the reports folder.

Data: ``--data-dir`` > ``$HEDGE_DATA_DIR`` > per-user store (platformdirs).
Reports: ``--reports-dir`` > ``$HEDGE_REPORTS_DIR`` > ``./reports``.
"""

from __future__ import annotations

import os
from pathlib import Path


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
