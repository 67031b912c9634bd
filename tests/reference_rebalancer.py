"""An independent reference rebalancer in plain pandas (test-only, no vectorbt, no engine code).

It re-implements the semantics written in ``backtester/engine.py``'s module docstring the slow, obvious
way: a day-by-day loop over sessions holding *units* of every asset and of CASH (priced by the cash
index, so CASH earns DFF because its price rises), executing target-percent orders sells first at
close * (1 -/+ slippage) with fees on the traded value, cutting a buy to the CASH available.
The engine instead runs vectorbt in CASH units; agreement of the two checks both.
"""

from __future__ import annotations

import math

import pandas as pd

CASH = "CASH"


def _bp(spec, assets) -> dict[str, float]:
    if isinstance(spec, dict):
        return {a: float(spec.get(a, 0.0)) / 1e4 for a in assets}
    return {a: float(spec or 0.0) / 1e4 for a in assets}


def reference_backtest(
    weights: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    fees_bp=0.0,
    slippage_bp=0.0,
    exec_lag: int = 1,
    rebalance: str = "change+monthly",
    band: float = 0.05,
    vol_target: float | None = None,
    fallback: str = CASH,
) -> dict:
    assets = [c for c in prices.columns if c != CASH]
    fee = _bp(fees_bp, assets)
    slip = _bp(slippage_bp, assets)
    sessions = list(prices.index)

    # decisions: all-NaN rows are "no decision", NaN next to numbers is 0; in force "as of" each session
    w = weights.drop(columns=[CASH], errors="ignore").dropna(how="all").fillna(0.0)
    w = w.reindex(columns=assets, fill_value=0.0).sort_index()
    decided = w.reindex(prices.index, method="ffill")

    # volatility targeting at the decision date: 60 returns of the target mix, sample std
    scale = pd.Series(1.0, index=prices.index)
    if vol_target is not None:
        rets = prices[assets].ffill().pct_change(fill_method=None).fillna(0.0)
        if "BTC-USD" in rets.columns:  # its bar of d closes 00:00 UTC, after the 16:00 ET decision
            rets["BTC-USD"] = rets["BTC-USD"].shift(1).fillna(0.0)
        for j in range(60, len(sessions)):
            row = decided.iloc[j]
            if row.isna().any():
                continue
            mix = (rets.iloc[j - 59 : j + 1] * row).sum(axis=1)
            vol = mix.std(ddof=1) * math.sqrt(252)
            if vol > 0:
                scale.iloc[j] = min(1.0, vol_target / vol)

    target_raw = decided.shift(exec_lag)
    k_lag = scale.shift(exec_lag)
    has = target_raw.notna().all(axis=1)
    t0 = list(has).index(True)
    run = sessions[t0:]

    fresh = prices[assets].notna()
    listed = fresh.cummax()
    val = prices[assets].ffill()

    units = {a: 0.0 for a in assets}
    cash_units = 1.0 / prices[CASH].iloc[t0]  # initial capital 1, held as CASH
    last_exec = {**{a: 0.0 for a in assets}, CASH: 1.0}
    shadow = dict(last_exec)  # last executed target drifted by price relatives (for the band rule)
    prev_eff = None
    pending = False
    rows, costs, held, trades, targets = [], [], [], [], []

    def value_of(a, i):  # units held x last close (an asset never held may have no price yet)
        return units[a] * float(val.iloc[i][a]) if units[a] != 0 else 0.0

    for pos, d in enumerate(run):
        i = t0 + pos
        # effective target after the fallback, then the vol scale
        eff = {}
        moved = 0.0
        for a in assets:
            x = float(target_raw.iloc[i][a])
            if x > 0 and not bool(listed.iloc[i][a]):
                moved += x
                x = 0.0
            eff[a] = x
        if moved and fallback != CASH and bool(listed.iloc[i][fallback]):
            eff[fallback] += moved
        k = float(k_lag.iloc[i])
        tgt = {a: eff[a] * k for a in assets}
        tgt[CASH] = max(0.0, 1.0 - sum(tgt.values()))

        # drift of the shadow portfolio since yesterday
        if pos > 0:
            for a in assets:
                if shadow[a] > 0:
                    shadow[a] *= val.iloc[i][a] / val.iloc[i - 1][a]
            shadow[CASH] *= prices[CASH].iloc[i] / prices[CASH].iloc[i - 1]
            tot = sum(shadow.values())
            shadow = {a: x / tot for a, x in shadow.items()}

        if pos == 0:
            trig = True
        elif rebalance == "monthly":
            trig = (d.year, d.month) != (run[pos - 1].year, run[pos - 1].month)
        elif rebalance == "weekly":
            trig = d.isocalendar()[:2] != run[pos - 1].isocalendar()[:2]
        else:
            trig = any(abs(eff[a] - prev_eff[a]) > 1e-12 for a in assets)
            if rebalance == "change+monthly" and not trig:
                trig = (d.year, d.month) != (run[pos - 1].year, run[pos - 1].month)
            if rebalance == "band" and not trig:
                trig = any(abs(shadow[a] - tgt[a]) > band for a in [*assets, CASH])
        prev_eff = eff
        pending = pending or trig

        cash_px = float(prices[CASH].iloc[i])
        cost_today = 0.0
        value_before = sum(value_of(a, i) for a in assets) + cash_units * cash_px
        did = False
        if pending:
            involved = [a for a in assets if tgt[a] > 0 or last_exec[a] > 0]
            if all(bool(fresh.iloc[i][a]) for a in involved):
                did = True
                pending = False
                V = value_before
                orders = []
                for a in assets:
                    if not bool(fresh.iloc[i][a]):
                        continue
                    p = float(prices.iloc[i][a])
                    q = tgt[a] * V / p - units[a]
                    if q != 0:
                        orders.append((q * p, a, q, p))
                orders.sort(key=lambda o: o[0])  # stable: ties keep column order; sells first
                cash_val = cash_units * cash_px
                for _, a, q, p in orders:
                    if q < 0:
                        fill = p * (1 - slip[a])
                        fees = -q * fill * fee[a]
                        cash_val += -q * fill - fees
                    else:
                        fill = p * (1 + slip[a])
                        need = q * fill * (1 + fee[a])
                        if need > cash_val:
                            q = cash_val / (fill * (1 + fee[a]))
                        fees = q * fill * fee[a]
                        cash_val -= q * fill + fees
                        cash_val = max(cash_val, 0.0)
                    units[a] += q
                    c = fees + abs(q) * p * slip[a]
                    cost_today += c
                    trades.append({"date": d, "asset": a, "units": q, "price": fill, "fees": fees, "cost": c})
                cash_units = cash_val / cash_px
                last_exec = dict(tgt)
                shadow = dict(tgt)
        equity = sum(value_of(a, i) for a in assets) + cash_units * cash_px
        rows.append(equity)
        costs.append(cost_today / value_before)
        held.append({**{a: value_of(a, i) / equity for a in assets}, CASH: cash_units * cash_px / equity})
        targets.append(did)

    idx = pd.DatetimeIndex(run, name="date")
    equity = pd.Series(rows, index=idx, name="equity")
    return {
        "equity": equity,
        "returns": equity / equity.shift(1).fillna(1.0) - 1.0,
        "costs": pd.Series(costs, index=idx),
        "weights": pd.DataFrame(held, index=idx),
        "rebalanced": pd.Series(targets, index=idx),
        "trades": pd.DataFrame(trades),
    }
