"""Key numbers of the snapshot through the CLI's json (backtest, sweep, walk-forward, now), for the
regression check of issue 11's refactor (``test_regression_numbers.py``): the same cases, run through the
same commands, must give the numbers recorded in ``fixtures/run_numbers.json`` within 1e-12 relative.

Regenerate (only when numbers are meant to change, e.g. new data):
``python -m tests.run_numbers STORE_DIR > tests/fixtures/run_numbers.json``.
"""

from __future__ import annotations

import json
import math
import sys

BACKTESTS = {
    "seed-thesis": ["backtest", "seed-thesis"],
    "seed-thesis-floor": ["backtest", "seed-thesis", "--param", "floor=0.09"],
    "static-mix": ["backtest", "static-mix", "--benchmark", "spy=0.6,tlt=0.4"],
    "buy-hold-btc": ["backtest", "buy-hold", "--param", "asset=BTC-USD"],
    "seed-thesis-options": [
        "backtest", "seed-thesis", "--rebalance", "band", "--band", "0.03", "--vol-target", "0.15",
        "--fees-bp", "5", "--slippage-bp", "3", "--exec-lag", "2", "--gold", "LBMA_GOLD",
    ],
    "qt-pivot-monthly": ["backtest", "qt-pivot", "--rebalance", "monthly", "--start", "2016-01-04"],
}  # fmt: skip
SWEEP = ["sweep", "seed-thesis", "--grid", "floor=0.08:0.11:0.01", "--grid", "gold=0.3,0.6", "--top", "8"]
WALKFORWARD = [
    "walkforward", "seed-thesis", "--grid", "floor=0.08,0.1", "--grid", "btc=0.1,0.3", "--train", "3y",
    "--test", "1y", "--no-report",
]  # fmt: skip
NOW = ["now", "seed-thesis", "--value", "100000"]
METRIC_KEYS = ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "turnover", "costs")


def _cli(args: list[str], store: str, reports: str) -> dict:
    import contextlib
    import io

    from backtester.cli import main

    extra = ["--data-dir", store]
    if args[0] in ("backtest", "sweep", "walkforward"):
        extra += ["--reports-dir", reports]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, *extra, "--format", "json"])
    if code != 0:
        raise RuntimeError(f"hedge {' '.join(args)} exited {code}: {err.getvalue()}")
    return json.loads(out.getvalue())


def _pick(m: dict) -> dict:
    return {k: m[k] for k in METRIC_KEYS if k in m}


def collect(store: str, reports: str) -> dict:
    out: dict = {}
    for name, args in BACKTESTS.items():
        j = _cli(args, store, reports)
        out[f"backtest/{name}"] = {"strategy": _pick(j["strategy"]), "benchmark": _pick(j["benchmark"]),
                                   "period": j["period"]}  # fmt: skip
    j = _cli(SWEEP, store, reports)
    out["sweep"] = {
        "period": j["period"],
        "top": [{"params": r["params"], **_pick(r)} for r in j["top"]],
        "benchmark": _pick(j["benchmark"]),
        "deflated_sharpe": j["deflated_sharpe"],
        "pbo": j["pbo"],
    }
    j = _cli(WALKFORWARD, store, reports)
    out["walkforward"] = {
        "windows": [
            {
                "params": w["params"],
                "out_of_sample_metric": w["out_of_sample_metric"],
                "in_sample_metric": w["in_sample_metric"],
            }
            for w in j["windows"]
        ],  # fmt: skip
        "strategy": _pick(j["out_of_sample"]["strategy"]),
        "benchmark": _pick(j["out_of_sample"]["benchmark"]),
        "degradation": j["degradation"],
    }
    j = _cli(NOW, store, reports)
    out["now"] = {"asof": j["asof"], "weights": j["weights"], "orders": [
        {k: o[k] for k in ("asset", "target_usd", "order_units")} for o in j["orders"]]}  # fmt: skip
    return out


def differences(expected, actual, path: str = "", rel: float = 1e-12) -> list[str]:
    """Every leaf where ``actual`` differs from ``expected`` (numbers: beyond ``rel`` relative)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            return [f"{path}: keys {sorted(expected)} != {sorted(actual) if isinstance(actual, dict) else actual}"]
        return [d for k in expected for d in differences(expected[k], actual[k], f"{path}/{k}", rel)]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return [f"{path}: {expected!r} != {actual!r}"]
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in differences(e, a, f"{path}[{i}]", rel)]
    if isinstance(expected, float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        if math.isclose(expected, actual, rel_tol=rel, abs_tol=1e-15):
            return []
        return [f"{path}: {expected!r} != {actual!r}"]
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as reports:
        json.dump(collect(sys.argv[1], reports), sys.stdout, indent=1, sort_keys=True)
        sys.stdout.write("\n")
