"""Strategy files: a rule as a short TOML file, safe to load from anyone (nothing in it is executed).

::

    name = "reserves-or-pivot"
    description = "Gold and bitcoin while reserves are scarce or QT is over; else 60/40"
    [params]
    floor = { default = 0.10, min = 0.05, max = 0.15, help = "reserves/GDP floor" }
    btc   = 0.3                                   # a bare number: the default, no range
    [[rule]]
    when = "reserves_to_gdp < floor or qt_ended"
    weights = { GLD = 0.5, BTC-USD = "btc" }
    [[rule]]
    default = true
    weights = { SPY = 0.6, IEF = 0.4 }

Rules are tried in order on each decision date; the first whose condition is true (known and true:
an unknown condition does not fire) sets the target weights; the rest of each row is CASH; a row where
no rule fires is all CASH. Weights are numbers, parameter names or arithmetic of them, checked >= 0 and
summing to at most 1 for every parameter set used. Conditions use the expression language of
:mod:`backtester.strategies.expr`.

:func:`load` returns a :class:`backtester.strategy.Strategy` with a factor form (``sweep_fn``, a
``factors.Form``): over a grid, each rule's condition is computed for every set of the parameters it reads
at once (broadcasting; once per set when a parameter feeds a window or lag), the weights are loadings
computed on arrays of the combinations' parameters, so a sweep of a file strategy runs at the kernel's speed.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import catalog, declared
from ..errors import UsageError
from ..strategy import Param, Strategy
from . import expr

MAX_BYTES = 64_000
MAX_RULES = 50
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PARAM_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TOP_KEYS = {"name", "description", "params", "rule", "assets"}
RULE_KEYS = {"when", "default", "weights", "label"}
PARAM_KEYS = {"default", "min", "max", "help"}


def is_strategy_file(text: str) -> bool:
    return str(text).lower().endswith(".toml")


def signal_names() -> tuple[frozenset[str], frozenset[str]]:
    """(every signal column a condition may name, the label columns among them)."""
    from ..signals import KEYS, LABELS

    return frozenset(KEYS), frozenset(LABELS)


def price_assets() -> frozenset[str]:
    return frozenset(a for a in catalog.HOLDABLE if a != "CASH")


@dataclass
class Rule:
    index: int  # 1-based, as the error messages count
    when: expr.Expr | None  # None: the default rule
    weights: dict[str, expr.Expr]
    label: str


@dataclass
class FileStrategy:
    """The parsed file; :meth:`strategy` gives the contract object the rest of the tool uses."""

    path: Path
    text: str
    name: str
    description: str
    params: dict[str, Param]
    rules: list[Rule]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for r in self.rules for a in r.weights if a != "CASH"))

    @property
    def uses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for r in self.rules if r.when for c in r.when.columns))

    # ---- weights
    def weight_table(self, p: dict, check: bool = True) -> np.ndarray:
        """(rules + 1, assets): each rule's weights for parameters ``p``; the last row is all CASH.
        ``check``: raise on a negative weight or a rule summing above 1 (the sweep instead marks such a
        combination invalid, as it does for the built-ins)."""
        ctx = expr.Context(pd.DataFrame(), p)
        assets = self.assets
        out = np.zeros((len(self.rules) + 1, len(assets)))
        for k, r in enumerate(self.rules):
            for a, e in r.weights.items():
                v = e(ctx)
                if not check:
                    v = v if np.isfinite(v) else np.nan
                elif not np.isfinite(v) or v < 0:
                    raise UsageError(
                        f"{self.path.name} rule {r.index}: weight of {a} is {v:g} for {_show(p)}",
                        "weights must be >= 0",
                    )
                if a != "CASH":
                    out[k, assets.index(a)] = v
            total = sum(e(ctx) for e in r.weights.values())
            if check and total > 1 + 1e-9:
                raise UsageError(
                    f"{self.path.name} rule {r.index}: weights sum to {total:g} for {_show(p)}",
                    "weights must sum to at most 1 (the rest is CASH)",
                )
        return out

    def fired(self, ctx: expr.Context, cache: dict | None = None) -> list[np.ndarray]:
        """Per rule, the rows where it sets the target (first true condition wins), then 'none fired'."""
        taken = np.zeros(ctx.n, bool)
        out = []
        for r in self.rules:
            if r.when is None:
                on = ~taken
            else:
                key = (r.index, tuple(ctx.params[k] for k in r.when.params))
                c = cache.get(key) if cache is not None else None
                if c is None:
                    c = r.when(ctx) == 1  # unknown does not fire
                    if cache is not None:
                        cache[key] = c
                on = c & ~taken
            out.append(on)
            taken = taken | on
        out.append(~taken)
        return out

    def weights(self, signals: pd.DataFrame, p: dict) -> pd.DataFrame:
        table = self.weight_table(p)
        sel = np.full(len(signals), len(self.rules), dtype=np.int64)
        for k, on in enumerate(self.fired(expr.Context(signals, p))[:-1]):
            sel[on] = k
        return pd.DataFrame(table[sel], index=signals.index, columns=list(self.assets))

    def sweep(self, signals: pd.DataFrame, plist, rows=None):
        """Factor form: each rule's firing rows for every distinct set of the condition parameters (over a grid,
        all at once when no parameter feeds a function along time: ``expr.Expr.vector``), the weights as
        loadings (on arrays of every combination's parameters over a grid): factors.Form."""
        from .factors import Form

        cols: dict = {}
        conds: dict = {}
        cond_params = tuple(sorted({k for r in self.rules if r.when for k in r.when.params}))

        vector = all(r.when.vector for r in self.rules if r.when)

        def features(s, p):
            if any(np.ndim(p[k]) for k in cond_params):  # every threshold set at once (no per-set cache)
                return self.fired(expr.Context(s, p, cols))
            return [x.astype(np.float64) for x in self.fired(expr.Context(s, p, cols), conds)]

        form = Form(cond_params, features, self.loadings, vector_features=vector, assets_by=())
        return form(signals, plist, rows)

    def loadings(self, p: dict) -> list[dict]:
        """Per rule (then 'none fired'), asset -> weight for every asset of the file (:meth:`weight_table`
        without its checks: the sweep marks invalid combinations itself); a parameter may be an array."""
        ctx = expr.Context(pd.DataFrame(), p)
        out = []
        for r in self.rules:
            d: dict = dict.fromkeys(self.assets, 0.0)
            for a, e in r.weights.items():
                if a != "CASH":
                    v = e(ctx)
                    d[a] = np.where(np.isfinite(v), v, np.nan)
            out.append(d)
        return [*out, dict.fromkeys(self.assets, 0.0)]

    def strategy(self) -> Strategy:
        assets = self.assets
        return Strategy(
            name=self.name,
            description=self.description,
            params=self.params,
            fn=self.weights,
            uses=self.uses,
            assets=lambda p: assets,
            source=str(self.path),
            sweep_fn=_sweep_fn(self.sweep),
        )

    def explain(self) -> dict:
        """What ``hedge strategies --show FILE`` prints."""
        return {
            "name": self.name,
            "description": self.description,
            "source": str(self.path),
            "sha256": self.sha256,
            "params": {k: _param_dict(p) for k, p in self.params.items()},
            "rules": [
                {
                    "rule": r.index,
                    "label": r.label,
                    "when": None if r.when is None else r.when.text,
                    "default": r.when is None,
                    "weights": {a: e.text for a, e in r.weights.items()},
                    "signals": [c for c in (r.when.columns if r.when else ()) if not c.startswith("px:")],
                    "prices": list(r.when.assets) if r.when else [],
                    "params": list(r.when.params) if r.when else [],
                }
                for r in self.rules
            ],
            "assets": list(self.assets),
            "otherwise": "CASH",
        }


def _param_dict(p: Param) -> dict:
    return {"type": p.type.__name__, "default": p.default, "min": p.min, "max": p.max, "help": p.help}


def _show(p: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, int | float) else f"{k}={v}" for k, v in p.items()) or "defaults"


