"""Shared fixtures. Tests never touch the per-user store: each uses a temporary store filled from the
snapshot at $HEDGE_SNAPSHOT_DIR (default ../shared/data beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    from backtester.paths import default_snapshot_dir

    d = default_snapshot_dir()
    if not (d / "MANIFEST.md").is_file():
        pytest.fail(f"snapshot not found at {d}: set HEDGE_SNAPSHOT_DIR")
    return d


@pytest.fixture(scope="session")
def snapshot_store(tmp_path_factory, snapshot_dir):
    """A store filled from the whole snapshot once per test session (read-only for tests)."""
    from backtester.data.importer import import_snapshot
    from backtester.data.store import Store

    root = tmp_path_factory.mktemp("store")
    store = Store(root)
    import_snapshot(snapshot_dir, store)
    return store


@pytest.fixture(scope="session")
def _empty_config(tmp_path_factory) -> Path:
    cfg = tmp_path_factory.mktemp("config") / "hedge-config.toml"
    cfg.write_text("")
    cfg.chmod(0o600)
    return cfg


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch, tmp_path, _empty_config):
    """No test may fall back to the per-user store or the real reports folder."""
    monkeypatch.setenv("HEDGE_DATA_DIR", str(tmp_path / "no-store-here"))
    monkeypatch.setenv("HEDGE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    # never the developer's own ~/.config/liquidity-hedge/config.toml
    monkeypatch.setenv("HEDGE_CONFIG", str(_empty_config))


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``hedge`` in-process; return (exit code, stdout, stderr)."""
    import contextlib
    import io

    from backtester.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()
