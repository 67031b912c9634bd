"""`hedge backtest --benchmark run:RUN_ID`: a saved run as the benchmark of another, on the real snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtester import api
from backtester.errors import UsageError
from tests.conftest import run_cli

# returns.csv keeps 12 significant digits, so metrics compounded over ~3,000 days agree to about 1e-12
# relative, not bit for bit
REL = 1e-10
RETURN_METRICS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar")


def _backtest(store, reports: Path, *args: str) -> dict:
    c, out, err = run_cli(
        "backtest", *args, "--data-dir", str(store.root), "--reports-dir", str(reports), "--format", "json"
    )
    assert c == 0, err
    return json.loads(out)


def _returns(run: dict) -> pd.DataFrame:
    return pd.read_csv(Path(run["run_dir"]) / "returns.csv", index_col="date", parse_dates=["date"])


def test_saved_buy_hold_spy_as_benchmark_equals_spy(snapshot_store, tmp_path):
    # seed-thesis starts 2014-09-17 (first BTC price): a buy-hold SPY run saved over that same window
    saved = _backtest(snapshot_store, tmp_path, "buy-hold", "--param", "asset=SPY", "--start", "2014-09-17")
    by_run = _backtest(snapshot_store, tmp_path, "seed-thesis", "--benchmark", f"run:{saved['run_id']}")
    by_spy = _backtest(snapshot_store, tmp_path, "seed-thesis", "--benchmark", "SPY")
    assert by_run["period"] == by_spy["period"] == saved["period"]
    assert by_run["benchmark_name"] == f"run:{saved['run_id']}"
    assert by_run["strategy"] == by_spy["strategy"]  # the strategy side is untouched
    assert by_run["run_id"] != by_spy["run_id"]
    for k in RETURN_METRICS:
        assert by_run["benchmark"][k] == pytest.approx(by_spy["benchmark"][k], rel=REL, abs=1e-12), k
        assert by_run["benchmark"][k] == pytest.approx(saved["strategy"][k], rel=REL, abs=1e-12), k
    assert by_run["benchmark"]["opening_cost"] == pytest.approx(by_spy["benchmark"]["opening_cost"], rel=1e-9)
    r_run, r_spy = _returns(by_run), _returns(by_spy)
    assert np.allclose(r_run["benchmark"], r_spy["benchmark"], rtol=0, atol=1e-12)
    manifest = json.loads((Path(by_run["run_dir"]) / "run.json").read_text())
    assert manifest["spec"]["benchmark"] == f"run:{saved['run_id']}"
    assert manifest["experiment"]["benchmark"] == f"run:{saved['run_id']}"


def test_saved_mix_as_benchmark_on_a_shorter_window(snapshot_store, tmp_path):
    saved = _backtest(snapshot_store, tmp_path, "static-mix", "--param", "spy=0.6", "--param", "tlt=0.4")
    bench = f"run:{saved['run_id']}"
    window = ("--start", "2021-01-04", "--end", "2023-12-29")
    got = _backtest(snapshot_store, tmp_path, "seed-thesis", "--benchmark", bench, *window)
    assert got["period"] == {"start": "2021-01-05", "end": "2023-12-29"}
    mine = _returns(got)["benchmark"]
    theirs = _returns(saved)["strategy"].reindex(mine.index)
    assert theirs.notna().all() and len(mine) == got["benchmark"]["days"] > 700
    assert np.array_equal(mine.to_numpy(), theirs.to_numpy())
    assert got["benchmark"]["total_return"] == pytest.approx(float((1 + theirs).prod() - 1), rel=1e-12)
    # the Python API resolves the same saved run
    run = api.backtest(snapshot_store, "seed-thesis", benchmark=bench, start="2021-01-04", end="2023-12-29",
                       reports_dir=tmp_path)  # fmt: skip
    assert run.benchmark_label == bench
    for k in RETURN_METRICS:
        assert run.bench_metrics[k] == pytest.approx(got["benchmark"][k], rel=1e-12), k


def test_unknown_benchmark_run_exits_2(snapshot_store, tmp_path):
    c, out, err = run_cli(
        "backtest", "seed-thesis", "--benchmark", "run:buy-hold-000000000000",
        "--data-dir", str(snapshot_store.root), "--reports-dir", str(tmp_path),
    )  # fmt: skip
    assert c == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "buy-hold-000000000000" in err and "(" in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_window_outside_the_benchmark_run_exits_2(snapshot_store, tmp_path):
    saved = _backtest(snapshot_store, tmp_path, "buy-hold", "--param", "asset=SPY", "--start", "2020-01-02")
    before = sorted(p.name for p in tmp_path.iterdir())
    c, out, err = run_cli(
        "backtest", "seed-thesis", "--benchmark", f"run:{saved['run_id']}",  # seed-thesis starts 2014
        "--data-dir", str(snapshot_store.root), "--reports-dir", str(tmp_path),
    )  # fmt: skip
    assert c == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert saved["run_id"] in err and "not inside" in err and "--start" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # inside its window it works
    ok = _backtest(snapshot_store, tmp_path, "seed-thesis", "--benchmark", f"run:{saved['run_id']}",
                   "--start", "2021-01-04")  # fmt: skip
    assert ok["benchmark_name"] == f"run:{saved['run_id']}"


def test_sweep_does_not_take_a_saved_run_benchmark(snapshot_store, tmp_path):
    with pytest.raises(UsageError, match="saved run"):
        api.sweep(snapshot_store, "seed-thesis", ["floor=0.08,0.1"], benchmark="run:buy-hold-000000000000")
