"""Target weights of many parameter sets at once, in factor form (no per-combination weight frames).

For combination ``c``, the target weight of asset ``i`` on signal row ``t`` is::

    sum_k features[pattern[c], k, t] * loadings[c, k, i]

``features`` holds a few series per *pattern* (the part of the parameters that shapes the signal
conditions, e.g. seed-thesis's thresholds); ``loadings`` the per-combination weights of each series.
A regime strategy (weights ``on`` where a condition holds, ``off`` elsewhere) has features
``[cond, 1 - cond]`` and loadings ``[on, off]``: ``1 * on + 0 * off`` is ``on`` exactly, so the kernel
sees the very floats ``Strategy.fn`` gives. A linear strategy (reserve-scarcity: weights affine in a
depth series) has features ``[1, depth]``; its weights then agree with ``fn`` to the last bit or two.

A strategy opts in with ``Strategy.sweep_fn(signals, params_list) -> Factors``. The built-ins and strategy
files give a :class:`Form` (features and loadings written once, for one parameter set or, broadcasting, for a
whole grid: over a sweep's lazy product :func:`from_grid` builds the patterns, features and loadings with
array operations, no Python object per combination; over a list, :func:`from_features` calls them per
dict); a strategy given only its factor form gets its plain weight function from it
(:func:`weight_function`: each strategy is written once); without it, :func:`per_combination` calls
``Strategy.weights`` once per combination (correct for any strategy, but slow and memory-hungry: the sweep
then evaluates in chunks).
Features must be finite (NaN means "unknown" upstream and is 0 here, as ``Strategy.weights`` fills it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Factors:
    assets: list[str]  # asset columns (GLD naming, as the strategy writes them); CASH is never one
    features: np.ndarray  # (P, K, T) float64 on the signal rows
    pattern: np.ndarray  # (C,) int64: the feature set of each combination
    loadings: np.ndarray  # (C, K, n) float64
    # the features are those of a Factors already (take / rows / rename / restrict): finite, not re-checked
    # (a sweep takes one chunk of combinations at a time from the same features)
    finite: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self):
        f = np.asarray(self.features, dtype=np.float64)
        if not self.finite and not np.isfinite(f).all():  # (nan_to_num would copy even a clean array)
            f = np.nan_to_num(f)
        self.features = np.ascontiguousarray(f)
        self.pattern = np.ascontiguousarray(np.asarray(self.pattern, dtype=np.int64))
        self.loadings = np.ascontiguousarray(np.asarray(self.loadings, dtype=np.float64))
        P, K, _ = self.features.shape
        C = self.pattern.shape[0]
        if self.loadings.shape != (C, K, len(self.assets)):
            raise ValueError(f"loadings shape {self.loadings.shape} != {(C, K, len(self.assets))}")
        if C and (self.pattern.min() < 0 or self.pattern.max() >= P):
            raise ValueError("pattern index out of range")

    def dense(self, c: int, index=None) -> pd.DataFrame:
        """The weight frame of combination ``c`` (rows x assets), for checks against ``Strategy.weights``."""
        w = np.einsum("kt,ki->ti", self.features[self.pattern[c]], self.loadings[c])
        return pd.DataFrame(w, index=index, columns=self.assets)

    def take(self, lo: int, hi: int) -> Factors:
        return Factors(self.assets, self.features, self.pattern[lo:hi], self.loadings[lo:hi], finite=True)

    def rows(self, positions) -> Factors:
        """The features on the signal rows at ``positions`` (features computed on a longer history)."""
        f = self.features[:, :, np.asarray(positions, dtype=np.int64)]
        return Factors(self.assets, f, self.pattern, self.loadings, finite=True)

    def rename(self, mapping: dict[str, str]) -> Factors:
        """Rename assets, adding loadings that land on the same name (``--gold LBMA_GOLD``)."""
        names = list(dict.fromkeys(mapping.get(a, a) for a in self.assets))
        out = np.zeros(self.loadings.shape[:2] + (len(names),))
        for i, a in enumerate(self.assets):
            out[:, :, names.index(mapping.get(a, a))] += self.loadings[:, :, i]
        return Factors(names, self.features, self.pattern, out, finite=True)

    def restrict(self, assets: Sequence[str]) -> Factors:
        """Loadings on ``assets`` in that order (an asset the factors do not name gets 0; others are dropped)."""
        out = np.zeros(self.loadings.shape[:2] + (len(assets),))
        for j, a in enumerate(assets):
            if a in self.assets:
                out[:, :, j] = self.loadings[:, :, self.assets.index(a)]
        return Factors(list(assets), self.features, self.pattern, out, finite=True)


def regime(cond: pd.Series | np.ndarray) -> list[np.ndarray]:
    """Features of a two-state strategy: ``[cond, not cond]`` (unknown counts as false), as booleans that
    become the floats 1.0 / 0.0 in :class:`Factors`; ``cond`` may be an array of any shape (one row per
    threshold set, see :class:`Form`)."""
    if isinstance(cond, pd.Series):
        cond = cond.fillna(False).to_numpy()
    c = np.asarray(cond, dtype=bool)
    return [c, ~c]


def from_features(
    index: pd.Index,
    params_list: Iterable[dict],
    *,
    key: Callable[[dict], Hashable],
    features: Callable[[dict], list],
    loadings: Callable[[dict], list[dict[str, float]]],
) -> Factors:
    """Build :class:`Factors`: ``features(p)`` (K series on ``index``) is computed once per distinct
    ``key(p)``; ``loadings(p)`` gives K dicts asset -> weight (an asset not named has 0; CASH is ignored)."""
    pats: dict[Hashable, int] = {}
    feats: list[np.ndarray] = []
    rows: list[list[dict[str, float]]] = []
    pattern: list[int] = []
    assets: dict[str, None] = {}
    T = len(index)
    for p in params_list:
        k = key(p)
        j = pats.get(k)
        if j is None:
            f = [np.asarray(pd.Series(x, index=index) if np.ndim(x) == 0 else x, dtype=np.float64) for x in features(p)]
            if any(a.shape != (T,) for a in f):
                raise ValueError("each feature must have one value per signal row")
            j = pats[k] = len(feats)
            feats.append(np.vstack(f))
        pattern.append(j)
        ld = loadings(p)
        rows.append(ld)
        for d in ld:
            for a in d:
                if a != "CASH":
                    assets.setdefault(a)
    names = list(assets)
    K = feats[0].shape[0] if feats else 1
    if any(f.shape[0] != K for f in feats) or any(len(r) != K for r in rows):
        raise ValueError("every pattern needs the same number of features and loadings")
    col = {a: i for i, a in enumerate(names)}
    load = np.zeros((len(rows), K, len(names)))
    for c, ld in enumerate(rows):
        for k, d in enumerate(ld):
            for a, v in d.items():
                if a != "CASH":
                    load[c, k, col[a]] = v
    feat = np.stack(feats) if feats else np.zeros((0, K, T))
    return Factors(names, feat, np.array(pattern, dtype=np.int64), load)


@dataclass(frozen=True)
class Form:
    """A strategy's weights in factor form, written once for one parameter set and for a whole grid.

    ``shape`` names the parameters the features depend on (the pattern key); ``features(signals, p)`` gives K
    values (scalars or arrays on the signal rows) and ``loadings(p)`` K dicts asset -> weight (CASH ignored).
    Called with a list of parameter dicts (a backtest, ``Strategy.fn``) it is :func:`from_features`, once per
    dict. Called with a grid's lazy product (``research.sweep.grid.Combos`` / ``Sample``: ``.grid``, ``.base``)
    it is :func:`from_grid`: no Python object per combination.

    * ``vector_features``: ``features`` also accepts each swept ``shape`` parameter as an array of all its
      values, shaped to broadcast against the others and the rows (``floor`` (n1, 1, 1, 1), ``spread_bp``
      (1, n2, 1, 1), ...; numpy comparisons such as ``x < p["floor"]`` then give every threshold set at once);
      otherwise it is called once per distinct threshold set.
    * ``vector_loadings``: ``loadings`` also accepts each swept number as a (C,) array over combinations
      (string parameters stay scalars: it is called once per distinct set of them); the assets it names may
      then depend on string parameters only. Otherwise the whole grid goes through :func:`from_features`.
    * ``assets_by``: the parameters ``Strategy.assets`` reads (None: any), so the sweep lists the assets held
      once per distinct set of them rather than once per combination.
    """

    shape: tuple[str, ...]
    features: Callable[[pd.DataFrame, dict], list]
    loadings: Callable[[dict], list[dict]]
    vector_features: bool = True
    vector_loadings: bool = True
    assets_by: tuple[str, ...] | None = None
    takes_rows = True  # __call__ takes rows= (a plain sweep_fn may say so with the same attribute)

    def __call__(self, signals: pd.DataFrame, params_list, rows=None) -> Factors:
        """``rows``: keep the features on these signal rows only (``Factors.rows``; features that look back,
        such as a moving average, still see every row of ``signals``)."""
        if getattr(params_list, "grid", None) is not None and hasattr(params_list, "base"):
            return from_grid(signals, params_list, self, rows)
        f = self.per_dict(signals, params_list)
        return f if rows is None else f.rows(rows)

    def per_dict(self, signals: pd.DataFrame, params_list) -> Factors:
        return from_features(
            signals.index,
            params_list,
            key=lambda p: tuple(p[k] for k in self.shape),
            features=lambda p: self.features(signals, p),
            loadings=self.loadings,
        )


def grid_numbers(combos) -> np.ndarray:
    """(C,) int64: the grid number of each row of a ``Combos`` (0 .. C-1) or a ``Sample`` (its ``index``)."""
    idx = getattr(combos, "index", None)
    if isinstance(idx, np.ndarray):
        return idx.astype(np.int64, copy=False)
    return np.arange(len(combos), dtype=np.int64)


def first_seen(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct codes in order of first appearance, each row's rank among them): the numbering a dict
    filled row by row gives, in array operations."""
    uniq, first = np.unique(codes, return_index=True)
    order = uniq[np.argsort(first, kind="stable")]
    rank = np.empty(size, dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return order, rank[codes]


def from_grid(signals: pd.DataFrame, combos, form: Form, rows=None) -> Factors:
    """:class:`Factors` of every combination of a grid's lazy product, equal (bit for bit: same patterns in
    the same order, same features, same loadings, same assets in the same order) to ``form.per_dict(signals,
    list(combos))``, built with array operations: the pattern of a combination is a mixed-radix number of
    its ``shape`` parameters' value indices, the features of all patterns come from one broadcast call (or one
    call per pattern), the loadings from arithmetic on (C,) parameter arrays. ``rows``: as ``Factors.rows``
    (only those rows of the features are stored)."""
    grid, base = combos.grid, combos.base
    names, values = list(grid.names), list(grid.values)
    texts = {n for n, v in zip(names, values, strict=True) if isinstance(v[0], str)}
    swept = [k for k, n in enumerate(names) if n in form.shape]
    if not form.vector_loadings or any(names[k] in texts for k in swept):
        f = form.per_dict(signals, combos)
        return f if rows is None else f.rows(rows)
    sizes = [len(v) for v in values]
    after = [math.prod(sizes[k + 1 :]) for k in range(len(sizes))]
    numbers = grid_numbers(combos)

    def digits(k: int) -> np.ndarray:  # each row's value index of grid name k
        return (numbers // after[k]) % sizes[k]

    T = len(signals)
    # patterns: the mixed-radix number of the shape parameters' indices (last grid name fastest), renumbered
    # in order of first appearance
    code = np.zeros(len(numbers), dtype=np.int64)
    for k in swept:
        code = code * sizes[k] + digits(k)
    full = [sizes[k] for k in swept]
    order, pattern = first_seen(code, math.prod(full))
    rows = np.arange(T) if rows is None else np.asarray(rows, dtype=np.int64)
    feats = _grid_features(signals, form, base, [names[k] for k in swept], [values[k] for k in swept], order, rows)
    # loadings: once per distinct set of the swept strings, on (C,) arrays of the swept numbers
    K = feats.shape[1]
    strs = [k for k in range(len(names)) if names[k] in texts]
    gcode = np.zeros(len(numbers), dtype=np.int64)
    for k in strs:
        gcode = gcode * sizes[k] + digits(k)
    gsize = math.prod(sizes[k] for k in strs)
    groups, grank = first_seen(gcode, gsize)
    one = len(groups) == 1
    assets: dict[str, None] = {}
    parts = []
    for g, gc in enumerate(groups):
        sel = slice(None) if one else np.flatnonzero(grank == g)  # the group's combinations
        p = dict(base)
        rest = int(gc)
        for k in reversed(strs):
            rest, j = divmod(rest, sizes[k])
            p[names[k]] = values[k][j]
        for k in range(len(names)):
            if names[k] not in texts:
                p[names[k]] = np.asarray(values[k])[digits(k)[sel]]
        ld = form.loadings(p)
        if len(ld) != K:
            raise ValueError("every pattern needs the same number of features and loadings")
        for d in ld:
            for a in d:
                if a != "CASH":
                    assets.setdefault(a)
        parts.append((sel, ld))
    col = {a: i for i, a in enumerate(assets)}
    load = np.zeros((len(numbers), K, len(col)))
    for sel, ld in parts:
        for k, d in enumerate(ld):
            for a, v in d.items():
                if a != "CASH":
                    load[sel, k, col[a]] = v
    return Factors(list(assets), feats, pattern, load)


def _grid_features(signals, form: Form, base: dict, names: list, values: list, order: np.ndarray, rows):
    """(len(order), K, len(rows)): the features of the patterns ``order`` (mixed-radix codes over ``names``)
    on the signal rows ``rows``."""
    sizes = [len(v) for v in values]
    T = len(signals)
    every = len(rows) == T and bool(np.array_equal(rows, np.arange(T)))
    if form.vector_features:
        p = dict(base)
        for j, (n, v) in enumerate(zip(names, values, strict=True)):
            shape = [1] * (len(names) + 1)
            shape[j] = len(v)
            p[n] = np.asarray(v).reshape(shape)
        f = form.features(signals, p)
        out = np.empty((*sizes, len(f), len(rows)))
        for k, x in enumerate(f):
            x = np.asarray(x)  # booleans are cast to 1.0 / 0.0 as they are stored
            if x.ndim and x.shape[-1] not in (1, T):
                raise ValueError("each feature must have one value per signal row")
            out[..., k, :] = x if x.ndim == 0 or x.shape[-1] == 1 or every else x[..., rows]
        out = out.reshape(math.prod(sizes), len(f), len(rows))
        return out if np.array_equal(order, np.arange(len(out))) else out[order]
    feats = []
    for c in order:
        p = dict(base)
        rest = int(c)
        for j in reversed(range(len(names))):
            rest, i = divmod(rest, sizes[j])
            p[names[j]] = values[j][i]
        f = [np.asarray(pd.Series(x, index=signals.index) if np.ndim(x) == 0 else x, dtype=np.float64)
             for x in form.features(signals, p)]  # fmt: skip
        if any(a.shape != (T,) for a in f):
            raise ValueError("each feature must have one value per signal row")
        feats.append(np.vstack(f) if every else np.vstack(f)[:, rows])
    return np.stack(feats)


def per_combination(strategy, signals: pd.DataFrame, params_list: Sequence[dict]) -> Factors:
    """The generic path: ``Strategy.weights`` per combination (features = the weight columns)."""
    frames = [strategy.weights(signals, p) for p in params_list]
    names = list(dict.fromkeys(c for f in frames for c in f.columns if c != "CASH"))
    n = len(names)
    feats = np.zeros((len(frames), n, len(signals)))
    for c, f in enumerate(frames):
        for i, a in enumerate(names):
            if a in f.columns:
                feats[c, i] = f[a].to_numpy(float)
    load = np.broadcast_to(np.eye(n), (len(frames), n, n)).copy()
    return Factors(names, feats, np.arange(len(frames)), load)


def weight_function(sweep_fn: Callable) -> Callable[[pd.DataFrame, dict], pd.DataFrame]:
    """The plain weight function of a strategy written in factor form: ``fn(signals, params)`` = the dense
    weights of the one combination ``params`` (a regime strategy's weights are then the very floats of its
    loadings: ``1 * on + 0 * off``)."""

    def fn(signals: pd.DataFrame, params: dict) -> pd.DataFrame:
        return sweep_fn(signals, [params]).dense(0, index=signals.index)

    return fn


def for_strategy(strategy, signals: pd.DataFrame, params_list: Sequence[dict]) -> Factors:
    """The strategy's own ``sweep_fn`` when it has one, else :func:`per_combination`."""
    fn = getattr(strategy, "sweep_fn", None)
    if fn is None:
        return per_combination(strategy, signals, params_list)
    return fn(signals, params_list)
