"""User settings and secrets: the FRED API key.

``fred_api_key()`` looks, in order, at the environment variable ``FRED_API_KEY``, then at the config
file ``$HEDGE_CONFIG``, else ``<user config dir>/config.toml`` (platformdirs, e.g.
``~/.config/liquidity-hedge/config.toml``), key ``fred_api_key``::

    fred_api_key = "0123456789abcdef0123456789abcdef"

The file holds a secret, so it must be private to its owner (no group or other permission bits, e.g.
``chmod 600``); otherwise it is refused with a DataError rather than silently used. ``mask(text, key)``
hides the key in any text that may be shown or written (messages, logs, reports).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import quote, quote_plus

from ..errors import DataError

APP = "liquidity-hedge"
ENV_KEY = "FRED_API_KEY"
ENV_CONFIG = "HEDGE_CONFIG"
KEY_NAME = "fred_api_key"
MASK = "***"


def config_path() -> Path:
    """``$HEDGE_CONFIG`` if set, else ``config.toml`` in the per-user config folder."""
    env = os.environ.get(ENV_CONFIG, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False)) / "config.toml"


def load_config(path: Path | None = None) -> dict:
    """The parsed config file (``{}`` if the default file does not exist). Raises DataError.

    An explicit ``$HEDGE_CONFIG`` that does not exist is an error (a typo should not silently drop the
    key); a missing default file just means "no settings".
    """
    explicit = path is not None or bool(os.environ.get(ENV_CONFIG, "").strip())
    path = Path(path) if path is not None else config_path()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if explicit:
            raise DataError(
                f"config file {path} does not exist ({ENV_CONFIG} points at it)",
                f'create it with `{KEY_NAME} = "..."` and chmod 600, or unset {ENV_CONFIG}',
            ) from None
        return {}
    except OSError as e:
        raise DataError(
            f"cannot read config file {path} ({e.strerror})", f"check its permissions: chmod 600 {path}"
        ) from None
    try:
        st = os.fstat(fd)  # the permissions of the file actually opened (no check-then-open race)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"config file {path} is not a regular file", f"point {ENV_CONFIG} at a TOML file")
        mode = stat.S_IMODE(st.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise DataError(f"config file {path} is readable by others (mode {mode:04o})", f"run chmod 600 {path}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read()
    finally:
        os.close(fd)
    import tomllib

    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"config file {path} is not UTF-8 text", "save it as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as e:
        # the decoder's message names a line and column, never the text itself (it may hold the key)
        raise DataError(f"config file {path} is not valid TOML ({e})", f'write it as {KEY_NAME} = "..."') from None


def fred_api_key() -> str | None:
    """The FRED API key: ``$FRED_API_KEY``, else ``fred_api_key`` in the config file, else None."""
    key = os.environ.get(ENV_KEY, "").strip()
    if key:
        return key
    cfg = load_config()
    value = cfg.get(KEY_NAME)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(
            f"config file {config_path()}: {KEY_NAME} must be a string (got {type(value).__name__})",
            f'write it as {KEY_NAME} = "..."',
        )
    return value.strip() or None


def mask(text: object, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (raw or URL-encoded) replaced by ``***``."""
    out = str(text)
    if not secret:
        return out
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        out = out.replace(form, MASK)
    return out
