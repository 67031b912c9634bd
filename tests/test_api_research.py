"""The research half of the Python API (issue 11): ``hb.walkforward``, ``hb.events`` and ``hb.thesis`` give the
numbers the CLI prints for the same question, as frames plus the CLI's json object."""

from __future__ import annotations

import json

import pytest

import backtester as hb
from tests.conftest import run_cli

WF = dict(grid=["floor=0.08,0.1"], train="2y", test="1y", start="2018-01-02")


def cli_json(*args):
    code, out, err = run_cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def store(snapshot_store):
    return hb.open_store(snapshot_store.root)


def test_walkforward_equals_the_cli(store, snapshot_store, tmp_path):
    wf = hb.walkforward(store, "seed-thesis", **WF)
    cli = cli_json(
        "walkforward", "seed-thesis", "--grid", WF["grid"][0], "--train", "2y", "--test", "1y", "--start",
        WF["start"], "--no-report", "--data-dir", str(snapshot_store.root), "--reports-dir", str(tmp_path),
    )  # fmt: skip
    js = wf.to_json()
    for k in ("windows", "out_of_sample", "parameter_changes", "combinations", "period", "degradation"):
        assert js[k] == cli[k], k
    # the frames say the same: one row per window, the chosen floor, the stitched book's returns
    assert len(wf.windows) == len(cli["windows"]) >= 5
    assert wf.windows["param_floor"].tolist() == [w["params"]["floor"] for w in cli["windows"]]
    oos = cli["out_of_sample"]["strategy"]
    growth = (1 + wf.returns["strategy"].loc[oos["start"] : oos["end"]]).prod() - 1
    assert growth == pytest.approx(oos["total_return"], rel=1e-9)
    assert wf.run.metrics["sharpe"] == pytest.approx(oos["sharpe"], rel=1e-12)


def test_events_equal_the_cli(store, snapshot_store):
    ev = hb.events(store, types=["qt-end", "spread-spike"])
    cli = cli_json("events", "--type", "qt-end,spread-spike", "--data-dir", str(snapshot_store.root))
    assert ev.to_json() == {k: v for k, v in cli.items() if k != "plot"}  # the CLI adds its --plot file
    n = sum(len(t["events"]) for t in cli["types"])
    assert len(ev.events) == n > 0 and set(ev.events["type"]) == {"qt-end", "spread-spike"}
    rows = sum(len(t["results"]) for t in cli["types"])
    assert len(ev.results) == rows and {"n", "mean"} <= set(ev.results.columns)


def test_thesis_equals_the_cli(store, snapshot_store):
    th = hb.thesis(store)
    cli = cli_json("thesis", "--data-dir", str(snapshot_store.root))
    assert th.to_json() == {k: v for k, v in cli.items() if k != "html"}  # the CLI adds its --html file
    assert th.report["since"] == "2025-10-14" and len(th.verdicts) > 0
    assert len(th.curves) > 100  # growth of 1 per session since the essay
