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

from .constants import CASH
from .errors import UsageError

HEDGE_ASSETS = ("GLD", "LBMA_GOLD", "BTC-USD")  # what "the hedge" holds unless a strategy declares hedge_on


@dataclass(frozen=True)
class Param:
    type: type  # float | int | str
    default: object
    min: float | None = None
    max: float | None = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    unit: str = ""  # what the number is in ("reserves/GDP", "$bn", "bp", "weight"); derived when empty

    def unit_of(self, name: str) -> str:
        """The parameter's unit: explicit, else from its name (``_bn``, ``_bp``) or help (a weight or share)."""
        if self.unit:
            return self.unit
        if self.type is str:
            return "choice"
        if name.endswith("_bn"):
            return "$bn"
        if name.endswith("_bp"):
            return "bp"
        if "weight" in self.help or "share" in self.help:
            return "weight"
        return ""

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
    fn: Callable[[pd.DataFrame, dict], pd.DataFrame] | None = None  # None: derived from ``sweep_fn``
    uses: tuple[str, ...] = ()
    fallback: str = CASH  # where the weight of an asset without a price goes
    # the holdable assets the weights may name (required for any non-CASH weight: an undeclared one is an error)
    assets: Callable[[dict], tuple[str, ...]] | None = None
    source: str = field(default="built-in", compare=False)
    # optional, for ``hedge sweep``: (signals, [params, ...]) -> backtester.strategies.factors.Factors, the
    # weights of many parameter sets at once. Give it alone and ``fn`` is derived from it (the strategy is
    # written once); give both and they must agree; without it the sweep calls ``fn`` per combination
    sweep_fn: Callable | None = field(default=None, compare=False, repr=False)
    # optional: (signals, params) -> bool Series, True on decision dates where "the hedge is on" (attribution
    # and the random-timing control); without it, where the weights hold any of HEDGE_ASSETS
    hedge_on: Callable | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.fn is None:
            if self.sweep_fn is None:
                raise UsageError(
                    f"strategy {self.name} has no weight function", "give fn= or its factor form sweep_fn="
                )
            from .strategies.factors import weight_function

            object.__setattr__(self, "fn", weight_function(self.sweep_fn))

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
        """Target weights on the rows of ``signals`` (NaN -> 0), after :meth:`check_weights`."""
        raw = self.fn(signals, dict(params))
        self.check_weights(raw, params)
        return raw.reindex(signals.index).fillna(0.0).astype(float)

    def declared(self, params: Mapping[str, object]) -> tuple[str, ...]:
        """The holdable assets the strategy declares for ``params`` (``assets=``; none without it)."""
        return tuple(self.assets(dict(params))) if self.assets is not None else ()

    def check_weights(self, raw, params: Mapping[str, object]) -> None:
        """The extension contract (UsageError naming the strategy and the asset): the weights are a DataFrame
        whose columns are holdable assets the strategy declares (``assets=``), and no column is all NaN."""
        from .data.catalog import HOLDABLE

        if not isinstance(raw, pd.DataFrame):
            raise UsageError(
                f"strategy {self.name} returned {type(raw).__name__}, not a DataFrame of weights",
                "return a DataFrame: one row per signal date, one column per asset",
            )
        declared = set(self.declared(params)) | {CASH}
        for col in raw.columns:
            a = str(col)
            if a not in HOLDABLE and a not in declared:  # a declared non-catalog id: a user price (resolve checks)
                raise UsageError(
                    f"strategy {self.name} names unknown asset {a!r} in its weights",
                    f"hold one of: {', '.join(HOLDABLE)}",
                )
            if a not in declared:
                have = ", ".join(sorted(declared - {CASH})) or "none"
                raise UsageError(
                    f"strategy {self.name} has weights for {a}, an asset it does not declare (declared: {have})",
                    f"add it to the strategy's assets=, e.g. assets=lambda p: ({a!r},)",
                )
            if len(raw) and raw[col].isna().all():
                raise UsageError(
                    f"strategy {self.name} gives {a} no weight on any date (all NaN)",
                    "give numbers (0 for none); NaN is only for an unknown input",
                )

    def hedge_state(self, signals: pd.DataFrame, params: Mapping[str, object], weights=None) -> pd.Series:
        """True on the decision dates where the hedge is on: ``hedge_on`` if declared, else where the target
        weights hold any of ``HEDGE_ASSETS`` (gold, bitcoin)."""
        if self.hedge_on is not None:
            on = pd.Series(self.hedge_on(signals, dict(params)), index=signals.index)
            return on.reindex(signals.index).fillna(False).astype(bool)
        w = self.weights(signals, params) if weights is None else weights
        cols = [c for c in w.columns if c in HEDGE_ASSETS]
        return (w[cols] > 0).any(axis=1).reindex(signals.index).fillna(False).astype(bool)

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


_BUILTIN: dict[str, Strategy] = {}
_USER: dict[tuple, dict[str, Strategy]] = {}


def _builtins() -> dict[str, Strategy]:
    """The built-in strategies (``backtester.strategies``), collected once per process."""
    if not _BUILTIN:
        import backtester.strategies as builtin

        found: dict[str, Strategy] = {}
        for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda i: i.name):
            for s in _from_module(importlib.import_module(f"backtester.strategies.{info.name}")):
                found[s.name] = s
        _BUILTIN.update(found)
    return _BUILTIN


def _user(d: Path) -> dict[str, Strategy]:
    """The strategies of a user folder, loaded once per process for a given folder and set of files (a file
    added or changed since is loaded again)."""
    paths = sorted(d.glob("*.py"))
    key = (str(d.resolve()), tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths))
    if key in _USER:
        return _USER[key]
    out: dict[str, Strategy] = {}
    for path in paths:
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
    _USER[key] = out
    return out


def registry(strategies_dir: str | Path | None = None) -> dict[str, Strategy]:
    """Every strategy by name: the built-ins, then those of ``strategies_dir`` (a user's folder of modules
    defining ``STRATEGY`` / ``STRATEGIES``, and of ``*.toml`` strategy files; a name there replaces a
    built-in). Built once per process (the files are parsed on each call: nothing in them runs)."""
    out = dict(_builtins())
    if strategies_dir:
        d = Path(strategies_dir)
        if not d.is_dir():
            raise UsageError(f"strategies folder {d} does not exist", "pass a folder of strategy modules")
        from .strategies import files

        out.update(files.load_dir(d))  # *.toml strategy files (nothing in them runs)
        out.update(_user(d))
    return out


def get(name: str, strategies_dir: str | Path | None = None) -> Strategy:
    """A strategy by name, or a ``.toml`` strategy file by path (``backtester.strategies.files``)."""
    from .strategies import files

    if files.is_strategy_file(name):
        return files.load_strategy(name)
    reg = registry(strategies_dir)
    if name not in reg:
        raise UsageError(f"unknown strategy {name!r}", f"known strategies: {', '.join(reg)} (see `hedge strategies`)")
    return reg[name]
