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


def _staging(root: Path) -> list[str]:
    """The import's staging folders (``.series.p<pid>.*.tmp`` beside ``series/``)."""
    return [p.name for p in Path(root).glob(".series.*.tmp")]


def _wait_for_tmp(root: Path, proc: subprocess.Popen, limit: float = 60.0) -> float | None:
    """Poll until the writer's staging folder appears; return that moment (None if it exited first)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with os.scandir(root) as it:
            if any(e.name.startswith(".series.") and e.name.endswith(".tmp") for e in it):
                return time.monotonic()
        if proc.poll() is not None:
            return None
        time.sleep(0.0005)
    return None


def test_sigkill_mid_import_leaves_the_store_all_old_or_all_new(tmp_path, snapshot_dir, versions):
    """SIGKILL ``hedge data import`` (25 files) at random moments, mostly inside its write phase (found by
    watching for its staging folder): the store is wholly the old version or wholly the new one, never a mix
    (the staged folder is swapped in at once), and the dead writer's staging folder goes on the next write."""
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
            _wait_for_tmp(root, proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        state = _check_store(root, old, old_bytes, new)
        tmps = _staging(root)
        counts = {v: list(state.values()).count(v) for v in ("old", "new")}
        seen.append((when, round(delay, 3), proc.returncode, counts, len(tmps)))
        assert state in ({s: "old" for s in old}, {s: "new" for s in new}), seen[-1]  # all or nothing
        killed_mid_write += bool(tmps)
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
    assert _staging(root) == []  # the killed writer's staging folder was removed


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


# ============================================================== 5. round two (#17): folders, identity, all or nothing
HOSTILE = "../../[bold]x[/bold]\u202eevil"  # path escape, rich markup, right-to-left override
WINDOW = ("--start", "2020-01-02", "--end", "2020-06-30", "--benchmark", "GLD")


def _hostile_strategies(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hostile.py").write_text(
        "import pandas as pd\n"
        "from backtester.strategy import Param, Strategy\n"
        f"STRATEGY = Strategy(name={HOSTILE!r}, description='All in gold.', "
        "params={'w': Param(float, 1.0, 0.0, 1.0)}, fn=lambda s, p: pd.DataFrame({'GLD': p['w']}, index=s.index), "
        "assets=lambda p: ('GLD',))\n"
    )
    return folder


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, snapshot_store):
    """A saved run of a strategy whose name tries to escape the reports folder, inject markup and reverse text."""
    work = tmp_path_factory.mktemp("hostile")
    strategies = _hostile_strategies(work / "mine")
    reports = work / "reports"
    args = ("backtest", HOSTILE, "--strategies-dir", str(strategies), *WINDOW, "--data-dir", str(snapshot_store.root))
    code, out, err = run_cli(*args, "--reports-dir", str(reports), "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    return {"work": work, "reports": reports, "args": args, "run_id": got["run_id"], "dir": Path(got["run_dir"])}


def test_hostile_strategy_name_stays_inside_the_reports_folder(hostile_run):
    rid, reports = hostile_run["run_id"], hostile_run["reports"]
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*-[0-9a-f]{12}", rid) and ".." not in rid, rid
    assert hostile_run["dir"].parent == reports and hostile_run["dir"].is_dir()
    outside = [p for p in hostile_run["work"].rglob("*") if reports not in p.parents and p != reports]
    assert all(p.parent == hostile_run["work"] or "mine" in p.parts for p in outside), outside


def test_terminal_output_is_inert(hostile_run):
    """Markup in a name prints as is, a direction override is shown escaped, nothing crashes."""
    code, out, err = run_cli(*hostile_run["args"], "--reports-dir", str(hostile_run["reports"]))
    assert code == 0, err
    assert "[bold]x[/bold]" in out and "\u202e" not in out and "\\u202e" in out
    # a '[' in a path: printed as is in the error line (and no rich markup anywhere)
    code, out, err = run_cli("data", "status", "--data-dir", str(hostile_run["work"] / "[red]no[/red] store"))
    assert code == 1 and "[red]no[/red] store" in err
    one_error_line(err)


def test_links_are_relative_inside_the_reports_folder(hostile_run, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(hostile_run["reports"], reports)
    code, _, err = run_cli("report", hostile_run["run_id"], "--reports-dir", str(reports))
    assert code == 0, err
    # folders no run id can be: a scheme, markup, an override; one holds a valid-looking run.json
    for name in ("javascript:alert(1)", "[x]\u202egnp.html", "data:text"):
        (reports / name).mkdir()
        shutil.copy(hostile_run["dir"] / "run.json", reports / name / "run.json")
    from backtester.report.index import write_index

    for page in (write_index(reports), reports / hostile_run["run_id"] / "tearsheet.html"):
        html = page.read_text()
        assert "\u202e" not in html
        for href in re.findall(r'href="([^"]*)"', html):
            assert href.startswith(("./", "#", "../index.html", "run.json")), href
            assert ":" not in href.split("#")[0] and ".." not in href.replace("../index.html", ""), href
    for rid in ("../x", "javascript:alert(1)", ".hidden", "a/b", "\u202eabc"):
        code, _, err = run_cli("report", rid, "--reports-dir", str(reports))
        assert code == 2 and "is not a run id" in err, (rid, err)
        one_error_line(err)


def test_run_folder_that_is_a_symlink_is_not_followed(hostile_run, tmp_path):
    """Before the fix, saving over a run folder that is a symlink deleted the target's *.html files."""
    reports = tmp_path / "reports"
    reports.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.html").write_text("keep me")
    (victim / "run.json").write_text("{}")
    (reports / hostile_run["run_id"]).symlink_to(victim, target_is_directory=True)
    code, out, err = run_cli(*hostile_run["args"], "--reports-dir", str(reports))
    assert code == 1 and "symbolic link" in err, err
    one_error_line(err)
    assert sorted(p.name for p in victim.iterdir()) == ["precious.html", "run.json"]
    assert (victim / "precious.html").read_text() == "keep me"
    code, out, err = run_cli("report", hostile_run["run_id"], "--reports-dir", str(reports))
    assert code == 1 and "symbolic link" in err and not (victim / "tearsheet.html").exists()


def test_killed_saves_temp_folders_are_cleaned_on_the_next_run(hostile_run, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = reports / f".{hostile_run['run_id']}.p{dead.pid}.abc123.tmp"
    (stale / "sub").mkdir(parents=True)
    (stale / "returns.csv").write_text("half")
    stale_file = reports / f".index.html.p{dead.pid}.zz9.tmp"
    stale_file.write_text("<html")
    live = reports / f".other.p{os.getpid()}.live.tmp"  # a running process's temp is never touched
    live.mkdir()
    code, _, err = run_cli(*hostile_run["args"], "--reports-dir", str(reports), "--report")
    assert code == 0, err
    assert not stale.exists() and not stale_file.exists() and live.is_dir()
    assert sorted(p.name for p in reports.iterdir() if not p.name.startswith(".")) == sorted(
        ["index.html", hostile_run["run_id"]]
    )


def test_concurrent_saves_of_the_same_run_give_one_complete_folder(hostile_run, tmp_path):
    """Eight threads (separate lock descriptions, as separate processes would have) save the same run at
    once, then two processes: one complete folder, identical files, no temp folder left, no error."""
    from backtester.data.store import Store as _Store
    from backtester.run import RunSpec, run_backtest, save_run
    from backtester.saved_runs import FILES

    reports = tmp_path / "reports"
    spec = RunSpec(HOSTILE, start="2020-01-02", end="2020-06-30", benchmark="GLD",
                   strategies_dir=str(hostile_run["work"] / "mine"))  # fmt: skip
    run = run_backtest(_Store(hostile_run["args"][-1]), spec)
    errors, barrier = [], threading.Barrier(8)

    def save():
        barrier.wait()
        try:
            save_run(run, reports)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    folder = reports / run.run_id
    want_csv = {n: (hostile_run["dir"] / n).read_bytes() for n in FILES if n != "run.json"}

    def check(want_json: dict | None = None):  # complete, and the data files the same as the CLI's save
        assert {n: (folder / n).read_bytes() for n in FILES if n != "run.json"} == want_csv
        got = {k: v for k, v in json.loads((folder / "run.json").read_text()).items() if k != "command"}
        assert got["run_id"] == run.run_id and (want_json is None or got == want_json)

    check()
    procs = [
        subprocess.Popen(
            [*hedge_cmd(), *hostile_run["args"], "--reports-dir", str(reports)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert [c for c, _ in results] == [0, 0], results
    saved = json.loads((hostile_run["dir"] / "run.json").read_text())
    check({k: v for k, v in saved.items() if k != "command"})
    assert sorted(p.name for p in reports.iterdir()) == [".lock", run.run_id]


def test_tearsheets_of_the_same_run_are_byte_identical(hostile_run, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(hostile_run["reports"], reports)
    pages = []
    for _ in range(2):
        code, _, err = run_cli("report", hostile_run["run_id"], "--reports-dir", str(reports))
        assert code == 0, err
        pages.append((reports / hostile_run["run_id"] / "tearsheet.html").read_bytes())
    assert pages[0] == pages[1] and b'clip-path="url(#p' in pages[0]


def test_broken_run_folder_does_not_break_reporting(hostile_run, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(hostile_run["reports"], reports)
    for name, text in (("bad-json-000000000000", "{not json"), ("list-000000000000", "[1, 2]"),
                       ("summary-000000000000", '{"summary": "nope"}')):  # fmt: skip
        (reports / name).mkdir()
        (reports / name / "run.json").write_text(text)
    (reports / "dir-000000000000" / "run.json").mkdir(parents=True)  # run.json that is a folder
    code, _, err = run_cli("report", hostile_run["run_id"], "--reports-dir", str(reports))
    assert code == 0, err
    index = (reports / "index.html").read_text()
    assert f'href="./{hostile_run["run_id"]}/tearsheet.html"' in index
    skipped = index[index.index("Skipped folders") :]
    for name in ("bad-json-000000000000", "list-000000000000", "summary-000000000000", "dir-000000000000"):
        assert name in skipped, name


def test_window_too_short_for_a_tearsheet_says_so(hostile_run, tmp_path):
    args = [a if a != "2020-06-30" else "2020-01-10" for a in hostile_run["args"]]
    code, out, err = run_cli(*args, "--reports-dir", str(tmp_path / "r"), "--report")
    assert code == 2 and "too few for a tearsheet" in err, err
    one_error_line(err)


def test_costs_that_eat_the_trade_are_a_clear_error(hostile_run, tmp_path):
    for costs in (("--fees-bp", "6000", "--slippage-bp", "5000"), ("--fees-bp", "9999", "--slippage-bp", "1")):
        code, out, err = run_cli(*hostile_run["args"], *costs, "--reports-dir", str(tmp_path / "r"))
        assert code == 2 and "would cost all of its value" in err, err
        one_error_line(err)
    # the largest costs allowed: finite returns, never NaN
    code, out, err = run_cli(*hostile_run["args"], "--fees-bp", "5000", "--slippage-bp", "4999",
                             "--reports-dir", str(tmp_path / "r"), "--format", "json")  # fmt: skip
    if code == 0:
        got = json.loads(out)
        assert np.isfinite(got["strategy"]["total_return"])
        rets = pd.read_csv(Path(got["run_dir"]) / "returns.csv")
        assert rets["strategy"].notna().all()
    else:
        assert code == 2 and "consumed the whole equity" in err, err


# ---- the store: identity, all or nothing, repair
@pytest.fixture
def small_store(tmp_path, snapshot_dir) -> Store:
    store = Store(tmp_path / "store")
    import_snapshot(snapshot_dir, store, series=["WALCL", "WRESBAL", "SOFR", "GLD"])
    return store


def _status(root: Path) -> tuple[int, dict | None, str]:
    code, out, err = run_cli("data", "status", "--format", "json", "--data-dir", str(root))
    return code, (json.loads(out) if out.strip() else None), err


def test_store_file_copied_over_another_is_damaged(small_store, snapshot_dir):
    root = small_store.root
    shutil.copy(small_store.path("WALCL"), small_store.path("WRESBAL"))  # same units, same kind: data checks pass
    code, got, err = _status(root)
    assert code == 1 and got["damaged"] == ["WRESBAL"]
    one_error_line(err)
    assert "WRESBAL" in err and "hedge data pull --series WRESBAL" in err and "hedge data import" in err
    code, _, err = run_cli("data", "show", "WRESBAL", "--data-dir", str(root))
    assert code == 1 and "damaged" in err and "holds series 'WALCL'" in err
    # the repair the message recommends works
    code, _, err = run_cli("data", "import", str(snapshot_dir), "--series", "WRESBAL", "--data-dir", str(root))
    assert code == 0, err
    assert _status(root)[0] == 0


@pytest.mark.parametrize("edit", ["value", "metadata-units", "metadata-last"])
def test_store_file_edited_by_hand_is_damaged(small_store, edit):
    import pyarrow.parquet as pq

    p = small_store.path("WALCL")
    table = pq.read_table(p)
    meta = json.loads(table.schema.metadata[b"hedge"])
    frame = table.to_pandas()
    if edit == "value":
        frame.loc[len(frame) // 2, "value"] *= 1.01
    elif edit == "metadata-units":
        meta["units"] = "USD billions"
    else:
        meta["last"] = "2030-01-01"
    import pyarrow as pa

    t = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(t.replace_schema_metadata({b"hedge": json.dumps(meta)}), p)
    code, got, err = _status(small_store.root)
    assert code == 1 and got["damaged"] == ["WALCL"], err
    with pytest.raises(DataError, match="damaged"):
        Store(small_store.root).read("WALCL")


def test_damaged_file_that_became_a_folder_is_repaired_by_the_recommended_command(small_store, snapshot_dir):
    root = small_store.root
    small_store.path("GLD").unlink()
    (small_store.path("GLD") / "junk").mkdir(parents=True)
    code, got, err = _status(root)
    assert code == 1 and got["damaged"] == ["GLD"] and "hedge data import" in err
    code, _, err = run_cli("data", "import", str(snapshot_dir), "--series", "GLD", "--data-dir", str(root))
    assert code == 0, err
    assert small_store.path("GLD").is_file() and _status(root)[0] == 0


def test_disk_full_mid_import_leaves_the_store_exactly_as_before(small_store, snapshot_dir, monkeypatch):
    """Fault injection: the 3rd parquet write of a 4-series import fails with ENOSPC."""
    import errno

    import pyarrow.parquet as pq

    before = fingerprint(small_store.root)
    real, calls = pq.write_table, []

    def full(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **k)

    monkeypatch.setattr(pq, "write_table", full)
    code, out, err = run_cli("data", "import", str(snapshot_dir), "--data-dir", str(small_store.root))
    assert code == 1 and "disk is full" in err and "nothing was changed" in err, err
    one_error_line(err)
    assert fingerprint(small_store.root) == before
    assert _staging(small_store.root) == []


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_disk_full_on_a_real_small_tmpfs(tmp_path, snapshot_dir):
    """Where a tmpfs can be mounted (root): an import and an export that do not fit fail cleanly."""
    mnt = tmp_path / "small"
    if not _tmpfs(mnt, "3m"):
        pytest.skip("cannot mount a tmpfs here (not root); the fault-injection tests cover the same paths")
    try:
        store = Store(mnt / "store")
        import_snapshot(snapshot_dir, store, series=["WALCL", "SOFR"])
        before = fingerprint(store.root)
        code, _, err = run_cli("data", "import", str(snapshot_dir), "--data-dir", str(store.root))
        assert code == 1 and "disk is full" in err, err
        one_error_line(err)
        assert fingerprint(store.root) == before and _staging(store.root) == []
        ballast = mnt / "ballast"
        ballast.write_bytes(b"\0" * (os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize - 20_000))
        target = mnt / "signals.csv"
        target.write_text("previous export\n")
        code, _, err = run_cli("signals", "--export", str(target), "--data-dir", str(store.root))
        assert code == 1 and "disk is full" in err, err
        assert target.read_text() == "previous export\n"
        assert not [p for p in mnt.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_export_cut_by_a_full_disk_leaves_the_old_file(snapshot_store, tmp_path, monkeypatch):
    import errno

    target = tmp_path / "signals.csv"
    target.write_text("previous export\n")
    real = pd.DataFrame.to_csv

    def half(self, path, *a, **k):
        Path(path).write_text("date,half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half)
    code, out, err = run_cli("signals", "--export", str(target), "--data-dir", str(snapshot_store.root))
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    assert code == 1 and "disk is full" in err, err
    one_error_line(err)
    assert target.read_text() == "previous export\n" and sorted(p.name for p in tmp_path.iterdir()) == ["signals.csv"]
    code, out, err = run_cli("signals", "--export", str(tmp_path / "missing" / "s.csv"),
                             "--data-dir", str(snapshot_store.root))  # fmt: skip
    assert code == 2 and "does not exist" in err, err  # checked before any work
    one_error_line(err)


# ---- prices on days the exchange was closed
def _snapshot_with(tmp_path: Path, snapshot_dir: Path, spec, edit) -> Path:
    src = tmp_path / "snap"
    (src / spec.snapshot_path).parent.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(snapshot_dir / spec.snapshot_path, dtype=str)
    edit(frame).to_csv(src / spec.snapshot_path, index=False)
    return src


@pytest.mark.parametrize("days", [1, -1])
def test_prices_shifted_by_a_day_are_refused_with_the_first_bad_date(tmp_path, snapshot_dir, small_store, days):
    def shift(f):
        f["date"] = (pd.to_datetime(f["date"]) + pd.Timedelta(days=days)).dt.strftime("%Y-%m-%d")
        return f

    src = _snapshot_with(tmp_path, snapshot_dir, PRICE, shift)
    first = pd.Timestamp(pd.read_csv(src / PRICE.snapshot_path)["date"].pipe(pd.to_datetime).pipe(
        lambda d: d[d.dt.day_of_week >= 5].iloc[0]))  # fmt: skip
    before = fingerprint(small_store.root)
    code, out, err = run_cli("data", "import", str(src), "--series", "GLD", "--data-dir", str(small_store.root))
    assert code == 1 and f"dated {first.date()}" in err and "closed" in err and "shifted" in err, err
    one_error_line(err)
    assert fingerprint(small_store.root) == before


def test_an_nyse_holiday_row_is_refused_and_crypto_keeps_its_weekends(tmp_path, snapshot_dir):
    spy = catalog.get("SPY")

    def holiday(f):
        row = f[f["date"] == "2020-07-02"].copy()
        row["date"] = "2020-07-03"  # Independence Day observed: NYSE closed, a Friday
        return pd.concat([f, row]).sort_values("date")

    src = _snapshot_with(tmp_path, snapshot_dir, spy, holiday)
    with pytest.raises(DataError, match=r"dated 2020-07-03, not a session of XNYS"):
        validate.read_csv(spy, src / spy.snapshot_path)
    btc = catalog.get("BTC-USD")
    frame = validate.read_csv(btc, snapshot_dir / btc.snapshot_path)
    assert (frame["date"].dt.day_of_week >= 5).sum() > 1000 and not frame.attrs.get("warnings")


def test_the_snapshot_imports_with_only_its_known_calendar_warning(snapshot_dir):
    """The real snapshot passes: every NYSE-listed price on an XNYS session; GC=F's two rows on CME
    closures (2007-01-02, 2025-01-09: days of mourning) are within tolerance and warned about by count."""
    warned = {}
    for spec in catalog.CATALOG.values():
        if spec.kind == "price":
            warned[spec.id] = validate.read_csv(spec, snapshot_dir / spec.snapshot_path).attrs.get("warnings")
    assert {k: v for k, v in warned.items() if v} == {"GC_F": [warned["GC_F"][0]]}
    assert "2 GC_F row(s)" in warned["GC_F"][0] and "2007-01-02" in warned["GC_F"][0]


# ---- a run that cannot be right does not run
def test_missing_core_series_needed_by_the_strategy_is_exit_1(tmp_path, snapshot_store):
    root = tmp_path / "store"
    shutil.copytree(snapshot_store.root, root)
    (root / "series" / "WRESBAL.parquet").unlink()
    code, out, err = run_cli("backtest", "reserve-scarcity", "--data-dir", str(root), "--reports-dir", str(tmp_path))
    assert code == 1 and "WRESBAL" in err and "reserve-scarcity needs" in err and "hedge data" in err, err
    one_error_line(err)


# ---- the environment
def test_environment_faults_keep_the_error_contract(tmp_path, snapshot_dir, snapshot_store, small_store, monkeypatch):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    cases = [
        (("data", "status", "--data-dir", str(afile)), 1, "is a file, not a folder"),
        (("data", "import", str(snapshot_dir), "--series", "SOFR", "--data-dir", str(afile)), 1, "is a file"),
    ]
    lockdir = tmp_path / "lockdir"
    shutil.copytree(small_store.root, lockdir)
    (lockdir / ".lock").unlink()
    (lockdir / ".lock").mkdir()
    cases.append((("data", "import", str(snapshot_dir), "--series", "SOFR", "--data-dir", str(lockdir)), 1,
                  "lock"))  # fmt: skip
    binary = tmp_path / "holdings.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    cases.append((("now", "seed-thesis", "--holdings", str(binary), "--data-dir", str(snapshot_store.root)), 2,
                  "holdings file"))  # fmt: skip
    for args, want, needle in cases:
        code, out, err = run_cli(*args)
        assert code == want and needle in err, (args, code, err)
        one_error_line(err)
    # permission denied / read-only file system anywhere below a command: the OSError contract
    import errno

    from backtester.data import store as store_mod

    for err_no, words in ((errno.EACCES, "permission denied"), (errno.EROFS, "read-only")):
        real = store_mod.os.open

        def refuse(path, *a, _e=err_no, _real=real, **k):
            if str(path).endswith(".lock"):
                raise OSError(_e, os.strerror(_e), str(path))
            return _real(path, *a, **k)

        monkeypatch.setattr(store_mod.os, "open", refuse)
        code, out, err = run_cli("data", "import", str(snapshot_dir), "--series", "SOFR",
                                 "--data-dir", str(small_store.root))  # fmt: skip
        monkeypatch.undo()
        assert code == 1 and words in err, err
        one_error_line(err)


def test_ctrl_c_prints_one_line_and_exits_130(small_store, snapshot_dir, monkeypatch):
    """A real SIGINT (to this process, from a timer) while the import validates its files."""
    real = validate.read_csv

    def slow(*a, **k):
        time.sleep(30)
        return real(*a, **k)

    monkeypatch.setattr(validate, "read_csv", slow)
    before = fingerprint(small_store.root)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code, out, err = run_cli("data", "import", str(snapshot_dir), "--data-dir", str(small_store.root))
    finally:
        timer.cancel()
    assert (code, err) == (130, "error: interrupted\n")
    assert fingerprint(small_store.root) == before


@pytest.mark.parametrize(
    "args, needle",
    [
        (("sweep", "seed-thesis", "--grid", "floor=0.05,0.1", "--pbo-blocks", "40"), "--pbo-blocks 40"),
        (("sweep", "seed-thesis", "--grid", "floor=0.05,0.1", "--max-combinations", "1000000000"), "above the limit"),
        (("sweep", "seed-thesis", "--grid", "floor=0.05,0.1", "--spa", "--spa-reps", "100000000"), "--spa-reps"),
        (("sweep", "seed-thesis", "--grid", "floor=0:1:0.0000001"), "values"),
        (("significance", "any-000000000000", "--n-boot", "1000000000"), "--n-boot"),
    ],
)
def test_options_that_size_work_are_bounded_before_work_starts(args, needle, tmp_path):
    """Checked before anything is read: the data dir here does not even exist."""
    t = time.monotonic()
    code, out, err = run_cli(*args, *(() if args[0] == "significance" else ("--data-dir", str(tmp_path / "none"))))
    assert code == 2 and needle in err, err
    one_error_line(err)
    assert time.monotonic() - t < 30


def test_bidi_and_markup_are_escaped_in_html_and_terminal():
    from backtester.cli import common
    from backtester.report._io import esc

    assert esc("a\u202eb\u2066c") == "a\\u202eb\\u2066c"
    assert str(common.text("[bold]\u202ex")) == "[bold]\\u202ex"
    from backtester.errors import UsageError

    assert "\u202e" not in UsageError("name \u202eexe", "fix \u2067").line()
