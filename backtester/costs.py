"""Trading costs of a run, per asset: class defaults, the run's --fees-bp / --slippage-bp, --cost overrides.

Classes (``engine.COST_CLASSES``, bp per side of the traded value): ETF/equity 1 + 2, crypto 10 + 10,
other 5 + 5. A built-in asset's class is in the catalog; a user price's follows its calendar (nyse:
equity, crypto: crypto). ``--fees-bp`` / ``--slippage-bp`` replace the fee / slippage of every asset;
``--cost IBIT=5+5`` (fee + slippage) then overrides the assets it names. The run lists what it used in
its notes and its manifest.
"""

from __future__ import annotations

import math

from .errors import UsageError

_FIX = "write --cost ASSET=FEE+SLIPPAGE in basis points, e.g. --cost IBIT=5+5"


def parse_overrides(items: list[str] | None) -> dict[str, tuple[float, float]]:
    """``["IBIT=5+5", "gld=0+1"]`` -> ``{"IBIT": (5.0, 5.0), "GLD": (0.0, 1.0)}``. Malformed -> UsageError."""
    from .data.market import resolve_asset

    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if part.count("=") != 1 or part.split("=")[1].count("+") != 1:
                raise UsageError(f"--cost {part.strip()!r} is not ASSET=FEE+SLIPPAGE", _FIX)
            a, v = part.split("=")
            try:
                fee, slip = (float(x) for x in v.split("+"))
            except ValueError:
                raise UsageError(f"--cost {part.strip()!r}: fee and slippage must be numbers", _FIX) from None
            for x in (fee, slip):
                if not math.isfinite(x) or not (0 <= x < 10_000):
                    raise UsageError(f"--cost {part.strip()!r}: {x:g} bp is out of range", "give 0 to 9999 bp")
            out[resolve_asset(a)] = (fee, slip)
    return out


def asset_class(store, asset: str) -> str:
    from .data import catalog

    spec = catalog.CATALOG.get(asset) or (store.spec(asset) if store is not None else None)
    return (spec.asset_class if spec is not None else "") or "other"


def resolve(
    store, assets, fees_bp=None, slippage_bp=None, overrides: dict | None = None
) -> tuple[dict[str, float], dict[str, float], str]:
    """Per-asset (fees_bp, slippage_bp) for ``assets`` and a one-line note of what was used.

    Overrides must name assets of the run (else UsageError: a typo would otherwise be silently ignored)."""
    from .engine import COST_CLASSES

    assets = [a for a in assets if a != "CASH"]
    overrides = dict(overrides or {})
    stray = [a for a in overrides if a not in assets]
    if stray:
        raise UsageError(
            f"--cost names {', '.join(stray)}, which this run does not hold",
            f"the run's assets are: {', '.join(assets) or 'none'}",
        )
    fees, slip, parts = {}, {}, []
    for a in assets:
        cls = asset_class(store, a)
        f, s = COST_CLASSES.get(cls, COST_CLASSES["other"])
        why = cls
        if isinstance(fees_bp, dict) and a in fees_bp:  # a library caller's per-asset dict
            f, why = float(fees_bp[a]), "fees_bp"
        elif fees_bp is not None and not isinstance(fees_bp, dict):
            f, why = float(fees_bp), "--fees-bp"
        if isinstance(slippage_bp, dict) and a in slippage_bp:
            s, why = float(slippage_bp[a]), "slippage_bp"
        elif slippage_bp is not None and not isinstance(slippage_bp, dict):
            s, why = float(slippage_bp), ("--fees-bp/--slippage-bp" if fees_bp is not None else "--slippage-bp")
        if a in overrides:
            (f, s), why = overrides[a], "--cost"
        fees[a], slip[a] = f, s
        parts.append(f"{a} {f:g}+{s:g} ({why})")
    note = "costs per side, fee + slippage bp: " + ", ".join(parts) if parts else ""
    return fees, slip, note
