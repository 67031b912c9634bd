"""Constants shared by every layer, defined once (a core leaf module: it imports nothing).

* ``CASH``: the name of the cash position (the FRED ``DFF`` overnight index), never a price column.
* ``PERIODS``: trading sessions per year, for annualising (Sharpe, CAGR, volatility).
* ``VOL_WINDOW``: daily returns behind the volatility estimate of ``vol_target`` (engine step 2).
* ``REBALANCE``: the names of the rebalancing rules (engine step 5).
* ``GOLDS``: the gold a run may hold (``GLD``, or the LBMA fixing as a labelled proxy).
* ``ESSAY_DATE``: 2025-10-14, Powell's remark / the essay: later data is out of sample.
"""

from __future__ import annotations

CASH = "CASH"
PERIODS = 252
VOL_WINDOW = 60
REBALANCE: tuple[str, ...] = ("change", "monthly", "weekly", "band")
GOLDS: tuple[str, ...] = ("GLD", "LBMA_GOLD")
ESSAY_DATE = "2025-10-14"
