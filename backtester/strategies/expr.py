"""The expression language of strategy files: parsed with ``ast`` against an allow-list, never ``eval``.

An expression is compiled once (:func:`compile_condition`, :func:`compile_weight`) into a tree of plain
Python closures; nothing from the text is ever executed. Allowed:

* numbers (finite), ``true`` / ``false``, names of signal columns and parameters, string constants only
  as an asset (``close("BTC-USD")``) or against a label column (``qt_state == "qt"``);
* ``and``, ``or``, ``not``; comparisons ``< <= > >= == !=`` (chained too); ``+ - * /`` and unary ``-``;
* the functions of :data:`FUNCTIONS` (windows ``n`` are whole numbers from constants or parameters).

Everything else -- attribute access, subscripts, calls of anything not in the list, lambdas,
comprehensions, ``**``, f-strings, walrus, starred arguments, keyword arguments -- is rejected before
anything is evaluated, as are texts longer than :data:`MAX_CHARS`, trees with more than
:data:`MAX_NODES` nodes or deeper than :data:`MAX_DEPTH`.

Values are evaluated on whole columns (numpy float arrays on the signal rows; NaN = unknown).
Truth values are 1.0 / 0.0 / NaN (unknown) with Kleene's three-valued logic: a comparison with an
unknown value is unknown, ``not unknown`` is unknown, ``false and unknown`` is false, ``true or
unknown`` is true. A number used as a condition is true when non-zero. Arithmetic that is not finite
(``x / 0``) is unknown.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import UsageError
from ..signals import prices as px

MAX_CHARS = 1000
MAX_NODES = 300
MAX_DEPTH = 40
MAX_WINDOW = 10_000

# name -> (args, kind): kinds of the arguments: "x" a value, "n" a window (whole number), "a" an asset
FUNCTIONS: dict[str, tuple[str, ...] | str] = {
    "lag": ("x", "n0"),
    "mean": ("x", "n"),
    "change": ("x", "n"),
    "pct_change": ("x", "n"),
    "crossed_above": ("x", "x"),
    "crossed_below": ("x", "x"),
    "days_since": ("x",),
    "between": ("x", "x", "x"),
    "min": "x+",
    "max": "x+",
    "abs": ("x",),
    "close": ("a",),
    "sma": ("a", "n"),
    "ret": ("a", "n"),
    "vol": ("a", "n2"),
    "drawdown": ("a",),
}
# functions computed along the rows (a parameter inside them cannot be an array of thresholds)
ALONG_TIME = frozenset({"lag", "mean", "change", "pct_change", "crossed_above", "crossed_below", "days_since", "sma",
                        "ret", "vol", "drawdown"})  # fmt: skip
_CMP = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
_ARITH = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.BinOp,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Compare, *_CMP, ast.Call, ast.Name, ast.Load, ast.Constant,
)  # fmt: skip


class Context:
    """What an expression is evaluated on: the signal rows, their columns (cached) and parameters."""

    def __init__(self, signals: pd.DataFrame, params: dict, cache: dict | None = None):
        self.signals = signals
        self.index = signals.index
        self.n = len(signals)
        self.params = params
        self.cache = {} if cache is None else cache  # column name -> array (shared across parameter sets)

    def column(self, name: str) -> np.ndarray:
        got = self.cache.get(name)
        if got is None:
            if name not in self.signals.columns:
                got = np.full(self.n, np.nan)
            else:
                s = self.signals[name]
                if s.dtype == object or pd.api.types.is_string_dtype(s):
                    got = s.to_numpy(object)
                else:
                    got = pd.to_numeric(s, errors="coerce").to_numpy(float)
            self.cache[name] = got
        return got


Fn = Callable[[Context], object]


@dataclass
class Expr:
    text: str
    fn: Fn
    params: tuple[str, ...] = ()  # parameters it reads (sorted)
    columns: tuple[str, ...] = ()  # signal columns it reads, in order of appearance (px:<ASSET> included)
    assets: tuple[str, ...] = ()  # assets whose prices it reads
    # parameters may be arrays (every threshold set at once, broadcasting against the rows): False when a
    # parameter feeds a function along time (a window, a lag, a crossing), which needs one value at a time
    vector: bool = True

    def __call__(self, ctx: Context):
        return self.fn(ctx)


@dataclass
class _Scope:
    where: str
    columns: frozenset[str]
    labels: frozenset[str]
    params: frozenset[str]
    assets: frozenset[str]
    scalar_only: bool
    used_params: set = field(default_factory=set)
    used_columns: dict = field(default_factory=dict)  # in order of appearance
    used_assets: set = field(default_factory=set)
    along_time: bool = False  # a parameter feeds a function along the rows (see Expr.vector)

    def fail(self, what: str, fix: str, node: ast.AST | None = None) -> UsageError:
        at = f" (column {node.col_offset + 1})" if node is not None and hasattr(node, "col_offset") else ""
        return UsageError(f"{self.where}: {what}{at}", fix)


def _suggest(name: str, options) -> str:
    near = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    if near:
        return f"did you mean {near[0]}?"
    return "names are signal columns (see `hedge signals`), parameters, true and false"


# ---------------------------------------------------------------- parsing with the allow-list
def _parse(text: str, scope: _Scope) -> ast.AST:
    if not isinstance(text, str):
        raise scope.fail("the expression is not a string", 'write it in quotes, e.g. when = "qt_ended"')
    if len(text) > MAX_CHARS:
        raise scope.fail(f"expression is {len(text)} characters long", f"keep it under {MAX_CHARS}")
    if "\x00" in text:
        raise scope.fail("expression contains a NUL character", "remove it")
    try:
        tree = ast.parse(" ".join(text.split()), mode="eval")  # one line: multi-line TOML strings
    except SyntaxError as e:
        col = f" (column {e.offset})" if e.offset else ""
        raise UsageError(f"{scope.where}: invalid expression: {e.msg}{col}", "fix the expression's syntax") from None
    except (RecursionError, MemoryError, ValueError):
        raise scope.fail("expression is nested too deeply", f"keep it under {MAX_DEPTH} levels") from None
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise scope.fail(f"expression has more than {MAX_NODES} parts", "split it into simpler rules")
        if depth > MAX_DEPTH:
            raise scope.fail("expression is nested too deeply", f"keep it under {MAX_DEPTH} levels")
        if not isinstance(node, _ALLOWED):
            raise scope.fail(f"{_describe(node)} is not allowed", _ALLOWED_HINT, node)
        stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node))
    return tree.body


_ALLOWED_HINT = "use names, numbers, comparisons, and/or/not, + - * / and the functions listed in the README"


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "lambda",
        ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a comprehension", ast.Pow: "the ** operator", ast.JoinedStr: "an f-string",
        ast.NamedExpr: "the := operator", ast.Starred: "a starred argument", ast.IfExp: "an if-expression",
    }  # fmt: skip
    for t, d in names.items():
        if isinstance(node, t):
            return d
    return f"'{type(node).__name__}'"


# ---------------------------------------------------------------- three-valued helpers
def _known(a) -> np.ndarray:
    return ~np.isnan(a)


def _truth(v, ctx: Context) -> np.ndarray:
    """A value as a condition: 1.0 / 0.0 / NaN on every row (rows last: an array of thresholds broadcasts)."""
    a = np.asarray(v, dtype=float)
    a = np.broadcast_to(a, (ctx.n,)) if a.ndim == 0 else a
    return np.where(np.isnan(a), np.nan, (a != 0).astype(float))


def _kleene(vals: list[np.ndarray], decisive: float) -> np.ndarray:
    """``and`` (decisive 0: any false is false) / ``or`` (decisive 1: any true is true); else unknown if any
    is unknown; else the other value."""
    shape = np.broadcast_shapes(*(v.shape for v in vals))
    hit = np.zeros(shape, bool)
    unk = np.zeros(shape, bool)
    for v in vals:
        hit |= v == decisive
        unk |= np.isnan(v)
    return np.where(hit, decisive, np.where(unk, np.nan, 1.0 - decisive))


def _and(vals: list[np.ndarray]) -> np.ndarray:
    return _kleene(vals, 0.0)


def _or(vals: list[np.ndarray]) -> np.ndarray:
    return _kleene(vals, 1.0)


def _num(v, ctx: Context) -> np.ndarray:
    return np.broadcast_to(np.asarray(v, dtype=float), (ctx.n,)) if np.ndim(v) == 0 else v


def _finite(a):
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, np.nan) if a.ndim else (float(a) if np.isfinite(a) else np.nan)


def _number(v):
    """A parameter's value as a float, or, for a sweep's array of its values (a weight evaluated for every
    combination at once, ``factors.Form``), as a float array: the same arithmetic element by element."""
    return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)


def _shift(a: np.ndarray, n: int) -> np.ndarray:
    out = np.full(a.shape, np.nan)
    if n == 0:
        return a.copy()
    if n < len(a):
        out[n:] = a[:-n]
    return out


# ---------------------------------------------------------------- compiling
def _compile(node: ast.AST, sc: _Scope) -> tuple[Fn, str]:
    """-> (function of the context, kind): kind is 'num' (numbers/truths), 'str' (a string constant) or
    'label' (a text column)."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str):
            return (lambda ctx, v=v: v), "str"
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise sc.fail(f"constant {v!r} is not allowed", "use numbers, true and false", node)
        try:
            f = float(v)
        except OverflowError:
            f = float("inf")
        if not np.isfinite(f) or abs(f) > 1e15:
            raise sc.fail(f"number {str(v)[:20]} is too large", "use numbers below 1e15", node)
        return (lambda ctx, f=f: f), "num"
    if isinstance(node, ast.Name):
        return _name(node, sc)
    if isinstance(node, ast.UnaryOp):
        f, k = _value(node.operand, sc)
        if isinstance(node.op, ast.Not):
            if sc.scalar_only:
                raise sc.fail("'not' is not allowed in a weight", "a weight is a number or parameter arithmetic", node)
            return (lambda ctx: 1.0 - _truth(f(ctx), ctx)), "num"
        if isinstance(node.op, ast.USub):
            return (lambda ctx: np.negative(np.asarray(f(ctx), dtype=float))), "num"
        return f, "num"
    if isinstance(node, ast.BinOp):
        op = _ARITH.get(type(node.op))
        if op is None:
            raise sc.fail(f"{_describe(node.op)} is not allowed", _ALLOWED_HINT, node)
        fa, _ = _value(node.left, sc)
        fb, _ = _value(node.right, sc)

        def arith(ctx, fa=fa, fb=fb, op=op):
            with np.errstate(all="ignore"):
                return _finite(op(np.asarray(fa(ctx), dtype=float), np.asarray(fb(ctx), dtype=float)))

        return arith, "num"
    if sc.scalar_only:
        raise sc.fail(
            f"{_describe(node)} is not allowed in a weight", "a weight is a number or parameter arithmetic", node
        )
    if isinstance(node, ast.BoolOp):
        parts = [_value(v, sc)[0] for v in node.values]
        comb = _and if isinstance(node.op, ast.And) else _or
        return (lambda ctx: comb([_truth(p(ctx), ctx) for p in parts])), "num"
    if isinstance(node, ast.Compare):
        return _compare(node, sc), "num"
    if isinstance(node, ast.Call):
        return _call(node, sc), "num"
    raise sc.fail(f"{_describe(node)} is not allowed", _ALLOWED_HINT, node)


