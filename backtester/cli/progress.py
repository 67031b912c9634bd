"""The terminal implementation of :class:`backtester.progress.Progress`: rich, on stderr, only on a TTY.

Piped output and ``--format json`` never see it: when stderr is not a terminal (or json is asked for),
:func:`terminal` returns the silent implementation. A stage shows as a spinner, its text and the time spent
in it; countable work adds a bar, ``done/total`` and the rate when the library reports one.
"""

from __future__ import annotations

import contextlib

from ..progress import Progress, Silent


def _columns():
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class CountedBar(BarColumn):
        def render(self, task):
            return super().render(task) if task.total is not None else Text("")

    class Count(ProgressColumn):
        def render(self, task):
            if task.total is None:
                return Text("")
            return Text(f"{int(task.completed):,}/{int(task.total):,}")

    return (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        CountedBar(bar_width=30),
        Count(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )


class _Rich:
    def __init__(self, console) -> None:
        from rich.progress import Progress as Bar

        self._bar = Bar(*_columns(), console=console, transient=True)
        self._task = None
        self._running = False

    def _new(self, text: str, total: int | None) -> None:
        if not self._running:  # (re)start: one terminal progress may serve several library calls in turn
            self._bar.start()
            self._running = True
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(text, total=total, info="")

    def stage(self, text: str) -> None:
        self._new(text, None)

    def start(self, text: str, total: int | None) -> None:
        self._new(text, total)

    def advance(self, n: int = 1, **info) -> None:
        if self._task is None:
            self._new("", None)
        extra = ""
        if "rate" in info and info["rate"]:
            extra = f"{info['rate']:,.0f}/s"
        if info.get("eta") is not None:  # seconds left
            extra += f" ETA {int(info['eta']) // 60}:{int(info['eta']) % 60:02d}"
        if info.get("chunks"):  # e.g. "3/61"
            extra += f" chunks {info['chunks']}"
        self._bar.update(self._task, advance=n, info=extra)

    def done(self) -> None:
        if self._running:
            if self._task is not None:
                self._bar.remove_task(self._task)
                self._task = None
            self._bar.stop()
            self._running = False


def terminal(enabled: bool = True) -> Progress:
    """A live status line / bar on stderr when it is a terminal and ``enabled`` (pass False for json)."""
    if not enabled:
        return Silent()
    from rich.console import Console

    con = Console(stderr=True)
    if not con.is_terminal:
        return Silent()
    return _Rich(con)


@contextlib.contextmanager
def stages(enabled: bool, first: str):
    """``with stages(fmt is not Format.json, "loading data") as prog: ...``: a terminal progress that starts
    at ``first`` and is cleared at the end, whatever happens."""
    prog = terminal(enabled)
    prog.stage(first)
    try:
        yield prog
    finally:
        prog.done()
