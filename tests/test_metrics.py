"""Each metric on series small enough to compute by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from backtester import metrics

R = [0.10, -0.10, 0.05]
DATES = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])


def series(values, dates=DATES):
    return pd.Series(values, index=dates[: len(values)], dtype=float)


def test_return_metrics_by_hand():
    m = metrics.compute(series(R), series([0.0, 0.0, 0.0]))
    total = 1.1 * 0.9 * 1.05 - 1  # 0.0395
    assert m["total_return"] == pytest.approx(0.0395, rel=1e-12) == pytest.approx(total)
    assert m["cagr"] == pytest.approx(1.0395 ** (252 / 3) - 1, rel=1e-12)
    mean = (0.10 - 0.10 + 0.05) / 3
    sd = math.sqrt(((0.10 - mean) ** 2 + (-0.10 - mean) ** 2 + (0.05 - mean) ** 2) / 2)  # ddof=1
    assert m["volatility"] == pytest.approx(sd * math.sqrt(252), rel=1e-12)
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252), rel=1e-12)
    down = math.sqrt(0.01 / 3)  # only -0.10 is below zero, averaged over all 3 periods
    assert m["sortino"] == pytest.approx(mean / down * math.sqrt(252), rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(0.99 / 1.1 - 1, rel=1e-12)  # -10%
    assert m["calmar"] == pytest.approx(m["cagr"] / 0.1, rel=1e-9)
    assert m["days"] == 3 and m["years"] == pytest.approx(3 / 252)
    assert m["start"] == "2024-01-02" and m["end"] == "2024-01-04"


def test_excess_over_cash():
    c = [0.01, 0.01, 0.01]
    m = metrics.compute(series(R), series(c))
    e = np.array(R) - 0.01
    assert m["sharpe"] == pytest.approx(e.mean() / e.std(ddof=1) * math.sqrt(252), rel=1e-12)
    down = math.sqrt(((-0.11) ** 2) / 3)
    assert m["sortino"] == pytest.approx(e.mean() / down * math.sqrt(252), rel=1e-12)
    # volatility and drawdown do not depend on cash
    assert m["volatility"] == pytest.approx(metrics.compute(series(R), series([0, 0, 0]))["volatility"])


def test_drawdown_counts_the_initial_capital_as_a_peak():
    m = metrics.compute(series([-0.05, 0.02]), series([0, 0]))
    assert m["max_drawdown"] == pytest.approx(-0.05, rel=1e-12)
    up = metrics.compute(series([0.01, 0.02]), series([0, 0]))
    assert up["max_drawdown"] == 0.0 and math.isnan(up["calmar"])


def test_cagr_over_a_year_of_periods_and_wipe_out():
    r = np.full(252, 0.0)
    r[0] = 0.2
    m = metrics.from_arrays(r, np.zeros(252))
    assert m["cagr"] == pytest.approx(0.2, rel=1e-12)  # 252 periods = one year
    assert metrics.from_arrays(np.array([0.1, -1.0]), np.zeros(2))["cagr"] == -1.0


def test_undefined_values_are_nan():
    flat = metrics.compute(series([0.0, 0.0, 0.0]), series([0.0, 0.0, 0.0]))
    assert math.isnan(flat["sharpe"]) and math.isnan(flat["sortino"]) and math.isnan(flat["calmar"])
    one = metrics.from_arrays(np.array([0.01]), np.array([0.0]))
    assert math.isnan(one["volatility"]) and math.isnan(one["sharpe"])
    empty = metrics.from_arrays(np.array([]), np.array([]))
    assert empty["days"] == 0 and math.isnan(empty["total_return"])


def test_turnover_costs_and_time_in_market():
    dates = pd.bdate_range("2020-01-01", periods=504)  # two years of periods
    ret = pd.Series(0.0, index=dates)
    trades = pd.DataFrame(
        {
            "date": dates[[0, 100, 100]],
            "asset": ["GLD", "GLD", "BTC-USD"],
            "side": ["buy", "sell", "buy"],
            "size": [1.0, -0.2, 0.2],
        }
    )
    costs = pd.Series(0.0, index=dates)
    costs.iloc[[0, 100]] = [0.0003, 0.0001]
    w = pd.DataFrame({"GLD": 1.0, "BTC-USD": 0.0, "CASH": 0.0}, index=dates)
    w.iloc[:126, 0] = 0.0  # GLD held 3/4 of the time
    w.iloc[:126, 2] = 1.0
    w.iloc[100:, 1] = 1e-10  # below the 1e-9 threshold: not "in the market"
    m = metrics.compute(ret, ret, weights=w, trades=trades, costs=costs)
    # the opening trade (the first trade date) is not turnover; its cost is reported alone
    assert m["turnover_total"] == pytest.approx(0.2)
    assert m["turnover"] == pytest.approx(0.1)  # one-way: buys a year
    assert m["costs"] == pytest.approx(0.0004) and m["costs_annual"] == pytest.approx(0.0002)
    assert m["opening_cost"] == pytest.approx(0.0003)
    m0 = metrics.compute(ret, ret, trades=trades, costs=costs, opening=dates[100])  # another opening date
    assert m0["turnover_total"] == pytest.approx(1.0) and m0["opening_cost"] == pytest.approx(0.0001)
    assert m["time_in_market"] == {"GLD": 0.75, "BTC-USD": 0.0}


def test_compute_uses_from_arrays_and_is_json_friendly():
    r, c = series(R), series([0.001, 0.0, 0.002])
    m = metrics.compute(r, c, trades=pd.DataFrame({"size": []}))
    base = metrics.from_arrays(r.to_numpy(), c.to_numpy())
    for k, v in base.items():
        assert m[k] == v
    json.dumps(m)
    assert all(isinstance(v, (int, float, str, dict)) or v is None for v in m.values())
    assert all(type(v) in (int, float, str, dict) for v in m.values())


def test_cash_returns_must_cover_the_returns():
    with pytest.raises(ValueError):
        metrics.compute(series(R), series([0.0, 0.0]))
