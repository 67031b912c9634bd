"""Every command's output at 100 columns (the width of a piped terminal unless $COLUMNS says otherwise):
no line wider than 100, nothing cut off with an ellipsis, no progress output when not on a terminal, dates
without a midnight time, and in the tables meant to be scanned line by line (walkforward, sweep, events,
now, data status, strategies) every row on one line and every header on one line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli

WIDTH = 100
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _snapshot() -> str:
    from backtester.paths import default_snapshot_dir

    return str(default_snapshot_dir())


SNAPSHOT = _snapshot()
ONE_LINE = {"walkforward", "sweep", "events", "now", "data status", "strategies"}
NO_TABLE = {"report", "data add", "data remove"}  # commands that print lines, not a table


@pytest.fixture(scope="module")
def saved(snapshot_store, tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    ids = []
    for strat in ("seed-thesis", "qt-pivot"):
        c, o, e = run_cli(
            "backtest", strat, "--start", "2019-01-02", "--data-dir", str(snapshot_store.root),
            "--reports-dir", str(reports), "--format", "json",
        )  # fmt: skip
        assert c == 0, e
        ids.append(json.loads(o)["run_id"])
    return reports, ids


def commands(store: str, reports: str, ids: list[str], tmp: str = "t") -> dict[str, list[str]]:
    """Every command of `hedge` (``tmp``: a folder for the files some of them read or write)."""
    d, r = ["--data-dir", store], ["--reports-dir", reports]
    return {
        "data import": ["data", "import", SNAPSHOT, "--data-dir", f"{tmp}/new-store"],
        "data pull": ["data", "pull", "--ticker", "IBIT", *d],
        "data add": ["data", "add", f"{tmp}/my.csv", "--id", "MY_SILVER", "--kind", "price", *d],
        "data remove": ["data", "remove", "MY_SILVER", *d],
        "data status": ["data", "status", *d],
        "data show": ["data", "show", "WALCL", *d],
        "signals": ["signals", *d],
        "strategies": ["strategies"],
        "strategies --show": ["strategies", "--show", str(EXAMPLES / "seed-thesis.toml")],
        "backtest": ["backtest", "spread-stress", "--start", "2019-01-02", *d, *r],
        "backtest --report": ["backtest", "qt-pivot", "--start", "2019-01-02", "--report", *d, *r],
        "report": ["report", ids[1], *r],
        "rerun": ["rerun", ids[0], *d, *r],
        "run": ["run", str(EXAMPLES / "experiment.toml"), "--no-report", *d, *r],
        "now": ["now", "seed-thesis", *d],
        "now --value": ["now", "seed-thesis", "--value", "100000", *d],
        "events": ["events", "--type", "qt-end,spread-spike", *d],
        "thesis": ["thesis", *d],
        "significance": ["significance", ids[0], *r],
        "compare": ["compare", *ids, *r],
        "sweep": [  # four swept parameters: the least important metric columns make room
            "sweep", "seed-thesis", "--grid", "floor=0.09,0.1", "--grid", "spread_bp=0,5", "--grid", "gold=0.4,0.5",
            "--grid", "btc=0.2,0.3", *d, *r,
        ],
        "sweep --spa": [
            "sweep", "seed-thesis", "--grid", "floor=0.09,0.1", "--grid", "spread_bp=0,5", "--spa", "--spa-reps",
            "50", *d, *r,
        ],
        "walkforward": [
            "walkforward", "seed-thesis", "--grid", "floor=0.08,0.1", "--train", "2y", "--test", "1y",
            "--start", "2018-01-02", "--no-report", *d, *r,
        ],
    }  # fmt: skip


def _tables(text: str) -> list[tuple[list[str], list[str]]]:
    """(header lines, body lines) of each rich table (a rule of ─ under the header, a blank line after)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip() and set(line.strip()) == {"─"}:
            head = []
            j = i - 1
            while j >= 0 and lines[j].strip():
                head.insert(0, lines[j])
                j -= 1
            body = []
            k = i + 1
            while k < len(lines) and lines[k].strip():
                body.append(lines[k])
                k += 1
            out.append((head, body))
    return out


WRITES_STORE = {"data pull", "data add", "data remove"}


@pytest.fixture(scope="module")
def private_store(snapshot_store, tmp_path_factory):
    """A copy of the snapshot store for the commands that change one."""
    d = tmp_path_factory.mktemp("private") / "store"
    shutil.copytree(snapshot_store.root, d)
    return d


def test_every_command_is_covered():
    from backtester.cli import app

    names = set()
    for info in app.registered_commands:
        names.add(info.name)
    for group in app.registered_groups:
        names |= {f"{group.name} {c.name}" for c in group.typer_instance.registered_commands}
    covered = {n.split(" --")[0] for n in commands("s", "r", ["a", "b"])}
    assert names - covered == set(), f"commands without a 100-column check: {sorted(names - covered)}"


