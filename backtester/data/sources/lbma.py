"""LBMA gold price JSON feed (``{HEDGE_LBMA_URL}/{spec.source_id}.json``, e.g. ``gold_pm``).

The feed is a list of ``{"d": "YYYY-MM-DD", "v": [usd, gbp, eur]}``; the USD leg goes to ``close``
(a zero or null USD leg means no fixing that day). A fixing has no dividends or splits, so
``adj_close`` repeats ``close``; ``open, high, low, volume`` do not exist (NaN).
"""

from __future__ import annotations

import os

import pandas as pd

from ..catalog import SeriesSpec
from . import http

BASE_URL = "https://prices.lbma.org.uk/json"
SOURCE = "LBMA"


def fetch(spec: SeriesSpec, since: pd.Timestamp | None, *, timeout: float, retries: int) -> pd.DataFrame:
    url = f"{os.environ.get('HEDGE_LBMA_URL', BASE_URL).rstrip('/')}/{spec.source_id}.json"
    doc = http.get_json(url, None, timeout, retries, source=SOURCE, series=spec.id)
    ok = isinstance(doc, list) and all(
        isinstance(r, dict) and "d" in r and isinstance(r.get("v"), list) and r["v"] for r in doc
    )
    if not ok:
        raise http.malformed(SOURCE, spec.id, 'expected a list of {"d": date, "v": [usd, gbp, eur]}')
    usd = http.to_numbers([r["v"][0] for r in doc], source=SOURCE, series=spec.id, what="USD price")
    usd[usd <= 0] = float("nan")
    close = pd.Series(usd)
    return pd.DataFrame(
        {
            "date": http.to_dates([r["d"] for r in doc], source=SOURCE, series=spec.id),
            "close": close.values,
            "adj_close": close.values,
        }
    )
