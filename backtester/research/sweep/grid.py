"""Parameter grids: ``--grid name=v1,v2,...`` or ``--grid name=start:stop:step`` -> validated value lists.

A range includes ``stop`` when it falls on the grid (``0:0.5:0.05`` is 11 values, 0 to 0.5); float
values are rounded to 10 decimals so ``0.1 + 2 * 0.1`` is the float ``0.3`` that ``--param x=0.3``
gives. Every value is parsed and range-checked by the strategy's own :class:`~backtester.strategy.Param`,
so a grid value is exactly what ``hedge backtest --param`` would use. All checks happen before any
work: an unknown name, an empty range, a bad value, a name given twice (or also as ``--param``), or
more combinations than the maximum are usage errors (exit 2).

:class:`Combos` is the lazy product (the last grid name varies fastest): ``combos[i]`` is the full,
resolved parameter dict of combination ``i`` (fixed ``--param`` values and defaults included).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import UsageError

DEFAULT_MAX_COMBINATIONS = 200_000
MAX_COMBINATIONS_LIMIT = 1_000_000  # --max-combinations of an in-memory evaluation (walk-forward, the API)
# `hedge sweep` (chunks on disk): above LEAN_ROWS (evaluation.py) only the metric, sr_period and status of
# each combination stay in memory (17 bytes), the rows shown are read back from the chunk files
SWEEP_COMBINATIONS_LIMIT = 10_000_000
MAX_RANGE_VALUES = 100_000
ROUND = 10


@dataclass(frozen=True)
class Grid:
    names: tuple[str, ...]
    values: tuple[tuple, ...]  # parsed values per name, in the order given

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.values) if self.names else 0

    def as_dict(self) -> dict[str, list]:
        return {n: list(v) for n, v in zip(self.names, self.values, strict=True)}


def _num(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a number", "write grid name=start:stop:step", param="grid") from None
    if not math.isfinite(v):
        raise UsageError(f"{what} {text!r} is not finite", "write grid name=start:stop:step", param="grid")
    return v


def _range(name: str, text: str, is_int: bool) -> list:
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"grid {name}={text}: a range is start:stop:step", f"e.g. {name}=0:0.5:0.05", param="grid")
    start, stop, step = (
        _num(p.strip(), f"grid {name}: {w}") for p, w in zip(parts, ("start", "stop", "step"), strict=True)
    )
    if step <= 0:
        raise UsageError(f"grid {name}={text}: step must be > 0", "give a positive step; start <= stop", param="grid")
    if start > stop:
        raise UsageError(f"grid {name}={text} is an empty range (start > stop)", "give start <= stop", param="grid")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RANGE_VALUES:
        raise UsageError(f"grid {name}={text} has {count:,} values", "use a larger step", param="grid")
    if is_int and all(float(x).is_integer() for x in (start, stop, step)):
        return [int(start) + i * int(step) for i in range(count)]
    return [round(start + i * step, ROUND) for i in range(count)]


def parse_grid(items: list[str] | None, strategy, fixed: dict | None = None) -> Grid:
    """``["name=v1,v2", "name=a:b:s"]`` -> a :class:`Grid` of parsed values (UsageError on any problem)."""
    names: list[str] = []
    values: list[tuple] = []
    fixed = {k.lower() for k in (fixed or {})}
    for item in items or []:
        if "=" not in item:
            raise UsageError(
                f"grid {item!r} is not name=values", "write name=v1,v2 or name=start:stop:step", param="grid"
            )
        name, text = (s.strip() for s in item.split("=", 1))
        name = name.lower()
        if name not in strategy.params:
            raise UsageError(
                f"unknown parameter {name!r} for strategy {strategy.name}",
                f"its parameters are: {', '.join(strategy.params) or 'none'}",
            )
        if name in names:
            raise UsageError(f"grid {name} is given twice", "give each parameter once", param="grid")
        if name in fixed:
            raise UsageError(
                f"{name} is both swept (grid) and fixed (params)", "drop one of them", param=("grid", "params")
            )
        p = strategy.params[name]
        if not text:
            raise UsageError(f"grid {name}= has no values", f"e.g. {name}=v1,v2 or start:stop:step", param="grid")
        if ":" in text and p.type is not str:
            raw = _range(name, text, p.type is int)
        else:
            raw = [v.strip() for v in text.split(",")]
            if any(v == "" for v in raw):
                raise UsageError(
                    f"grid {name}={text} has an empty value", "separate values with single commas", param="grid"
                )
        parsed = [p.parse(name, v) for v in raw]
        parsed = list(dict.fromkeys(parsed))  # duplicates would only be evaluated twice
        names.append(name)
        values.append(tuple(parsed))
    if not names:
        raise UsageError(
            f"no grid for strategy {strategy.name}",
            f"sweep at least one of its parameters: {', '.join(strategy.params) or 'none'}",
            param="grid",
        )
    return Grid(tuple(names), tuple(values))


def check_size(
    grid: Grid, max_combinations: int, sample: int | None = None, limit: int = MAX_COMBINATIONS_LIMIT
) -> int:
    """The number of combinations to evaluate (``sample`` of them when given), at most ``max_combinations``
    (itself at most ``limit``: ``SWEEP_COMBINATIONS_LIMIT`` for a sweep with its chunks on disk)."""
    if max_combinations < 1:
        raise UsageError(
            f"max_combinations {max_combinations} is below 1", "give a positive maximum", param="max_combinations"
        )
    if max_combinations > limit:
        raise UsageError(
            f"max_combinations {max_combinations:,} is above the limit {limit:,}",
            "sweep a coarser grid, or split it into several sweeps",
            param="max_combinations",
        )
    if sample is not None:
        if sample < 1:
            raise UsageError(f"sample {sample} is below 1", "evaluate at least one combination", param="sample")
        if sample > max_combinations:
            raise UsageError(
                f"sample {sample:,} is more than the maximum {max_combinations:,}",
                "raise max_combinations",
                param=("sample", "max_combinations"),
            )
        return min(sample, grid.size)
    n = grid.size
    if n > max_combinations:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in zip(grid.names, grid.values, strict=True))
        raise UsageError(
            f"the grid has {n:,} combinations ({sizes}), more than the maximum {max_combinations:,}",
            "use coarser steps or raise max_combinations",
            param="max_combinations",
        )
    return n


class Combos(Sequence):
    """The grid's combinations as full parameter dicts, generated on demand (no list of dicts is kept)."""

    def __init__(self, grid: Grid, base: dict):
        self.grid = grid
        self.base = dict(base)  # resolved defaults + fixed params
        self._sizes = [len(v) for v in grid.values]
        self._n = grid.size

    def __len__(self) -> int:
        return self._n

    def indices(self, i: int) -> list[int]:
        out = []
        for s in reversed(self._sizes):
            i, r = divmod(i, s)
            out.append(r)
        return out[::-1]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        p = dict(self.base)
        for name, vals, j in zip(self.grid.names, self.grid.values, self.indices(i), strict=True):
            p[name] = vals[j]
        return p

    def __iter__(self):
        for combo in itertools.product(*self.grid.values):
            p = dict(self.base)
            p.update(zip(self.grid.names, combo, strict=True))
            yield p

    def columns(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One array per grid name: the value of that parameter in each combination (of ``rows`` only)."""
        if rows is not None:
            return _columns(self.grid, np.array(np.unravel_index(np.asarray(rows, dtype=np.int64), self._sizes)))
        idx = np.indices(self._sizes).reshape(len(self._sizes), -1) if self._sizes else np.zeros((0, 0), int)
        return _columns(self.grid, idx)

    def number(self, i: int) -> int:
        """The combination number (in the whole grid) of row ``i``."""
        return int(i)

    def sample(self, n: int, seed: int = 0) -> Sample:
        """A seeded random subset of ``n`` combinations (in grid order; all of them if n >= len)."""
        if n >= self._n:
            return Sample(self, np.arange(self._n, dtype=np.int64))
        rng = np.random.default_rng(seed)
        return Sample(self, np.sort(rng.choice(self._n, size=n, replace=False)).astype(np.int64))


def _columns(grid: Grid, idx: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for k, (name, vals) in enumerate(zip(grid.names, grid.values, strict=True)):
        arr = np.array(vals, dtype=object if isinstance(vals[0], str) else None)
        out[name] = arr[idx[k]]
    return out


class Sample(Sequence):
    """Some combinations of a grid (``--sample N``): row i is combination ``index[i]`` of the whole grid."""

    def __init__(self, combos: Combos, index: np.ndarray):
        self.combos = combos
        self.grid = combos.grid
        self.base = combos.base
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.combos[int(j)] for j in self.index[i]]
        return self.combos[int(self.index[i])]

    def __iter__(self):
        for j in self.index:
            yield self.combos[int(j)]

    def number(self, i: int) -> int:
        return int(self.index[i])

    def columns(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        sizes = [len(v) for v in self.grid.values]
        index = self.index if rows is None else self.index[np.asarray(rows, dtype=np.int64)]
        return _columns(self.grid, np.array(np.unravel_index(index, sizes)))
