"""User text made inert for display: unicode direction controls shown as escapes, never obeyed.

A right-to-left override (U+202E) in a strategy name or title would make a terminal or a browser show
text in another order than it is stored (``evil\u202etxt.exe``). Every name, title and path the tool
displays goes through :func:`bidi_escape` (the HTML pages via ``report._io.esc``, the CLI tables and
error lines via ``cli.common``)."""

from __future__ import annotations

import re

# embeddings/overrides/isolates and the implicit marks
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def bidi_escape(text) -> str:
    """``str(text)`` with each direction-control character replaced by its ``\\uXXXX`` escape."""
    return BIDI.sub(lambda m: f"\\u{ord(m.group(0)):04x}", str(text))
