"""Progress reporting from the library, without the library knowing about terminals.

Long library calls accept ``progress: Progress | None``. They announce stages (``progress.stage("simulating")``)
and countable work (``progress.start("windows", total=18)`` then ``progress.advance(1)``); ``None`` means
silent. The CLI passes :func:`backtester.cli.progress.terminal` (a rich status line / bar on stderr, only
when stderr is a terminal); tests can pass a recorder. Nothing here imports rich.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def stage(self, text: str) -> None:
        """A new stage ("loading data", "computing signals", "compiling kernels (first run only)", ...)."""

    def start(self, text: str, total: int | None) -> None:
        """Countable work begins: ``total`` units (None: unknown)."""

    def advance(self, n: int = 1, **info) -> None:
        """``n`` more units done; ``info`` may carry e.g. ``rate=`` (units/s) shown beside the bar."""

    def done(self) -> None:
        """The whole call is finished (clears the line)."""


class Silent:
    """The default: report nothing."""

    def stage(self, text: str) -> None:
        pass

    def start(self, text: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1, **info) -> None:
        pass

    def done(self) -> None:
        pass


class Recorder(Silent):
    """Keeps every call (for tests)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def stage(self, text: str) -> None:
        self.events.append(("stage", text))

    def start(self, text: str, total: int | None) -> None:
        self.events.append(("start", text, total))

    def advance(self, n: int = 1, **info) -> None:
        self.events.append(("advance", n))

    def done(self) -> None:
        self.events.append(("done",))


def ensure(progress: Progress | None) -> Progress:
    return progress if progress is not None else Silent()


class Timer(Silent):
    """Times each stage (and each countable piece of work): ``stages`` = [(text, seconds), ...] (for benches)."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._open: tuple[str, float] | None = None
        self.stages: list[tuple[str, float]] = []

    def _close(self) -> None:
        if self._open is not None:
            text, t0 = self._open
            self.stages.append((text, self._clock() - t0))
            self._open = None

    def stage(self, text: str) -> None:
        self._close()
        self._open = (text, self._clock())

    def start(self, text: str, total: int | None) -> None:
        self.stage(text)

    def done(self) -> None:
        self._close()
