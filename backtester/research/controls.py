"""Did the hedge help? Attribution by hedge state, and two controls a timing rule must beat.

``attribution(run)``: the return days split by the hedge's state. "Hedge on" is the strategy's own
definition (``Strategy.hedge_on``; the thesis strategies: their condition is true), else "the targets
hold gold or bitcoin" (``strategy.HEDGE_ASSETS``). The state of a return day t is that of the decision
whose portfolio earned it: the decision of session t - 1 - lag (held from its fill at the close of
t - 1 on); the run's first day (the opening trade's cost) takes the first decision's state. For each
state: days, share, spells, the strategy's and the benchmark's total return, CAGR, volatility, Sharpe
and max drawdown over those days chained together (``metrics.from_arrays``), and the strategy's costs;
plus the run's costs, opening cost and turnover.

``controls(run)``:

* ``static``: the strategy's time-average held weights (CASH included) as a fixed mix from the run's
  first decision, rebalanced monthly, with the run's fees, slippage and lag (no vol target: the average
  already carries its scaling) -- equal to ``hedge backtest static-mix --param ... --rebalance monthly``
  on the same window. Does timing beat simply owning the same basket?
* ``random_timing``: ``n`` (default 1000) strategies that hold the strategy's average "on" weights where
  the hedge is on and its average "off" weights elsewhere (for a two-state rule such as seed-thesis:
  exactly its two baskets), with the on and off spell lengths of the strategy shuffled (numpy
  ``default_rng(seed)`` permutations, the first spell's state kept): the same number of switches, the
  same total time on, at random dates. All of them, and the strategy's own timing with those baskets,
  run in the sweep kernel with the run's execution options. ``percentile`` = share of random Sharpe
  ratios below the strategy's (ties count half); ``p_value`` = (1 + #random >= strategy) / (n + 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_RANDOM = 1000
SEED = 0
RANDOM_CHUNK = 256  # random timings per executor task
STATE_METRICS = ("total_return", "cagr", "volatility", "sharpe", "max_drawdown")


def _plain(d: dict) -> dict:
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


# ---------------------------------------------------------------- hedge state
def decision_state(run) -> pd.Series:
    """The hedge's state on every decision date of the run's price window (bool)."""
    s = run.signals
    return run.strategy.hedge_state(s, run.params, weights=run.target_weights)


def return_state(run) -> pd.Series:
    """The hedge's state behind each return day of the run (bool, on the run's return dates)."""
    dec = decision_state(run).to_numpy(bool)
    all_dates = pd.DatetimeIndex(run.signals.index)
    ret_idx = run.result.returns.index
    pos = all_dates.get_indexer(ret_idx)
    lag = int(_options(run).exec_lag)
    first = int(pos[0]) - lag  # the first decision that fills (the opening)
    src = np.maximum(pos - lag - 1, first)
    return pd.Series(dec[src], index=ret_idx, name="hedge_on")


def _spells(state: np.ndarray) -> list[tuple[bool, int]]:
    out: list[tuple[bool, int]] = []
    for x in state:
        if out and out[-1][0] == bool(x):
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((bool(x), 1))
    return out


def _state_metrics(r: pd.Series, c: pd.Series, mask: np.ndarray) -> dict:
    from ..metrics import from_arrays

    m = from_arrays(r.to_numpy(float)[mask], c.to_numpy(float)[mask])
    return _plain({k: m[k] for k in STATE_METRICS})


def attribution(run) -> dict:
    """See the module doc; plain numbers (None where undefined)."""
    res, bench = run.result, run.bench
    state = return_state(run)
    on = state.to_numpy(bool)
    r = res.returns
    c = res.cash_returns.reindex(r.index)
    b = bench.returns.reindex(r.index)
    costs = res.costs.reindex(r.index).fillna(0.0).to_numpy(float)
    spells = _spells(on)
    declared = run.strategy.hedge_on is not None
    out: dict = {
        "definition": "the strategy's own hedge condition"
        if declared
        else "the strategy's targets hold gold or bitcoin",
        "hedge_on_share": float(on.mean()) if len(on) else None,
        "switches": max(0, len(spells) - 1),
    }
    for key, mask in (("hedge_on", on), ("hedge_off", ~on)):
        n = int(mask.sum())
        flag = key == "hedge_on"
        part: dict = {"days": n, "share": n / len(on) if len(on) else None, "spells": sum(s[0] == flag for s in spells)}
        if n:
            part["strategy"] = _state_metrics(r, c, mask)
            part["benchmark"] = _state_metrics(b, c, mask)
            sc, bc = part["strategy"]["cagr"], part["benchmark"]["cagr"]
            part["excess_cagr"] = None if sc is None or bc is None else sc - bc
            part["costs"] = float(costs[mask].sum())
        else:
            part.update(strategy=None, benchmark=None, excess_cagr=None, costs=0.0)
        out[key] = part
    m = run.metrics
    out.update(
        costs=m.get("costs"), costs_annual=m.get("costs_annual"), opening_cost=m.get("opening_cost"),
        turnover=m.get("turnover"),
    )  # fmt: skip
    out["verdict"] = attribution_verdict(out, run.benchmark_label)
    return out


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def attribution_verdict(a: dict, bench_label: str) -> str:
    on, off = a["hedge_on"], a["hedge_off"]
    parts = []
    for name, s in (("on", on), ("off", off)):
        if s.get("strategy"):
            parts.append(
                f"hedge {name} ({_pct(s['share'])} of days): CAGR {_pct(s['strategy']['cagr'])} vs "
                f"{bench_label} {_pct(s['benchmark']['cagr'])}"
            )
    return "; ".join(parts) + "." if parts else "no return days."


# ---------------------------------------------------------------- controls
def _options(run):
    """The run's execution options (``engine.ExecOptions``)."""
    return run.spec.check()


