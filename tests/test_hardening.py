"""Hardening: fuzzed CSV input, killed and concurrent writers, a body cut mid-pull, secrets, start-up imports.

Properties checked here are about failure modes, not numbers: whatever the input, an import either
succeeds with a valid stored frame or fails with one ``error: ...`` line (exit 1) and an unchanged store;
a killed writer never leaves a half-written series; the FRED API key never reaches output or files;
the fast commands never import the heavy plotting/backtesting stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from backtester.data import availability, catalog, validate
from backtester.data import credentials as config
from backtester.data.importer import import_snapshot
from backtester.data.store import Store
from backtester.errors import DataError
from tests.conftest import run_cli

HEAVY = ("vectorbt", "quantstats", "plotly", "matplotlib", "numba")
MACRO, PRICE = catalog.get("SOFR"), catalog.get("GLD")
FAKE_KEY = "f00dfacecafe0123456789abcdef4242"


def hedge_cmd() -> list[str]:
    """The installed ``hedge`` console script (a Python file) beside this interpreter."""
    script = Path(sys.executable).with_name("hedge")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from backtester.cli import main; main()"]


def fingerprint(root: Path) -> dict[str, str]:
    """sha256 of every file in the store's series folder, temp files included."""
    d = Path(root) / "series"
    if not d.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def one_error_line(err: str) -> None:
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err


# ============================================================== 1. fuzzed CSV input
def _iso(d: date) -> str:
    return d.isoformat()


SANE_DAYS = st.dates(min_value=date(1995, 1, 1), max_value=date(2026, 8, 1))
WEIRD_DATES = st.one_of(
    st.dates().map(_iso),  # any year 0001..9999: outside pandas' nanosecond range at both ends
    st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.sampled_from(
        ["2019-02-30", "2021-13-01", "2020-00-10", " 2020-01-01", "2020-1-1", "", "NaT", "2020-01-01T00:00"]
        + ["٢٠٢٠-٠١-٠١", "2020-01-01 ", "-2020-01-01", "+2020-01-01", "2020/01/01"]
    ),
    st.text(max_size=12),
)
WEIRD_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["", ".", "nan", "NaN", "-nan", "inf", "-Infinity", "1e308", "1e309", "-1e309", "-1", "-0", "0", "0.0"]
        + ["1_000", "0x10", " 3.5 ", "١٢", "1e-320", '"1"', '"', "1.2.3", "١٢٣٫٤", "\x00", "5%"]
    ),
    st.text(max_size=8),
)


MESSES = ("header", "order", "dates", "numbers", "negative", "units", "fields", "eol", "cut", "bytes")


