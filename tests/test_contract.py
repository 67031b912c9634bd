"""The extension contract (issue 11): a strategy's weights may name only holdable assets it declares, each with
prices in the store, and no weight column is all NaN; the CLI exits 2 with one line naming the asset. The
registry is built once per process."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from backtester.errors import UsageError
from backtester.strategy import Param, Strategy, registry
from tests.conftest import run_cli

MODULE = """import pandas as pd
import numpy as np
from backtester.strategy import Param, Strategy
STRATEGY = Strategy(name={name!r}, description='test', params={{}},
                    fn=lambda s, p: pd.DataFrame({weights}, index=s.index){assets})
"""


def _user_dir(tmp_path, name, weights, assets=""):
    d = tmp_path / name
    d.mkdir()
    (d / "mine.py").write_text(MODULE.format(name=name, weights=weights, assets=assets))
    return d


@pytest.mark.parametrize(
    "name, weights, assets, text",
    [
        ("no-assets", "{'GLD': 0.5}", "", "has weights for GLD, an asset it does not declare (declared: none)"),
        ("undeclared", "{'GLD': 0.5, 'QQQ': 0.2}", ", assets=lambda p: ('GLD',)",
         "has weights for QQQ, an asset it does not declare (declared: GLD)"),
        ("unknown", "{'FOO': 0.5}", ", assets=lambda p: ('FOO',)", "unknown asset 'FOO'"),
        ("all-nan", "{'GLD': np.nan}", ", assets=lambda p: ('GLD',)", "gives GLD no weight on any date (all NaN)"),
    ],
)  # fmt: skip
def test_contract_violations_exit_2_naming_the_asset(snapshot_store, tmp_path, name, weights, assets, text):
    d = _user_dir(tmp_path, name, weights, assets)
    code, out, err = run_cli("backtest", name, "--strategies-dir", str(d), "--data-dir", str(snapshot_store.root),
                             "--reports-dir", str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: "), err
    assert f"strategy {name}" in err and text in err, err


def test_asset_without_prices_exits_2(snapshot_store, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(snapshot_store.root, root)
    (root / "series" / "QQQ.parquet").unlink()
    code, out, err = run_cli("backtest", "buy-hold", "--param", "asset=QQQ", "--data-dir", str(root),
                             "--reports-dir", str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "strategy buy-hold holds QQQ, which has no prices" in err, err


def test_check_weights_in_python():
    s = Strategy("x", "x", {"w": Param(float, 0.5, 0.0, 1.0)},
                 lambda s, p: pd.DataFrame({"GLD": p["w"]}, index=s.index), assets=lambda p: ("GLD",))  # fmt: skip
    idx = pd.date_range("2024-01-01", periods=3)
    assert s.weights(pd.DataFrame(index=idx), s.resolve()).to_dict("list") == {"GLD": [0.5, 0.5, 0.5]}
    with pytest.raises(UsageError, match="does not declare"):
        s.check_weights(pd.DataFrame({"SPY": [0.1]}), s.resolve())
    with pytest.raises(UsageError, match="not a DataFrame"):
        s.check_weights(pd.Series([0.1]), s.resolve())


def test_registry_is_built_once_per_process(tmp_path):
    assert registry()["seed-thesis"] is registry()["seed-thesis"]
    d = _user_dir(tmp_path, "cached", "{'GLD': 0.5}", ", assets=lambda p: ('GLD',)")
    first = registry(d)["cached"]
    assert registry(d)["cached"] is first  # the folder's modules are not executed again
    (d / "other.py").write_text(MODULE.format(name="added", weights="{'GLD': 0.1}", assets=""))
    assert "added" in registry(d)  # a new file is picked up


def test_strategy_written_in_factor_form_only():
    """A strategy given only its factor form (sweep_fn) gets the weight function derived from it."""
    from backtester.strategy import get

    sm = get("static-mix")
    once = Strategy("factor-only", "static-mix in factor form only", sm.params, sweep_fn=sm.sweep_fn, assets=sm.assets)
    idx = pd.date_range("2024-01-01", periods=4)
    p = once.resolve({"gld": "0.3", "spy": "0.5"})
    got = once.weights(pd.DataFrame(index=idx), p)
    want = sm.weights(pd.DataFrame(index=idx), p)
    pd.testing.assert_frame_equal(got[sorted(got.columns)], want[sorted(want.columns)])
    with pytest.raises(UsageError, match="no weight function"):
        Strategy("none", "neither fn nor sweep_fn", {})


def test_built_in_thesis_strategies_are_written_once_in_factor_form():
    """Each built-in thesis strategy and buy-hold is given only its factor form; the backtest's weight
    function is the one derived from it (static-mix adds its sum check around the derived one)."""
    from backtester.strategies import benchmarks, thesis

    derived = "weight_function.<locals>.fn"
    for s in [*thesis.STRATEGIES, benchmarks.STRATEGIES[0]]:
        assert s.sweep_fn is not None and s.fn.__qualname__ == derived, s.name
    idx = pd.date_range("2024-01-01", periods=3)
    sig = pd.DataFrame({"qt_ended": [1.0, 0.0, float("nan")]}, index=idx)
    qt = next(s for s in thesis.STRATEGIES if s.name == "qt-pivot")
    w = qt.weights(sig, qt.resolve({"neutral": "mix"}))  # on, off, unknown (= off)
    assert w.loc[idx[0], ["GLD", "BTC-USD", "SPY", "IEF"]].tolist() == [0.5, 0.3, 0.0, 0.0]
    assert w.loc[idx[2], ["GLD", "BTC-USD", "SPY", "IEF"]].tolist() == [0.0, 0.0, 0.6, 0.4]
