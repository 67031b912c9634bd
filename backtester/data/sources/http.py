"""One HTTP GET for every online source: a timeout on every call, bounded retries, one-line DataErrors.

Retried (exponential backoff ``BACKOFF_S * 2**k``, honouring a short ``Retry-After``): connection
errors, timeouts, HTTP 5xx and 429. Never retried: other 4xx. Secrets (API keys) are masked in every
message, exception and log line -- including urllib3's debug log of request URLs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable

import requests

from ...errors import DataError

log = logging.getLogger("backtester.data.sources")

BACKOFF_S = 0.5  # first retry delay; doubles after each failed attempt
MAX_RETRY_AFTER_S = 30.0
sleep = time.sleep  # tests replace it
USER_AGENT = "liquidity-hedge/0.1 (+backtester)"
OFFLINE_FIX = "check the network, or work offline with `hedge data import DIR`"
MALFORMED_FIX = "retry later; if it persists the source changed its format: work offline with `hedge data import DIR`"

_KEY_IN_URL = re.compile(r"(api_key=)[^&\s'\"]+", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def mask(text: object, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret and every ``api_key=...`` query value replaced by ``***``."""
    out = str(text)
    for s in secrets:
        if s:
            out = out.replace(s, "***")
    return _KEY_IN_URL.sub(r"\1***", out)


class _MaskFilter(logging.Filter):
    """Masks ``api_key=...`` in urllib3's request log lines (they carry the full URL with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "api_key=" in msg.lower():
            record.msg, record.args = mask(msg), ()
        return True


def _install_log_mask() -> None:
    lg = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _MaskFilter) for f in lg.filters):
        lg.addFilter(_MaskFilter())


_install_log_mask()


def malformed(source: str, series: str, detail: str, secrets: Iterable[str] = ()) -> DataError:
    return DataError(mask(f"malformed answer from {source} for {series}: {detail}", secrets), MALFORMED_FIX)


def _reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return f"connection timed out after {timeout:g}s"
    if isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower():
        return f"no answer within {timeout:g}s"
    m = _ERRNO.search(str(exc))
    if m:
        return m.group(1).strip().rstrip(".")
    if "Name or service not known" in str(exc) or "getaddrinfo" in str(exc):
        return "host name not resolved"
    return f"connection failed ({type(exc).__name__})"


def _error_detail(resp: requests.Response) -> str:
    """A short message from an error body (FRED XML/JSON ``message``, Fiscal Data ``error``), if any."""
    text = resp.text[:2000] if resp.content else ""
    m = re.search(r'message="([^"]{1,200})"', text) or re.search(
        r'"(?:error_message|message|error)"\s*:\s*"([^"]{1,200})"', text
    )
    return " ".join(m.group(1).split()) if m else ""


def _retry_delay(attempt: int, resp: requests.Response | None) -> float:
    delay = BACKOFF_S * (2**attempt)
    if resp is not None and resp.status_code == 429:
        try:
            delay = max(delay, min(float(resp.headers.get("Retry-After", "")), MAX_RETRY_AFTER_S))
        except ValueError:
            pass
    return delay


def get(
    url: str,
    params: dict | None = None,
    timeout: float = 20,
    retries: int = 3,
    *,
    source: str,
    series: str,
    secrets: Iterable[str] = (),
    fix_4xx: str | None = None,
) -> requests.Response:
    """GET ``url`` (at most ``1 + retries`` attempts, each with ``timeout`` seconds); return the 2xx answer.

    Raises DataError ``cannot reach <source> for <series>: <reason>`` once retries are exhausted, or
    ``<source> refused the request for <series>: HTTP <code>`` on a 4xx (no retry).
    """
    secrets = tuple(s for s in secrets if s)
    attempts = 1 + max(0, int(retries))
    reason = "no attempt made"
    for attempt in range(attempts):
        resp, fatal = None, False
        try:
            resp = requests.get(url, params=params, timeout=timeout, headers={"User-Agent": USER_AGENT})
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            reason = _reason(exc, timeout)
        except requests.RequestException as exc:  # invalid URL, schema, ...: not worth a retry
            reason, fatal = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}", True
        else:
            code = resp.status_code
            if code < 400:
                return resp
            detail = _error_detail(resp)
            reason = f"HTTP {code} {resp.reason or ''}".strip() + (f": {detail}" if detail else "")
            if code < 500 and code != 429:
                raise DataError(
                    mask(f"{source} refused the request for {series}: {reason}", secrets),
                    fix_4xx or f"check the series id ({series}) and the {source} URL setting",
                )
        if fatal:  # raised outside the except block: no chained exception carries the URL and its key
            raise DataError(
                mask(f"cannot query {source} for {series}: {reason}", secrets),
                f"check the {source} URL setting (HEDGE_*_URL environment variables)",
            )
        if attempt + 1 < attempts:
            delay = _retry_delay(attempt, resp)
            log.info(
                "%s for %s: %s; retry %d/%d in %.1fs",
                source,
                series,
                mask(reason, secrets),
                attempt + 1,
                attempts - 1,
                delay,
            )
            sleep(delay)
    tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
    raise DataError(mask(f"cannot reach {source} for {series}: {reason} ({tries})", secrets), OFFLINE_FIX)


def get_json(url: str, params: dict | None = None, timeout: float = 20, retries: int = 3, **kw):
    """``get`` and decode JSON; a non-JSON answer raises the malformed DataError."""
    resp = get(url, params, timeout, retries, **kw)
    try:
        return resp.json()
    except ValueError:
        raise malformed(kw["source"], kw["series"], "not JSON", kw.get("secrets", ())) from None


# -- checking answers: every parse problem becomes the malformed DataError naming the series --------

_MISSING = frozenset({"", ".", "null", "none", "nan", "n/a", "na"})


def to_numbers(values, *, source: str, series: str, what: str = "value"):
    """Floats from strings/numbers; FRED's ``.``, ``null``, empty and None are NaN; anything else raises."""
    import numpy as np

    out = np.empty(len(values), dtype="float64")
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and v.strip().lower() in _MISSING):
            out[i] = np.nan
            continue
        if isinstance(v, bool):
            raise malformed(source, series, f"non-numeric {what} {v!r}")
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise malformed(source, series, f"non-numeric {what} {str(v)[:40]!r}") from None
        if not np.isfinite(out[i]):
            raise malformed(source, series, f"non-finite {what} {str(v)[:40]!r}")
    return out


def to_dates(values, *, source: str, series: str, fmt: str | None = "%Y-%m-%d"):
    """A DatetimeIndex (ns, tz-naive) from date strings; a bad date raises the malformed DataError."""
    import pandas as pd

    try:
        idx = pd.DatetimeIndex(pd.to_datetime(pd.Index(list(values), dtype="object"), format=fmt))
    except (TypeError, ValueError) as exc:
        raise malformed(source, series, f"bad date ({' '.join(str(exc).split())[:80]})") from None
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx.astype("datetime64[ns]")