@st.composite
def csv_bytes(draw, spec) -> bytes:
    """A CSV for ``spec``: well formed (so clean imports happen), or with one or two kinds of damage
    (``MESSES``), or random bytes."""
    kind = draw(st.sampled_from(["clean", "clean", "messy", "messy", "messy", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))  # random bytes, often invalid UTF-8
    mess = draw(st.sets(st.sampled_from(MESSES), min_size=1, max_size=2)) if kind == "messy" else set()
    cols = list(validate.expected_columns(spec))
    header = list(cols)
    if draw(st.booleans()):
        header[0] = "observation_date"
    if spec.kind == "macro" and draw(st.booleans()):
        header[1] = spec.source_id
    if "header" in mess:
        header = draw(
            st.one_of(
                st.lists(st.text(max_size=10), min_size=0, max_size=8),
                st.just([h.upper() for h in header]),
                st.just(header[:-1]),
                st.just([*header, "extra"]),
                st.just([f" {h} " for h in header]),
            )
        )
    days = sorted(draw(st.sets(SANE_DAYS, min_size=1, max_size=40)))
    if "order" in mess:
        how = draw(st.sampled_from(["shuffle", "dup", "reverse"]))
        if how == "shuffle":
            days = draw(st.permutations(days))
        elif how == "dup":
            days = sorted([*days, draw(st.sampled_from(days))])
        else:
            days = days[::-1]
    level = draw(st.sampled_from([0.05, 3.0, 180.0, 7.5e6]))
    lines = [",".join(header)]
    neg = draw(st.integers(0, len(days) - 1)) if "negative" in mess else -1
    for k, d in enumerate(days):
        scale = -1.0 if k == neg else 1000.0 if "units" in mess and k >= len(days) // 2 else 1.0
        fields = [draw(WEIRD_DATES) if "dates" in mess and draw(st.integers(0, 3)) == 0 else _iso(d)]
        for _ in cols[1:]:
            if "numbers" in mess and draw(st.integers(0, 3)) == 0:
                fields.append(draw(WEIRD_NUMBERS))
            elif draw(st.integers(0, 9)) == 0:
                fields.append(draw(st.sampled_from(["", "."])))
            else:
                fields.append(f"{scale * level * draw(st.floats(0.8, 1.25)):.6g}")
        if "fields" in mess and draw(st.integers(0, 4)) == 0:
            fields = fields[: draw(st.integers(0, len(fields) - 1))] if draw(st.booleans()) else [*fields, "9"]
        lines.append(",".join(fields))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"] if "eol" in mess else ["\n", "\r\n"]))
    text = eol.join(lines) + ("" if "eol" in mess and draw(st.booleans()) else eol)
    raw = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8")
    # positions count from the end: hypothesis favours small numbers, and the header is tested enough
    if "cut" in mess:  # truncated anywhere (a cut download, a full disk)
        raw = raw[: len(raw) - draw(st.integers(0, len(raw)))]
    if "bytes" in mess:  # a few random bytes spliced in
        at = len(raw) - draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=6)) + raw[at:]
    return raw


# inputs the fuzzer found escaping as other exceptions (csv.Error, OutOfBoundsDatetime): always tried
KNOWN_BAD_CASES = {
    "bare-CR line ends": b"date,value\r2020-01-02,1\r2020-01-03,2\r",
    "field over csv size limit": b"date,value\n2020-01-02," + b"1" * 140_000 + b"\n",
    "year 0001": b"date,value\n0001-01-01,1\n",
    "year 9999": b"date,value\n2020-01-02,1\n9999-12-31,2\n",
    "year 1677": b"date,value\n1677-09-21,1\n",
    "UTF-16": "date,value\n2020-01-02,1\n".encode("utf-16"),
    "NUL in value": b"date,value\n2020-01-02,1\x00\n",
}
KNOWN_BAD, KNOWN_BAD_IDS = list(KNOWN_BAD_CASES.values()), list(KNOWN_BAD_CASES)


def _check_imported_frame(spec, frame: pd.DataFrame, root: Path) -> None:
    """A frame that validated: sorted unique ns dates, finite values, and a store round trip that keeps it."""
    cols = list(validate.expected_columns(spec))
    assert list(frame.columns) == cols
    assert frame["date"].dtype == "datetime64[ns]"
    assert frame["date"].is_monotonic_increasing and frame["date"].is_unique and len(frame) > 0
    main = "value" if spec.kind == "macro" else "close"
    assert np.isfinite(frame[main].to_numpy(float)).all()
    for c in cols[1:]:
        assert not np.isinf(frame[c].to_numpy(float)).any()  # other price columns may be empty (NaN)
    annotated = availability.annotate(spec, frame)
    for c in ("published_on", "available_on"):
        known = annotated[c].notna()
        assert (annotated.loc[known, c] >= annotated.loc[known, "date"]).all()
    store = Store(root)
    with store.lock():
        store.write(spec.id, annotated, source="fuzz")
    back = Store(root).read(spec.id)
    pd.testing.assert_frame_equal(back, annotated.reset_index(drop=True))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory, snapshot_dir) -> Store:
    store = Store(tmp_path_factory.mktemp("cli_fuzz_store"))
    import_snapshot(snapshot_dir, store, series=["SOFR", "GLD", "WALCL"])
    return store