@pytest.mark.parametrize("name", list(commands("s", "r", ["a", "b"])))
def test_every_command_fits_100_columns(snapshot_store, private_store, saved, monkeypatch, tmp_path, name):
    reports, ids = saved
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    store = private_store if name in WRITES_STORE else snapshot_store.root
    slv = pd.read_csv(Path(SNAPSHOT) / "prices" / "SLV.csv")[["date", "close"]].dropna()
    slv.to_csv(tmp_path / "my.csv", index=False)
    if name == "data pull":  # a recorded answer instead of Yahoo (no network): real GLD bars, relabelled
        import yfinance

        from backtester.data.sources import http
        from tests.test_sources import FakeDownload

        gld = pd.read_csv(Path(SNAPSHOT) / "prices" / "GLD.csv").tail(30)
        bars = pd.DataFrame({k: gld["close"].values for k in ("Open", "High", "Low", "Close")},
                            index=pd.DatetimeIndex(gld["date"])).assign(Volume=1e6)  # fmt: skip
        monkeypatch.setattr(http, "sleep", lambda s: None)
        monkeypatch.setattr(yfinance, "download", FakeDownload(bars))
    if name == "data remove":
        assert run_cli(*commands(str(store), "r", ids, str(tmp_path))["data add"])[0] == 0
    args = commands(str(store), str(reports), ids, str(tmp_path))[name]
    c, out, err = run_cli(*args)
    assert c == 0, err
    if name == "data import":  # the snapshot's GC=F has 2 rows on CME holidays: a warning, kept
        err = "\n".join(x for x in err.splitlines() if not x.startswith("warning: ") or "GC_F" not in x)
    assert err == "", f"{name}: nothing on stderr when it is not a terminal (no progress), got {err[:200]!r}"
    assert out.strip()
    wide = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not wide, f"{name}: {len(wide)} lines wider than {WIDTH}: {wide[0]!r}"
    assert "…" not in out, f"{name}: a cell or header was cut off"
    assert not re.search(r"\d{4}-\d\d-\d\d[ T]00:00:00", out), f"{name}: a date printed with a midnight time"
    tables = _tables(out)
    assert tables or name in NO_TABLE, f"{name}: no table found"
    if name in ONE_LINE:
        for head, body in tables:
            assert len(head) == 1, f"{name}: the header takes {len(head)} lines: {head}"
            wrapped = [b for b in body if len(b) - len(b.lstrip()) > 3]
            assert not wrapped, f"{name}: a row wraps onto a continuation line: {wrapped[0]!r}"


def test_data_status_never_negative_behind(snapshot_store):
    c, out, err = run_cli("data", "status", "--data-dir", str(snapshot_store.root), "--format", "json")
    assert c == 0, err
    rows = json.loads(out)["series"]
    assert all(r["days_behind"] >= 0 for r in rows)
    # BTC-USD's last bar (2026-08-20) is after the store's as-of date (2026-08-19): not behind, not -1
    assert {r["series"]: r["days_behind"] for r in rows}["BTC-USD"] == 0


def test_strategies_give_units_and_meanings(monkeypatch):
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    c, out, err = run_cli("strategies", "--format", "json")
    params = json.loads(out)["strategies"]["seed-thesis"]["params"]
    assert params["rrp_drained_bn"]["unit"] == "$bn" and "RRP" in params["rrp_drained_bn"]["help"]
    assert params["spread_bp"]["unit"] == "bp" and params["floor"]["unit"] == "reserves/GDP"
    c, out, err = run_cli("strategies")
    line = next(x for x in out.splitlines() if "rrp_drained_bn" in x)
    assert "$bn" in line and "RRP below this" in line


def test_stepm_line_says_where_its_combinations_are():
    """StepM ranks by mean excess return, the table by the sweep's metric: the line marks rows with * only
    when some of them are in the set, and otherwise says where the set is listed."""
    from backtester.cli.sweep import _stepm_where

    assert _stepm_where({"top": [{"stepm": False}, {"stepm": True}]}, {"count": 15}) == " (* in the table)"
    assert "none among the rows above" in _stepm_where({"top": [{"stepm": False}]}, {"count": 15})
    assert _stepm_where({"top": [{"stepm": False}]}, {"count": 0}) == ""


def test_runs_that_do_not_fit_continue_in_a_second_table(saved, monkeypatch):
    """`hedge compare` at 45 columns: one run per table, each repeating the metric labels, none wider."""
    reports, ids = saved
    monkeypatch.setenv("COLUMNS", "45")
    c, out, err = run_cli("compare", *ids, "--reports-dir", str(reports))
    assert c == 0, err
    tables = _tables(out)
    assert len(tables) == 2 and "(continued)" in out
    for head, body in tables:
        assert head[-1].split()[0] == "metric" and body[0].split()[0] == "total"
    assert all(len(line) <= 45 for line in out.splitlines() if not line.startswith("page "))
