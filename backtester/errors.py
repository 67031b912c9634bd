"""The two kinds of failure the CLI distinguishes, each with a fix hint.

UsageError -> exit 2 (bad arguments: unknown name, bad value, a window or asset with no data).
DataError  -> exit 1 (data or environment broken: bad file, damaged store, network down).
Messages render as one line: ``error: <what> (<how to fix>)``. A library message names the parameter
(``exec_lag 0 is below 1``); the CLI maps it to its flag (``--exec-lag 0 is below 1``).
"""

from __future__ import annotations


class HedgeError(Exception):
    """``what`` went wrong and ``fix`` says how to fix it. ``param``: the library parameter (or a tuple of
    them) the message names, e.g. ``exec_lag``; the CLI rewrites each as its flag (``--exec-lag``): the
    library never names flags."""

    exit_code = 1

    def __init__(self, what: str, fix: str | None = None, *, param: str | tuple[str, ...] | None = None):
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.param = param

    def line(self) -> str:
        from .inert import bidi_escape

        what = bidi_escape(" ".join(str(self.what).split()))
        if self.fix:
            return f"error: {what} ({bidi_escape(' '.join(self.fix.split()))})"
        return f"error: {what}"


class UsageError(HedgeError, ValueError):
    """A bad argument (exit 2); also a ``ValueError`` for library callers."""

    exit_code = 2


class DataError(HedgeError):
    exit_code = 1
