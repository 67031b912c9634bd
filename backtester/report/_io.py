"""Small helpers of the report pages: escaping user text, atomic writes, self-contained SVG."""

from __future__ import annotations

import html
import re
from pathlib import Path


def esc(text) -> str:
    """User text as HTML text: never markup, never a template placeholder (QuantStats fills ``{{...}}``),
    direction-control characters shown as escapes (``inert.bidi_escape``)."""
    from ..inert import bidi_escape

    return html.escape(bidi_escape(text), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename: all or nothing."""
    from ..fsutil import atomic_output

    path = Path(path)
    fix = "pass a writable reports_dir, fix the folder's permissions or free disk space"
    with atomic_output(path, fix, param="reports_dir") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


_SVG_PROLOGUE = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE svg[^>]*>\s*", re.S)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_SVG_XMLNS = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


_PATH_DATA = re.compile(r'\bd="([^"]*)"')
_LONG_DECIMAL = re.compile(r"(\.\d\d)\d+")


def _short_path(m: re.Match) -> str:
    return 'd="' + " ".join(_LONG_DECIMAL.sub(r"\1", m.group(1)).split()) + '"'


def inline_svg(svg: str) -> str:
    """A matplotlib SVG made fit to inline in HTML: no XML prologue, no RDF metadata, no namespace URLs
    (the HTML parser puts inline ``<svg>`` and ``xlink:href`` in their namespaces by itself), and path
    coordinates to 1/100 pt (a fraction of a pixel), which makes the page about a third smaller."""
    svg = _SVG_PROLOGUE.sub("", svg)
    svg = _SVG_METADATA.sub("", svg)
    svg = _PATH_DATA.sub(_short_path, svg)
    return re.sub(r"<svg\b[^>]*>", lambda m: _SVG_XMLNS.sub("", m.group(0)), svg)