def _event(label: str) -> None:
    """Tally outcomes in ``--hypothesis-show-statistics`` (no-op outside a hypothesis test)."""
    if currently_in_test_context():
        event(label)


def check_read_csv(spec, blob: bytes, work: Path) -> None:
    """``validate.read_csv`` either returns a valid frame (that survives a store round trip) or raises
    DataError with one line naming the file; nothing else."""
    case = Path(tempfile.mkdtemp(dir=work))
    path = case / "in.csv"
    path.write_bytes(blob)
    try:
        frame = validate.read_csv(spec, path)
    except DataError as e:
        line = e.line()
        assert line.startswith("error: ") and "\n" not in line and str(path) in line
        _event("rejected: " + re.sub(r"line \d+ |'.*'|[\d.]+", "", line.split(": ", 2)[2].split(" (")[0])[:30])
        return
    _event("imported")
    _check_imported_frame(spec, frame, case / "store")


def check_cli_import(spec, blob: bytes, work: Path, store: Store) -> None:
    """``hedge data import`` exits 0 with the file's frame stored, or 1 with one error line, no stdout and a
    byte-identical store."""
    src = Path(tempfile.mkdtemp(dir=work))
    (src / spec.snapshot_path).parent.mkdir(parents=True)
    (src / spec.snapshot_path).write_bytes(blob)
    before = fingerprint(store.root)
    code, out, err = run_cli("data", "import", str(src), "--series", spec.id, "--data-dir", str(store.root))
    if code != 0:
        assert code == 1, (code, err)
        one_error_line(err)
        assert out.strip() == ""  # (a transient progress bar leaves a bare newline on a non-tty stdout)
        assert fingerprint(store.root) == before
        return
    assert err == "", err
    got = Store(store.root).read(spec.id)
    want = availability.annotate(spec, validate.read_csv(spec, src / spec.snapshot_path))
    pd.testing.assert_frame_equal(got, want)
    after = fingerprint(store.root)
    others = {k: v for k, v in before.items() if not k.startswith(spec.id + ".")}
    assert {k: after[k] for k in others} == others  # only the imported series changed
    assert not [n for n in after if n.endswith(".tmp")]


SPEC_AND_CSV = st.sampled_from([MACRO, PRICE]).flatmap(lambda s: st.tuples(st.just(s), csv_bytes(s)))
FUZZ = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=150, **FUZZ)
@given(case=SPEC_AND_CSV)
def test_read_csv_accepts_cleanly_or_raises_dataerror(fuzz_dir, case):
    check_read_csv(*case, fuzz_dir)


@settings(max_examples=60, **FUZZ)
@given(case=SPEC_AND_CSV)
def test_cli_import_exit_0_or_one_error_line_and_store_unchanged(fuzz_dir, cli_store, case):
    check_cli_import(*case, fuzz_dir, cli_store)


@pytest.mark.parametrize("blob", KNOWN_BAD, ids=KNOWN_BAD_IDS)
def test_known_bad_inputs_are_dataerrors(fuzz_dir, cli_store, blob):
    check_read_csv(MACRO, blob, fuzz_dir)
    check_cli_import(MACRO, blob, fuzz_dir, cli_store)


# ============================================================== 2. faults: killed and concurrent writers
@pytest.fixture(scope="module")
def older_snapshot(tmp_path_factory, snapshot_dir) -> Path:
    """The whole snapshot with every file cut to its first ~85% of rows: a valid, different version."""
    out = tmp_path_factory.mktemp("older_snapshot")
    for spec in catalog.CATALOG.values():
        lines = (snapshot_dir / spec.snapshot_path).read_text().splitlines(keepends=True)
        keep = max(8, int(len(lines) * 0.85))
        assert keep < len(lines)
        (out / spec.snapshot_path).parent.mkdir(parents=True, exist_ok=True)
        (out / spec.snapshot_path).write_text("".join(lines[:keep]))
    return out


