"""``hedge now``: the target for the latest decision date, the signals behind it, and the orders.

The decision is at the close of the store's last common date (the last NYSE session on or before it);
the orders fill ``exec_lag`` = 1 session later. Prices for the order sizes are the latest closes
available at that decision (bitcoin: its previous UTC bar, the one whose close came before 16:00 ET).
Holdings: a CSV with a header ``asset,value`` (USD); without one, the portfolio is all cash.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .constants import CASH
from .data import catalog
from .data.calendar import next_session, session_on_or_before
from .data.pit import as_known_on
from .errors import UsageError


def read_holdings(path: str | None, store=None) -> dict[str, float]:
    from .data.market import holdable_assets

    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"holdings file {p} does not exist", "give a CSV with a header asset,value (USD)")
    out: dict[str, float] = {}
    with p.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or [h.strip().lower() for h in rows[0]] != ["asset", "value"]:
        raise UsageError(f"holdings file {p} must start with the header asset,value", "value in USD, one asset a row")
    for i, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != 2:
            raise UsageError(f"holdings file {p} line {i} needs 2 fields", "write asset,value")
        a, v = r[0].strip(), r[1].strip()
        ok = catalog.HOLDABLE if store is None else (*holdable_assets(store), "CASH")
        if a not in ok:
            raise UsageError(f"holdings file {p} line {i}: {a!r} is not holdable", f"use: {', '.join(ok)}")
        try:
            x = float(v)
        except ValueError:
            raise UsageError(f"holdings file {p} line {i}: value {v!r} is not a number", "value in USD") from None
        if not np.isfinite(x) or x < 0:
            raise UsageError(f"holdings file {p} line {i}: value {v} is not a positive amount", "value in USD")
        out[a] = out.get(a, 0.0) + x
    return out


def target_now(store, strategy, params: dict, *, value=None, holdings=None, gold="GLD", strategies_dir=None):
    """The target of ``strategy`` (a name or a Strategy) for the decision at the store's last session's close,
    and the orders from ``holdings`` (a CSV path; none: all cash) to it for a portfolio of ``value`` USD.
    The run is resolved by :func:`backtester.run.resolve` (``window=False``: no backtest window)."""
    from .run import RunSpec, resolve

    strat = None if isinstance(strategy, str) else strategy
    name = strategy if strat is None else strat.name
    spec = RunSpec(name, dict(params or {}), gold=gold, strategies_dir=strategies_dir)
    rr = resolve(store, spec, strategy=strat, window=False)
    asof = session_on_or_before(store.last_common_date())
    frame = rr.signals
    w = rr.weights(signals=frame.loc[:asof]).iloc[-1]
    weights = {a: float(x) for a, x in w.items() if x > 1e-12}
    weights[CASH] = max(0.0, 1.0 - sum(weights.values()))
    held = read_holdings(holdings, store)
    total = value if value is not None else (sum(held.values()) or 100_000.0)
    if total <= 0:
        raise UsageError(f"value {total:g} is not positive", "give the portfolio value in USD", param="value")
    orders = []
    for a in sorted(set(weights) | set(held)):
        tw = weights.get(a, 0.0)
        price, pdate = (1.0, asof) if a == CASH else _price(store, a, asof)
        cur = held.get(a, 0.0)
        tgt = tw * total
        orders.append(
            {
                "asset": a,
                "target_weight": tw,
                "price": price,
                "price_date": pdate,
                "current_usd": cur,
                "target_usd": tgt,
                "order_usd": tgt - cur,
                "order_units": (tgt - cur) / price if price and np.isfinite(price) else None,
            }
        )
    from .signals import snapshot_row

    snap = snapshot_row(frame, asof)
    behind = {k: snap[k] for k in rr.strategy.uses if k in snap}
    return {
        "strategy": name,
        "params": rr.params,
        "asof": asof,
        "fill_on": pd.Timestamp(next_session([asof])[0]),
        "value_usd": total,
        "weights": weights,
        "orders": orders,
        "signals": behind,
    }


def _price(store, asset: str, asof) -> tuple[float, pd.Timestamp]:
    spec = store.spec(asset)
    row = as_known_on(store.read(asset), [asof], spec.staleness_days, column="close").iloc[0]
    return float(row["value"]), row["observation_date"]
