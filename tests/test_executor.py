"""--executor dask: a 2-worker LocalCluster (loopback only) gives the local executor's numbers, bit for bit."""

from __future__ import annotations

import json

import pytest

from backtester.research import executor as exmod
from tests.conftest import run_cli

GRID = ["--grid", "floor=0.08:0.12:0.01", "--grid", "gold=0.3,0.5", "--grid", "btc=0.2,0.4,0.5"]  # 30, all valid


@pytest.mark.parametrize(
    "args, match",
    [
        (["--workers", "2"], "--scheduler/--workers need --executor dask"),
        (["--executor", "spark"], "--executor 'spark' is unknown"),
        (["--executor", "dask", "--workers", "0"], "--workers 0 is below 1"),
        (["--executor", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one of them"),
    ],
)
def test_executor_usage_errors_before_any_work(args, match, tmp_path):
    code, _, err = run_cli("sweep", "seed-thesis", *GRID, *args, "--data-dir", str(tmp_path / "none"))
    assert code == 2 and match in err


def test_unreachable_scheduler_is_one_line_exit_1(snapshot_store):
    code, _, err = run_cli("sweep", "seed-thesis", *GRID, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                           "--data-dir", str(snapshot_store.root))  # fmt: skip
    assert code == 1 and err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")


@pytest.mark.slow
def test_dask_local_cluster_equals_local_bit_for_bit(snapshot_store, monkeypatch):
    from backtester.research import walkforward as W
    from backtester.research.sweep import parse_grid, prepare
    from backtester.run import RunSpec
    from backtester.strategy import get

    base = ["sweep", "seed-thesis", *GRID, "--rebalance", "monthly", "--data-dir", str(snapshot_store.root),
            "--format", "json", "--top", "30", "--spa", "--spa-reps", "200"]  # fmt: skip
    code, local, err = run_cli(*base)
    assert code == 0, err
    monkeypatch.setattr(exmod, "DASK_CHUNK", 7)  # several tasks per sweep, finishing in any order
    spec = RunSpec("seed-thesis", rebalance="monthly")
    g = parse_grid([a for a in GRID if a != "--grid"], get("seed-thesis"))
    inp = prepare(snapshot_store, spec, g)
    kw = dict(train=W.parse_duration("6y", "t"), test=W.parse_duration("2y", "t"), embargo=W.parse_duration("1m", "e"))
    wf_local = W.walk_forward(snapshot_store, spec, g, inputs=inp, **kw)
    with exmod.make("dask", None, 2) as ex:
        assert ex.workers == 2
        wf_dask = W.walk_forward(snapshot_store, spec, g, inputs=inp, executor=ex, **kw)
    a, b = W.summary(wf_dask), W.summary(wf_local)
    a.pop("elapsed_seconds"), b.pop("elapsed_seconds")
    assert a == b and len(a["windows"]) >= 2
    code, dist, err = run_cli(*base, "--executor", "dask", "--workers", "2")
    assert code == 0, err
    assert dist == local  # the same bytes: every metric row, the DSR, the PBO, SPA / RC / StepM
    assert len(json.loads(dist)["top"]) == 30 and json.loads(dist)["spa"]["reps"] == 200
