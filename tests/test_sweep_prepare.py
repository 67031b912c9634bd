"""Sweep preparation in array operations (issue 15): ``factors.Form`` over a grid's lazy product gives the very
Factors of the per-combination path (same patterns in the same order, same features, same loadings, same
assets in the same order: compared byte for byte), on the real snapshot, for every built-in sweepable
strategy and a strategy file of examples/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backtester.research.sweep import Combos, parse_grid
from backtester.research.sweep.inputs import _universe
from backtester.strategies import files
from backtester.strategies._util import above, below, flag
from backtester.strategies.factors import Factors, Form, first_seen, from_features, regime
from backtester.strategy import get

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GRIDS = [
    ("seed-thesis", ["floor=0.06:0.15:0.01", "spread_bp=-5:45:5", "rrp_drained_bn=0:900:300", "gold=0.1,0.5",
                     "btc=0.05:0.3:0.05", "neutral_mix=SPY:0.6,IEF:0.4,SPY:1"]),
    ("qt-pivot", ["gold=0.1,0.5", "neutral=cash,mix", "btc=0.1,0.3"]),
    ("reserve-scarcity", ["upper=0.09:0.13:0.01", "max_weight=0.5,0.8", "lower=0.05,0.07,0.1", "btc_share=0.2,0.4",
                          "hedge=GLD:0.3,IEF:0.2,BTC-USD:1"]),
    ("spread-stress", ["gold=0.2,0.4", "spread_bp=-10:30:5", "hedge=GLD:0.3,IEF:0.2"]),
    ("net-liquidity-trend", ["btc=0.1,0.3", "band_bn=0:200:25", "gold=0.2,0.5"]),
    ("static-mix", ["btc=0:0.4875:0.0125", "gld=0:0.48:0.02"]),
    ("buy-hold", ["asset=SPY,GLD,CASH"]),
]  # fmt: skip
TOML = [
    (EXAMPLES / "seed-thesis.toml", ["floor=0.06:0.15:0.01", "spread_bp=0:45:15", "gold=0.1,0.5",
                                     "btc=0.05:0.3:0.05", "rrp_drained_bn=0,500"]),
    (EXAMPLES / "seed-thesis-trend.toml", ["window=50,200", "floor=0.08,0.1", "gold=0.2,0.5", "btc=0.1,0.3"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def signals(snapshot_store):
    from backtester import signals as sig

    return sig.compute(snapshot_store)


def assert_identical(a: Factors, b: Factors):
    assert a.assets == b.assets
    for k in ("features", "pattern", "loadings"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.shape == y.shape and x.dtype == y.dtype, k
        assert x.tobytes() == y.tobytes(), k  # bit for bit (NaN and -0.0 included)


def _cases():
    for name, grid in GRIDS:
        yield pytest.param(lambda name=name: get(name), grid, id=name)
    for path, grid in TOML:
        yield pytest.param(lambda path=path: files.load_strategy(path), grid, id=path.name)


@pytest.mark.parametrize("strategy,grid", list(_cases()))
def test_grid_factors_equal_the_per_combination_path(strategy, grid, signals):
    s = strategy()
    combos = Combos(parse_grid(grid, s), s.resolve({}))
    assert len(combos) >= 3
    fast = s.sweep_fn(signals, combos)
    slow = s.sweep_fn(signals, list(combos))  # a list: one parameter dict at a time (from_features)
    assert_identical(fast, slow)
    assert fast.features.shape[0] > 1 or name_has_one_pattern(s)
    # rows= (prepare: features stored on the price rows only) = the same Factors cut afterwards
    assert getattr(s.sweep_fn, "takes_rows", False)
    rows = np.flatnonzero(np.arange(len(signals)) % 3 == 1)[5:]
    assert_identical(s.sweep_fn(signals, combos, rows=rows), fast.rows(rows))
    assert_identical(s.sweep_fn(signals, list(combos)[:3], rows=rows), s.sweep_fn(signals, list(combos)[:3]).rows(rows))
    # a seeded subset (--sample): patterns renumbered in order of first appearance, as the dict path does
    sample = combos.sample(max(2, len(combos) // 7), seed=3)
    assert_identical(s.sweep_fn(signals, sample), s.sweep_fn(signals, list(sample)))
    # the assets held: visited once per distinct hedge / neutral_mix, same list in the same order
    by = getattr(s.sweep_fn, "assets_by", None)
    if by is not None:
        from backtester.run import strategy_assets

        want = list(dict.fromkeys(a for p in combos for a in strategy_assets(s, p, "GLD")))
        assert _universe(s, combos, "GLD") == want


def name_has_one_pattern(s) -> bool:
    return s.name in ("qt-pivot", "static-mix", "buy-hold")


def test_seed_thesis_conditions_equal_the_pandas_helpers(signals):
    """Every threshold set at once (broadcast numpy comparisons) against the scalar pandas helpers."""
    s = get("seed-thesis")
    combos = Combos(parse_grid(["spread_bp=-5,0,12.5", "floor=0.07,0.1", "rrp_drained_bn=0,250"], s), s.resolve({}))
    f = s.sweep_fn(signals, combos)
    assert f.features.shape[0] == 12
    for c in range(len(combos)):
        p = combos[c]
        t = p["spread_bp"]
        widening = above(signals, "sofr_effr_bp_20d", t) | above(signals, "sofr_iorb_bp_20d", t)
        drained = below(signals, "rrp_balance", p["rrp_drained_bn"])
        on = below(signals, "reserves_to_gdp", p["floor"]) | (drained & widening) | flag(signals, "qt_ended")
        want = np.vstack(regime(on)).astype(float)
        assert np.array_equal(want, np.vstack([on.to_numpy(float), 1.0 - on.to_numpy(float)]))
        assert np.array_equal(f.features[f.pattern[c]], want), p
    # the thresholds matter: not every pattern is the same
    assert len({f.features[i].tobytes() for i in range(12)}) > 1


def test_strategy_file_conditions_broadcast_unless_a_parameter_is_a_window():
    """seed-thesis.toml's thresholds are evaluated for every threshold set at once; seed-thesis-trend.toml's
    ``sma(GLD, window)`` needs one window at a time (the per-threshold-set path)."""
    plain = files.load(TOML[0][0])
    trend = files.load(TOML[1][0])
    assert all(r.when.vector for r in plain.rules if r.when)
    assert not all(r.when.vector for r in trend.rules if r.when)


def test_first_seen_numbers_codes_as_a_dict_does():
    codes = np.array([5, 2, 5, 0, 2, 7, 0])
    order, rank = first_seen(codes, 8)
    seen: dict = {}
    want = [seen.setdefault(int(c), len(seen)) for c in codes]
    assert order.tolist() == list(seen) and rank.tolist() == want


def test_form_shape_and_feature_checks(signals):
    """A form whose string parameter shapes the features falls back to the per-combination path (same
    Factors); a feature of the wrong length is refused on both paths."""
    sig = signals.iloc[-50:]

    def feats(s, p):
        return [np.full(len(s), float(len(p["tag"])))] if isinstance(p["tag"], str) else [np.zeros(3)]

    form = Form(("tag",), feats, lambda p: [{"SPY": p["w"]}])

    from backtester.strategy import Param, Strategy

    st = Strategy("t", "t", {"tag": Param(str, "a"), "w": Param(float, 0.5)}, sweep_fn=form)
    combos = Combos(parse_grid(["tag=a,bb", "w=0.1,0.2"], st), st.resolve({}))
    assert_identical(form(sig, combos), form(sig, list(combos)))
    bad = Form((), lambda s, p: [np.zeros(3)], lambda p: [{"SPY": p["w"]}])
    with pytest.raises(ValueError, match="one value per signal row"):
        bad(sig, combos)
    with pytest.raises(ValueError, match="one value per signal row"):
        from_features(sig.index, list(combos), key=lambda p: (), features=lambda p: [np.zeros(3)],
                      loadings=lambda p: [{}])  # fmt: skip


def _synthetic(rows: int = 400, seed: int = 0):
    """A signal frame with unknown stretches (NaN) in every column."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=rows)
    cols = {
        "reserves_to_gdp": rng.uniform(0.05, 0.15, rows),
        "rrp_balance": rng.uniform(0, 1000, rows),
        "sofr_effr_bp_20d": rng.normal(3, 8, rows),
        "sofr_iorb_bp_20d": rng.normal(3, 8, rows),
        "qt_ended": (rng.uniform(size=rows) < 0.2).astype(float),
        "net_liquidity_13w_change": rng.normal(0, 150, rows),
    }
    frame = pd.DataFrame(cols, index=idx)
    for c in frame.columns:
        frame.loc[rng.uniform(size=rows) < 0.15, c] = np.nan
    return frame


