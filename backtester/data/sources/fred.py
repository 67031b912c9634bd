"""FRED: fredapi when ``FRED_API_KEY`` is set (GDP as ALFRED first releases), else the keyless CSV.

fredapi's own ``urlopen`` has no timeout and no retry, so the client below keeps fredapi's URL building
and XML parsing but sends every request through ``http.get`` (timeout, bounded retries, key masked).
Values stay in FRED's units (WALCL in USD millions, RRPONTSYD in USD billions, rates in percent).
"""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET

import pandas as pd

from ..catalog import SeriesSpec
from . import http

API_URL = "https://api.stlouisfed.org/fred"
GRAPH_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
FIRST_RELEASE = frozenset({"GDP"})  # FRED ids pulled as ALFRED first releases when a key is set
KEY_FIX = "check FRED_API_KEY (or unset it to use the keyless CSV download) and the series id"
SOURCE = "FRED"


def fetch(spec: SeriesSpec, since: pd.Timestamp | None, *, timeout: float, retries: int) -> pd.DataFrame:
    from ..credentials import fred_api_key

    key = (fred_api_key() or "").strip()  # $FRED_API_KEY, else the owner-only config file
    if not key:
        return _csv(spec, since, timeout, retries)
    client = _client(key, spec.id, timeout, retries)
    problem = None
    try:
        if spec.source_id in FIRST_RELEASE:
            return _first_release(client, spec)
        start = since.strftime("%Y-%m-%d") if since is not None else None
        s = client.get_series(spec.source_id, observation_start=start)
    except (ValueError, TypeError, KeyError) as exc:  # fredapi's float()/date parsing of a bad answer
        problem = " ".join(str(exc).split())[:120]
    if problem is not None:  # raised outside the except block: nothing chained
        raise http.malformed(SOURCE, spec.id, problem, (key,))
    return pd.DataFrame({"date": pd.to_datetime(pd.Index(s.index)), "value": s.astype("float64").values})


def _client(key: str, series: str, timeout: float, retries: int):
    from fredapi import Fred

    class _TimedFred(Fred):
        # fredapi calls self.__fetch_data(url) (name-mangled): the one place it touches the network
        def _Fred__fetch_data(self, url):
            resp = http.get(
                url, {"api_key": key}, timeout, retries,
                source=SOURCE, series=series, secrets=(key,), fix_4xx=KEY_FIX,
            )  # fmt: skip
            try:
                return ET.fromstring(resp.content)
            except ET.ParseError as exc:
                raise http.malformed(SOURCE, series, f"not XML ({exc})", (key,)) from None

    client = _TimedFred(api_key=key)
    client.root_url = os.environ.get("HEDGE_FRED_API_URL", API_URL).rstrip("/")
    return client


def _first_release(client, spec: SeriesSpec) -> pd.DataFrame:
    """One row per period: the first published value and its vintage date (``published_on``)."""
    allr = client.get_series_all_releases(spec.source_id)
    if allr.empty:
        return pd.DataFrame({"date": [], "value": [], "published_on": []})
    for col in ("date", "realtime_start", "value"):
        if col not in allr.columns:
            raise http.malformed(SOURCE, spec.id, f"ALFRED answer without {col!r}")
    df = pd.DataFrame(
        {
            "date": pd.to_datetime(allr["date"].values),
            "published_on": pd.to_datetime(allr["realtime_start"].values),
            # fredapi + pandas 3 turn a '.' (NaN) value into NaT when it transposes its frame
            "value": [float("nan") if pd.isna(v) else float(v) for v in allr["value"]],
        }
    )
    df = df[df["value"].notna()].sort_values(["date", "published_on"], kind="stable")
    return df.groupby("date", as_index=False).first()[["date", "value", "published_on"]]


def _csv(spec: SeriesSpec, since: pd.Timestamp | None, timeout: float, retries: int) -> pd.DataFrame:
    params = {"id": spec.source_id}
    if since is not None:
        params["cosd"] = since.strftime("%Y-%m-%d")
    url = os.environ.get("HEDGE_FREDGRAPH_URL", GRAPH_URL)
    resp = http.get(url, params, timeout, retries, source=SOURCE, series=spec.id)
    if resp.content.strip() and not resp.content.endswith(b"\n"):  # a body cut off by a dropped connection
        raise http.malformed(SOURCE, spec.id, "the CSV answer is cut off (no final newline)")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig", errors="replace"))))
    header = [h.strip() for h in rows[0]] if rows else []
    if len(header) != 2 or header[0].lower() not in ("observation_date", "date") or header[1] != spec.source_id:
        got = ",".join(header)[:60] or "an empty answer"
        raise http.malformed(SOURCE, spec.id, f"unexpected CSV header {got!r} (want observation_date,{spec.source_id})")
    body = [r for r in rows[1:] if r and any(x.strip() for x in r)]
    if any(len(r) != 2 for r in body):
        raise http.malformed(SOURCE, spec.id, "CSV row without exactly 2 fields")
    dates = http.to_dates([r[0].strip() for r in body], source=SOURCE, series=spec.id)
    values = http.to_numbers([r[1] for r in body], source=SOURCE, series=spec.id)
    return pd.DataFrame({"date": dates, "value": values})