def _checksums(root: Path) -> dict[str, str]:
    s = Store(root)
    return {sid: s.meta(sid)["checksum"] for sid in s.ids()}


@pytest.fixture(scope="module")
def versions(tmp_path_factory, snapshot_dir, older_snapshot):
    """(store with the older version of all but GLD and SPY, its per-file data checksums, new checksums)."""
    base = tmp_path_factory.mktemp("kill_base")
    new_ = tmp_path_factory.mktemp("kill_new")
    import_snapshot(older_snapshot, Store(base), series=[s for s in catalog.CATALOG if s not in ("GLD", "SPY")])
    import_snapshot(snapshot_dir, Store(new_))
    old, new = _checksums(base), _checksums(new_)
    assert all(old[s] != new[s] for s in old)
    return base, old, new


def _check_store(root: Path, old: dict, old_bytes: dict, new: dict) -> dict[str, str]:
    """Every visible series reads back (checksum verified) at exactly its old or its new version."""
    store = Store(root)
    ids = set(store.ids())
    assert set(old) <= ids <= set(new), ids ^ set(new)
    state = {}
    for sid in ids:
        store.read(sid)  # raises DataError on a damaged file or a checksum mismatch
        ck = store.meta(sid)["checksum"]
        if sid in old and ck == old[sid]:
            assert hashlib.sha256(store.path(sid).read_bytes()).hexdigest() == old_bytes[f"{sid}.parquet"]
            state[sid] = "old"
        else:
            assert ck == new[sid], sid
            state[sid] = "new"
    for p in (root / "series").iterdir():  # anything but a series file must be a hidden temp file
        assert p.name.endswith(".parquet") or (p.name.startswith(".") and p.name.endswith(".tmp")), p.name
    return state


