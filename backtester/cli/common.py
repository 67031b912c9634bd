"""Shared CLI plumbing: options, the store from ``--data-dir``, output as a rich table or one json object."""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from ..errors import UsageError


class Format(str, Enum):
    table = "table"
    json = "json"


DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir", help="Data store folder (else $HEDGE_DATA_DIR, else the per-user store).", show_default=False
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format: table or json (one object).")]


def open_store(data_dir: str | None, *, must_exist: bool = True):
    from ..paths import data_dir as resolve
    from ..store import Store

    store = Store(resolve(data_dir))
    if must_exist:
        store.require()
    return store


def parse_date(value: str | None, what: str):
    """ISO YYYY-MM-DD -> Timestamp; anything else is a usage error."""
    import pandas as pd

    if value is None:
        return None
    try:
        ts = pd.Timestamp(_dt.date.fromisoformat(value))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date", "use ISO YYYY-MM-DD") from None
    return ts


def plain(obj: Any) -> Any:
    """Make an object json-plain: numbers as floats/ints (NaN -> null), dates ISO, numpy scalars unwrapped."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if obj is None or obj is pd.NaT:
        return None
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not math.isfinite(f) else f
    if isinstance(obj, pd.Timestamp | _dt.datetime):
        return None if pd.isna(obj) else obj.strftime("%Y-%m-%d")
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else str(obj)[:10]
    return obj


def emit_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(plain(obj), allow_nan=False) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
    from rich.table import Table

    t = Table(title=title, caption=caption)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console().print(t)


def console():
    """A rich Console: terminal width on a tty, 120 columns when piped (no cramped tables)."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=120)


def fmt_num(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return str(v)


def fmt_pct(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{100 * v:.{digits}f}%"
