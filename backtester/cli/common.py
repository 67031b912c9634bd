"""Shared CLI plumbing: options, the store from ``--data-dir``, output as a rich table or one json object."""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from ..errors import HedgeError, UsageError
from ..jsonplain import plain  # noqa: F401  (re-exported: common.plain)


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


FLAGS = {
    "params": "--param",
    "blocks": "--pbo-blocks",
}  # library parameter -> CLI flag, where it is not --name-with-dashes


def flag_of(param: str) -> str:
    """The CLI flag of a library parameter: ``exec_lag`` -> ``--exec-lag``."""
    return FLAGS.get(param, "--" + param.replace("_", "-"))


def as_flags(e: HedgeError) -> HedgeError:
    """The error as the CLI words it: the library parameter it names (``e.param``) becomes its flag."""
    if not e.param:
        return e
    what, fix = str(e.what), e.fix
    for p in (e.param,) if isinstance(e.param, str) else e.param:
        pat = re.compile(rf"(?<![\w-]){re.escape(p)}(?![\w-])")
        what = pat.sub(flag_of(p), what, count=1)
        fix = pat.sub(flag_of(p), fix, count=1) if fix else fix
    return type(e)(what, fix, param=e.param)


def open_store(data_dir: str | None, *, must_exist: bool = True):
    """``backtester.api.open_store``: ``--data-dir``, else $HEDGE_DATA_DIR, else the per-user store."""
    from ..api import open_store as open_

    return open_(data_dir, must_exist=must_exist)


def command_line() -> str:
    """The command being run, as recorded in run manifests (``hedge backtest seed-thesis ...``)."""
    import shlex

    from . import ARGV

    return "hedge " + " ".join(shlex.quote(a) for a in ARGV)


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


def run_spec(strategy: str, *, param, start, end, gold, benchmark, strategies_dir, cost=None, **exec_options):
    """The RunSpec of the run options shared by backtest, sweep and walkforward, checked before any data is
    read; ``exec_options`` are :class:`backtester.engine.ExecOptions`'s fields; ``cost``: ``--cost`` items."""
    from ..costs import parse_overrides
    from ..engine import ExecOptions
    from ..run import RunSpec
    from ..strategy import parse_params

    s = parse_date(start, "--start")
    e = parse_date(end, "--end")
    spec = RunSpec.of(
        strategy, parse_params(param), options=ExecOptions(**exec_options), gold=gold, benchmark=benchmark,
        start=None if s is None else str(s.date()), end=None if e is None else str(e.date()),
        strategies_dir=strategies_dir, costs={a: list(v) for a, v in parse_overrides(cost).items()},
    )  # fmt: skip
    spec.check()
    return spec


def emit_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(plain(obj), allow_nan=False) + "\n")


WIDTH = 100  # the width of tables when stdout is not a terminal and $COLUMNS is unset


