"""Strategy files, experiment files and reruns from the command line, on the real snapshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def store_dir(snapshot_store):
    return str(snapshot_store.root)


def _ok(*args):
    code, out, err = run_cli(*args)
    assert code == 0, err
    return json.loads(out) if "--format" in args else out


# ---------------------------------------------------------------- hostile expressions: exit 2, one line, no effect
HOSTILE_WHEN = [
    "__import__('os').system('touch {marker}')",
    "().__class__.__bases__[0].__subclasses__()",
    "open('{marker}', 'w')",
    "9 ** 9 ** 9 ** 9 ** 9",
    "not " * 500 + "qt_ended",
    "(lambda: __import__('os').system('touch {marker}'))()",
]


@pytest.mark.parametrize("when", HOSTILE_WHEN)
def test_hostile_expression_exits_2_and_has_no_effect(tmp_path, store_dir, when):
    marker = tmp_path / "pwned"
    rules = tmp_path / "rules.toml"
    rules.write_text(f'name = "evil"\n[[rule]]\nwhen = """{when.format(marker=marker)}"""\nweights = {{ GLD = 1 }}\n')
    weights_csv = tmp_path / "weights.csv"
    reports = tmp_path / "reports"
    code, out, err = run_cli(
        "backtest", str(rules), "--export-weights", str(weights_csv), "--data-dir", store_dir,
        "--reports-dir", str(reports),
    )  # fmt: skip
    assert code == 2, err
    assert err.startswith("error: rules.toml rule 1: ") and err.count("\n") == 1, err
    assert out == ""
    assert not marker.exists() and not weights_csv.exists() and not reports.exists()


def test_unknown_name_error_points_at_file_rule_and_suggests(tmp_path, store_dir):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'name = "x"\n[[rule]]\nwhen = "qt_ended"\nweights = { GLD = 1 }\n'
        '[[rule]]\nwhen = "reserve_to_gdp < 0.1"\nweights = { GLD = 0.5 }\n'
    )
    for cmd in (["backtest"], ["now"], ["sweep"], ["walkforward"], ["strategies", "--show"]):
        code, out, err = (
            run_cli(*cmd, str(rules), "--data-dir", store_dir) if cmd[0] != "strategies" else run_cli(*cmd, str(rules))
        )
        assert code == 2, (cmd, err)
        assert err == "error: rules.toml rule 2: unknown name 'reserve_to_gdp' (did you mean reserves_to_gdp?)\n"


# ---------------------------------------------------------------- listing and explaining
def test_strategies_lists_file_strategies_and_shows_one():
    out = _ok("strategies", "--strategies-dir", str(EXAMPLES), "--format", "json")["strategies"]
    assert out["seed-thesis-trend"]["source"].endswith("seed-thesis-trend.toml")
    assert out["reserves-tlt"]["params"]["tlt_share"].items() >= {
        "type": "float", "default": 0.5, "min": 0.0, "max": 1.0, "choices": None,
        "help": "TLT's share of the hedge, the rest gold",
    }.items()  # fmt: skip
    assert "seed-thesis" in out  # built-ins still listed
    show = _ok("strategies", "--show", str(EXAMPLES / "seed-thesis-trend.toml"), "--format", "json")["strategy"]
    assert [r["rule"] for r in show["rules"]] == [1, 2, 3] and show["rules"][2]["default"]
    assert show["rules"][0]["prices"] == ["GLD"] and show["rules"][0]["params"] == ["floor", "window"]
    table = _ok("strategies", "--show", str(EXAMPLES / "seed-thesis-trend.toml"))
    assert "sma(GLD, window)" in table and "all CASH" in table


# ---------------------------------------------------------------- the file runs everywhere a name does
def test_file_backtest_equals_builtin_backtest(tmp_path, store_dir):
    rep = str(tmp_path / "r")
    a = _ok("backtest", str(EXAMPLES / "seed-thesis.toml"), "--param", "floor=0.12", "--data-dir", store_dir,
            "--reports-dir", rep, "--format", "json")  # fmt: skip
    b = _ok("backtest", "seed-thesis", "--param", "floor=0.12", "--data-dir", store_dir, "--reports-dir", rep,
            "--format", "json")  # fmt: skip
    assert a["strategy"] == b["strategy"] and a["benchmark"] == b["benchmark"]
    assert a["run_id"].startswith("seed-thesis-file-") and a["strategy_name"] == "seed-thesis-file"
    assert (Path(a["run_dir"]) / "strategy.toml").read_text() == (EXAMPLES / "seed-thesis.toml").read_text()
    assert (Path(a["run_dir"]) / "returns.csv").read_bytes() == (Path(b["run_dir"]) / "returns.csv").read_bytes()
    # the tearsheet of a file run draws the signals its rules read, from the copy saved with the run
    from backtester.report import _uses
    from backtester.saved_runs import load_saved_run

    assert _uses(load_saved_run(Path(a["run_dir"]))) == (
        "reserves_to_gdp", "rrp_balance", "sofr_effr_bp_20d", "sofr_iorb_bp_20d", "qt_ended",
    )  # fmt: skip
    # the run id does not depend on the path the file was given as
    shutil.copy(EXAMPLES / "seed-thesis.toml", tmp_path / "copy.toml")
    c = _ok("backtest", str(tmp_path / "copy.toml"), "--param", "floor=0.12", "--data-dir", store_dir,
            "--reports-dir", rep, "--format", "json")  # fmt: skip
    assert c["run_id"] == a["run_id"]
    now = _ok("now", str(EXAMPLES / "seed-thesis.toml"), "--data-dir", store_dir, "--format", "json")
    assert now["weights"] == _ok("now", "seed-thesis", "--data-dir", store_dir, "--format", "json")["weights"]


def test_sweep_of_a_file_equals_backtest_of_its_best_row(tmp_path, store_dir):
    rep = str(tmp_path / "r")
    f = str(EXAMPLES / "seed-thesis-trend.toml")
    sw = _ok("sweep", f, "--grid", "floor=0.06:0.14:0.01", "--grid", "window=50:250:25", "--grid",
             "btc=0.1,0.2,0.3", "--data-dir", store_dir, "--reports-dir", rep, "--format", "json")  # fmt: skip
    assert sw["combinations"]["valid"] >= 200 and sw["strategy_name"] == "seed-thesis-trend"
    best = sw["top"][0]
    args = [x for k, v in best["params"].items() for x in ("--param", f"{k}={v}")]
    bt = _ok("backtest", f, *args, "--data-dir", store_dir, "--reports-dir", rep, "--format", "json")
    assert bt["period"] == sw["period"]
    for k in ("sharpe", "cagr", "total_return", "max_drawdown", "volatility", "turnover", "costs"):
        assert bt["strategy"][k] == pytest.approx(best[k], abs=1e-9), k


# ---------------------------------------------------------------- experiment files and reruns
def test_run_experiment_then_rerun_is_byte_identical(tmp_path, store_dir):
    rep = tmp_path / "r"
    out = _ok("run", str(EXAMPLES / "experiment.toml"), "--no-report", "--data-dir", store_dir,
              "--reports-dir", str(rep), "--format", "json")  # fmt: skip
    assert len(out["runs"]) == 3 and Path(out["compare"]).is_file()
    # the file's start (decisions from 2015-01-02, the first return the next session)
    assert {r["period"]["start"] for r in out["runs"]} == {"2015-01-05"}
    assert {r["benchmark_name"] for r in out["runs"]} == {"spy=0.6,ief=0.4"}
    for r in out["runs"]:
        d = Path(r["run_dir"])
        before = (d / "run.json").read_bytes()
        (d / "returns.csv").unlink()
        code, stdout, err = run_cli("rerun", r["run_id"], "--data-dir", store_dir, "--reports-dir", str(rep),
                                    "--format", "json")  # fmt: skip
        assert code == 0, err
        assert stdout == json.dumps(r) + "\n"  # the same json as the experiment printed for it
        assert (d / "run.json").read_bytes() == before
        assert (d / "returns.csv").is_file()
        exp = json.loads(before)["experiment"]
        assert exp["start"] == "2015-01-02" and exp["strategy_file"]["copy"] == "strategy.toml"


def test_command_line_overrides_the_experiment_file(tmp_path, store_dir):
    out = _ok("run", str(EXAMPLES / "experiment.toml"), "--no-report", "--start", "2016-01-04", "--param",
              "floor=0.12", "--benchmark", "SPY", "--data-dir", store_dir, "--reports-dir",
              str(tmp_path / "r"), "--format", "json")  # fmt: skip
    assert {r["period"]["start"] for r in out["runs"]} == {"2016-01-05"}
    assert {r["benchmark_name"] for r in out["runs"]} == {"SPY"}
    assert [r["params"]["floor"] for r in out["runs"]] == [0.12] * 3
    assert out["runs"][2]["params"]["tlt_share"] == 0.5  # the file's own params stay
    # --strategy replaces every run's strategy: a parameter the new one lacks is a usage error
    code, _, err = run_cli("run", str(EXAMPLES / "experiment.toml"), "--strategy", "seed-thesis", "--data-dir",
                           store_dir, "--reports-dir", str(tmp_path / "r2"))  # fmt: skip
    assert code == 2 and "unknown parameter 'tlt_share'" in err and not (tmp_path / "r2").exists()


def test_bad_experiment_files_exit_2(tmp_path, store_dir):
    cases = {
        'strategy = "seed-thesis"\nbogus = 1\n': "unknown key 'bogus'",
        "[[run]]\nparams = { floor = 0.1 }\n": "no strategy",
        'strategy = "seed-thesis"\nexec_lag = "one"\n': "exec_lag",
        'strategy = "seed-thesis"\nparams = { nope = 1 }\n': "unknown parameter 'nope'",
        'strategy = "missing.toml"\n': "does not exist",
    }
    for body, msg in cases.items():
        p = tmp_path / "exp.toml"
        p.write_text(body)
        code, out, err = run_cli("run", str(p), "--data-dir", store_dir, "--reports-dir", str(tmp_path / "r"))
        assert code == 2 and msg in err and err.count("\n") == 1, (body, err)
        assert not (tmp_path / "r").exists()


def test_rerun_refuses_an_unknown_or_edited_run(tmp_path, store_dir):
    rep = tmp_path / "r"
    code, _, err = run_cli("rerun", "nope-123", "--data-dir", store_dir, "--reports-dir", str(rep))
    assert code == 2 and "no saved run" in err
    a = _ok("backtest", str(EXAMPLES / "reserves-tlt.toml"), "--data-dir", store_dir, "--reports-dir", str(rep),
            "--format", "json")  # fmt: skip
    copy = Path(a["run_dir"]) / "strategy.toml"
    copy.write_text(copy.read_text().replace("0.6", "0.5"))
    code, _, err = run_cli("rerun", a["run_id"], "--data-dir", store_dir, "--reports-dir", str(rep))
    assert code == 1 and "was edited" in err


def test_walkforward_of_the_file_equals_the_builtin(tmp_path, store_dir):
    args = ["--grid", "floor=0.08,0.1,0.12", "--grid", "spread_bp=0,5", "--train", "3y", "--test", "1y",
            "--no-report", "--data-dir", store_dir, "--reports-dir", str(tmp_path / "r"),
            "--format", "json"]  # fmt: skip
    a = _ok("walkforward", str(EXAMPLES / "seed-thesis.toml"), *args)
    b = _ok("walkforward", "seed-thesis", *args)
    assert a["strategy_name"] == "seed-thesis-file"
    assert len(a["windows"]) >= 5
    assert [w["params"] for w in a["windows"]] == [w["params"] for w in b["windows"]]
    assert a["out_of_sample"] == b["out_of_sample"]


def test_run_with_report_then_rerun_rewrites_the_tearsheet(tmp_path, store_dir):
    exp = tmp_path / "one.toml"
    exp.write_text(
        f'title = "TLT as the hedge"\nreport = true\nstrategy = "{EXAMPLES / "reserves-tlt.toml"}"\n'
        'start = "2020-01-02"\nrebalance = "monthly"\n'
    )
    rep = tmp_path / "r"
    out = _ok("run", str(exp), "--data-dir", store_dir, "--reports-dir", str(rep), "--format", "json")
    (r,) = out["runs"]
    assert out["compare"] is None and Path(r["report"]).is_file()
    d = Path(r["run_dir"])
    before = (d / "run.json").read_bytes()
    assert json.loads(before)["experiment"]["title"] == "TLT as the hedge"
    Path(r["report"]).unlink()
    code, stdout, err = run_cli("rerun", r["run_id"], "--data-dir", store_dir, "--reports-dir", str(rep),
                                "--format", "json")  # fmt: skip
    assert code == 0, err
    assert stdout == json.dumps(r) + "\n" and (d / "run.json").read_bytes() == before
    assert "TLT as the hedge" in Path(r["report"]).read_text()
