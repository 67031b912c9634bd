"""First and second run of `hedge backtest seed-thesis` on the snapshot (numba cache cold, then warm).

Usage: .venv/bin/python bench/backtest.py [SNAPSHOT_DIR]
The first run starts with an empty NUMBA_CACHE_DIR (vectorbt's kernels compile); the second reuses it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEDGE = [str(Path(sys.executable).parent / "hedge")]


def timed(args, env) -> float:
    t = time.perf_counter()
    subprocess.run(HEDGE + args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    snap = sys.argv[1] if len(sys.argv) > 1 else str(REPO.parent / "shared" / "data")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HEDGE_DATA_DIR": f"{tmp}/store", "HEDGE_REPORTS_DIR": f"{tmp}/reports",
               "NUMBA_CACHE_DIR": f"{tmp}/numba"}
        timed(["data", "import", snap], env)
        args = ["backtest", "seed-thesis", "--format", "json"]
        first = timed(args, env)
        second = timed(args, env)
        third = timed(args, env)
    print(f"hedge backtest bench: CPython {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  hedge backtest seed-thesis  first run (empty numba cache) {first:.2f} s")
    print(f"  hedge backtest seed-thesis  second run (cached kernels)   {second:.2f} s")
    print(f"  hedge backtest seed-thesis  third run                     {third:.2f} s")


if __name__ == "__main__":
    main()
