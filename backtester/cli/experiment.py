"""``hedge run EXPERIMENT.toml`` and ``hedge rerun RUN_ID``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import app, common
from .backtest import (
    EndOpt,
    FeesOpt,
    ParamOpt,
    ReportsDirOpt,
    SlippageOpt,
    StartOpt,
    StrategiesDirOpt,
    VolTargetOpt,
    metrics_table,
)
from .common import DataDirOpt, Format, FormatOpt


@app.command("run")
def run_cmd(
    experiment: Annotated[str, typer.Argument(help="An experiment .toml file (see examples/).")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Override the strategy (a name or a .toml file).")
    ] = None,
    param: ParamOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees_bp: FeesOpt = None,
    slippage_bp: SlippageOpt = None,
    exec_lag: Annotated[int | None, typer.Option("--exec-lag", help="Fill this many decision dates later.")] = None,
    rebalance: Annotated[str | None, typer.Option("--rebalance", help="change | monthly | weekly | band")] = None,
    band: Annotated[float | None, typer.Option("--band", help="Drift band for --rebalance band.")] = None,
    vol_target: VolTargetOpt = None,
    gold: Annotated[str | None, typer.Option("--gold", help="GLD or LBMA_GOLD.")] = None,
    benchmark: Annotated[str | None, typer.Option("--benchmark", help="An asset or weights.")] = None,
    report: Annotated[
        bool | None, typer.Option("--report/--no-report", help="Write tearsheets (default: the file's).")
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="Title (compare page, or the one tearsheet).")] = None,
    strategies_dir: StrategiesDirOpt = None,
    reports_dir: ReportsDirOpt = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Run what an experiment file declares; several [[run]] entries end in one compare page.
    Command-line options override the file."""
    from .. import api
    from .. import experiment as ex
    from ..paths import reports_dir as resolve_reports
    from ..run import experiment_of, run_backtest
    from ..strategy import get, parse_params

    runs, opts = ex.load(experiment)
    s = common.parse_date(start, "--start")
    e = common.parse_date(end, "--end")
    given = {
        "strategy": strategy, "params": parse_params(param), "start": None if s is None else str(s.date()),
        "end": None if e is None else str(e.date()), "fees_bp": fees_bp, "slippage_bp": slippage_bp,
        "exec_lag": exec_lag, "rebalance": rebalance, "band": band, "vol_target": vol_target, "gold": gold,
        "benchmark": benchmark, "strategies_dir": strategies_dir,
    }  # fmt: skip
    specs = [(ex.override(spec, given), t) for spec, t in runs]
    do_report = opts["report"] if report is None else report
    page_title = title or opts["title"]
    for spec, _ in specs:  # every check before any data is read or anything is written
        spec.check()
        get(spec.strategy, spec.strategies_dir).resolve(spec.params)
    store = common.open_store(data_dir)
    reports = resolve_reports(reports_dir)
    from ..signals import compute

    signals = compute(store)
    results = []
    for spec, run_title in specs:
        t = run_title or (page_title if len(specs) == 1 else None)
        run = run_backtest(store, spec, signals=signals)
        path = api.save(run, reports, command=common.command_line(), experiment=experiment_of(run, t, do_report))
        out = {**run.summary(), "run_dir": str(path)}
        if do_report:
            from ..report import write_report

            out["report"] = str(write_report(path, title=t))
        results.append((run, out))
    page = None
    if len(results) > 1:
        from ..report.compare import write_compare

        page, _ = write_compare(reports, [r.run_id for r, _ in results], title=page_title)
    out = {"experiment": experiment, "runs": [o for _, o in results], "compare": None if page is None else str(page)}
    if fmt is Format.json:
        common.emit_json(out)
        return
    cols = {f"{r.strategy.name}\n{r.run_id.rsplit('-', 1)[-1]}": r.metrics for r, _ in results}
    first = results[0][0]
    cols[first.benchmark_label] = first.bench_metrics
    metrics_table(f"{experiment}: {len(results)} run{'s' if len(results) > 1 else ''}", cols)
    for _, o in results:
        common.paths(("saved to", o["run_dir"]), ("report", o.get("report")))
    if page is not None:
        typer.echo(f"compare page {page}")


@app.command("rerun")
def rerun_cmd(
    run_id: Annotated[str, typer.Argument(help="A saved run id (see the reports folder).")],
    reports_dir: ReportsDirOpt = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Run a saved run again from its folder (its resolved experiment and strategy-file copy): the same
    run id and byte-identical run.json, or an error saying what changed."""
    from .. import api
    from .. import experiment as ex
    from ..paths import reports_dir as resolve_reports
    from .report import _run_id

    reports = resolve_reports(reports_dir)
    store = common.open_store(data_dir)
    run, man = ex.rerun(store, reports, _run_id(run_id))
    extra = {k: man[k] for k in ("sweep",) if k in man}  # a sweep's best run keeps its sweep record
    exp = man["experiment"]
    before = (reports / run_id / "run.json").read_bytes()
    # every file written again (not left as it is because run.json already records this run)
    path = api.save(run, reports, command=man.get("command"), extra=extra or None, experiment=exp, force=True)
    if (path / "run.json").read_bytes() != before:
        sys.stderr.write(f"note: run {run_id}'s run.json differs from the one saved before (same id)\n")
    out = {**run.summary(), "run_dir": str(path)}
    if exp.get("report"):
        from ..report import write_report

        out["report"] = str(write_report(path, title=exp.get("title")))
    if fmt is Format.json:
        common.emit_json(out)
        return
    metrics_table(
        f"{run.strategy.name} vs {run.benchmark_label}  {out['period']['start']} .. {out['period']['end']}"
        f"  (run {run.run_id}, rerun)",
        {run.strategy.name: run.metrics, run.benchmark_label: run.bench_metrics},
    )
    common.paths(("saved to", path), ("report", out.get("report")))
