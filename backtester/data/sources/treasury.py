"""Treasury Fiscal Data API: the Daily Treasury Statement TGA closing balance, USD millions.

Endpoint ``{HEDGE_TREASURY_URL}/{spec.source_id}`` (``.../v1/accounting/dts/operating_cash_balance``),
rows with ``account_type`` "Treasury General Account (TGA) Closing Balance" (the DTS layout since
October 2021; earlier statements used other account types and are not spliced in here). On those rows
``close_today_bal`` is null and the day's closing balance sits in ``open_today_bal`` (the statement's
"today" column); both are in millions of dollars. Paginated with ``page[number]``/``page[size]``.
"""

from __future__ import annotations

import os

import pandas as pd

from ..catalog import SeriesSpec
from . import http

BASE_URL = "https://api.fiscaldata.treasury.gov/services/api/fiscal_service/v1/accounting/dts"
ACCOUNT = "Treasury General Account (TGA) Closing Balance"
PAGE_SIZE = 10000  # the API's maximum
MAX_PAGES = 200
SOURCE = "Treasury Fiscal Data"


def fetch(spec: SeriesSpec, since: pd.Timestamp | None, *, timeout: float, retries: int) -> pd.DataFrame:
    url = f"{os.environ.get('HEDGE_TREASURY_URL', BASE_URL).rstrip('/')}/{spec.source_id}"
    filt = f"account_type:eq:{ACCOUNT}"
    if since is not None:
        filt += f",record_date:gte:{since:%Y-%m-%d}"
    rows: list[dict] = []
    page, pages = 1, 1
    while page <= pages:
        params = {
            "fields": "record_date,account_type,open_today_bal,close_today_bal",
            "filter": filt,
            "sort": "record_date",
            "page[number]": page,
            "page[size]": PAGE_SIZE,
        }
        doc = http.get_json(url, params, timeout, retries, source=SOURCE, series=spec.id)
        try:
            data, pages = doc["data"], int(doc["meta"]["total-pages"])
        except (KeyError, TypeError, ValueError):
            raise http.malformed(SOURCE, spec.id, "no data/meta.total-pages in the answer") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise http.malformed(SOURCE, spec.id, "data is not a list of records")
        rows += data
        if pages > MAX_PAGES:
            raise http.malformed(SOURCE, spec.id, f"{pages} pages (more than {MAX_PAGES})")
        page += 1
    rows = [r for r in rows if r.get("account_type") == ACCOUNT]  # in case the filter was ignored
    if any("record_date" not in r or ("open_today_bal" not in r and "close_today_bal" not in r) for r in rows):
        raise http.malformed(SOURCE, spec.id, "a record without record_date or a balance field")
    close = http.to_numbers([r.get("close_today_bal") for r in rows], source=SOURCE, series=spec.id)
    today = http.to_numbers([r.get("open_today_bal") for r in rows], source=SOURCE, series=spec.id)
    dates = http.to_dates([r["record_date"] for r in rows], source=SOURCE, series=spec.id)
    value = pd.Series(close).fillna(pd.Series(today)).values
    return pd.DataFrame({"date": dates, "value": value})
