"""--executor dask for the random-timing controls and the significance bootstrap: a 2-worker LocalCluster
(loopback only) gives the local executor's numbers, bit for bit; bad option combinations exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtester import bootstrap
from backtester.research import controls
from backtester.research import executor as exmod
from tests.conftest import run_cli

SPA_GRID = ["floor=0.07:0.12:0.01", "spread_bp=0,10", "gold=0.2,0.4,0.6", "btc=0.1,0.3,0.5"]  # test_spa's: 96 valid


@pytest.fixture(scope="module")
def dask2():
    """One 2-worker LocalCluster for the module (starting one takes seconds)."""
    with exmod.make("dask", None, 2) as ex:
        assert ex.workers == 2
        yield ex


def _returns(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2020-01-01", periods=n, name="date")
    b = rng.normal(3e-4, 0.01, n)
    return pd.DataFrame({"strategy": 0.6 * b + rng.normal(2e-4, 0.006, n), "benchmark": b, "cash": 1e-4}, index=idx)


@pytest.mark.parametrize(
    "cmd, args, match",
    [
        ("backtest", ["--workers", "2"], "--scheduler/--workers need --executor dask"),
        ("backtest", ["--executor", "spark"], "--executor 'spark' is unknown"),
        ("backtest", ["--executor", "dask", "--workers", "0"], "--workers 0 is below 1"),
        ("significance", ["--scheduler", "tcp://127.0.0.1:1"], "--scheduler/--workers need --executor dask"),
        ("significance", ["--executor", "dask", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
         "give one of them"),
    ],
)  # fmt: skip
def test_executor_usage_errors_before_any_work(cmd, args, match, tmp_path):
    where = ("seed-thesis", "--data-dir", str(tmp_path / "none")) if cmd == "backtest" else ("no-such-run",)
    code, _, err = run_cli(cmd, *where, *args, "--reports-dir", str(tmp_path / "reports"))
    assert code == 2 and match in err
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_significance_bootstrap_dask_equals_local(dask2, monkeypatch, tmp_path):
    r = _returns()
    local = bootstrap.significance_of_returns(r, n_boot=2000, seed=3)
    assert local == bootstrap.significance_of_returns(r, n_boot=2000, seed=3, executor=exmod.LocalExecutor())
    assert local == bootstrap.significance_of_returns(r, n_boot=2000, seed=3, executor=dask2)  # 2 chunks of 1,666
    monkeypatch.setattr(bootstrap, "_CELLS_PER_CHUNK", 600 * 37)  # 55 chunks of 37 draws, finishing in any order
    small = bootstrap.significance_of_returns(r, n_boot=2000, seed=3)
    assert small == bootstrap.significance_of_returns(r, n_boot=2000, seed=3, executor=dask2)
    assert small["sharpe_difference"]["p_value"] != local["sharpe_difference"]["p_value"]  # other chunks, other draws
    monkeypatch.undo()
    run = tmp_path / "reports" / "run-a"
    run.mkdir(parents=True)
    r.to_csv(run / "returns.csv", index_label="date", float_format="%.12g")
    base = ["significance", "run-a", "--reports-dir", str(tmp_path / "reports"), "--format", "json"]
    code, out, err = run_cli(*base, "--n-boot", "3000")
    assert code == 0, err
    code, dist, err = run_cli(*base, "--n-boot", "3000", "--executor", "dask", "--workers", "2")
    assert code == 0, err
    assert dist == out and json.loads(out)["n_boot"] == 3000


@pytest.mark.slow
def test_random_timing_dask_equals_local(dask2, snapshot_store, monkeypatch):
    from backtester.run import RunSpec, run_backtest

    run = run_backtest(snapshot_store, RunSpec("seed-thesis"))
    local = controls.random_timing(run, n=300, seed=5)
    monkeypatch.setattr(controls, "RANDOM_CHUNK", 23)  # 14 tasks, finishing in any order
    dist = controls.random_timing(run, n=300, seed=5, executor=dask2)
    assert dist == local
    assert local["switches"] >= 2 and 0.0 < local["p_value"] < 1.0
    assert local == controls.random_timing(run, n=300, seed=5, executor=exmod.LocalExecutor())


@pytest.mark.slow
def test_spa_dask_equals_local(dask2, snapshot_store):
    from backtester.research.sweep import parse_grid, prepare
    from backtester.research.sweep import spa as spamod
    from backtester.run import RunSpec
    from backtester.strategy import get

    g = parse_grid(SPA_GRID, get("seed-thesis"))
    inp = prepare(snapshot_store, RunSpec("seed-thesis", rebalance="monthly"), g)
    kw = dict(reps=150, seed=2, chunk=13, keep=2)  # 9 chunks; a stepdown beyond the 2 kept columns re-runs pass 2
    for against in ("benchmark", "cash"):
        local = spamod.best_of_sweep(inp, against=against, **kw)
        dist = spamod.best_of_sweep(inp, against=against, executor=dask2, **kw)
        local.pop("elapsed"), dist.pop("elapsed")
        assert np.array_equal(dist.pop("_stepm_mask"), local.pop("_stepm_mask"))
        assert dist == local  # p-values, block, StepM set: the same floats
        assert local["combinations"] == 96 and local["stepm"]["count"] > 2
