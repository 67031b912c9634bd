"""The two kinds of failure the CLI distinguishes, each with a fix hint.

UsageError -> exit 2 (bad arguments: unknown name, bad value, a window or asset with no data).
DataError  -> exit 1 (data or environment broken: bad file, damaged store, network down).
Messages render as one line: ``error: <what> (<how to fix>)``.
"""

from __future__ import annotations


class HedgeError(Exception):
    exit_code = 1

    def __init__(self, what: str, fix: str | None = None):
        super().__init__(what)
        self.what = what
        self.fix = fix

    def line(self) -> str:
        from .inert import bidi_escape

        what = bidi_escape(" ".join(str(self.what).split()))
        if self.fix:
            return f"error: {what} ({bidi_escape(' '.join(self.fix.split()))})"
        return f"error: {what}"


class UsageError(HedgeError):
    exit_code = 2


class DataError(HedgeError):
    exit_code = 1
