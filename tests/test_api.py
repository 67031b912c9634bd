"""The public Python API (issue 11): the README's example runs as written, a Strategy object defined here
backtests without a file, research results are dataclasses with to_json(), and `import backtester` is cheap."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import backtester as hb
from tests.conftest import REPO, run_cli


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Use it from Python", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_import_is_cheap():
    code = "import sys, backtester; print(sorted(m for m in ('pandas', 'numpy', 'vectorbt') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    assert set(hb.__all__) <= set(dir(hb))


@pytest.mark.slow
def test_readme_example_runs(snapshot_store, tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGE_DATA_DIR", str(snapshot_store.root))
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), ns)  # noqa: S102 - the README's own example
    run, run2, page, sw = ns["run"], ns["run2"], ns["page"], ns["sw"]
    # the same numbers as the CLI's `hedge backtest seed-thesis --param floor=0.09`
    root, reports = str(snapshot_store.root), str(tmp_path / "cli")
    code, out, err = run_cli("backtest", "seed-thesis", "--param", "floor=0.09", "--data-dir", root,
                             "--reports-dir", reports, "--format", "json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["strategy"]["sharpe"] == pytest.approx(run.metrics["sharpe"], rel=1e-12)
    assert json.loads(out)["run_id"] == run.run_id
    assert Path(page).is_file() and page.resolve().parent == (tmp_path / "reports" / run.run_id).resolve()
    assert (page.parent / "run.json").is_file() and (page.parent / "returns.csv").is_file()
    assert run2.strategy.name == "gold-when-scarce" and (run2.weights.drop(columns=["GLD", "CASH"]) == 0).all().all()
    assert run2.result.params["rebalance"] == "monthly" and run2.result.params["fees_bp"]["GLD"] == 2.0
    held = run2.weights["GLD"]
    assert 0.2 < held.min() and held.max() < 0.9 and held.std() > 0.05  # both regimes held
    assert isinstance(ns["sig"], pd.DataFrame) and "reserves_to_gdp" in ns["sig"].columns
    assert len(sw.frame) == 8 and sw.to_json()["combinations"]["total"] == 8
    assert sw.top.iloc[0]["sharpe"] == max(sw.frame.loc[sw.frame["valid"], "sharpe"])


def test_strategy_object_equals_the_builtin(snapshot_store):
    """A Strategy defined in this test, holding 40% GLD and 10% bitcoin, equals static-mix with those weights."""
    mine = hb.Strategy(
        name="my-mix",
        description="40% GLD, 10% BTC",
        params={},
        fn=lambda s, p: pd.DataFrame({"GLD": 0.4, "BTC-USD": 0.1}, index=s.index),
        assets=lambda p: ("GLD", "BTC-USD"),
    )
    signals = hb.signals(snapshot_store)
    a = hb.backtest(snapshot_store, mine, signals=signals, exec_lag=2)
    b = hb.backtest(snapshot_store, "static-mix", {"gld": 0.4, "btc": 0.1}, signals=signals,
                    options=hb.ExecOptions(exec_lag=2))  # fmt: skip
    for k in ("total_return", "sharpe", "max_drawdown", "turnover", "costs"):
        assert math.isclose(a.metrics[k], b.metrics[k], rel_tol=1e-12), k
    assert a.metrics["start"] == b.metrics["start"] == "2014-09-19"  # the window of GLD and BTC-USD, lag 2
    assert a.run_id.startswith("my-mix-")


def test_errors_name_parameters(snapshot_store):
    with pytest.raises(hb.UsageError, match="exec_lag 0 is below 1") as e:
        hb.backtest(snapshot_store, "seed-thesis", exec_lag=0)
    assert isinstance(e.value, ValueError) and e.value.param == "exec_lag"
    with pytest.raises(ValueError, match="rebalance 'daily' is unknown"):
        hb.ExecOptions(rebalance="daily")
    with pytest.raises(hb.UsageError, match="unknown strategy 'nope'"):
        hb.backtest(snapshot_store, "nope")
    with pytest.raises(hb.UsageError, match="not both"):
        hb.backtest(snapshot_store, "seed-thesis", options=hb.ExecOptions(), exec_lag=2)
