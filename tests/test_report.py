"""Tearsheets, the reports index and `hedge compare` on the real snapshot."""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO, run_cli

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def made(snapshot_store, tmp_path_factory):
    """seed-thesis backtested with --report (hostile title), qt-pivot saved without a report."""
    reports = tmp_path_factory.mktemp("reports")
    root = str(snapshot_store.root)
    code, out, err = run_cli(
        "backtest", "seed-thesis", "--report", "--title", XSS, "--data-dir", root, "--reports-dir", str(reports),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    seed = json.loads(out)
    code, out, err = run_cli(
        "backtest", "qt-pivot", "--data-dir", root, "--reports-dir", str(reports), "--format", "json"
    )
    assert code == 0, err
    return {"dir": reports, "seed": seed, "pivot": json.loads(out), "root": root}


def page_of(made) -> str:
    return Path(made["seed"]["report"]).read_text()


def qs_metrics(page: str) -> tuple[list[str], dict[str, list[str]]]:
    """QuantStats' key metrics table: (column names, {metric: cells})."""
    i = page.index("Key Performance Metrics")
    table = page[i : page.index("</table>", i)]
    cols = [htmllib.unescape(c) for c in re.findall(r"<th>(.*?)</th>", table)]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [htmllib.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr)]
        if len(cells) == len(cols):
            rows[cells[0]] = cells[1:]
    return cols, rows


def num(cell: str) -> float:
    return float(cell.rstrip("%")) / (100 if cell.endswith("%") else 1)


def test_backtest_report_writes_the_tearsheet_with_the_benchmark(made):
    seed = made["seed"]
    path = Path(seed["report"])
    assert path == made["dir"] / seed["run_id"] / "tearsheet.html"
    cols, rows = qs_metrics(page_of(made))
    assert cols == ["Metric", "SPY", "seed-thesis"]  # the benchmark column is there, and filled
    s, b = seed["strategy"], seed["benchmark"]
    for label, key, tol in (
        ("Sharpe", "sharpe", 0.005), ("Sortino", "sortino", 0.005), ("CAGR", "cagr", 5e-5),
        ("Volatility (ann.)", "volatility", 5e-5), ("Max Drawdown", "max_drawdown", 5e-5),
        ("Cumulative Return", "total_return", 5e-5),
    ):  # fmt: skip
        bench_cell, strat_cell = rows[label]
        assert num(strat_cell) == pytest.approx(s[key], abs=tol + 1e-9), label
        assert num(bench_cell) == pytest.approx(b[key], abs=tol + 1e-9), label
    # the risk-free row is CASH's mean rate, not 0
    assert num(rows["Risk-Free Rate"][1]) > 0.005


def test_quantstats_sharpe_is_the_metrics_sharpe(made):
    import quantstats as qs

    from backtester import metrics
    from backtester.report.tearsheet import qs_stats

    r = pd.read_csv(made["dir"] / made["seed"]["run_id"] / "returns.csv", index_col="date", parse_dates=True)
    ours = metrics.from_arrays(r["strategy"].to_numpy(), r["cash"].to_numpy())
    got = qs_stats(r["strategy"], r["cash"])
    for k in ("sharpe", "sortino", "cagr", "volatility", "max_drawdown"):
        assert got[k] == pytest.approx(ours[k], rel=1e-9, abs=1e-12), k
    assert ours["sharpe"] == pytest.approx(made["seed"]["strategy"]["sharpe"], rel=1e-12)
    # without the cash rate QuantStats' Sharpe would be another number: the check can fail
    assert abs(float(qs.stats.sharpe(r["strategy"], rf=0.0, periods=252)) - ours["sharpe"]) > 0.02