def _value(node, sc) -> tuple[Fn, str]:
    f, k = _compile(node, sc)
    if k == "str":
        raise sc.fail("a string is only allowed as an asset or compared with a label", _ALLOWED_HINT, node)
    if k == "label":
        raise sc.fail("a label column is only allowed in == or != with a string", 'e.g. qt_state == "qt"', node)
    return f, k


def _name(node: ast.Name, sc: _Scope) -> tuple[Fn, str]:
    n = node.id
    if n in ("true", "false"):
        v = 1.0 if n == "true" else 0.0
        return (lambda ctx: v), "num"
    if n in sc.params:
        sc.used_params.add(n)
        return (lambda ctx: _number(ctx.params[n])), "num"
    if sc.scalar_only:
        raise sc.fail(f"unknown parameter '{n}'", _suggest(n, sc.params) if sc.params else "declare it in [params]")
    if n in sc.columns:
        sc.used_columns.setdefault(n)
        return (lambda ctx: ctx.column(n)), ("label" if n in sc.labels else "num")
    if n in FUNCTIONS:
        raise sc.fail(f"'{n}' is a function", f"call it: {n}(...)", node)
    raise sc.fail(f"unknown name '{n}'", _suggest(n, sc.columns | sc.params))


def _compare(node: ast.Compare, sc: _Scope) -> Fn:
    items = [node.left, *node.comparators]
    compiled = [_compile(x, sc) for x in items]
    links = []
    for i, op in enumerate(node.ops):
        (fa, ka), (fb, kb) = compiled[i], compiled[i + 1]
        cmp = _CMP.get(type(op))
        if cmp is None:
            raise sc.fail(f"'{type(op).__name__}' is not allowed", "use < <= > >= == !=", node)
        texty = {ka, kb} & {"str", "label"}
        if texty:
            if not (isinstance(op, ast.Eq | ast.NotEq) and {ka, kb} <= {"str", "label"} and "label" in (ka, kb)):
                raise sc.fail("a label column compares only with == or != to a string", 'e.g. qt_state == "qt"', node)
            links.append(_label_cmp(fa, fb, isinstance(op, ast.Eq)))
        else:
            links.append(_num_cmp(fa, fb, cmp))
    if len(links) == 1:
        return links[0]
    return lambda ctx: _and([f(ctx) for f in links])


