"""Research commands: ``hedge events`` (event study), ``hedge thesis`` (the essay scored out of sample)
and ``hedge significance`` (bootstrap of a saved run's edge).

Thin over ``backtester.research.eventstudy``, ``backtester.research.thesis`` and
``backtester.research.significance`` (the rules
are in their docstrings and printed with the tables).
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..constants import ESSAY_DATE
from . import app, common, progress
from .backtest import ExecutorOpt, ReportsDirOpt, SchedulerOpt, WorkersOpt
from .common import DataDirOpt, Format, FormatOpt

_TYPES_HELP = (
    "Event types, comma-separated (default: qt-end,qt-start,qe-start,rmp-start,"
    "reserves-below-10,rrp-drained,spread-spike)."
)


def _fmt_event(e: dict) -> str:
    """One event's return, with its date: ``2019-07-31 +18.4%`` (n/a: the data end before the horizon)."""
    if e["status"] == "ok":
        return f"{e['date']} {100 * e['return']:+.1f}%"
    return f"{e['date']} n/a"


def _events_tables(study: dict) -> None:
    con = common.console()
    hz = ", ".join(f"{k}={v}" for k, v in study["horizons"].items())
    ends = ", ".join(f"{a} {p['first']}..{p['last']}" for a, p in study["prices"].items())
    for t in study["types"]:
        evs = t["events"]
        if t["source"] == "signal":
            con.print(
                f"[bold]{t['type']}[/bold] ({t['definition']}): {len(evs)} event(s) on "
                + (", ".join(e["date"] for e in evs) or "no date"),
                highlight=False,
                markup=True,
            )
        else:
            common.table(
                f"{t['type']}: {len(evs)} event(s) ({t['source']}, {t['definition']})",
                ["known on (event date)", "announced", "effective", "label"],
                [[e["date"], e["announced"], e["effective"], e["label"]] for e in evs],
            )
        rows, each = [], []
        for r in t["results"]:
            b = r["baseline"]
            if r["anecdotal"]:
                got = [e["return"] for e in r["events"] if e["status"] == "ok"]
                detail = f"{100 * min(got):+.1f}..{100 * max(got):+.1f}" if got else "-"
                shown = [_fmt_event(e) for e in r["events"] if e["status"] != "overlap"]
                more = f" (+{r['n_overlap']} skipped: overlap)" if r["n_overlap"] else ""
                each.append(f"{r['asset']} {r['horizon']}: {', '.join(shown) or '-'}{more}")
            else:
                lo, hi = r["ci95"]
                detail = f"[{common.fmt_pct(lo, 1)}, {common.fmt_pct(hi, 1)}]"
            rows.append(
                [
                    r["asset"],
                    f"{r['horizon']}/{r['sessions']}",
                    f"{r['n']}/{r['n_events']}",
                    common.fmt_pct(r["mean"], 1) if r["n"] else "MISSING",
                    common.fmt_pct(r["median"], 1),
                    common.fmt_pct(r["hit_rate"], 0),
                    detail,
                    common.fmt_pct(b["mean"], 1),
                    common.fmt_pct(b["hit_rate"], 0),
                ]
            )
        caption = (
            "horizon/sessions; n = counted events with data / all events (skipped: overlap or n/a = the data "
            "end before the horizon); n < 10: the range of the events' returns in %, each listed below. "
            + (t["note"] + ". " if t["note"] else "")
            + "CI95: 95% interval of the mean; base = every decision date with a full horizon."
        )
        common.table(
            f"{t['type']}: forward returns from the known date",
            [
                "asset",
                "horizon",
                "n",
                "mean",
                "median",
                "hit",
                "CI95 / range %",
                "base mean",
                "base hit",
            ],
            rows,
            caption=caption,
            wrap=set(),
        )
        if each:
            con.print("each event (n < 10): " + "; ".join(each), highlight=False, markup=False)
    con.print(f"horizons in NYSE sessions: {hz}; prices: {ends}")
    from rich.markup import escape

    for k, v in study["rules"].items():
        con.print(f"[dim]{k}: {escape(v)}[/dim]", highlight=False, markup=True)


