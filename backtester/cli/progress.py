"""The terminal implementation of :class:`backtester.progress.Progress`: rich, on stderr, only on a TTY.

Piped output and ``--format json`` never see it: when stderr is not a terminal (or json is asked for),
:func:`terminal` returns the silent implementation.
"""

from __future__ import annotations

from ..progress import Progress, Silent


class _Rich:
    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = None
        self._bar.start()

    def _new(self, text: str, total: int | None) -> None:
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
        self._bar.update(self._task, advance=n, info=extra)

    def done(self) -> None:
        self._bar.stop()


def terminal(enabled: bool = True) -> Progress:
    """A live status line / bar on stderr when it is a terminal and ``enabled`` (pass False for json)."""
    if not enabled:
        return Silent()
    from rich.console import Console

    con = Console(stderr=True)
    if not con.is_terminal:
        return Silent()
    return _Rich(con)
