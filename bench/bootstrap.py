"""Speed of the stationary block bootstrap of the Sharpe difference (hedge significance, run.json).

Prints seconds for 2,000 replications over 3,000 days (target: under 2 s on the CI machine).
Run: python bench/bootstrap.py
"""

from __future__ import annotations

import time

import numpy as np

from backtester.bootstrap import sharpe_difference_test


def main() -> None:
    rng = np.random.default_rng(6)
    s = rng.normal(0.0004, 0.01, 3000)
    b = rng.normal(0.0002, 0.01, 3000)
    c = np.full(3000, 0.0001)
    sharpe_difference_test(s, b, c, n_boot=50)  # warm-up
    t0 = time.perf_counter()
    sharpe_difference_test(s, b, c, n_boot=2000)
    print(f"bootstrap, 2000 replications x 3000 days: {time.perf_counter() - t0:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
