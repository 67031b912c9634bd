"""hedge sweep --sample N: a seeded subset of the grid, each row equal to the full sweep's row for the same
grid combination number."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backtester.errors import UsageError
from backtester.research.sweep import Combos, check_size, parse_grid
from backtester.strategy import get
from tests.conftest import run_cli

GRID = ["--grid", "floor=0.08:0.12:0.01", "--grid", "gold=0.3,0.5", "--grid", "btc=0.2,0.4,0.5"]  # 30


def test_sample_is_seeded_sorted_and_maps_to_grid_numbers():
    s = get("seed-thesis")
    g = parse_grid(["floor=0.08:0.12:0.01", "gold=0.3,0.5", "btc=0.2,0.4,0.5"], s)
    full = Combos(g, s.resolve({}))
    a, b = full.sample(10, seed=3), full.sample(10, seed=3)
    assert np.array_equal(a.index, b.index) and not np.array_equal(a.index, full.sample(10, seed=4).index)
    assert len(a) == 10 and np.all(np.diff(a.index) > 0)
    cols, fcols = a.columns(), full.columns()
    for i in range(10):
        n = a.number(i)
        assert a[i] == full[n]
        assert all(cols[k][i] == fcols[k][n] for k in g.names)
    assert len(full.sample(100)) == 30  # a sample larger than the grid is the grid
    assert check_size(g, 5, sample=5) == 5
    with pytest.raises(UsageError, match="sample 6 is more than the maximum 5"):
        check_size(g, 5, sample=6)
    with pytest.raises(UsageError, match="sample 0 is below 1"):
        check_size(g, 5, sample=0)


@pytest.mark.slow
def test_cli_sample_rows_equal_the_full_sweep(snapshot_store):
    base = ["sweep", "seed-thesis", *GRID, "--data-dir", str(snapshot_store.root), "--format", "json", "--top", "30"]
    code, out, err = run_cli(*base)
    assert code == 0, err
    full = {r["combination"]: r for r in json.loads(out)["top"]}
    code, out, err = run_cli(*base, "--sample", "12", "--seed", "5")
    assert code == 0, err
    d = json.loads(out)
    assert d["combinations"]["total"] == 12 and d["combinations"]["grid"] == 30
    assert d["combinations"]["sample"] == {"size": 12, "seed": 5}
    assert len(d["top"]) == 12
    for r in d["top"]:
        assert r == full[r["combination"]]  # same params, same metrics, bit for bit