def static_weights(run) -> dict[str, float]:
    """The time-average held weights of the run (non-CASH assets, > 0)."""
    avg = run.result.weights.mean(axis=0)
    return {str(a): float(v) for a, v in avg.items() if a != "CASH" and v > 1e-12}


def static_control(run) -> dict:
    from .. import engine

    px = run.prices
    w = static_weights(run)
    frame = pd.DataFrame(w, index=px.index[:1]) if w else pd.DataFrame(index=px.index[:1])
    o = _options(run)
    opts = engine.ExecOptions(fees_bp=o.fees_bp, slippage_bp=o.slippage_bp, exec_lag=o.exec_lag, rebalance="monthly")
    res = engine.backtest(frame, px, opts)
    m = res.metrics()
    keep = ("total_return", "cagr", "volatility", "sharpe", "max_drawdown", "turnover", "costs")
    sm = _plain({k: m[k] for k in keep})
    s_sh, c_sh = run.metrics.get("sharpe"), sm.get("sharpe")
    diff = None if s_sh is None or c_sh is None or s_sh != s_sh or c_sh != c_sh else s_sh - c_sh
    beat = diff is not None and diff > 0
    verdict = (
        f"Timing {'beat' if beat else 'did not beat'} holding the same average basket all the time: "
        f"Sharpe {_num(s_sh)} vs {_num(c_sh)}, CAGR {_pct(run.metrics.get('cagr'))} vs {_pct(sm.get('cagr'))}."
    )
    return {
        "weights": w,
        "rebalance": "monthly",
        "metrics": sm,
        "sharpe_difference": diff,
        "cagr_difference": None if sm.get("cagr") is None else float(run.metrics["cagr"]) - float(sm["cagr"]),
        "verdict": verdict,
    }


def _num(x, nd=2) -> str:
    return "n/a" if x is None or x != x else f"{x:.{nd}f}"


def shuffled_states(state: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, T) bool: ``state`` with its on spells' lengths and its off spells' lengths each permuted; the
    first spell's state, the number of switches and the total time on are kept."""
    spells = _spells(state)
    first = spells[0][0]
    on_len = np.array([k for s, k in spells if s], dtype=np.int64)
    off_len = np.array([k for s, k in spells if not s], dtype=np.int64)
    rng = np.random.default_rng(seed)
    T = len(state)
    out = np.zeros((n, T), dtype=bool)
    for i in range(n):
        a = rng.permutation(on_len)
        b = rng.permutation(off_len)
        t, ia, ib = 0, 0, 0
        cur = first
        while t < T:
            if cur:
                k = a[ia]
                ia += 1
                out[i, t : t + k] = True
            else:
                k = b[ib]
                ib += 1
            t += k
            cur = not cur
    return out


def _basket(rows: np.ndarray) -> np.ndarray:
    """The average weights of ``rows`` (the very floats when every row is the same, as in a two-state rule)."""
    return rows[0].copy() if (rows == rows[0]).all() else rows.mean(axis=0)


def _timing_sharpes(px, w_on, w_off, options, fallback, packed, T, lo, hi) -> np.ndarray:
    """The Sharpe ratios of timings lo .. hi-1 (row 0: the strategy's own; ``packed``: the on/off states,
    ``np.packbits`` rows of T days), holding ``w_on`` when on and ``w_off`` when off, in the sweep kernel
    (a task of ``research.executor``: each row's number does not depend on the rows beside it)."""
    from ..strategies.factors import Factors
    from .sweep.evaluation import evaluate
    from .sweep.inputs import from_prices

    assets = [c for c in px.columns if c != "CASH"]
    m = hi - lo
    feats = np.empty((m, 2, T))  # (m, 2, T): [on, off], written in place (no stacked temporaries)
    feats[:, 0, :] = np.unpackbits(packed[lo:hi], axis=1, count=T)
    np.subtract(1.0, feats[:, 0, :], out=feats[:, 1, :])
    load = np.broadcast_to(np.stack([w_on, w_off])[None], (m, 2, len(assets))).copy()
    fac = Factors(assets, feats, np.arange(m), load, finite=True)  # 0/1 by construction
    inp = from_prices(px, fac, list(range(lo, hi)), options, fallback=fallback)
    return evaluate(inp, stats=False).frame["sharpe"].to_numpy(float)