def _num_cmp(fa, fb, cmp) -> Fn:
    def f(ctx):
        a, b = _num(fa(ctx), ctx), _num(fb(ctx), ctx)
        with np.errstate(invalid="ignore"):
            r = cmp(a, b).astype(float)
        return np.where(np.isnan(a) | np.isnan(b), np.nan, r)

    return f


def _label_cmp(fa, fb, eq: bool) -> Fn:
    def f(ctx):
        a, b = fa(ctx), fb(ctx)
        col = a if not isinstance(a, str) else b
        s = b if isinstance(b, str) else a
        unk = pd.isna(col)
        hit = np.asarray(col == s, dtype=bool)
        r = (hit if eq else ~hit).astype(float)
        return np.where(unk, np.nan, r)

    return f


def _window(node, sc: _Scope, lo: int, fname: str) -> Fn:
    f, k = _value(node, sc)
    if not all(n in sc.params for n in _names(node)):
        raise sc.fail(f"the window of {fname}() must be a number or parameters", f"e.g. {fname}(x, 20)", node)

    def n_of(ctx):
        v = float(np.asarray(f(ctx), dtype=float))
        if not np.isfinite(v) or v != int(v) or not (lo <= v <= MAX_WINDOW):
            raise UsageError(
                f"{sc.where}: the window of {fname}() is {v:g}",
                f"give a whole number between {lo} and {MAX_WINDOW}",
            )
        return int(v)

    return n_of


