"""liquidity-hedge: Fed-liquidity signals -> gold/bitcoin allocation rules -> backtests -> tearsheets.

Data flows one way: data -> signals -> strategies (target weights) -> engine -> report.
Heavy libraries (vectorbt, quantstats, plotly) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
