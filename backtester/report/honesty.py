"""The tearsheet's answers to "did the hedge help?" and "is it out of sample?" (issue 13).

* ``samples(returns, selection)``: the periods of the "in sample and out of sample" table, from the run's
  ``selection_window`` (``run.selection_window``): a fixed rule was not fitted to the data, so its run is
  split at the essay's date only as a separate marker ("before / after the essay", continuing
  positions); a sweep's best chose its parameters on the whole run (all in sample, no out-of-sample
  period); a walk-forward book is out of sample as a whole.
* ``chart_marker(selection, index)``: the hatched period of the charts, the same rule.
* ``attribution_html``, ``controls_html``, ``significance_html``: the run.json keys ``attribution``,
  ``controls`` (``research.controls``) and ``significance`` (the bootstrap of ``hedge significance``)
  as tables with one sentence of verdict each.
* ``sweep_html``: for a sweep's best run, the number of trials, deflated Sharpe, PBO, rank stability and
  the warnings (best on the grid's edge, drawdown worse than the benchmark's).
"""

from __future__ import annotations

import pandas as pd

from ._io import esc
from .panels import ESSAY, OOS_START
from .tables import _num, _pct, table

FRESH_START_NOTE = (
    "`hedge thesis` scores the rule out of sample from a fresh start on the essay's session (positions "
    "bought then); this table keeps the run's positions (continuing): both are stated there"
)


def samples(returns: pd.DataFrame, sel: dict) -> list[tuple[str, pd.DataFrame]]:
    kind = sel.get("kind", "fixed")
    if kind == "sweep":
        return [("in sample (parameters chosen on this whole period)", returns)]
    if kind == "walkforward":
        return [("out of sample (each window's parameters chosen before it)", returns)]
    return [
        ("before the essay (fixed rule)", returns[returns.index < OOS_START]),
        ("after the essay (continuing positions)", returns[returns.index >= OOS_START]),
    ]


def sample_intro(sel: dict) -> str:
    kind = sel.get("kind", "fixed")
    if kind == "sweep":
        w = (sel.get("windows") or [{}])[0]
        return (
            f"The sweep chose these parameters on {esc(w.get('start'))} .. {esc(w.get('end'))}, the whole run: "
            "every number on this page is in sample. There is no out-of-sample period."
        )
    if kind == "walkforward":
        return (
            f"Walk-forward: each test window's parameters were chosen on its own training window before it "
            f"({len(sel.get('windows') or [])} windows): the whole book is out of sample."
        )
    return (
        f"A fixed rule: its parameters were not chosen on this data, so no period is in sample by selection. "
        f"The essay's date ({OOS_START.date()}) is marked separately; {esc(FRESH_START_NOTE)}."
    )


def chart_marker(sel: dict, index: pd.DatetimeIndex):
    kind = sel.get("kind", "fixed")
    if kind == "sweep":
        return None
    if kind == "walkforward":
        return (pd.Timestamp(index[0]), "out of sample: the whole walk-forward book")
    return ESSAY


def _state_rows(a: dict, names: tuple[str, str]) -> list[list]:
    rows = []
    for key, label in (("hedge_on", "hedge on"), ("hedge_off", "hedge off")):
        p = a.get(key) or {}
        for who, name in (("strategy", names[0]), ("benchmark", names[1])):
            m = p.get(who) if isinstance(p.get(who), dict) else {}  # None (no day in this state) -> blanks
            rows.append(
                [label if who == "strategy" else "", name, p.get("days", 0) if who == "strategy" else "",
                 _pct(p.get("share")) if who == "strategy" else "", _pct(m.get("total_return")), _pct(m.get("cagr")),
                 _pct(m.get("volatility")), _num(m.get("sharpe")), _pct(m.get("max_drawdown")),
                 _pct(p.get("costs"), 3) if who == "strategy" else ""]
            )  # fmt: skip
    return rows


def _f(x):
    return float("nan") if x is None else x


def attribution_html(a: dict | None, names: tuple[str, str]) -> str:
    if not a:
        return "<p>Not recorded for this run (saved by an older version: run it again).</p>"
    rows = _state_rows(_nan(a), names)
    head = ["state", "series", "days", "share", "total return", "CAGR", "volatility", "Sharpe", "max DD", "costs"]
    extra = (
        f"<p>Hedge on = {esc(a.get('definition'))}; {a.get('switches')} switches. Costs "
        f"{_pct(_f(a.get('costs')), 3)} of equity in all (opening trade {_pct(_f(a.get('opening_cost')), 3)}), "
        f"turnover {_num(_f(a.get('turnover')))} a year (opening trade excluded).</p>"
    )
    return f'<p class="verdict"><b>{esc(a.get("verdict"))}</b></p>' + table(head, rows, "attribution") + extra


def _nan(d):
    if isinstance(d, dict):
        return {k: _nan(v) for k, v in d.items()}
    return float("nan") if d is None else d


