"""The strategy contract and registry.

A strategy declares its name, a one-line description, its parameters (type, default, min, max) and a
pure function from the signal frame (one row per decision date, point-in-time) and its parameters to
target weights (one column per holdable asset, rows summing to at most 1; the rest is CASH). A signal
that is unknown on a date (NaN) makes every condition that uses it false, so the strategy holds its
neutral allocation; ``uses`` names the signal columns whose unknown share a run reports.

Built-ins live in the top-level ``strategies`` package; a user adds one by dropping a module that
defines ``STRATEGY = Strategy(...)`` (or ``STRATEGIES = [...]``) into a folder given by
``--strategies-dir``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import UsageError


@dataclass(frozen=True)
class Param:
    type: type  # float | int | str
    default: object
    min: float | None = None
    max: float | None = None
    help: str = ""
    choices: tuple[str, ...] | None = None

    def parse(self, name: str, raw: object) -> object:
        if self.type is str:
            val = str(raw)
            if self.choices and val not in self.choices:
                raise UsageError(
                    f"parameter {name}={val!r} is not one of {', '.join(self.choices)}",
                    f"use one of: {', '.join(self.choices)}",
                )
            return val
        try:
            val = self.type(raw) if not isinstance(raw, str) or self.type is float else int(raw, 10)
        except (TypeError, ValueError):
            raise UsageError(
                f"parameter {name}={raw!r} is not a {self.type.__name__}",
                f"give a number between {self.min} and {self.max}",
            ) from None
        if isinstance(val, float) and not math.isfinite(val):
            raise UsageError(
                f"parameter {name}={raw!r} is not finite", f"give a number between {self.min} and {self.max}"
            )
        if (self.min is not None and val < self.min) or (self.max is not None and val > self.max):
            raise UsageError(
                f"parameter {name}={raw} is out of range", f"{name} must be between {self.min} and {self.max}"
            )
        return val


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    params: Mapping[str, Param]
    fn: Callable[[pd.DataFrame, dict], pd.DataFrame]
    uses: tuple[str, ...] = ()
    fallback: str = "CASH"  # where the weight of an asset without a price goes
    assets: Callable[[dict], tuple[str, ...]] | None = None  # holdable assets the weights may name
    source: str = field(default="built-in", compare=False)
    # optional, for ``hedge sweep``: (signals, [params, ...]) -> backtester.strategies.factors.Factors, the
    # weights of many parameter sets at once; must agree with ``fn`` (without it the sweep calls ``fn``)
    sweep_fn: Callable | None = field(default=None, compare=False, repr=False)

    def resolve(self, given: Mapping[str, object] | None = None) -> dict:
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise UsageError(
                f"unknown parameter {unknown[0]!r} for strategy {self.name}",
                f"its parameters are: {', '.join(self.params) or 'none'}",
            )
        return {k: (p.parse(k, given[k]) if k in given else p.default) for k, p in self.params.items()}

    def weights(self, signals: pd.DataFrame, params: Mapping[str, object]) -> pd.DataFrame:
        w = self.fn(signals, dict(params)).reindex(signals.index).fillna(0.0).astype(float)
        return w

    def unknown_share(self, signals: pd.DataFrame) -> float:
        cols = [c for c in self.uses if c in signals.columns]
        if not cols or signals.empty:
            return 0.0
        return float(signals[cols].isna().any(axis=1).mean())


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` (also comma-separated ``k=v,k2=v2``) -> dict; malformed -> UsageError.

    A weights value keeps its commas: ``hedge=IBIT:0.3,GLD:0.5`` is one parameter (a part without '='
    but with ':' continues the previous value)."""
    out: dict[str, str] = {}
    for item in items or []:
        last = None
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part and ":" in part and last is not None:
                out[last] += "," + part.strip()
                continue
            if "=" not in part:
                raise UsageError(f"parameter {part!r} is not name=value", "write params name=value", param="params")
            k, v = part.split("=", 1)
            last = k.strip().lower()
            out[last] = v.strip()
    return out


def _from_module(mod) -> list[Strategy]:
    found = []
    if isinstance(getattr(mod, "STRATEGY", None), Strategy):
        found.append(mod.STRATEGY)
    found.extend(s for s in getattr(mod, "STRATEGIES", []) if isinstance(s, Strategy))
    return found


def registry(strategies_dir: str | Path | None = None) -> dict[str, Strategy]:
    import backtester.strategies as builtin

    out: dict[str, Strategy] = {}
    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda i: i.name):
        for s in _from_module(importlib.import_module(f"backtester.strategies.{info.name}")):
            out[s.name] = s
    if strategies_dir:
        d = Path(strategies_dir)
        if not d.is_dir():
            raise UsageError(f"strategies folder {d} does not exist", "pass a folder of strategy modules")
        for path in sorted(d.glob("*.py")):
            modname = f"hedge_user_strategies.{path.stem}"
            spec = importlib.util.spec_from_file_location(modname, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            try:
                spec.loader.exec_module(mod)
            except Exception as e:  # noqa: BLE001 - a user's module: report it in one line
                raise UsageError(
                    f"strategy module {path} failed to load: {type(e).__name__}: {e}",
                    "fix the module or remove it from the folder",
                ) from None
            for s in _from_module(mod):
                out[s.name] = Strategy(**{**s.__dict__, "source": str(path)})
    return out


def get(name: str, strategies_dir: str | Path | None = None) -> Strategy:
    reg = registry(strategies_dir)
    if name not in reg:
        raise UsageError(f"unknown strategy {name!r}", f"known strategies: {', '.join(reg)} (see `hedge strategies`)")
    return reg[name]