def table(
    title: str | None,
    columns: list[str],
    rows: list[list[Any]],
    caption: str | None = None,
    wrap: set[str] | None = None,
    optional: list[str] | None = None,
    repeat: int | None = None,
) -> None:
    """Print a table that fits the console (see :func:`console`).

    ``repeat``: when the columns are too many for one line, print them a few at a time in tables that each
    repeat the first ``repeat`` columns (the row labels), the later ones titled "(continued)".

    A column that does not wrap (numbers, dates, names) is as wide as its header and its longest cell, so
    rows and headers stay on one line; only the free-text columns (named in ``wrap``, or guessed: cells
    with spaces longer than 24 characters) wrap, at word boundaries, and their headers never break inside a
    word. Cells that are timestamps at midnight
    print as dates."""
    from rich import box
    from rich.table import Table

    cells = [["" if v is None else _cell_text(v) for v in r] for r in rows]
    con = console()

    def widths_of(columns) -> list[int]:
        return [max([_head_width(c)] + [len(r[i]) for r in cells if i < len(r)]) + 2 for i, c in enumerate(columns)]

    if repeat:
        groups = _column_groups(widths_of(columns), con.width, repeat)
        if len(groups) > 1:
            for k, g in enumerate(groups):
                sub = title if k == 0 or not title else f"{title} (continued)"
                table(sub, [columns[i] for i in g], [[r[i] for i in g] for r in cells], caption, wrap, optional)
            return
    dropped = []
    for name in optional or []:  # leave out the least important columns until the rest fits on one line
        widths = widths_of(columns)
        if sum(widths) <= con.width or name not in columns:
            continue
        i = columns.index(name)
        columns = columns[:i] + columns[i + 1 :]
        cells = [r[:i] + r[i + 1 :] for r in cells]
        dropped.append(name)
    if dropped:
        note = f"left out to fit {con.width} columns: {', '.join(dropped)} (--format json has every column)"
        caption = f"{caption}; {note}" if caption else note
    t = Table(
        title=text(title) if title else None,
        caption=text(caption) if caption else None,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, c in enumerate(columns):
        longest_word = max((len(w) for w in c.split()), default=1)
        free = (wrap is not None and c in wrap) or (
            wrap is None and any(" " in r[i] and len(r[i]) > 24 for r in cells if i < len(r))
        )
        natural = max([_head_width(c)] + [len(r[i]) for r in cells if i < len(r)])  # header lines, one-line cells
        t.add_column(
            text(c),
            min_width=longest_word if free else natural,
            no_wrap=not free,
            overflow="fold" if free else "ellipsis",
        )
    for r in cells:
        t.add_row(*[text(x) for x in r])
    con.print(t)


def _head_width(c: str) -> int:
    """A header's width: its longest line (a header may be given on two lines, e.g. "name\\nrun id")."""
    return max(len(x) for x in c.split("\n"))


def _column_groups(widths: list[int], width: int, keep: int = 1) -> list[list[int]]:
    """Split columns (their widths, padding included) into groups that each fit ``width`` when printed after
    the first ``keep`` columns (the row labels), which every group repeats: [[keep.., i, j], [keep.., k], ...]."""
    head = list(range(keep))
    base = sum(widths[:keep])
    groups: list[list[int]] = []
    cur: list[int] = []
    used = base
    for i in range(keep, len(widths)):
        if cur and used + widths[i] > width:
            groups.append(head + cur)
            cur, used = [], base
        cur.append(i)
        used += widths[i]
    if cur or not groups:
        groups.append(head + cur)
    return groups


def say(line: str) -> None:
    """One line of plain text on stdout, wrapped at word boundaries to the console's width (never markup)."""
    console().print(line, highlight=False, markup=False)


def paths(*items: tuple[str, object]) -> None:
    """Print where things were written, one per line (``saved to DIR``, ``report FILE``): a long path never
    shares a line with other text."""
    import typer

    for label, path in items:
        if path:
            typer.echo(f"{label} {path}")


def _cell_text(v) -> str:
    import datetime as dt

    if isinstance(v, dt.datetime) and (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
        return v.date().isoformat()
    if isinstance(v, str) and v.endswith(" 00:00:00") and len(v) == 19:
        return v[:10]
    if isinstance(v, str) and v.endswith("T00:00:00") and len(v) == 19:
        return v[:10]
    return str(v)


def text(value):
    """User text as an inert rich Text: no markup (``[x]`` prints as is), direction controls escaped."""
    from rich.text import Text

    from ..inert import bidi_escape

    return Text("" if value is None else bidi_escape(value))


def warn(line: str) -> None:
    """One ``warning: ...`` line on stderr (direction controls escaped)."""
    from ..inert import bidi_escape

    sys.stderr.write("warning: " + bidi_escape(" ".join(str(line).split())) + "\n")


def console():
    """A rich Console on stdout: $COLUMNS wide when set, else the terminal's width, else 100 columns."""
    import os

    from rich.console import Console

    kw = {"markup": False, "highlight": False, "emoji": False}  # names and paths never act as markup
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return Console(width=int(cols), **kw)
    c = Console(**kw)
    return c if c.is_terminal else Console(width=WIDTH, **kw)


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
