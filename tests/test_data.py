"""Data layer on the real snapshot: availability rules, point-in-time access, store, CLI, bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtester.data import availability, catalog, validate
from backtester.data.importer import import_snapshot
from backtester.data.pit import as_known_on
from backtester.data.store import Store
from backtester.errors import DataError
from tests.conftest import run_cli


def known(store, sid, day):
    spec = catalog.get(sid)
    col = "value" if spec.kind == "macro" else "close"
    return as_known_on(store.read(sid), [day], spec.staleness_days, column=col).iloc[0]


# ---------------------------------------------------------------- availability on the real snapshot
def test_walcl_wednesday_is_available_friday(snapshot_store):
    r19 = known(snapshot_store, "WALCL", "2019-09-19")
    r20 = known(snapshot_store, "WALCL", "2019-09-20")
    assert r19["observation_date"] == pd.Timestamp("2019-09-11")
    assert r20["observation_date"] == pd.Timestamp("2019-09-18")
    assert r20["available_on"] == pd.Timestamp("2019-09-20")


def test_h41_holiday_week_shifts(snapshot_store):
    # Thanksgiving 2024-11-28 (Thursday): the H.4.1 for Wednesday 11-27 came out Friday 11-29
    w = snapshot_store.read("WALCL").set_index("date")
    assert w.loc["2024-11-27", "published_on"] == pd.Timestamp("2024-11-29")
    assert w.loc["2024-11-27", "available_on"] == pd.Timestamp("2024-12-02")


def test_sofr_spike_known_next_day(snapshot_store):
    on17 = known(snapshot_store, "SOFR", "2019-09-17")
    on18 = known(snapshot_store, "SOFR", "2019-09-18")
    assert on17["observation_date"] == pd.Timestamp("2019-09-16") and on17["value"] == 2.43
    assert on18["observation_date"] == pd.Timestamp("2019-09-17") and on18["value"] == 5.25


def test_gdp_first_release_timing(snapshot_store):
    q2 = known(snapshot_store, "GDP", "2025-07-15")
    assert q2["observation_date"] < pd.Timestamp("2025-04-01")  # Q2-2025 not out yet mid-July
    for day in pd.bdate_range("2025-11-01", "2025-11-30"):
        r = known(snapshot_store, "GDP", day)
        assert r["observation_date"] <= pd.Timestamp("2025-04-01"), day  # Q3-2025 delayed by the shutdown
        assert np.isfinite(r["value"]), "GDP must stay usable through a delayed release"


def test_btc_bar_available_next_session(snapshot_store):
    b = snapshot_store.read("BTC-USD").set_index("date")
    assert b.loc["2024-03-07", "available_on"] == pd.Timestamp("2024-03-08")  # Thursday bar -> Friday
    assert b.loc["2024-03-08", "available_on"] == pd.Timestamp("2024-03-11")  # Friday bar -> Monday
    assert b.loc["2024-03-10", "available_on"] == pd.Timestamp("2024-03-11")  # Sunday bar -> Monday
    g = snapshot_store.read("GLD").set_index("date")
    assert g.loc["2024-03-08", "available_on"] == pd.Timestamp("2024-03-08")  # the decision close itself


def test_rrp_empty_rows_are_zero_before_program(snapshot_store):
    r = snapshot_store.read("RRPONTSYD").set_index("date")["value"]
    assert r.loc["2003-02-10"] == 0.0 and r.loc["2010-06-01"] == 0.0
    assert "2014-12-25" not in r.index.strftime("%Y-%m-%d")  # later holidays stay missing, not zero
    assert known(snapshot_store, "RRPONTSYD", "2008-06-02")["value"] == 0.0


def test_staleness_returns_missing(snapshot_store):
    r = known(snapshot_store, "WTREGEN", "2026-03-02")  # WTREGEN ends 2025-11-19 in the snapshot
    assert np.isnan(r["value"]) and r["observation_date"] == pd.Timestamp("2025-11-19")
    assert np.isfinite(known(snapshot_store, "WTREGEN", "2025-11-25")["value"])


def test_available_on_never_before_observation(snapshot_store):
    for sid in snapshot_store.ids():
        f = snapshot_store.read(sid)
        assert (f["available_on"] >= f["date"]).all(), sid
        assert (f["published_on"] >= f["date"]).all(), sid
        assert f["available_on"].is_monotonic_increasing, sid


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cutting_data_never_changes_the_past(snapshot_store, seed):
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2004-01-01", "2026-08-19")
    for sid in ["WALCL", "WRESBAL", "SOFR", "GDP", "RRPONTSYD", "BTC-USD", "GLD", "DTWEXBGS", "M2SL"]:
        spec = catalog.get(sid)
        full = snapshot_store.read(sid)
        col = "value" if spec.kind == "macro" else "close"
        whole = as_known_on(full, days, spec.staleness_days, column=col)
        for cut in pd.to_datetime(rng.choice(days.values, 4)):
            part = full[full["date"] <= cut]
            before = days[days <= cut]
            got = as_known_on(part, before, spec.staleness_days, column=col)
            pd.testing.assert_frame_equal(got, whole.loc[before], check_freq=False)


def test_last_common_date_is_not_wall_clock(snapshot_store):
    assert snapshot_store.last_common_date() == pd.Timestamp("2026-08-19")


# ---------------------------------------------------------------- CLI
def test_cli_import_status_show(tmp_path, snapshot_dir):
    d = str(tmp_path / "s")
    code, out, err = run_cli("data", "import", str(snapshot_dir), "--data-dir", d, "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert {r["series"] for r in got["imported"]} == set(catalog.CATALOG)
    code, out, err = run_cli("data", "status", "--data-dir", d, "--format", "json")
    assert code == 0, err
    st = json.loads(out)
    assert st["asof"] == "2026-08-19"
    rows = {r["series"]: r for r in st["series"]}
    assert rows["WTREGEN"]["stale"] is True and rows["WALCL"]["stale"] is False
    assert rows["SPY"]["last"] == "2026-06-04"
    code, out, err = run_cli("data", "show", "SOFR", "--asof", "2019-09-18", "--data-dir", d, "--format", "json")
    assert code == 0, err
    s = json.loads(out)
    assert s["value"] == 5.25 and s["observation_date"] == "2019-09-17" and s["available_on"] == "2019-09-18"
    assert s["published_on"] == "2019-09-18"
    code, out, err = run_cli("data", "show", "GLD", "--tail", "2", "--data-dir", d, "--format", "json")
    assert code == 0 and [r["date"] for r in json.loads(out)["rows"]] == ["2026-08-19", "2026-08-20"]


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["data", "show", "NOPE"], 2, "unknown series 'NOPE'"),
        (["data", "show", "SOFR", "--asof", "2019-02-30"], 2, "is not a date"),
        (["data", "show", "SOFR", "--asof", "2001-01-02"], 2, "no SOFR value was available on 2001-01-02"),
        (["data", "show", "SOFR", "--tail", "0"], 2, "--tail"),
        (["data", "status", "--format", "xml"], 2, "--format"),
    ],
)
def test_cli_bad_arguments(snapshot_store, args, code, text):
    c, out, err = run_cli(*args, "--data-dir", str(snapshot_store.root))
    assert c == code
    assert err.startswith("error: ") and text in err and err.count("\n") == 1
    assert "Traceback" not in err and out == ""


def test_cli_empty_store_exits_1(tmp_path):
    c, _, err = run_cli("data", "status", "--data-dir", str(tmp_path / "empty"))
    assert c == 1 and "hedge data import" in err


# ---------------------------------------------------------------- bad input on import
def _fingerprint(root: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "series").glob("*"))}


@pytest.fixture
def small_store(tmp_path, snapshot_dir):
    store = Store(tmp_path / "store")
    import_snapshot(snapshot_dir, store, series=["WRESBAL", "GLD", "SOFR"])
    return store


def _bad_snapshot(tmp_path, snapshot_dir, rel: str, mutate) -> Path:
    src = tmp_path / "snap"
    for sub in ("fred", "prices"):
        (src / sub).mkdir(parents=True)
    for rel_ in ("fred/WRESBAL.csv", "prices/GLD.csv", "fred/SOFR.csv"):
        shutil.copy(snapshot_dir / rel_, src / rel_)
    p = src / rel
    p.write_text(mutate(p.read_text()))
    return src


def _replace_line(text: str, n: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[n] = new + "\n"
    return "".join(lines)


def _set_fields(text: str, n: int, fields: str) -> str:
    """Keep line n's date, replace the rest of its fields."""
    lines = text.splitlines(keepends=True)
    lines[n] = lines[n].split(",")[0] + "," + fields + "\n"
    return "".join(lines)


