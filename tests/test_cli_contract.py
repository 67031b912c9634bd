"""The CLI contract across commands: json is one object with snake_case keys, identical run to run; an
unwritable reports folder is exit 1 with one line and nothing half-written."""

from __future__ import annotations

import json
import re
import stat

import pytest

from tests.conftest import run_cli

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")

COMMANDS = [
    ["data", "status"],
    ["data", "show", "WALCL", "--asof", "2025-10-20"],
    ["signals", "--asof", "2025-10-20"],
    ["strategies"],
    ["backtest", "spread-stress", "--start", "2019-01-02", "--end", "2021-12-31"],
    ["now", "qt-pivot"],
    ["events", "--type", "qt-end", "--assets", "GLD"],
    ["sweep", "static-mix", "--grid", "gld=0:0.4:0.2", "--grid", "spy=0.2,0.4", "--start", "2015-01-02"],
    ["thesis"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_json_is_one_stable_object(snapshot_store, tmp_path, args):
    extra = ["--format", "json"] + ([] if args[0] == "strategies" else ["--data-dir", str(snapshot_store.root)])
    if args[0] in ("backtest", "sweep"):
        extra += ["--reports-dir", str(tmp_path)]
    c1, o1, e1 = run_cli(*args, *extra)
    c2, o2, e2 = run_cli(*args, *extra)
    assert c1 == 0 and c2 == 0, e1 + e2
    assert o1 == o2, "two runs on the same data must print byte-identical json"
    obj = json.loads(o1)
    assert isinstance(obj, dict) and o1.count("\n") == 1
    bad = [k for k in obj if not SNAKE.match(k)]
    assert not bad, bad
    assert "NaN" not in o1 and "Infinity" not in o1


def test_unwritable_reports_folder_exits_1(snapshot_store, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        import os

        if os.access(ro, os.W_OK):  # root ignores permission bits: use a file where the folder should be
            ro.chmod(0o755)
            ro.rmdir()
            ro.write_text("not a folder")
        c, out, err = run_cli(
            "backtest",
            "spread-stress",
            "--start",
            "2019-01-02",
            "--end",
            "2019-12-31",
            "--data-dir",
            str(snapshot_store.root),
            "--reports-dir",
            str(ro),
        )
        assert c == 1 and err.startswith("error: cannot write") and err.count("\n") == 1 and out == ""
        assert "--reports-dir" in err
    finally:
        if ro.is_dir():
            ro.chmod(0o755)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".spread-stress")]
