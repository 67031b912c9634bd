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


def test_a_lost_worker_is_one_line_with_the_way_out():
    """A worker that dies under a task (here: the task ends its process) is a DataError naming the cluster
    and saying how to go on, not a traceback; a task's own error stays itself."""
    import dask

    from backtester.errors import DataError

    def die_on_second(lo, hi):
        if lo == 1:
            import os

            os._exit(1)  # the worker process is gone, as with the OOM killer
        return lo

    def bad_value(lo, hi):
        raise ValueError(f"a bug in chunk {lo}")

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), exmod.make("dask", None, 1) as ex:
        with pytest.raises(ValueError, match="a bug in chunk 0"):
            list(ex.map_chunks(bad_value, (), [(0, 1)]))
        with pytest.raises(DataError) as e:
            list(ex.map_chunks(die_on_second, (), [(0, 1), (1, 2)]))
    line = e.value.line()
    assert line.startswith("error: the Dask cluster failed while running this command (KilledWorker")
    assert "--resume" in line and "--executor local" in line and "\n" not in line


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line_and_nothing_else_on_stderr(capfd):
    """A cluster of our own (`dask scheduler`, `dask worker`) whose scheduler dies mid-command: the client's
    own error logging is silenced, the command gets the one-line DataError."""
    import logging
    import socket
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    from backtester.errors import DataError

    dask_cli = str(Path(sys.executable).parent / "dask")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sched = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             **quiet)  # fmt: skip
    worker = None
    try:
        ex = None
        before = logging.getLogger("distributed.client").level
        for _ in range(60):  # the scheduler takes a few seconds to listen
            try:
                ex = exmod.make("dask", addr, None)
                break
            except DataError:
                time.sleep(0.5)
        assert ex is not None, "the test's scheduler did not start"
        worker = subprocess.Popen([dask_cli, "worker", addr, "--nthreads", "1", "--no-dashboard"], **quiet)

        def slow(lo, hi):
            import time as t

            t.sleep(60)
            return lo

        capfd.readouterr()
        killer = threading.Timer(3.0, sched.kill)  # while the tasks run
        killer.start()
        t0 = time.perf_counter()
        with pytest.raises(DataError) as e:
            list(ex.map_chunks(slow, (), [(0, 1), (1, 2)]))
        killer.join()
        assert time.perf_counter() - t0 >= 3.0  # it failed because the scheduler went, after the submit
        assert e.value.line().startswith("error: the Dask cluster failed while running this command (")
        # distributed's own loggers stay silent while the command runs (the client logs a lost connection with
        # a traceback when it gives up reconnecting), and get their levels back afterwards
        assert logging.getLogger("distributed.client").getEffectiveLevel() > logging.CRITICAL
        ex.close()
        assert logging.getLogger("distributed.client").level == before
        assert capfd.readouterr().err == ""
    finally:
        for p in (worker, sched):
            if p is not None:
                p.kill()
                p.wait()