def _names(node) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _asset(node, sc: _Scope, fname: str) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        a = node.value
    elif isinstance(node, ast.Name):
        a = node.id
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):  # BTC-USD written bare
        parts = []
        cur = node
        while isinstance(cur, ast.BinOp) and isinstance(cur.op, ast.Sub) and isinstance(cur.right, ast.Name):
            parts.append(cur.right.id)
            cur = cur.left
        if not isinstance(cur, ast.Name):
            raise sc.fail(f"{fname}() takes an asset such as GLD or BTC-USD", f"e.g. {fname}(GLD)", node)
        a = "-".join([cur.id, *reversed(parts)])
    else:
        raise sc.fail(f"{fname}() takes an asset such as GLD or BTC-USD", f"e.g. {fname}(GLD)", node)
    if a not in sc.assets:
        hint = _suggest(a, sc.assets) if sc.assets else "no asset has prices"
        if a.isupper() and not hint.startswith("did you mean"):
            hint = f'a price of your own (hedge data add): list it in assets = ["{a}"] at the top of the file'
        raise sc.fail(f"unknown asset '{a}' in {fname}()", hint)
    sc.used_assets.add(a)
    sc.used_columns.setdefault(px.column(a))
    return a


def _call(node: ast.Call, sc: _Scope) -> Fn:
    if not isinstance(node.func, ast.Name):
        raise sc.fail("only the listed functions can be called", _ALLOWED_HINT, node)
    name = node.func.id
    if name in ALONG_TIME and set(_names(node)) & sc.params:
        sc.along_time = True
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise sc.fail(f"unknown function '{name}'", _suggest(name, FUNCTIONS), node)
    if node.keywords:
        raise sc.fail(f"{name}() takes no keyword arguments", f"write {name}(...) with plain arguments", node)
    args = node.args
    if spec == "x+":
        if not args:
            raise sc.fail(f"{name}() needs at least one argument", f"e.g. {name}(x, y)", node)
        fs = [_value(a, sc)[0] for a in args]
        red = np.fmax if name == "max" else np.fmin

        def minmax(ctx):
            vals = [_num(f(ctx), ctx) for f in fs]
            out = vals[0]
            unk = np.isnan(out)
            for v in vals[1:]:
                out = red(out, v)
                unk = unk | np.isnan(v)
            return np.where(unk, np.nan, out)

        return minmax
    if len(args) != len(spec):
        raise sc.fail(f"{name}() takes {len(spec)} argument{'s' if len(spec) > 1 else ''}, got {len(args)}",
                      f"see the README for {name}()", node)  # fmt: skip
    if spec[0] == "a":
        asset = _asset(args[0], sc, name)
        colname = px.column(asset)
        n_of = _window(args[1], sc, 2 if spec[1:] == ("n2",) else 1, name) if len(spec) > 1 else None

        def price(ctx):
            s = pd.Series(ctx.column(colname), index=ctx.index)
            if name == "close":
                return s.to_numpy(float)
            if name == "drawdown":
                return px.drawdown(s).to_numpy(float)
            return getattr(px, name)(s, n_of(ctx)).to_numpy(float)

        return price
    if name in ("lag", "mean", "change", "pct_change"):
        fx, _ = _value(args[0], sc)
        n_of = _window(args[1], sc, 0 if name == "lag" else 1, name)

        def windowed(ctx):
            x = _num(fx(ctx), ctx).astype(float)
            n = n_of(ctx)
            if name == "lag":
                return _shift(x, n)
            if name == "mean":
                return pd.Series(x).rolling(n, min_periods=n).mean().to_numpy(float)
            with np.errstate(all="ignore"):
                return _finite(x - _shift(x, n) if name == "change" else x / _shift(x, n) - 1.0)

        return windowed
    if name in ("crossed_above", "crossed_below"):
        fx, _ = _value(args[0], sc)
        fy, _ = _value(args[1], sc)
        now, before = (np.greater, np.less_equal) if name == "crossed_above" else (np.less, np.greater_equal)
        c_now, c_before = _num_cmp(fx, fy, now), _num_cmp(fx, fy, before)
        return lambda ctx: _and([c_now(ctx), _shift(c_before(ctx), 1)])
    if name == "days_since":
        fc, _ = _value(args[0], sc)

        def days_since(ctx):
            hit = _truth(fc(ctx), ctx) == 1
            days = ctx.index.to_numpy("datetime64[ns]") if ctx.n else np.array([], "datetime64[ns]")
            last = pd.Series(np.where(hit, days, np.datetime64("NaT")), dtype="datetime64[ns]").ffill()
            return ((days - last.to_numpy("datetime64[ns]")) / np.timedelta64(1, "D")).astype(float)

        return days_since
    if name == "between":
        fx, fl, fh = (_value(a, sc)[0] for a in args)
        lo, hi = _num_cmp(fl, fx, np.less_equal), _num_cmp(fx, fh, np.less_equal)
        return lambda ctx: _and([lo(ctx), hi(ctx)])
    if name == "abs":
        fx, _ = _value(args[0], sc)
        return lambda ctx: np.abs(np.asarray(fx(ctx), dtype=float))
    raise sc.fail(f"unknown function '{name}'", _ALLOWED_HINT, node)  # pragma: no cover


