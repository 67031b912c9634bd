"""Issue 11's refactor must not move numbers: key metrics of the snapshot (backtests with every execution
option, a sweep with its deflated Sharpe and PBO, a walk-forward, ``hedge now``) through the CLI's json equal
the ones recorded before it (``fixtures/run_numbers.json``) within 1e-12 relative."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.run_numbers import collect, differences

FIXTURE = Path(__file__).parent / "fixtures" / "run_numbers.json"


@pytest.mark.slow
def test_numbers_unchanged(snapshot_store, tmp_path):
    expected = json.loads(FIXTURE.read_text())
    actual = json.loads(json.dumps(collect(str(snapshot_store.root), str(tmp_path))))
    diffs = differences(expected, actual)
    assert not diffs, "\n".join(diffs[:20])


def test_differences_catches_a_moved_number():
    base = {"a": {"sharpe": 0.5, "top": [{"x": 1.0}]}, "d": "2026-06-04"}
    assert differences(base, json.loads(json.dumps(base))) == []
    assert differences(base, {"a": {"sharpe": 0.5 * (1 + 1e-11), "top": [{"x": 1.0}]}, "d": "2026-06-04"})
    assert differences(base, {"a": {"sharpe": 0.5, "top": [{"x": 1.0}]}, "d": "2026-06-05"})
