"""Strategy files (TOML) and point-in-time price features on the real snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtester import signals
from backtester import strategy as st
from backtester.data.calendar import nyse_sessions
from backtester.data.fomc import events as event_table
from backtester.errors import UsageError
from backtester.strategies import files
from backtester.strategies.factors import for_strategy

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PRICE_IDS = ("GLD", "BTC-USD", "SPY", "IEF", "TLT", "QQQ", "LBMA_GOLD")


@pytest.fixture(scope="module")
def frame(snapshot_store):
    return signals.compute(snapshot_store)


def _sorted(w: pd.DataFrame) -> pd.DataFrame:
    return w[sorted(w.columns)]


def write(tmp_path, text, name="rules.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ---------------------------------------------------------------- prices as known at the decision
def test_px_columns_are_the_close_known_at_the_decision(frame, snapshot_store):
    cols = {c for c in frame.columns if c.startswith("px:")}
    assert {"px:GLD", "px:BTC-USD", "px:SPY", "px:IEF"} <= cols
    gld = snapshot_store.read("GLD").set_index("date")["close"]
    btc = snapshot_store.read("BTC-USD").set_index("date")["close"]
    # an NYSE asset: that session's close
    for d in ("2025-10-06", "2025-10-07", "2020-03-16"):
        assert frame.at[pd.Timestamp(d), "px:GLD"] == gld[pd.Timestamp(d)]
    # bitcoin: Monday's decision sees Sunday's bar (it closed 00:00 UTC Monday), never Monday's own bar
    assert frame.at[pd.Timestamp("2025-10-06"), "px:BTC-USD"] == btc[pd.Timestamp("2025-10-05")]
    assert frame.at[pd.Timestamp("2025-10-07"), "px:BTC-USD"] == btc[pd.Timestamp("2025-10-06")]
    # before bitcoin's first bar is known: unknown
    assert frame.loc[: btc.index[0], "px:BTC-USD"].isna().all()


def test_price_features_pass_the_truncation_test(frame, snapshot_store):
    """Cut every input (signals and prices) at random dates: no earlier row of the px columns, nor the
    weights of a rule using sma(GLD, 200), close(BTC-USD) and ret(SPY, 20), ever changes."""
    ids = signals.INPUTS + PRICE_IDS
    raw = {sid: snapshot_store.read(sid) for sid in ids}
    text = (
        'name = "trend"\n[[rule]]\nwhen = "close(GLD) > sma(GLD, 200) and ret(SPY, 20) > 0"\n'
        "weights = { GLD = 0.5 }\n[[rule]]\n"
        'when = "drawdown(BTC-USD) < 0.2 and vol(BTC-USD, 20) < 0.8"\nweights = { BTC-USD = 0.3 }\n'
        "[[rule]]\ndefault = true\nweights = { SPY = 1 }\n"
    )
    strat = files.parse(__import__("tomllib").loads(text), Path("trend.toml"), text).strategy()
    full = signals.compute(raw)
    wfull = strat.weights(full, {})
    assert {0.5, 0.3, 1.0} <= set(wfull.sum(axis=1).round(9))  # every rule fires somewhere
    px_cols = [c for c in full.columns if c.startswith("px:")]
    rng = np.random.default_rng(14)
    days = nyse_sessions("2005-01-01", "2026-05-01")
    ev = event_table()
    for cut in sorted(pd.Timestamp(d) for d in rng.choice(days.values, 8, replace=False)):
        frames = {sid: f[f["date"] <= cut].reset_index(drop=True) for sid, f in raw.items()}
        g = signals.compute(frames, events=ev[ev["announced"] <= cut].reset_index(drop=True))
        pd.testing.assert_frame_equal(full.loc[:cut, px_cols], g.loc[:cut, px_cols], check_exact=True)
        w = strat.weights(g, {})
        pd.testing.assert_frame_equal(wfull.loc[:cut], w.loc[:cut], check_exact=True, obj=f"cut {cut.date()}")


# ---------------------------------------------------------------- the essay's rule as a file
def test_essay_rule_as_a_file_gives_exactly_the_builtin_seed_thesis_weights(frame):
    fs = files.load_strategy(EXAMPLES / "seed-thesis.toml")
    builtin = st.get("seed-thesis")
    for given in ({}, {"floor": 0.12, "spread_bp": 0.0}, {"rrp_drained_bn": 300.0, "gold": 0.7, "btc": 0.1}):
        a = builtin.weights(frame, builtin.resolve(given))
        b = fs.weights(frame, fs.resolve(given))
        pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=True)
    on = (b.get("BTC-USD", 0) > 0).mean()
    assert 0.05 < on < 0.95  # both states occur on the snapshot


def test_factor_form_equals_the_weights_and_computes_each_condition_once(frame, monkeypatch):
    fs = files.load(EXAMPLES / "seed-thesis-trend.toml")
    strat = fs.strategy()
    plist = [
        strat.resolve({"floor": f, "btc": b, "window": n}) for f in (0.08, 0.1) for b in (0.1, 0.3) for n in (50, 200)
    ]
    calls = []
    for r in fs.rules:
        if r.when is not None:
            orig = r.when.fn
            monkeypatch.setattr(r.when, "fn", lambda ctx, orig=orig, k=r.index: calls.append(k) or orig(ctx))
    f = for_strategy(strat, frame, plist)
    # rule 1 reads floor and window (4 distinct sets), rule 2 reads floor only (2 distinct sets)
    assert sorted(calls) == [1, 1, 1, 1, 2, 2]
    assert f.features.shape[0] == 4  # patterns: distinct (floor, window)
    for c, p in enumerate(plist):
        pd.testing.assert_frame_equal(
            _sorted(f.dense(c, frame.index)), _sorted(strat.weights(frame, p)), check_exact=True
        )


def test_examples_load_and_hold_what_they_say(frame):
    for p in sorted(EXAMPLES.glob("*.toml")):
        if "experiment" in p.name:
            continue
        s = files.load_strategy(p)
        w = s.weights(frame, s.resolve({}))
        assert (w.sum(axis=1) <= 1 + 1e-12).all() and (w >= 0).all().all(), p
        assert set(w.columns) == set(s.assets({})), p


# ---------------------------------------------------------------- file errors
@pytest.mark.parametrize(
    "body, message",
    [
        ('name = "x"\n[[rule]]\nwhen = "reserve_to_gdp < 0.1"\nweights = { GLD = 1 }\n',
         "rules.toml rule 1: unknown name 'reserve_to_gdp' (did you mean reserves_to_gdp?)"),
        ('name = "x"\n[[rule]]\nwhen = "qt_ended"\nweights = { GLD = 0.7, SPY = 0.5 }\n',
         "rules.toml rule 1: weights sum to 1.2"),
        ('name = "x"\n[params]\nw = 0.5\n[[rule]]\nwhen = "qt_ended"\nweights = { GLD = "-w" }\n',
         "weight of GLD is -0.5"),
        ('name = "x"\n[[rule]]\nwhen = "qt_ended"\nweights = { GOLD = 1 }\n', "unknown asset 'GOLD'"),
        ('name = "x"\n[[rule]]\ndefault = true\nweights = {}\n[[rule]]\nwhen = "qt_ended"\nweights = {}\n',
         "the default rule must be the last"),
        ('name = "x"\nrules = 1\n', "unknown key 'rules'"),
        ('name = "Bad Name"\n[[rule]]\ndefault = true\nweights = {}\n', "not a slug"),
        ('name = "x"\n[params]\nf = { default = 0.2, min = 0.0, max = 0.1 }\n[[rule]]\ndefault = true\n'
         "weights = {}\n", "out of range"),
        ('name = "x"\n[[rule]]\nwhen = "qt_ended"\n', "weights missing"),
        ('name = "x"\n[[rule\n', "invalid TOML"),
    ],
)  # fmt: skip
def test_file_errors_name_the_file_and_rule(tmp_path, body, message):
    p = write(tmp_path, body)
    with pytest.raises(UsageError) as e:
        files.load(p)
    assert message in e.value.line(), e.value.line()


def test_weights_are_checked_for_every_parameter_set(tmp_path, frame):
    p = write(
        tmp_path,
        'name = "x"\n[params]\na = { default = 0.5, min = 0, max = 1 }\n[[rule]]\nwhen = "qt_ended"\n'
        'weights = { GLD = "a", SPY = 0.5 }\n',
    )
    s = files.load_strategy(p)
    with pytest.raises(UsageError, match="weights sum to 1.1 for a=0.6"):
        s.weights(frame, s.resolve({"a": 0.6}))
    # the factor form (sweeps) leaves it to the sweep, which marks such a combination invalid
    f = for_strategy(s, frame, [s.resolve({"a": 0.4}), s.resolve({"a": 0.6})])
    assert f.dense(1).sum(axis=1).max() == pytest.approx(1.1)


def test_strategies_dir_loads_toml_beside_py(tmp_path):
    (tmp_path / "a.toml").write_text((EXAMPLES / "reserves-tlt.toml").read_text())
    reg = st.registry(tmp_path)
    assert reg["reserves-tlt"].source == str(tmp_path / "a.toml")
    assert "seed-thesis" in reg
    (tmp_path / "b.toml").write_text((EXAMPLES / "reserves-tlt.toml").read_text())
    with pytest.raises(UsageError, match="declared by"):
        st.registry(tmp_path)
