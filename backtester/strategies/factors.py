"""Target weights of many parameter sets at once, in factor form (no per-combination weight frames).

For combination ``c``, the target weight of asset ``i`` on signal row ``t`` is::

    sum_k features[pattern[c], k, t] * loadings[c, k, i]

``features`` holds a few series per *pattern* (the part of the parameters that shapes the signal
conditions, e.g. seed-thesis's thresholds); ``loadings`` the per-combination weights of each series.
A regime strategy (weights ``on`` where a condition holds, ``off`` elsewhere) has features
``[cond, 1 - cond]`` and loadings ``[on, off]``: ``1 * on + 0 * off`` is ``on`` exactly, so the kernel
sees the very floats ``Strategy.fn`` gives. A linear strategy (reserve-scarcity: weights affine in a
depth series) has features ``[1, depth]``; its weights then agree with ``fn`` to the last bit or two.

A strategy opts in with ``Strategy.sweep_fn(signals, params_list) -> Factors`` (the built-ins use
:func:`from_features`); a strategy given only its factor form gets its plain weight function from it
(:func:`weight_function`: each strategy is written once); without it, :func:`per_combination` calls
``Strategy.weights`` once per combination (correct for any strategy, but slow and memory-hungry: the sweep
then evaluates in chunks).
Features must be finite (NaN means "unknown" upstream and is 0 here, as ``Strategy.weights`` fills it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Factors:
    assets: list[str]  # asset columns (GLD naming, as the strategy writes them); CASH is never one
    features: np.ndarray  # (P, K, T) float64 on the signal rows
    pattern: np.ndarray  # (C,) int64: the feature set of each combination
    loadings: np.ndarray  # (C, K, n) float64

    def __post_init__(self):
        self.features = np.ascontiguousarray(np.nan_to_num(np.asarray(self.features, dtype=np.float64)))
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
        return Factors(self.assets, self.features, self.pattern[lo:hi], self.loadings[lo:hi])

    def rows(self, positions) -> Factors:
        """The features on the signal rows at ``positions`` (features computed on a longer history)."""
        return Factors(
            self.assets, self.features[:, :, np.asarray(positions, dtype=np.int64)], self.pattern, self.loadings
        )

    def rename(self, mapping: dict[str, str]) -> Factors:
        """Rename assets, adding loadings that land on the same name (``--gold LBMA_GOLD``)."""
        names = list(dict.fromkeys(mapping.get(a, a) for a in self.assets))
        out = np.zeros(self.loadings.shape[:2] + (len(names),))
        for i, a in enumerate(self.assets):
            out[:, :, names.index(mapping.get(a, a))] += self.loadings[:, :, i]
        return Factors(names, self.features, self.pattern, out)

    def restrict(self, assets: Sequence[str]) -> Factors:
        """Loadings on ``assets`` in that order (an asset the factors do not name gets 0; others are dropped)."""
        out = np.zeros(self.loadings.shape[:2] + (len(assets),))
        for j, a in enumerate(assets):
            if a in self.assets:
                out[:, :, j] = self.loadings[:, :, self.assets.index(a)]
        return Factors(list(assets), self.features, self.pattern, out)


def regime(cond: pd.Series | np.ndarray) -> list[np.ndarray]:
    """Features of a two-state strategy: ``[cond, not cond]`` as floats (unknown counts as false)."""
    c = np.asarray(pd.Series(cond).fillna(False).to_numpy(), dtype=bool).astype(np.float64)
    return [c, 1.0 - c]


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