def random_timing(run, n: int = N_RANDOM, seed: int = SEED, executor=None) -> dict:
    """See the module doc. ``executor``: ``research.executor`` (None or local: here; dask: chunks of
    ``RANDOM_CHUNK`` timings as tasks; the states are drawn here, so the numbers are the same)."""
    from . import executor as exmod

    px = run.prices
    assets = [c for c in px.columns if c != "CASH"]
    state = decision_state(run).reindex(px.index).fillna(False).to_numpy(bool)
    spells = _spells(state)
    head = {"n": n, "seed": seed, "switches": len(spells) - 1, "time_on": float(state.mean())}
    if len(spells) < 2:
        return {**head, "p_value": None, "percentile": None, "verdict": "The hedge never switches: no timing to test."}
    w = run.target_weights.reindex(index=px.index).reindex(columns=assets).fillna(0.0).to_numpy(float)
    w_on, w_off = _basket(w[state]), _basket(w[~state])
    packed = np.packbits(np.vstack([state[None, :], shuffled_states(state, n, seed)]), axis=1)
    local = executor is None or executor.name == "local"
    shared = [
        exmod.share_new(executor, lambda v=v: v, "random_timing")
        for v in (px, w_on, w_off, _options(run), run.strategy.fallback, packed, len(state))
    ]
    chunks = exmod.ranges(n + 1, n + 1 if local else RANDOM_CHUNK)
    sh = np.concatenate(exmod.ordered(executor, _timing_sharpes, shared, chunks))
    own, rand = sh[0], sh[1:]
    ok = ~np.isnan(rand)
    rand = rand[ok]
    pct = float(((rand < own).sum() + 0.5 * (rand == own).sum()) / len(rand)) if len(rand) else None
    p = float((1 + (rand >= own).sum()) / (len(rand) + 1)) if len(rand) else None
    verdict = (
        f"The strategy's timing beats {_pct(pct)} of {len(rand)} random timings with the same switches and "
        f"time on (p = {_num(p, 3)}): {'significant' if p is not None and p < 0.05 else 'not significant'} at 5%."
    )
    return {
        **head,
        "weights_on": {a: float(x) for a, x in zip(assets, w_on, strict=True) if x > 0},
        "weights_off": {a: float(x) for a, x in zip(assets, w_off, strict=True) if x > 0},
        "sharpe": None if own != own else float(own),
        "random_sharpe": _plain(
            {
                "mean": float(rand.mean()),
                "p05": float(np.percentile(rand, 5)),
                "p50": float(np.percentile(rand, 50)),
                "p95": float(np.percentile(rand, 95)),
            }
        )
        if len(rand)
        else None,
        "percentile": pct,
        "p_value": p,
        "verdict": verdict,
    }


def controls(run, n: int = N_RANDOM, seed: int = SEED, executor=None) -> dict:
    return {"static": static_control(run), "random_timing": random_timing(run, n=n, seed=seed, executor=executor)}


def analyse(run, n: int = N_RANDOM, seed: int = SEED, executor=None) -> dict | None:
    """``{"attribution", "controls"}`` of a run backtested by ``run.run_backtest`` (None for a run without its
    prices and weights, e.g. a walk-forward book); stored in ``run.analysis`` (run.json) by ``api.save``.
    ``executor``: where the random timings run (``random_timing``)."""
    if run.prices is None or run.target_weights is None:
        return None
    run.analysis = {"attribution": attribution(run), "controls": controls(run, n=n, seed=seed, executor=executor)}
    return run.analysis


# ---------------------------------------------------------------- a sweep's best: rank stability
def rank_stability(inp, res) -> dict:
    """The sweep's best combination ranked (1 = best, by the sweep's metric, valid combinations) in each half
    of the sweep's window, evaluated fresh there, and the Spearman rank correlation of the metric between
    the two halves over all valid combinations."""
    from .sweep.evaluation import _window, evaluate

    a, b = _window(inp, None)
    mid = (a + b) // 2
    halves, cols = [], []
    for lo, hi in ((a, mid), (mid, b)):
        r = evaluate(inp, window=(lo, hi), metric=res.metric, stats=False)
        v = r.frame[res.metric].where(r.frame["valid"])
        rank = v.rank(ascending=not res.higher_is_better, method="min")
        best = rank.iloc[res.best_index] if res.best_index is not None else float("nan")
        halves.append(
            {"start": r.start, "end": r.end, "rank": None if best != best else int(best), "of": int(v.notna().sum())}
        )
        cols.append(v)
    both = pd.concat(cols, axis=1).dropna()
    rho = float(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank())) if len(both) > 2 else None
    return {"halves": halves, "spearman": None if rho is None or rho != rho else rho}