def _wait_for_tmp(series_dir: Path, proc: subprocess.Popen, limit: float = 60.0) -> float | None:
    """Poll until the writer's first temp file appears; return that moment (None if it exited first)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with os.scandir(series_dir) as it:
            if any(e.name.endswith(".tmp") for e in it):
                return time.monotonic()
        if proc.poll() is not None:
            return None
        time.sleep(0.0005)
    return None


def test_sigkill_mid_import_leaves_each_file_old_or_new(tmp_path, snapshot_dir, versions):
    """SIGKILL ``hedge data import`` (25 files) at random moments, mostly inside its write phase (~0.15 s,
    found by watching for its first temp file): every file must be old or new, never half-written."""
    base, old, new = versions
    old_bytes = fingerprint(base)
    cmd = [*hedge_cmd(), "data", "import", str(snapshot_dir)]
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    plan = [("anytime", rng.uniform(0.05, 2.0)), ("writing", 0.0)] + [("writing", rng.uniform(0, 0.12)) for _ in "ab"]
    seen, killed_mid_write = [], 0
    for i, (when, delay) in enumerate(plan):
        root = tmp_path / f"k{i}"
        shutil.copytree(base, root)
        proc = subprocess.Popen([*cmd, "--data-dir", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if when == "writing":
            _wait_for_tmp(root / "series", proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        state = _check_store(root, old, old_bytes, new)
        tmps = [p.name for p in (root / "series").glob(".*.tmp")]
        counts = {v: list(state.values()).count(v) for v in ("old", "new")}
        seen.append((when, round(delay, 3), proc.returncode, counts, len(tmps)))
        killed_mid_write += bool(tmps) or len(set(state.values())) > 1 or len(state) != len(new)
    assert killed_mid_write, f"no kill landed inside the write phase: {seen}"

    # the dead writer's lock went with it: status works, temp files are not series, a new import completes
    r = subprocess.run([*hedge_cmd(), "data", "status", "--format", "json", "--data-dir", str(root)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert {row["series"] for row in json.loads(r.stdout)["series"]} == set(state)
    r = subprocess.run([*cmd, "--data-dir", str(root)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert set(_check_store(root, old, old_bytes, new).values()) == {"new"}
    assert set(Store(root).ids()) == set(new)


def test_import_while_another_process_holds_the_lock(tmp_path, snapshot_dir, versions):
    base, _, _ = versions
    root = tmp_path / "s"
    shutil.copytree(base, root)
    before = fingerprint(root)
    with Store(root).lock():
        r = subprocess.run(
            [*hedge_cmd(), "data", "import", str(snapshot_dir), "--series", "SOFR", "--data-dir", str(root)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1 and r.stdout.strip() == ""
    one_error_line(r.stderr)
    assert "another hedge process is writing" in r.stderr
    assert fingerprint(root) == before


@pytest.fixture(scope="module")
def older_checksums(tmp_path_factory, older_snapshot) -> dict[str, str]:
    root = tmp_path_factory.mktemp("older_store")
    import_snapshot(older_snapshot, Store(root))
    return _checksums(root)


@pytest.mark.parametrize("round_", [1, 2])
def test_two_concurrent_imports(tmp_path, snapshot_dir, older_snapshot, older_checksums, versions, round_):
    _, _, new = versions
    older = older_checksums
    root = tmp_path / "s"
    procs = [
        subprocess.Popen(
            [*hedge_cmd(), "data", "import", str(src), "--data-dir", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for src in (snapshot_dir, older_snapshot)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    for code, err in results:
        if code != 0:
            assert code == 1, err
            one_error_line(err)
            assert "another hedge process is writing" in err
    assert any(code == 0 for code, _ in results), results
    # writes are serialized by the lock: the store is wholly one import's version, never a mix
    got = _checksums(root)
    assert got in (new, older), {s: (got[s] == new.get(s), got[s] == older.get(s)) for s in got}
    for sid in got:
        Store(root).read(sid)
    assert not list((root / "series").glob(".*.tmp"))


class CutServer:
    """127.0.0.1 server answering every GET with a CSV body cut short in one of three ways."""

    def __init__(self, body: bytes, mode: str):
        self.body, self.mode, self.hits = body, mode, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.hits += 1
                body, cut = self.body, len(self.body) * 2 // 3
                if self.mode == "content-length":  # promises the whole body, sends two thirds, hangs up
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body)
                    conn.sendall(head + body[:cut])
                elif self.mode == "chunked":  # chunked, without the final zero-length chunk
                    part = body[:cut]
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
                    conn.sendall(head + b"%x\r\n" % len(part) + part + b"\r\n")
                else:  # HTTP/1.0, body ends at close: cut inside the last value of a line
                    end = body.index(b"\n", cut) - 1
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\n" + body[:end])
                conn.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize(
    "mode",
    [
        "content-length",
        "chunked",
        "close-mid-value",
    ],
)
def test_pull_with_body_cut_mid_csv_leaves_store_unchanged(tmp_path, snapshot_dir, monkeypatch, mode):
    from backtester.data.pull import pull_series
    from backtester.data.sources import http

    store = Store(tmp_path / "s")
    import_snapshot(snapshot_dir, store, series=["SOFR"])
    old = store.read("SOFR")
    recent = old[old["date"] >= old["date"].iloc[-1] - pd.Timedelta(days=60)]
    csv_text = "observation_date,SOFR\n" + "".join(
        f"{d:%Y-%m-%d},{v:.15g}\n" for d, v in zip(recent["date"], recent["value"], strict=True)
    )
    srv = CutServer(csv_text.encode(), mode)
    monkeypatch.setenv("HEDGE_FREDGRAPH_URL", srv.url + "/graph/fredgraph.csv")
    monkeypatch.delenv("FRED_API_KEY", raising=False)
    monkeypatch.setattr(http, "sleep", lambda s: None)
    before = fingerprint(store.root)
    try:
        with pytest.raises(DataError) as ei:
            pull_series(store, [MACRO])
    finally:
        srv.close()
    assert srv.hits >= 1 and ei.value.line().count("\n") == 0
    assert fingerprint(store.root) == before


# ============================================================== 3. secrets
def test_fred_api_key_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FRED_API_KEY", f"  {FAKE_KEY}\n")
    monkeypatch.setenv("HEDGE_CONFIG", str(tmp_path / "absent.toml"))  # never read when the env has the key
    assert config.fred_api_key() == FAKE_KEY


def test_no_key_anywhere_is_none(monkeypatch, tmp_path):
    monkeypatch.delenv("HEDGE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_path() == tmp_path / "xdg" / "liquidity-hedge" / "config.toml"
    assert config.fred_api_key() is None


def _config_file(path: Path, mode: int, text: str = f'fred_api_key = "{FAKE_KEY}"\n') -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_fred_api_key_from_private_config_file(monkeypatch, tmp_path):
    p = _config_file(tmp_path / "config.toml", 0o600)
    monkeypatch.setenv("HEDGE_CONFIG", str(p))
    assert config.fred_api_key() == FAKE_KEY
    # the per-user config folder is the default location
    monkeypatch.delenv("HEDGE_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "liquidity-hedge").mkdir(parents=True)
    _config_file(tmp_path / "xdg" / "liquidity-hedge" / "config.toml", 0o400)
    assert config.fred_api_key() == FAKE_KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_config_file_open_to_others_is_refused(monkeypatch, tmp_path, mode):
    p = _config_file(tmp_path / "config.toml", mode)
    monkeypatch.setenv("HEDGE_CONFIG", str(p))
    with pytest.raises(DataError) as ei:
        config.fred_api_key()
    assert ei.value.what == f"config file {p} is readable by others (mode {mode:04o})"
    assert ei.value.fix == f"run chmod 600 {p}"
    assert FAKE_KEY not in ei.value.line()


@pytest.mark.parametrize(
    "text, needle",
    [
        (f'fred_api_key = "{FAKE_KEY}', "is not valid TOML"),
        ("fred_api_key = 12345\n", "must be a string"),
        (b"\xff\xfe".decode("latin-1"), "not valid TOML"),
    ],
)
def test_bad_config_file_is_one_line_without_the_key(monkeypatch, tmp_path, text, needle):
    p = _config_file(tmp_path / "config.toml", 0o600, text)
    monkeypatch.setenv("HEDGE_CONFIG", str(p))
    with pytest.raises(DataError, match=needle) as ei:
        config.fred_api_key()
    assert FAKE_KEY not in ei.value.line() and "\n" not in ei.value.line()


def test_explicit_config_path_that_does_not_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("HEDGE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(DataError, match="does not exist"):
        config.fred_api_key()


def test_mask():
    assert config.mask(f"GET /x?api_key={FAKE_KEY}&a=1 ({FAKE_KEY})", FAKE_KEY) == "GET /x?api_key=***&a=1 (***)"
    assert config.mask("k=a%2Fb+c", "a/b c") == "k=***"
    assert config.mask("nothing to hide", None) == "nothing to hide"
    assert config.mask("nothing to hide", "") == "nothing to hide"


class FredApiServer:
    """Minimal FRED API on 127.0.0.1: WALCL observations from the stored rows (+1 week); other ids are
    refused with an error that echoes the api_key back, as FRED's own 400 answers do."""

    def __init__(self, walcl: pd.DataFrame):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        rows = walcl.tail(8)
        obs = [(f"{d:%Y-%m-%d}", f"{v:.15g}") for d, v in zip(rows["date"], rows["value"], strict=True)]
        obs.append((f"{rows['date'].iloc[-1] + pd.Timedelta(days=7):%Y-%m-%d}", "6750000"))
        items = "".join(
            f'  <observation realtime_start="2026-08-27" realtime_end="2026-08-27" date="{d}" value="{v}"/>\n'
            for d, v in obs
        )
        ok = f'<?xml version="1.0" encoding="utf-8" ?>\n<observations count="{len(obs)}">\n{items}</observations>\n'

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                q = parse_qs(urlsplit(self.path).query)
                key = q.get("api_key", [""])[0]
                if q.get("series_id") == ["WALCL"]:
                    status, body = 200, ok
                else:
                    status = 400
                    body = f'<error code="400" message="Bad Request. The value {key} for api_key is not valid."/>'
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _files_containing(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for p in Path(root).rglob("*"):
        if p.is_file() and any(n in p.read_bytes() for n in needles):
            hits.append(str(p))
    return hits


def test_api_key_never_reaches_output_or_files(tmp_path, snapshot_dir):
    work = tmp_path / "cwd"
    work.mkdir()
    store, reports = work / "store", work / "reports"
    env = {
        **os.environ,
        "FRED_API_KEY": FAKE_KEY,
        "HEDGE_DATA_DIR": str(store),
        "HEDGE_REPORTS_DIR": str(reports),
        "HEDGE_CONFIG": str(_config_file(tmp_path / "config.toml", 0o600)),
    }
    env.pop("HEDGE_DEBUG", None)
    snap = [str(snapshot_dir)] + [a for s in ("WALCL", "SOFR", "GLD") for a in ("--series", s)]
    commands = [
        ["data", "import", *snap],
        ["data", "import", *snap, "--format", "json"],
        ["data", "status"],
        ["data", "status", "--format", "json"],
        ["data", "show", "WALCL", "--tail", "3"],
        ["data", "show", "SOFR", "--asof", "2019-09-18", "--format", "json"],
        ["data", "show", "NOPE"],
    ]
    outputs = []
    for args in commands:
        r = subprocess.run([*hedge_cmd(), *args], capture_output=True, env=env, cwd=work, timeout=120)
        outputs.append((args, r.returncode, r.stdout + r.stderr))
        if args[:2] == ["data", "import"]:
            assert r.returncode == 0, r.stderr
    walcl = Store(store).read("WALCL")
    srv = FredApiServer(walcl)
    env["HEDGE_FRED_API_URL"] = srv.url + "/fred"
    try:
        for args in (["data", "pull", "--series", "WALCL"], ["data", "pull", "--series", "SOFR"]):
            r = subprocess.run([*hedge_cmd(), *args], capture_output=True, env=env, cwd=work, timeout=120)
            outputs.append((args, r.returncode, r.stdout + r.stderr))
    finally:
        srv.close()
    codes = {" ".join(a): c for a, c, _ in outputs}
    assert codes["data pull --series WALCL"] == 0, outputs[-2]
    assert codes["data pull --series SOFR"] == 1 and b"refused the request for SOFR" in outputs[-1][2]
    assert Store(store).read("WALCL")["date"].iloc[-1] > walcl["date"].iloc[-1]  # the keyed pull did run
    needles = [FAKE_KEY.encode(), FAKE_KEY[:16].encode(), FAKE_KEY[16:].encode()]
    for args, _, text in outputs:
        assert not any(n in text for n in needles), (args, text)
    assert _files_containing(work, needles) == []  # the store, the reports folder, anything in the cwd


# ============================================================== 4. start-up: no heavy imports
_PROBE = """
import atexit, json, sys
HEAVY = {heavy!r}
def _report():
    mods = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    with open({out!r}, "w") as fh:
        json.dump(mods, fh)
atexit.register(_report)
sys.argv = ["hedge", *{args!r}]
from backtester.cli import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["data", "status"], ["data", "show", "WALCL", "--tail", "2"]])
def test_fast_commands_do_not_import_the_heavy_stack(tmp_path, snapshot_store, args):
    out = tmp_path / "modules.json"
    env = {**os.environ, "HEDGE_DATA_DIR": str(snapshot_store.root)}
    code = _PROBE.format(heavy=HEAVY, out=str(out), args=args)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == [], f"`hedge {' '.join(args)}` imported heavy modules"
