"""A persistent numba cache, set before numba (or vectorbt, which compiles with numba) is imported.

Call :func:`ensure_numba_cache` at the top of any function that imports vectorbt or numba. If
``NUMBA_CACHE_DIR`` is already set (tests set it to ``<repo>/.numba_cache``), it is left alone;
otherwise it becomes the per-user cache folder ``user_cache_dir("liquidity-hedge")/numba``.
"""

from __future__ import annotations

import os
import sys


def ensure_numba_cache() -> str:
    """Set ``NUMBA_CACHE_DIR`` if unset (creating the folder) and return it."""
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current:
        return current
    from platformdirs import user_cache_dir

    path = os.path.join(user_cache_dir("liquidity-hedge", appauthor=False), "numba")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: numba then falls back to no on-disk cache
        return ""
    os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in sys.modules:  # imported before us: make numba re-read its environment
        from numba.core import config

        config.reload_config()
    return path


def kernels_cached(*stems: str) -> bool:
    """Whether the persistent cache holds compiled kernels of every module folder named (``portfolio``...).

    A cold cache means the next simulation compiles first (tens of seconds once); callers say so."""
    root = os.environ.get("NUMBA_CACHE_DIR") or ensure_numba_cache()
    if not root or not os.path.isdir(root):
        return False
    have = {n.rsplit("_", 1)[0] for n in os.listdir(root) if any(f.endswith(".nbi") for f in _ls(root, n))}
    return all(s in have for s in stems)


def _ls(root: str, name: str) -> list[str]:
    try:
        return os.listdir(os.path.join(root, name))
    except OSError:
        return []


COMPILING = "compiling kernels (first run only, about 30 s)"
