"""JSON-plain values: the one conversion for the CLI's json, run.json and manifests."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any


def plain(obj: Any) -> Any:
    """Make an object json-plain: numbers as floats/ints (NaN -> null), dates ISO, numpy scalars unwrapped."""
    import numpy as np
    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if obj is None or obj is pd.NaT:
        return None
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not math.isfinite(f) else f
    if isinstance(obj, pd.Timestamp | _dt.datetime):
        return None if pd.isna(obj) else obj.strftime("%Y-%m-%d")
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    if isinstance(obj, np.datetime64):
        return None if np.isnat(obj) else str(obj)[:10]
    return obj