def _swap(text: str, n: int) -> str:
    lines = text.splitlines(keepends=True)
    lines[n], lines[n + 1] = lines[n + 1], lines[n]
    return "".join(lines)


BAD = [
    ("fred/SOFR.csv", lambda t: "day,rate\n" + t.split("\n", 1)[1], "header is 'day,rate'"),
    ("fred/SOFR.csv", lambda t: _replace_line(t, 5, "04/10/2018,1.75"), "is not ISO YYYY-MM-DD"),
    ("fred/SOFR.csv", lambda t: t + t.splitlines()[-1] + "\n", "duplicate date 2026-08-20"),
    ("fred/SOFR.csv", lambda t: _swap(t, 3), "dates not sorted"),
    ("fred/SOFR.csv", lambda t: _set_fields(t, 4, "1.7x"), "'1.7x' is not a number"),
    ("fred/SOFR.csv", lambda t: "", "file is empty"),
    ("fred/SOFR.csv", lambda t: t + "2200-01-03,3.1\n", "date 2200-01-03 is beyond the market calendar"),
    ("fred/SOFR.csv", lambda t: "date,value\n", "no data rows"),
    ("prices/GLD.csv", lambda t: t[: len(t) // 2].rsplit(",", 3)[0], "truncated"),
    ("fred/WRESBAL.csv", lambda t: _set_fields(t, 10, "-5"), "impossible value -5"),
    ("prices/GLD.csv", lambda t: _set_fields(t, 10, "0,0,0,0,,0"), "impossible close 0"),
    (
        "fred/WRESBAL.csv",
        lambda t: "".join(
            ln if i < 900 else f"{ln.split(',')[0]},{float(ln.split(',')[1]) / 1000:g}\n"
            for i, ln in enumerate(t.splitlines(keepends=True))
        ),
        "unit break",
    ),
]


@pytest.mark.parametrize("rel, mutate, text", BAD, ids=[b[2] for b in BAD])
def test_bad_input_leaves_store_untouched(tmp_path, snapshot_dir, small_store, rel, mutate, text):
    before = _fingerprint(small_store.root)
    src = _bad_snapshot(tmp_path, snapshot_dir, rel, mutate)
    c, out, err = run_cli("data", "import", str(src), "--data-dir", str(small_store.root))
    assert c == 1, err
    assert err.startswith("error: ") and text in err and err.count("\n") == 1, err
    assert "store was not changed" in err
    assert _fingerprint(small_store.root) == before


def test_real_snapshot_has_no_false_unit_break(snapshot_dir):
    for spec in catalog.CATALOG.values():
        validate.read_csv(spec, snapshot_dir / spec.snapshot_path)  # raises on a false positive


# ---------------------------------------------------------------- store integrity
def test_damaged_store_file_is_detected(tmp_path, small_store):
    p = small_store.path("SOFR")
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    p.write_bytes(bytes(raw))
    c, _, err = run_cli("data", "show", "SOFR", "--data-dir", str(small_store.root))
    assert c == 1 and "is damaged" in err and "hedge data import" in err and err.count("\n") == 1


def test_checksum_catches_silent_value_change(tmp_path, small_store):
    import pyarrow.parquet as pq

    p = small_store.path("SOFR")
    t = pq.read_table(p)
    df = t.to_pandas()
    df.loc[10, "value"] += 1.0
    import pyarrow as pa

    pq.write_table(pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(t.schema.metadata), p)
    with pytest.raises(DataError, match="checksum mismatch"):
        Store(small_store.root).read("SOFR")


def test_interrupted_write_keeps_previous_version(tmp_path, small_store, monkeypatch):
    import pyarrow.parquet as pq

    before = _fingerprint(small_store.root)
    frame = small_store.read("SOFR").iloc[:100]

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(KeyboardInterrupt), small_store.lock():
        small_store.write("SOFR", frame, source="test")
    assert _fingerprint(small_store.root) == before
    assert not list((small_store.root / "series").glob(".*.tmp"))


def test_lock_is_exclusive(small_store):
    with small_store.lock():
        other = Store(small_store.root)
        with pytest.raises(DataError, match="another hedge process is writing"):
            with other.lock():
                pass


# ---------------------------------------------------------------- pulls (fetch injected; online sources are
# tested against a local HTTP server in test_sources.py)
def test_pull_is_incremental_and_atomic(small_store):
    from backtester.data.pull import pull_series

    spec = catalog.get("SOFR")
    old = small_store.read("SOFR")
    seen = {}

    def fetch(s, since):
        seen[s.id] = since
        extra = pd.DataFrame({"date": pd.to_datetime(["2026-08-21", "2026-08-24"]), "value": [3.61, 3.60]})
        return pd.concat([old[old["date"] >= since][["date", "value"]], extra], ignore_index=True)

    res = pull_series(small_store, [spec], fetch=fetch)
    assert seen["SOFR"] == pd.Timestamp("2026-08-20") - pd.Timedelta(days=45)
    assert res[0]["new_rows"] == 2
    new = Store(small_store.root).read("SOFR")
    assert new["date"].iloc[-1] == pd.Timestamp("2026-08-24") and len(new) == len(old) + 2
    assert new["available_on"].iloc[-1] == pd.Timestamp("2026-08-25")

    before = _fingerprint(small_store.root)

    def bad_fetch(s, since):
        if s.id == "GLD":
            raise DataError("cannot reach Yahoo for GLD: timed out", "check the network")
        return fetch(s, since)

    with pytest.raises(DataError):
        pull_series(small_store, [spec, catalog.get("GLD")], fetch=bad_fetch)
    assert _fingerprint(small_store.root) == before  # SOFR was fetched fine but nothing was written


def test_availability_rules_are_monotone():
    dates = pd.date_range("2000-01-01", "2026-12-31", freq="D")
    for spec in catalog.CATALOG.values():
        if spec.rule == "gdp":
            continue
        pub = availability.published_on(spec, dates)
        av = availability.available_on(spec, pub)
        assert (np.diff(av.astype("int64")) >= 0).all(), spec.id
        assert (av >= dates.values).all(), spec.id


def test_unexpected_exception_is_one_line(monkeypatch, snapshot_store):
    from backtester.data import store as store_mod

    def boom(self, sid):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_mod.Store, "meta", boom)
    c, out, err = run_cli("data", "status", "--data-dir", str(snapshot_store.root))
    assert c == 1 and err.startswith("error: internal error: RuntimeError: disk on fire") and err.count("\n") == 1
