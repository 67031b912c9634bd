"""The import contract holds (data <- signals <- strategies <- engine/run <- research <- report <- api <- cli,
core leaves importable from anywhere), and the checker catches a deliberate upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO
from tests.layers import layer_of, violations


def test_the_package_keeps_its_layers():
    assert violations(REPO) == []


def test_layers_are_as_documented():
    assert layer_of("backtester.data.market") < layer_of("backtester.signals._frame") < layer_of("backtester.strategy")
    assert (
        layer_of("backtester.strategies.factors")
        < layer_of("backtester.run")
        < layer_of("backtester.research.walkforward")
    )
    assert layer_of("backtester.report.tearsheet") < layer_of("backtester.api") < layer_of("backtester.cli.common")
    assert layer_of("backtester.errors") is None and layer_of("backtester.constants") is None


def test_an_upward_import_is_caught(tmp_path):
    shutil.copytree(REPO / "backtester", tmp_path / "backtester", ignore=shutil.ignore_patterns("__pycache__"))
    market = tmp_path / "backtester" / "data" / "market.py"
    market.write_text(market.read_text() + "\n\ndef _oops():\n    from ..cli.common import plain\n\n    return plain\n")
    errors = tmp_path / "backtester" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom backtester.run import RunSpec  # noqa\n")
    found = violations(tmp_path)
    assert len(found) == 2, found
    assert any("backtester.data.market (data) imports backtester.cli.common (cli)" in f for f in found), found
    assert any("core module backtester.errors imports backtester.run" in f for f in found), found
    cmd = subprocess.run(
        [sys.executable, "-m", "tests.layers", str(tmp_path)], cwd=REPO, capture_output=True, text=True
    )
    assert cmd.returncode == 1 and "imports backtester.cli.common" in cmd.stdout