def test_tearsheet_has_the_liquidity_panels_tables_and_manifest(made):
    page = page_of(made)
    for chart in ("signals", "weights", "drawdowns", "equity"):
        m = re.search(rf'<figure class="chart" data-chart="{chart}"><svg\b.*?</svg></figure>', page, flags=re.S)
        assert m and m.group(0).count("<path") > 10, chart
    signals = re.search(r'data-chart="signals">(.*?)</figure>', page, flags=re.S).group(1)
    for text in ("reserves / nominal GDP", "floor = 0.1", "rrp_drained_bn = 50", "spread_bp = 5", "qt-end",
                 "regime: scarce", "after the essay (from 2025-10-14)"):  # fmt: skip
        assert text in signals, text
    for anchor in ("regimes", "sample", "attribution", "controls", "significance", "trades", "events", "manifest"):
        assert f'id="{anchor}"' in page
    # issue 13: a fixed rule is split at the essay as a marker, not as "in sample"; the verdicts are on the page
    assert "before the essay (fixed rule)" in page and "after the essay (continuing positions)" in page
    seed = made["seed"]
    assert htmllib.escape(seed["attribution"]["verdict"], quote=True) in page
    assert htmllib.escape(seed["controls"]["random_timing"]["verdict"], quote=True) in page
    assert f"p = {seed['controls']['random_timing']['p_value']:.3f}" in page
    run_json = json.loads((made["dir"] / made["seed"]["run_id"] / "run.json").read_text())
    manifest = page[page.index('id="manifest"') :]
    assert run_json["data"]["hash"] in manifest
    assert run_json["command"] and f"<td>{run_json['command']}</td>" in htmllib.unescape(manifest)
    assert "2026-08-20" in manifest and "WTREGEN" in manifest and "2025-11-19" in manifest  # data last dates
    assert "floor=0.1" in manifest and "liquidity-hedge 0.1.0" in manifest
    trades = pd.read_csv(made["dir"] / made["seed"]["run_id"] / "trades.csv")
    assert f"{len(trades)} trades" in page


