"""liquidity-hedge: Fed-liquidity signals -> gold/bitcoin allocation rules -> backtests -> tearsheets.

Data flows one way: data -> signals -> strategies (target weights) -> engine/run -> research -> report -> CLI.
The public Python API (``import backtester as hb``; see :mod:`backtester.api` and the README's "Use it from
Python") is loaded lazily: ``import backtester`` imports neither pandas nor vectorbt.
"""

__version__ = "0.1.0"

__all__ = [
    "open_store", "backtest", "save", "report", "signals", "sweep", "walkforward", "events", "thesis",
    "Strategy", "Param", "ExecOptions", "RunSpec", "Run", "UsageError", "DataError", "HedgeError",
    "SweepOutcome", "WalkForwardOutcome", "EventsOutcome", "ThesisOutcome",
]  # fmt: skip

_HOMES = {
    "Strategy": "strategy", "Param": "strategy", "ExecOptions": "engine", "RunSpec": "run", "Run": "run",
    "UsageError": "errors", "DataError": "errors", "HedgeError": "errors",
}  # fmt: skip


_CALLABLE_PACKAGES = ("signals", "report")  # packages that are also API functions (see backtester._callable)


def __getattr__(name):
    if name in __all__:
        import importlib

        if name in _CALLABLE_PACKAGES:  # `from . import signals` must get the package: it is callable too
            return importlib.import_module(f"{__name__}.{name}")
        mod = importlib.import_module(f"{__name__}.{_HOMES.get(name, 'api')}")
        return getattr(mod, name)
    raise AttributeError(f"module 'backtester' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