@app.command("events")
def events_cmd(
    types: Annotated[str | None, typer.Option("--type", help=_TYPES_HELP, show_default=False)] = None,
    horizons: Annotated[
        str | None,
        typer.Option("--horizons", help="Horizons, comma-separated: 1w,4w,13w,26w,52w (5/20/65/130/260 sessions)."),
    ] = None,
    assets: Annotated[
        str | None, typer.Option("--assets", help="Assets, comma-separated (default BTC-USD,GLD,SPY).")
    ] = None,
    plot: Annotated[
        str | None, typer.Option("--plot", help="Write an HTML chart of the average paths (plotly.js inlined).")
    ] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Event study: forward returns after Fed balance-sheet events and liquidity-signal events, dated when known."""
    from ..research import eventstudy as es

    types_ = es.check_types(types)
    hz = es.check_horizons(horizons)
    assets_ = es.check_assets(assets)
    if plot is not None and not plot.lower().endswith((".html", ".htm")):
        from ..errors import UsageError

        raise UsageError(f"--plot {plot!r} is not an .html file", "give a file name ending in .html")
    store = common.open_store(data_dir)
    with progress.stages(fmt is not Format.json, "computing signals and event returns") as prog:
        inputs = es.Inputs(store)
        study = es.event_study(store, types_, list(hz), assets_, inputs=inputs)
        if plot:
            prog.stage("drawing the average paths")
        written = es.plot_paths(store, study, plot, inputs=inputs) if plot else None
    if fmt is Format.json:
        common.emit_json({**study, "plot": written})
        return
    _events_tables(study)
    if written:
        common.console().print(f"chart: {written}")


# ---------------------------------------------------------------- hedge thesis / hedge significance
_VERDICT_STYLE = {"held": "green", "failed": "red", "too early": "yellow"}


def _thesis_tables(r: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    con = common.console()
    v = r["verdicts"]
    t = Table(
        title=f"The essay's claims, scored: {v['held']} held, {v['failed']} failed, {v['too_early']} too early",
        caption=f"at the essay = point-in-time signal frame on {r['essay_session']}; after = signals to "
        f"{r['asof']}, prices and rates to their own last dates",
    )
    for c in ("#", "claim", "the essay", "computed at the essay", "computed after", "verdict"):
        t.add_column(c, overflow="fold")
    for c in r["claims"]:
        style = _VERDICT_STYLE.get(c["verdict"], "")
        t.add_row(
            str(c["id"]),
            escape(c["claim"]),
            escape(c["essay"]),
            escape(c["at_essay_text"]),
            escape(c["after_text"]),
            f"[{style}]{escape(c['verdict'])}[/{style}]" if style else escape(c["verdict"]),
        )
    con.print(t)
    for c in r["claims"]:
        con.print(
            f"[dim]{c['id']}. rule: {escape(c['rule'])}. -> {escape(c['reason'])}[/dim]", highlight=False, markup=True
        )

    q = r["qt_end"]
    rows = []
    for key, lab in (("official", "QT end (FOMC)"), ("bill_purchases", "bill purchases (FOMC)")):
        if q[key]:
            rows.append([lab, q[key]["announced"], q[key]["effective"], q[key]["label"]])
    rows.append(["QE (FOMC)", "-", "-", q["qe_announced"]["label"] if q["qe_announced"] else "none announced"])
    for ch in q["state_changes"]:
        rows.append([f"WALCL qt_state {ch['from']} -> {ch['to']}", f"week of {ch['observation_date']}", ch["date"], ""])
    common.table(
        f"Did QT end? qt_state on the essay session: {q['state_at_essay']}",
        ["event", "announced / WALCL week", "effective / known on", "label"],
        rows,
    )

    fa = r["fed_assets"]
    rows = [
        [
            g["label"],
            f"{g['base_observation']} ({common.fmt_num(g['base_bn'], 0)})",
            f"{g['end_observation']} ({common.fmt_num(g['end_bn'], 0)})",
            common.fmt_num(g["months"], 1),
            common.fmt_num(g["bn_per_month"], 1),
            common.fmt_num(g["slope_bn_per_month"], 1),
        ]
        for g in (fa["from_qt_end"], fa["from_bill_purchases"])
        if g
    ]
    lo, hi = fa["predicted_bn_per_month"]
    common.table(
        f"The Fed's assets after QT ($B a month; the essay predicted {lo:g}-{hi:g})",
        ["window", "from week ($B)", "to week ($B)", "months", "$B/month", "slope $B/month"],
        rows,
        caption=fa["method"],
    )

    ret = r["returns"]
    common.table(
        f"Returns since the essay (from the first session on or after {r['since']})",
        ["asset", "from", "to (its last date)", "return", f"to {ret['common_end']} (common)"],
        [
            [a, x["start"], x["end"], common.fmt_pct(x["return"]), common.fmt_pct(ret["common"][a])]
            for a, x in ret["assets"].items()
        ],
        caption=f"CASH: {ret['cash_method']}",
    )

    s = r["strategy"]
    if s:
        from .backtest import metrics_table

        metrics_table(
            f"{s['name']} vs {s['benchmark_name']}, OUT OF SAMPLE {s['period']['start']} .. {s['period']['end']}",
            {s["name"]: s["strategy"], s["benchmark_name"]: s["benchmark"]},
            caption=s["why"],
        )
        cont = s.get("continuing") or {}
        if cont:
            cs, cb = cont["strategy"], cont["benchmark"]
            con.print(
                f"out of sample, two definitions: {s['definition']}: {common.fmt_pct(s['strategy']['total_return'])}"
                f" (Sharpe {common.fmt_num(s['strategy']['sharpe'], 2)}); {cont['definition']} "
                f"({cont['period']['start']} .. {cont['period']['end']}): {common.fmt_pct(cs['total_return'])} "
                f"(Sharpe {common.fmt_num(cs['sharpe'], 2)}), {s['benchmark_name']} "
                f"{common.fmt_pct(cb['total_return'])}",
                highlight=False,
                markup=False,
            )
        sig = s["significance"]
        if "error" in sig:
            con.print(f"significance: {sig['error']}", highlight=False, markup=False)
        else:
            d = sig["sharpe_difference"]
            con.print(
                f"Sharpe difference {d['observed']:.2f}, 95% interval [{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}], "
                f"p = {d['p_value']:.3f} (H0: {sig['h0']})",
                highlight=False,
                markup=False,
            )
        for n in s["notes"]:
            con.print(f"- {n}", highlight=False, markup=False)


@app.command("thesis")
def thesis_cmd(
    since: Annotated[
        str, typer.Option("--since", help="The essay's date: scored from the first NYSE session on or after it.")
    ] = ESSAY_DATE,
    html: Annotated[
        str | None, typer.Option("--html", help="Also write a self-contained HTML page (charts embedded).")
    ] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """The essay's call scored on the data after it: QT's end, QE's size, gold/bitcoin returns, nine verdicts."""
    from .._numba import ensure_numba_cache

    day = common.parse_date(since, "--since")
    if html is not None:
        from ..report.thesis_page import check_html_path

        check_html_path(html)
    store = common.open_store(data_dir)
    ensure_numba_cache()
    from ..research.thesis import score

    with progress.stages(fmt is not Format.json, "scoring the essay's claims on the data") as prog:
        result = score(store, day)
        written = None
        if html is not None:
            from ..report.thesis_page import write_page

            prog.stage("writing the page")
            written = write_page(result, html)
    if fmt is Format.json:
        common.emit_json({**result.report, "html": written})
        return
    _thesis_tables(result.report)
    if written:
        common.console().print(f"page: {written}", highlight=False, markup=False)


@app.command("significance")
def significance_cmd(
    run_id: Annotated[str, typer.Argument(help="A saved run's id (the folder name under the reports folder).")],
    n_boot: Annotated[int, typer.Option("--n-boot", min=1, help="Bootstrap draws.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same result).")] = 0,
    reports_dir: ReportsDirOpt = None,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Is the edge real? Stationary block bootstrap of a saved run's Sharpe difference over its benchmark."""
    from pathlib import Path

    from ..bootstrap import MAX_BOOT
    from ..errors import UsageError
    from ..paths import check_run_id
    from ..paths import reports_dir as resolve_reports
    from ..research import executor as exmod
    from ..research.significance import significance_for_run

    if n_boot > MAX_BOOT:  # before reading anything
        raise UsageError(f"--n-boot {n_boot} is above {MAX_BOOT:,}", "use e.g. 2000 (the default)")
    exmod.check(executor, scheduler, workers)
    root = resolve_reports(reports_dir)
    run_dir = Path(root) / check_run_id(run_id)
    if not run_id or run_id in (".", "..") or Path(run_id).name != run_id or not (run_dir / "returns.csv").is_file():
        raise UsageError(f"no saved run {run_id!r} in {root}", "run `hedge backtest ...` first or check the id")
    with progress.stages(fmt is not Format.json, f"bootstrapping {n_boot:,} resamples"):
        with exmod.make(executor, scheduler, workers) as ex:
            out = significance_for_run(run_dir, n_boot=n_boot, seed=seed, executor=ex)
    if fmt is Format.json:
        common.emit_json(out)
        return
    rows = []
    for key, lab, pct in (
        ("sharpe_difference", "Sharpe difference", False),
        ("mean_excess", "mean excess return/yr", True),
    ):
        d = out[key]
        f = (lambda x: common.fmt_pct(x)) if pct else (lambda x: common.fmt_num(x, 3))
        ci = d["ci95"]
        rows.append(
            [
                lab,
                f(d["observed"]),
                f"[{f(ci[0])}, {f(ci[1])}]" if ci else "-",
                f(d["se"]),
                common.fmt_num(d["p_value"], 4),
            ]
        )
    common.table(
        f"significance: {out['strategy_name']} vs {out['benchmark_name']}  {out['start']} .. {out['end']}"
        f"  (run {out['run_id']})",
        ["statistic", "observed", "95% interval", "std error", "p-value"],
        rows,
        caption=(
            f"Sharpe {common.fmt_num(out['sharpe_strategy'], 3)} vs {common.fmt_num(out['sharpe_benchmark'], 3)}; "
            f"stationary block bootstrap: {out['n']} days, {out['n_boot']} draws, mean block {out['block']:.1f} days, "
            f"seed {out['seed']}; H0: {out['h0']}"
        ),
    )