# ---------------------------------------------------------------- loading
def load(path: str | Path, shown_as: str | None = None) -> FileStrategy:
    """Parse a strategy file. ``shown_as``: the path to report as its source (``hedge rerun`` loads the
    copy saved with a run but reports the file it was first run from)."""
    path = Path(path)
    where = Path(shown_as).name if shown_as else path.name
    if not path.is_file():
        raise UsageError(f"strategy file {path} does not exist", "give the path of a .toml strategy file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read strategy file {path} ({e.strerror})", "check the path and permissions") from None
    if len(raw) > MAX_BYTES:
        raise UsageError(f"{where}: file is {len(raw):,} bytes", f"a strategy file is at most {MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
        doc = tomllib.loads(text)
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not UTF-8 text", "save the file as UTF-8") from None
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        raise UsageError(f"{where}: invalid TOML: {e}", "fix the file's syntax (see examples/)") from None
    return parse(doc, Path(shown_as) if shown_as else path, text)


def parse(doc: dict, path: Path, text: str = "") -> FileStrategy:
    where = Path(path).name
    extra = sorted(set(doc) - TOP_KEYS)
    if extra:
        raise UsageError(f"{where}: unknown key '{extra[0]}'", f"a strategy file has: {', '.join(sorted(TOP_KEYS))}")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise UsageError(
            f"{where}: name {name!r} is missing or not a slug",
            'give name = "lowercase-letters-digits-dashes" (at most 64 characters)',
        )
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        raise UsageError(f"{where}: description is not a string", 'write description = "..."')
    params = _params(doc.get("params", {}), where)
    rules_raw = doc.get("rule")
    if not isinstance(rules_raw, list) or not rules_raw or not all(isinstance(r, dict) for r in rules_raw):
        raise UsageError(
            f"{where}: no [[rule]] entries", "add at least one [[rule]] with when = ... and weights = {...}"
        )
    if len(rules_raw) > MAX_RULES:
        raise UsageError(f"{where}: {len(rules_raw)} rules", f"a strategy file has at most {MAX_RULES} rules")
    columns, labels = signal_names()
    own = _own_assets(doc.get("assets", []), where)
    assets = price_assets() | own  # the built-in holdables and the user prices the file names (hedge data add)
    clash = sorted(set(params) & (columns | set(expr.FUNCTIONS) | {"true", "false"}))
    if clash:
        raise UsageError(f"{where}: parameter '{clash[0]}' has the name of a signal or function", "rename it")
    rules = []
    for i, r in enumerate(rules_raw, start=1):
        at = f"{where} rule {i}"
        bad = sorted(set(r) - RULE_KEYS)
        if bad:
            raise UsageError(f"{at}: unknown key '{bad[0]}'", f"a rule has: {', '.join(sorted(RULE_KEYS))}")
        is_default = r.get("default", False)
        if not isinstance(is_default, bool):
            raise UsageError(f"{at}: default must be true or false", "write default = true")
        if is_default == ("when" in r):
            raise UsageError(f'{at}: needs exactly one of when = "..." or default = true', "see examples/")
        if is_default and i != len(rules_raw):
            raise UsageError(f"{at}: the default rule must be the last", "move it to the end (later rules never fire)")
        when = None
        if not is_default:
            when = expr.compile_condition(r["when"], at, columns=columns, params=params, assets=assets, labels=labels)
        w = r.get("weights")
        if not isinstance(w, dict):
            raise UsageError(f"{at}: weights missing", 'write weights = { GLD = 0.5, SPY = "spy_weight" }')
        weights = {}
        for a, v in w.items():
            if a not in catalog.HOLDABLE and a not in own:
                hint = expr._suggest(a, set(catalog.HOLDABLE) | own)
                if a == declared.canonical_id(a):
                    hint += f'; a price of your own (hedge data add): list it in assets = ["{a}"]'
                raise UsageError(f"{at}: unknown asset '{a}' in weights", hint)
            weights[a] = expr.compile_weight(v, f"{at} weight of {a}", params=params)
        label = r.get("label", "default" if is_default else f"rule {i}")
        rules.append(Rule(i, when, weights, str(label)))
    fs = FileStrategy(Path(path), text, name, desc, params, rules)
    fs.weight_table({k: p.default for k, p in params.items()})  # the defaults must give valid weights
    return fs


def _own_assets(raw, where: str) -> frozenset[str]:
    """``assets = ["GDXJ", ...]``: prices of the user's own (``hedge data add``) the file trades or reads; each
    must be in the store when the strategy runs (the run says which one is missing)."""
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise UsageError(f"{where}: assets must be a list of price ids", 'write assets = ["GDXJ"]')
    out = set()
    for a in raw:
        sid = declared.canonical_id(a)
        if not declared.valid_id(a) or sid == "CASH":
            raise UsageError(f"{where}: asset {a!r} in assets is not a price id", "use the id of `hedge data add --id`")
        out.add(sid)
    return frozenset(out)


def _params(raw, where: str) -> dict[str, Param]:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: [params] is not a table", "write [params] then name = { default = ... }")
    out = {}
    for k, v in raw.items():
        at = f"{where} parameter {k}"
        if not PARAM_RE.match(k):
            raise UsageError(f"{at}: not a valid name", "use lowercase letters, digits and _ (start with a letter)")
        spec = v if isinstance(v, dict) else {"default": v}
        bad = sorted(set(spec) - PARAM_KEYS)
        if bad:
            raise UsageError(f"{at}: unknown key '{bad[0]}'", f"a parameter has: {', '.join(sorted(PARAM_KEYS))}")
        nums = {x: spec.get(x) for x in ("default", "min", "max") if spec.get(x) is not None}
        for x, n in nums.items():
            if isinstance(n, bool) or not isinstance(n, int | float) or not np.isfinite(n):
                raise UsageError(f"{at}: {x} {n!r} is not a number", f"give {x} = a number")
        if "default" not in nums:
            raise UsageError(f"{at}: no default", "write name = { default = 0.1, min = 0.0, max = 1.0 }")
        typ = int if all(isinstance(n, int) for n in nums.values()) else float
        p = Param(typ, typ(nums["default"]), spec.get("min"), spec.get("max"), help=str(spec.get("help", "")))
        if p.min is not None and p.max is not None and p.min > p.max:
            raise UsageError(f"{at}: min {p.min} is above max {p.max}", "swap them")
        p.parse(k, p.default)  # the default is inside its range
        out[k] = p
    return out


def file_of(strategy) -> FileStrategy | None:
    """The parsed file behind a strategy loaded from TOML (None for a Python strategy)."""
    fs = getattr(getattr(strategy, "fn", None), "__self__", None)
    return fs if isinstance(fs, FileStrategy) else None


def load_strategy(path: str | Path) -> Strategy:
    return load(path).strategy()


def is_experiment_file(path: Path) -> bool:
    """An experiment file (``hedge run``) in a strategies folder: no [[rule]], a strategy or [[run]]s."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return False  # load() reports it
    return "rule" not in doc and ("run" in doc or "strategy" in doc)


def load_dir(folder: str | Path) -> dict[str, Strategy]:
    """Every strategy ``*.toml`` in ``folder`` (sorted; experiment files are skipped): name -> Strategy.
    Two files with one name is an error."""
    out: dict[str, Strategy] = {}
    for p in sorted(Path(folder).glob("*.toml")):
        if is_experiment_file(p):
            continue
        s = load_strategy(p)
        if s.name in out:
            raise UsageError(
                f"strategy name {s.name!r} is declared by {out[s.name].source} and {p}", "give each file its own name"
            )
        out[s.name] = s
    return out


def _sweep_fn(sweep):
    """``FileStrategy.sweep`` as the strategy's ``sweep_fn``, telling the sweep that the assets held do not
    depend on the parameters (``factors.Form.assets_by``) and that it takes ``rows=`` as a Form does."""

    def fn(signals, plist, rows=None):
        return sweep(signals, plist, rows)

    fn.assets_by = ()
    fn.takes_rows = True
    return fn