RULES = """
name = "kleene"
[params]
a = { default = 0.1, min = 0.0, max = 1.0 }
b = { default = 0.12, min = 0.0, max = 1.0 }
t = { default = 5.0, min = -50.0, max = 50.0 }
w = { default = 0.4, min = 0.0, max = 1.0 }
[[rule]]
when = "not (reserves_to_gdp < a) and between(reserves_to_gdp, a, b) or max(sofr_effr_bp_20d, sofr_iorb_bp_20d) > t"
weights = { GLD = "w", BTC-USD = "(1 - w) / 2" }
[[rule]]
when = "a < reserves_to_gdp <= b * 1.1 and (qt_ended or rrp_balance / 1000 > a + w)"
weights = { SPY = "w * b / (b - a + 0.2)", IEF = 0.1 }
[[rule]]
default = true
weights = { SPY = 0.6, IEF = "1 - w - 0.2" }
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_path_on_unknown_inputs_and_three_valued_rules(seed):
    """Random grids in random name orders over a signal frame full of unknowns: the built-ins and a file
    with not / between / chained comparisons / max / parameter arithmetic (weights too) give the very
    Factors of the per-combination path, on a whole grid and on a random subset."""
    import tomllib

    sig = _synthetic(seed=seed)
    rng = np.random.default_rng(seed)
    kleene = files.parse(tomllib.loads(RULES), Path("kleene.toml"), RULES).strategy()
    cases = [
        (get("seed-thesis"), {"floor": (0.05, 0.15), "spread_bp": (-10, 20), "rrp_drained_bn": (0, 900),
                              "gold": (0, 0.6), "btc": (0, 0.4), "neutral_spy": (0, 0.6)}),
        (get("reserve-scarcity"), {"upper": (0.09, 0.15), "lower": (0.0, 0.1), "max_weight": (0, 1),
                                   "btc_share": (0, 1)}),
        (get("net-liquidity-trend"), {"band_bn": (0, 300), "btc": (0, 1), "gold": (0, 1)}),
        (get("spread-stress"), {"spread_bp": (-20, 20), "gold": (0, 1)}),
        (kleene, {"a": (0.05, 0.1), "b": (0.1, 0.15), "t": (-5, 10), "w": (0, 0.8)}),
    ]  # fmt: skip
    for s, ranges in cases:
        names = list(ranges)
        rng.shuffle(names)
        names = names[: rng.integers(2, len(names) + 1)]
        grid = [f"{n}=" + ",".join(f"{v:.4g}" for v in rng.uniform(*ranges[n], rng.integers(1, 5))) for n in names]
        combos = Combos(parse_grid(grid, s), s.resolve({}))
        assert_identical(s.sweep_fn(sig, combos), s.sweep_fn(sig, list(combos)))
        sample = combos.sample(max(1, len(combos) // 3), seed=seed)
        assert_identical(s.sweep_fn(sig, sample), s.sweep_fn(sig, list(sample)))
