"""Constants shared by every layer, defined once (a core leaf module: it imports nothing).

* ``CASH``: the name of the cash position (the FRED ``DFF`` overnight index), never a price column.
* ``PERIODS``: trading sessions per year, for annualising (Sharpe, CAGR, volatility).
* ``VOL_WINDOW``: daily returns behind the volatility estimate of ``vol_target`` (engine step 2).
* ``REBALANCE``: the names of the rebalancing rules (engine step 5); ``DEFAULT_REBALANCE`` the default.
* ``GOLDS``: the gold a run may hold (``GLD``, or the LBMA fixing as a labelled proxy).
* ``ESSAY_DATE``: 2025-10-14, Powell's remark / the essay: later data is out of sample.
"""

from __future__ import annotations

CASH = "CASH"
PERIODS = 252
VOL_WINDOW = 60
# the kernel's mode codes are the positions here (research.sweep.inputs.MODES, kernel.CHANGE ..): append only
REBALANCE: tuple[str, ...] = ("change", "monthly", "weekly", "band", "change+monthly")
DEFAULT_REBALANCE = "change+monthly"  # on a target change and at the first session of each month
GOLDS: tuple[str, ...] = ("GLD", "LBMA_GOLD")
ESSAY_DATE = "2025-10-14"
