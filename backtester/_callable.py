"""``hb.report(run, dir)`` and ``hb.signals(store)`` are API functions whose names are also packages
(``backtester.report``, ``backtester.signals``): once a package is imported, Python sets it as the attribute
``backtester.report``, hiding the function. Those packages make themselves callable with this class, and a
call forwards to the API function of the same name (``backtester.api``, bound late by name: the packages
themselves do not depend on the API layer above them).
"""

from __future__ import annotations

import importlib
import types


class CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        api = importlib.import_module("backtester.api")
        return getattr(api, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Make the module ``module_name`` (already in ``sys.modules``) callable as its API function."""
    import sys

    sys.modules[module_name].__class__ = CallableModule