def controls_html(c: dict | None, run_metrics: dict) -> str:
    if not c:
        return "<p>Not recorded for this run (saved by an older version: run it again).</p>"
    st, rt = _nan(c.get("static") or {}), _nan(c.get("random_timing") or {})
    sm = st.get("metrics") or {}
    rs = rt.get("random_sharpe") if isinstance(rt.get("random_sharpe"), dict) else {}
    rows = [
        ["the strategy", _num(_f(run_metrics.get("sharpe"))), _pct(_f(run_metrics.get("cagr"))),
         _pct(_f(run_metrics.get("max_drawdown"))), "", ""],
        ["static: its average weights, rebalanced monthly", _num(sm.get("sharpe")), _pct(sm.get("cagr")),
         _pct(sm.get("max_drawdown")), "", ""],
        [f"random timing: {rt.get('n')} shuffled spell sequences (median)", _num(rs.get("p50", float("nan"))), "",
         "", _pct(rt.get("percentile"), 1), _num(rt.get("p_value"), 3)],
    ]  # fmt: skip
    weights = ", ".join(f"{esc(k)} {_pct(v, 1)}" for k, v in (st.get("weights") or {}).items())
    return (
        f'<p class="verdict"><b>{esc(c["static"].get("verdict"))}</b> (static weights: {weights}.)</p>'
        f'<p class="verdict"><b>{esc(c["random_timing"].get("verdict"))}</b></p>'
        + table(["control", "Sharpe", "CAGR", "max DD", "strategy percentile", "p-value"], rows, "controls")
    )


def significance_html(sig: dict | None, names: tuple[str, str]) -> str:
    if not sig:
        return "<p>No bootstrap for this run (too few returns, or saved by an older version).</p>"
    rows = []
    for key, label in (("sharpe_difference", "Sharpe difference"), ("mean_excess", "mean excess return a year")):
        d = _nan(sig.get(key) or {})
        ci = d.get("ci95") if isinstance(d.get("ci95"), list) else [float("nan")] * 2
        rows.append([label, _num(d.get("observed"), 3), f"[{_num(ci[0], 3)}, {_num(ci[1], 3)}]",
                     _num(d.get("p_value"), 3)])  # fmt: skip
    sd = _nan(sig.get("sharpe_difference") or {})
    p = sd.get("p_value")
    verdict = (
        f"Sharpe {_num(_f(sig.get('sharpe_strategy')))} vs {esc(names[1])} {_num(_f(sig.get('sharpe_benchmark')))}: "
        f"the difference is {'significant' if p == p and p < 0.05 else 'not significant'} at 5% (p = {_num(p, 3)})."
    )
    intro = (
        f"<p>Stationary block bootstrap ({sig.get('n_boot')} draws, mean block {_num(_f(sig.get('block')), 1)} days, "
        f"seed {sig.get('seed')}, {sig.get('n')} days; H0: {esc(sig.get('h0'))}); the same as "
        "<code>hedge significance</code>.</p>"
    )
    return (
        f'<p class="verdict"><b>{esc(verdict)}</b></p>'
        + intro
        + table(["statistic", "observed", "95% interval", "p-value"], rows, "significance")
    )


def _edge(grid: dict, best: dict) -> list[str]:
    out = []
    for name, spec in (grid or {}).items():
        vals = spec.get("values") if isinstance(spec, dict) else spec
        if not isinstance(vals, list) or len(vals) < 2 or name not in best:
            continue
        try:
            v = float(best[name])
            lo, hi = min(map(float, vals)), max(map(float, vals))
        except (TypeError, ValueError):
            continue
        if v in (lo, hi):
            out.append(f"{name} = {best[name]} is on the edge of its grid ({lo:g} .. {hi:g})")
    return out


def sweep_html(manifest: dict, run_metrics: dict, bench_metrics: dict) -> str:
    sw = manifest.get("sweep") or {}
    comb = sw.get("combinations") or {}
    n_valid = comb.get("valid") if isinstance(comb, dict) else None
    n_total = comb.get("total") if isinstance(comb, dict) else None
    dsr, pbo = sw.get("deflated_sharpe"), sw.get("pbo")
    stab = sw.get("rank_stability") or {}
    best = (manifest.get("summary") or {}).get("params") or {}
    edge = _edge(sw.get("grid"), best)
    warnings = [f"the best combination's {w}: the optimum may lie outside the grid" for w in edge]
    mdd, bmdd = run_metrics.get("max_drawdown"), bench_metrics.get("max_drawdown")
    if mdd is not None and bmdd is not None and mdd < bmdd:
        warnings.append(f"its max drawdown {_pct(mdd)} is worse than the benchmark's {_pct(bmdd)}")
    rows = [
        ["trials (valid / all combinations)", f"{n_valid} / {n_total}"],
        ["metric", esc(str(sw.get("metric")))],
        ["deflated Sharpe (P[true Sharpe > best of N by luck])", _num(_f(dsr), 3)],
        ["PBO (CSCV)", _num(_f(pbo), 3)],
    ]
    for h in stab.get("halves") or []:
        rows.append([f"rank of the best in {h['start']} .. {h['end']}", f"{h.get('rank')} of {h.get('of')}"])
    if stab.get("spearman") is not None:
        rows.append(["rank correlation of the metric, first vs second half", _num(stab["spearman"], 2)])
    warn = "".join(f"<li><b>warning:</b> {esc(w)}</li>" for w in warnings)
    return table(["", "value"], rows, "manifest") + (f'<ul class="notes">{warn}</ul>' if warn else "")