# ---------------------------------------------------------------- public entry points
def compile_condition(
    text: str,
    where: str,
    *,
    columns,
    params,
    assets,
    labels=(),
) -> Expr:
    """A rule's condition -> :class:`Expr` whose value is a 1.0/0.0/NaN array on the signal rows."""
    sc = _Scope(where, frozenset(columns), frozenset(labels), frozenset(params), frozenset(assets), False)
    tree = _parse(text, sc)
    f, _ = _value(tree, sc)

    def cond(ctx, f=f):
        return _truth(f(ctx), ctx)

    return Expr(
        text,
        cond,
        tuple(sorted(sc.used_params)),
        tuple(sc.used_columns),
        tuple(sorted(sc.used_assets)),
        vector=not sc.along_time,
    )


def compile_weight(text, where: str, *, params) -> Expr:
    """A weight: a number, a parameter name or arithmetic of them -> :class:`Expr` giving a float."""
    if isinstance(text, bool):
        raise UsageError(f"{where}: weight {text!r} is not a number", "give a number or a parameter name")
    if isinstance(text, int | float):
        v = float(text)
        if not np.isfinite(v):
            raise UsageError(f"{where}: weight {text!r} is not finite", "give a number between 0 and 1")
        return Expr(str(text), lambda ctx, v=v: v)
    sc = _Scope(where, frozenset(), frozenset(), frozenset(params), frozenset(), True)
    tree = _parse(text, sc)
    f, _ = _value(tree, sc)
    return Expr(text, lambda ctx, f=f: _number(f(ctx)), tuple(sorted(sc.used_params)))