def test_returns_by_regime(made):
    from backtester.report.tables import by_regime

    d = made["dir"] / made["seed"]["run_id"]
    r = pd.read_csv(d / "returns.csv", index_col="date", parse_dates=True)
    sig = pd.read_csv(d / "signals.csv", index_col="date", parse_dates=True)
    table = by_regime(r, sig)
    assert set(table["regime"]) == {"ample", "tightening", "scarce", "easing"}
    strat = table[table["series"] == "strategy"].set_index("regime")
    assert strat["days"].sum() == len(r)
    # a return counts toward the regime known at the previous close
    prev = sig["regime"].reindex(r.index).shift(1)
    prev.iloc[0] = sig["regime"].iloc[0]
    x = r["benchmark"][prev == "scarce"]
    bench = table[table["series"] == "benchmark"].set_index("regime")
    assert bench.loc["scarce", "days"] == len(x)
    assert bench.loc["scarce", "cagr"] == pytest.approx(np.prod(1 + x) ** (252 / len(x)) - 1, rel=1e-9)
    assert bench.loc["scarce", "volatility"] == pytest.approx(x.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert bench.loc["scarce", "hit_rate"] == pytest.approx((x > 0).mean())
    # the excess over the benchmark, regime by regime, on the strategy's rows only
    for reg in strat.index:
        assert strat.loc[reg, "excess_cagr"] == pytest.approx(strat.loc[reg, "cagr"] - bench.loc[reg, "cagr"])
    assert bench["excess_cagr"].isna().all()
    regimes = page_of(made)[page_of(made).index('id="regimes"') :]
    assert f"{100 * strat.loc['easing', 'cagr']:.2f}%" in regimes.split("</table>")[0]


def test_out_of_sample_split(made):
    from backtester.report.tables import by_sample

    r = pd.read_csv(made["dir"] / made["seed"]["run_id"] / "returns.csv", index_col="date", parse_dates=True)
    parts = by_sample(r)
    oos = parts["out of sample|strategy"]
    assert oos["start"] == r.index[r.index >= "2025-10-14"][0].date().isoformat() == "2025-10-14"
    assert oos["total_return"] == pytest.approx(np.prod(1 + r.loc["2025-10-14":, "strategy"]) - 1, rel=1e-9)
    assert parts["in sample|strategy"]["end"] == "2025-10-13"
    assert f"{100 * oos['total_return']:.2f}%" in page_of(made)


def test_the_title_and_names_are_text_not_markup(made, tmp_path):
    page = page_of(made)
    assert "<script" not in page.lower()  # the page has no script at all
    assert f"<title>{htmllib.escape(XSS)}</title>" in page
    assert f"<h1>{htmllib.escape(XSS)} " in page
    code, out, err = run_cli(
        "compare", made["seed"]["run_id"], made["pivot"]["run_id"], "--title", XSS, "--reports-dir",
        str(made["dir"]), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    for p in (Path(json.loads(out)["page"]), made["dir"] / "index.html"):
        assert "<script" not in p.read_text().lower(), p
    assert htmllib.escape(XSS) in Path(json.loads(out)["page"]).read_text()
    # a hostile strategy name and a title that looks like QuantStats' placeholders
    from backtester.report import render_report
    from backtester.saved_runs import load_saved_run

    run = load_saved_run(made["dir"] / made["seed"]["run_id"])
    evil = '<img src=x onerror="alert(1)"> {{metrics}} $5'
    run.manifest["summary"]["strategy_name"] = evil
    out_html = render_report(run, title="{{dd_info}} & <b>bold</b>")
    assert "<img src=x" not in out_html and "<b>bold</b>" not in out_html
    assert htmllib.escape(evil).replace("{", "&#123;").replace("}", "&#125;") in out_html
    assert out_html.count("Worst 10 Drawdowns") == 1 and "&#123;&#123;dd_info&#125;&#125; &amp;" in out_html


def test_no_external_url_and_no_network(made, monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("the report tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    code, out, err = run_cli("report", made["seed"]["run_id"], "--reports-dir", str(made["dir"]))
    assert code == 0, err
    for p in (made["dir"] / made["seed"]["run_id"] / "tearsheet.html", made["dir"] / "index.html"):
        text = p.read_text()
        assert not re.search(r"https?:|//[\w.-]+\.\w+/|<link\b|\bsrc=", text, flags=re.I), p
        assert "favicon" not in text and "onload" not in text


def test_hedge_report_and_the_index(made):
    rid = made["pivot"]["run_id"]
    index = (made["dir"] / "index.html").read_text()
    assert f'href="./{rid}/run.json"' in index and f'href="./{rid}/tearsheet.html"' not in index
    code, out, err = run_cli("report", rid, "--reports-dir", str(made["dir"]), "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got == {
        "run_id": rid,
        "report": str(made["dir"] / rid / "tearsheet.html"),
        "index": str(made["dir"] / "index.html"),
    }
    index = (made["dir"] / "index.html").read_text()
    for run in (made["seed"], made["pivot"]):
        row = re.search(rf"<tr>(?:(?!</tr>).)*{run['run_id']}(?:(?!</tr>).)*</tr>", index, flags=re.S).group(0)
        assert f'href="./{run["run_id"]}/tearsheet.html"' in row
        s = run["strategy"]
        for cell in (f"{100 * s['cagr']:.2f}%", f"{s['sharpe']:.2f}", f"{100 * s['max_drawdown']:.2f}%"):
            assert f"<td>{cell}</td>" in row, cell
        assert f"{run['period']['start']} .. {run['period']['end']}" in row
    code, out, err = run_cli("report", "no-such-run", "--reports-dir", str(made["dir"]))
    assert code == 2 and out == "" and err.startswith("error: no saved run 'no-such-run'")


def test_compare(made):
    a, b = made["seed"]["run_id"], made["pivot"]["run_id"]
    code, out, err = run_cli("compare", a, b, "--reports-dir", str(made["dir"]), "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert [r["run_id"] for r in got["runs"]] == [a, b] and got["same_period"] is True
    assert got["runs"][0]["strategy"]["sharpe"] == made["seed"]["strategy"]["sharpe"]
    assert got["runs"][1]["strategy"]["cagr"] == made["pivot"]["strategy"]["cagr"]
    page = Path(got["page"]).read_text()
    assert 'data-chart="compare-equity"' in page and page.count("<path") > 10
    assert f"{100 * made['pivot']['strategy']['cagr']:.2f}%" in page
    assert Path(got["page"]).name in (made["dir"] / "index.html").read_text()
    code, out, err = run_cli("compare", a, b, "--reports-dir", str(made["dir"]))
    assert code == 0 and "Sharpe (excess of cash)" in out and f"{made['seed']['strategy']['sharpe']:.2f}" in out
    for args in ((a,), (a, a), (a, "nope")):
        code, out, err = run_cli("compare", *args, "--reports-dir", str(made["dir"]))
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), args


def test_a_page_is_drawn_again_only_when_its_inputs_change(made):
    """The tearsheet is a function of the saved run's files, the title and the code (hedge-page-key): the
    same `hedge report` again leaves the page as it is; a new title or a changed run file draws it again."""
    import time

    rid = made["seed"]["run_id"]
    page = made["dir"] / rid / "tearsheet.html"
    assert run_cli("report", rid, "--reports-dir", str(made["dir"]))[0] == 0
    first, t0 = page.read_bytes(), page.stat().st_mtime_ns
    time.sleep(0.01)
    assert run_cli("report", rid, "--reports-dir", str(made["dir"]))[0] == 0
    assert page.stat().st_mtime_ns == t0 and page.read_bytes() == first  # not drawn again
    assert b'<meta name="hedge-page-key"' in first[:4096]
    assert run_cli("report", rid, "--title", "Another title", "--reports-dir", str(made["dir"]))[0] == 0
    assert b"Another title" in page.read_bytes() and page.stat().st_mtime_ns != t0
    # the same title as the first time: the first page, byte for byte (it is deterministic)
    assert run_cli("report", rid, "--reports-dir", str(made["dir"]))[0] == 0
    assert page.read_bytes() == first
    # a run file edited by hand: the page is drawn from it
    trades = made["dir"] / rid / "trades.csv"
    trades.write_bytes(trades.read_bytes() + b"\n")
    t1 = page.stat().st_mtime_ns
    time.sleep(0.01)
    assert run_cli("report", rid, "--reports-dir", str(made["dir"]))[0] == 0
    assert page.stat().st_mtime_ns != t1


def test_unwritable_folder_exits_1_and_leaves_nothing_half_written(made, monkeypatch):
    rid = made["pivot"]["run_id"]
    run_dir = made["dir"] / rid
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    index_before = (made["dir"] / "index.html").read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    # a new title: the page must be drawn again (the same page on disk would be left as it is)
    code, out, err = run_cli("report", rid, "--title", "redrawn", "--reports-dir", str(made["dir"]))
    monkeypatch.undo()
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(f"error: cannot write {run_dir / 'tearsheet.html'}")
    assert "permission denied" in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before  # no temp file left
    assert (made["dir"] / "index.html").read_bytes() == index_before
    # a real failure: the tearsheet's name is taken by a folder
    other = made["seed"]["run_id"]
    sheet = made["dir"] / other / "tearsheet.html"
    sheet.unlink()
    sheet.mkdir()
    try:
        code, out, err = run_cli("report", other, "--reports-dir", str(made["dir"]))
        assert code == 1 and len(err.splitlines()) == 1 and err.startswith("error: cannot write")
        assert not [p for p in sheet.parent.iterdir() if p.name.startswith(".tearsheet")]
    finally:
        sheet.rmdir()


def test_report_is_quiet_on_the_terminal(made):
    """A fresh process (font lookups are cached per process): no font warnings, no pandas warnings."""
    env = {**os.environ, "MPLBACKEND": "", "PYTHONWARNINGS": "default"}
    p = subprocess.run(
        [sys.executable, "-c", "from backtester.cli import main; main()", "report", made["seed"]["run_id"],
         "--reports-dir", str(made["dir"])],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    sheet = made["dir"] / made["seed"]["run_id"] / "tearsheet.html"
    assert p.stdout == f"wrote {sheet}\nindex {made['dir'] / 'index.html'}\n"


def test_compare_aligns_on_the_common_window(made):
    a = made["seed"]["run_id"]
    code, out, err = run_cli(
        "backtest", "spread-stress", "--start", "2019-01-02", "--data-dir", made["root"], "--reports-dir",
        str(made["dir"]), "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    b = json.loads(out)["run_id"]
    code, out, err = run_cli("compare", a, b, "--reports-dir", str(made["dir"]), "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["aligned"] is True and got["same_period"] is False
    ra = pd.read_csv(made["dir"] / a / "returns.csv", index_col="date", parse_dates=True)
    rb = pd.read_csv(made["dir"] / b / "returns.csv", index_col="date", parse_dates=True)
    common = ra.index.intersection(rb.index)
    assert got["window"] == {"start": str(common[0].date()), "end": str(common[-1].date()), "days": len(common)}
    # the longer run is cut to the window: its total return there, not its saved one
    seed = got["runs"][0]["strategy"]
    assert seed["total_return"] == pytest.approx(np.prod(1 + ra.loc[common, "strategy"]) - 1, rel=1e-9)
    assert seed["total_return"] != made["seed"]["strategy"]["total_return"]
    assert seed["days"] == len(common)
    # yearly returns compound within each calendar year of the window; correlations of the daily returns
    label = f"seed-thesis {a.rsplit('-', 1)[-1]}"
    x = ra.loc[common, "strategy"]
    assert got["yearly_returns"]["2020"][label] == pytest.approx(np.prod(1 + x[x.index.year == 2020]) - 1)
    assert min(int(y) for y in got["yearly_returns"]) == common[0].year
    corr = got["correlations"]
    other = f"spread-stress {b.rsplit('-', 1)[-1]}"
    assert corr[label][label] == pytest.approx(1.0)
    assert corr[label][other] == pytest.approx(np.corrcoef(x, rb.loc[common, "strategy"])[0, 1])
    page = Path(got["page"]).read_text()
    assert "rebased to 1 on" in page and "Yearly returns" in page and "Correlations of daily returns" in page
    # --full: each run over its own period, metrics as saved
    code, out, err = run_cli("compare", a, b, "--full", "--reports-dir", str(made["dir"]), "--format", "json")
    full = json.loads(out)
    assert full["aligned"] is False and full["window"] is None
    assert full["runs"][0]["strategy"]["total_return"] == made["seed"]["strategy"]["total_return"]
    assert full["page"] != got["page"]


def test_monthly_table_leaves_months_outside_the_run_empty():
    import quantstats.stats as qst

    from backtester.report.tearsheet import _run_months_only

    idx = pd.bdate_range("2019-03-15", "2020-02-10")
    r = pd.Series(0.001, index=idx, name="x")
    plain = qst.monthly_returns(r, eoy=False)
    assert plain.loc["2019", "JAN"] == 0  # QuantStats' own: 0.00 before the run
    table = _run_months_only(qst.monthly_returns)(r, eoy=False)
    assert table.loc["2019", ["JAN", "FEB"]].isna().all()  # before the run: empty, not 0.00
    assert table.loc["2020", ["MAR", "DEC"]].isna().all()  # after it
    assert table.loc["2019", "MAR"] > 0 and table.loc["2020", "FEB"] > 0 and table.loc["2019", "DEC"] > 0


def test_rerun_without_report_keeps_run_and_tearsheet_consistent(made):
    rid = made["seed"]["run_id"]
    d = made["dir"] / rid
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    assert "tearsheet.html" in before
    code, out, err = run_cli(
        "backtest", "seed-thesis", "--data-dir", made["root"], "--reports-dir", str(made["dir"]), "--format", "json"
    )
    assert code == 0, err and json.loads(out)["run_id"] == rid
    after = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    assert after == before  # the same run: neither run.json nor the tearsheet rewritten (they still agree)
    index = (made["dir"] / "index.html").read_text()
    row = next(r for r in index.split("<tr>") if f'href="./{rid}/tearsheet.html"' in r)
    assert "floor=0.1" in row  # the parameters, shown (not only in a tooltip)
