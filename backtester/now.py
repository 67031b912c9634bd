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
    fix = "give a UTF-8 CSV with a header asset,value (USD)"
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise UsageError(f"holdings file {p} is not UTF-8 text (a binary file?)", fix) from None
    except csv.Error as e:
        raise UsageError(f"holdings file {p} is not a readable CSV ({e})", fix) from None
    except OSError as e:
        raise UsageError(f"holdings file {p} cannot be read ({e.strerror})", fix) from None
    if any("\x00" in f for r in rows for f in r):
        raise UsageError(f"holdings file {p} is not a text CSV (NUL bytes: a binary file?)", fix)
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


FRACTIONAL_ASSETS = ("BTC-USD", "LBMA_GOLD")  # traded in fractions anyway (a coin, an ounce); ETFs in whole shares
STALE_PRICE_DAYS = 4  # a price older than this many calendar days before the decision is flagged


def target_now(
    store,
    strategy,
    params: dict,
    *,
    value=None,
    holdings=None,
    gold="GLD",
    strategies_dir=None,
    fractional: bool = False,
):
    """The target of ``strategy`` (a name or a Strategy) for the decision at the store's last session's close,
    and orders when a portfolio is given (``value`` USD and/or ``holdings``, a CSV path).

    The run is resolved by :func:`backtester.run.resolve` (``window=False``: no backtest window). Without
    ``value`` or ``holdings`` there is no portfolio to size: ``orders`` is empty and ``order_hint`` says how
    to get them. With one, ETF orders are whole shares (rounded toward zero; ``fractional=True`` keeps
    fractions; a position whose target is 0 is sold in full), BTC-USD and LBMA_GOLD are fractional; what
    rounding leaves goes to CASH. ``fees_usd`` estimates fees + slippage at the engine's default per-asset
    rates, and ``warnings`` name prices older than the decision."""
    from .costs import resolve as resolve_costs
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
    sized = value is not None or bool(held)
    total = value if value is not None else sum(held.values())
    if sized and total <= 0:
        raise UsageError(f"value {total:g} is not positive", "give the portfolio value in USD", param="value")
    assets = sorted(set(weights) | set(held))
    fees, slip, _ = resolve_costs(store, assets)  # class defaults per asset (user prices by calendar)
    fees["CASH"] = slip["CASH"] = 0.0
    prices, warnings = {}, []
    for a in assets:
        price, pdate = (1.0, asof) if a == "CASH" else _price(store, a, asof)
        prices[a] = (price, pdate)
        if a != "CASH" and pd.isna(pdate):
            warnings.append(f"{a}: no price known at the decision (update the store: `hedge data pull`)")
        elif a != "CASH" and (asof - pd.Timestamp(pdate)).days > STALE_PRICE_DAYS:
            age = (asof - pd.Timestamp(pdate)).days
            warnings.append(
                f"{a}: stale price, last close {pd.Timestamp(pdate).date()} ({age} days before the decision;"
                " update the store: `hedge data pull`)"
            )
    targets = [
        {"asset": a, "target_weight": weights.get(a, 0.0), "price": prices[a][0], "price_date": prices[a][1]}
        for a in assets
    ]
    orders = []
    if sized:
        for t in targets:
            a, price = t["asset"], t["price"]
            if a == "CASH":
                continue
            cur = held.get(a, 0.0)
            tgt = t["target_weight"] * total
            units = (tgt - cur) / price if price and np.isfinite(price) else float("nan")
            if not fractional and a not in FRACTIONAL_ASSETS and tgt > 0 and np.isfinite(units):
                units = float(np.trunc(units))
            if tgt == 0:  # close the position in full, whatever its price
                order = -cur
            else:
                order = units * price if np.isfinite(units) else 0.0
            orders.append(
                {**t, "current_usd": cur, "target_usd": tgt, "order_usd": order,
                 "order_units": units if np.isfinite(units) else None,
                 "fees_usd": abs(order) * (fees[a] + slip[a]) / 10_000.0}
            )  # fmt: skip
        cash_now = held.get("CASH", 0.0)
        cash_after = total - sum(o["current_usd"] + o["order_usd"] for o in orders)
        ct = next(t for t in targets if t["asset"] == "CASH") if "CASH" in assets else None
        orders.append(
            {"asset": "CASH", "target_weight": weights.get("CASH", 0.0), "price": 1.0, "price_date": asof,
             "current_usd": cash_now, "target_usd": (ct["target_weight"] if ct else 0.0) * total,
             "order_usd": cash_after - cash_now, "order_units": cash_after - cash_now, "fees_usd": 0.0}
        )  # fmt: skip
        orders.sort(key=lambda o: o["asset"])
    from .signals import snapshot_row

    snap = snapshot_row(frame, asof)
    behind = {k: snap[k] for k in rr.strategy.uses if k in snap}
    return {
        "strategy": name,
        "params": rr.params,
        "asof": asof,
        "fill_on": pd.Timestamp(next_session([asof])[0]),
        "value_usd": total if sized else None,
        "weights": weights,
        "targets": targets,
        "orders": orders,
        "fractional": bool(fractional),
        "fees_usd": sum(o["fees_usd"] for o in orders) if sized else None,
        "order_hint": None if sized else "give --value USD or --holdings FILE (asset,value) for orders",
        "warnings": warnings,
        "signals": behind,
    }


def _price(store, asset: str, asof) -> tuple[float, pd.Timestamp]:
    spec = store.spec(asset)
    row = as_known_on(store.read(asset), [asof], spec.staleness_days, column="close").iloc[0]
    return float(row["value"]), row["observation_date"]
