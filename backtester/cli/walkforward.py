"""``hedge walkforward``: rolling train/test windows; the best parameters of each training window (the sweep
engine) trade the next test window only; the test windows form one out-of-sample book with its tearsheet.

Windows, the continuous book and the degradation are defined in :mod:`backtester.research.walkforward`. The grid,
``--param`` and ``--metric`` go through ``hedge sweep``'s checks; without ``--grid`` a thesis strategy
uses its default grid (``walkforward.DEFAULT_GRIDS``, printed with the results). Every argument check
runs before any data is read. The stitched run is saved as a run folder (``hedge report RUN_ID`` works
on it) with a ``walkforward`` entry in run.json; its tearsheet is written unless ``--no-report``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from . import app, common, progress
from .backtest import ParamOpt, ReportsDirOpt, StrategiesDirOpt, metrics_table
from .common import DataDirOpt, Format, FormatOpt
from .sweep import ExecutorOpt, GridOpt, MaxCombinationsOpt, MetricOpt, SchedulerOpt, WorkersOpt, grid_args


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@app.command("walkforward")
def walkforward_cmd(
    strategy: Annotated[str, typer.Argument(help="Strategy name (see `hedge strategies`) or a .toml strategy file.")],
    grid: GridOpt = None,
    param: ParamOpt = None,
    train: Annotated[str, typer.Option("--train", help="Training window: 3y, 18m, 26w, 90d (calendar).")] = "3y",
    test: Annotated[str, typer.Option("--test", help="Test window, also the step between windows.")] = "6m",
    embargo: Annotated[str, typer.Option("--embargo", help="Gap between training and test (0 for none).")] = "1m",
    metric: MetricOpt = "sharpe",
    max_combinations: MaxCombinationsOpt = 200_000,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write the out-of-sample tearsheet (default: yes).")
    ] = True,
    title: Annotated[str | None, typer.Option("--title", help="Tearsheet title.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First session of the whole period (ISO).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date (ISO; default: the store's last date).")] = None,
    fees_bp: Annotated[
        float | None, typer.Option("--fees-bp", help="Fees in bp for every asset (default: per asset).")
    ] = None,
    slippage_bp: Annotated[
        float | None, typer.Option("--slippage-bp", help="Slippage in bp (default: per asset).")
    ] = None,
    exec_lag: Annotated[int, typer.Option("--exec-lag", help="Fill this many decision dates later (>= 1).")] = 1,
    rebalance: Annotated[
        str, typer.Option("--rebalance", help="change+monthly (default) | change | monthly | weekly | band")
    ] = "change+monthly",
    band: Annotated[float, typer.Option("--band", help="Drift band for --rebalance band.")] = 0.05,
    vol_target: Annotated[
        float | None, typer.Option("--vol-target", help="Annual vol target of the risky sleeve.")
    ] = None,
    gold: Annotated[str, typer.Option("--gold", help="GLD (default) or LBMA_GOLD (a fixing, labelled proxy).")] = "GLD",
    benchmark: Annotated[str, typer.Option("--benchmark", help="An asset (SPY) or weights (spy=0.6,tlt=0.4).")] = "SPY",
    strategies_dir: StrategiesDirOpt = None,
    reports_dir: ReportsDirOpt = None,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Walk-forward test: choose the best grid parameters on each training window, trade them on the next
    test window only, and measure the stitched out-of-sample book against the benchmark. Without --grid,
    the thesis strategies use a default grid (printed with the results)."""
    from ..research import walkforward as W

    # every argument check first: nothing is read before the arguments are known to be valid
    grid_source = "given"
    if not grid:
        if strategy not in W.DEFAULT_GRIDS:
            from .. import strategy as st

            st.get(strategy, strategies_dir)  # an unknown strategy says so first
            raise UsageError(
                f"no --grid for strategy {strategy} (default grids exist for {', '.join(W.DEFAULT_GRIDS)})",
                "give --grid name=v1,v2 or name=start:stop:step",
            )
        grid, grid_source = list(W.DEFAULT_GRIDS[strategy]), "default"
    strat, g = grid_args(strategy, grid, param, metric, max_combinations, strategies_dir)
    dtrain = W.parse_duration(train, "train")
    dtest = W.parse_duration(test, "test")
    dembargo = W.parse_duration(embargo, "embargo", allow_zero=True)
    spec = common.run_spec(
        strategy, param=param, start=start, end=end, gold=gold, benchmark=benchmark, strategies_dir=strategies_dir,
        fees_bp=fees_bp, slippage_bp=slippage_bp, exec_lag=exec_lag, rebalance=rebalance, band=band,
        vol_target=vol_target,
    )  # fmt: skip
    from ..research import executor as exmod

    exmod.check(executor, scheduler, workers)

    store = common.open_store(data_dir)
    prog = progress.terminal(enabled=fmt is not Format.json)
    try:
        with exmod.make(executor, scheduler, workers) as ex:
            wf = W.walk_forward(
                store, spec, g, train=dtrain, test=dtest, embargo=dembargo, metric=metric, strategy=strat,
                executor=ex, progress=prog,
            )  # fmt: skip
        out = W.summary(wf, grid_source)
        run = W.as_run(store, wf)
        from .. import api

        command = common.command_line()
        extra = {"walkforward": {k: v for k, v in out.items() if k not in ("elapsed_seconds",)}}
        page = None
        if report:
            ttl = title or (
                f"{strategy} walk-forward, out of sample (train {dtrain.text}, embargo {dembargo.text}, "
                f"test {dtest.text}, best {metric})"
            )
            page = str(api.report(run, reports_dir, title=ttl, command=command, extra=extra, progress=prog))
        else:
            api.save(run, reports_dir, command=command, extra=extra, progress=prog)
        out["run_id"], out["run_dir"], out["report"] = run.run_id, str(run.path), page
    finally:
        prog.done()
    if fmt is Format.json:
        common.emit_json(out)
        return
    _print(out)


def _cell(v, metric: str) -> str:
    if metric in ("sharpe", "sortino", "calmar", "turnover"):
        return common.fmt_num(v, 2)
    return common.fmt_pct(v)


def _print(out: dict) -> None:
    m, b = out["metric"], out["benchmark_name"]
    names = list(out["grid"])
    rows = []
    for r in out["windows"]:
        rank = "-" if r["oos_rank"] is None else f"{r['oos_rank']}/{r['oos_rank_of']}"
        rows.append(
            [
                r["window"],
                r["train_start"],
                f"{r['test_start']}..{r['test_end']}" + ("*" if r["partial"] else ""),
                *[_num(r["params"][k]) for k in names],
                _cell(r["in_sample_metric"], m),
                _cell(r["out_of_sample_metric"], m),
                _cell(r["benchmark_metric"], m),
                rank,
            ]
        )
    partial = any(r["partial"] for r in out["windows"])
    common.table(
        f"{out['strategy_name']} walk-forward vs {b}: train {out['train']}, embargo {out['embargo']}, test "
        f"{out['test']}, best by {m} of {out['combinations']:,} combinations",
        ["#", "train from", "test window", *names, f"IS {m}", f"OOS {m}", f"{b} OOS", "OOS rank"],
        rows,
        caption="* partial: the data end inside the test window" if partial else None,
    )  # fmt: skip
    o = out["out_of_sample"]
    metrics_table(
        f"stitched out of sample {o['period']['start']} .. {o['period']['end']}  (run {out['run_id']})",
        {out["strategy_name"]: o["strategy"], b: o["benchmark"]},
    )
    con = common.console()

    def line(s):
        con.print(s, highlight=False, markup=False)

    d = out["degradation"]
    line(
        f"degradation ({m}): mean in-sample {common.fmt_num(d['mean_in_sample'], 2)} -> stitched out-of-sample "
        f"{common.fmt_num(d['out_of_sample'], 2)} (difference {common.fmt_num(d['difference'], 2)}, ratio "
        f"{common.fmt_num(d['ratio'], 2)}); mean of the windows out of sample "
        f"{common.fmt_num(d['mean_window_out_of_sample'], 2)}"
    )
    n = len(out["windows"])
    line(
        f"the chosen parameters changed {out['parameter_changes']} times in {n} windows; OOS rank: the chosen "
        "combination among all, each run fresh over the test window (1 = best in hindsight)"
    )
    gtxt = "; ".join(f"{k}={','.join(_num(x) for x in v)}" for k, v in out["grid"].items())
    src = (
        f"the default grid for {out['strategy_name']} (give --grid to change it)"
        if out["grid_source"] == "default"
        else "grid"
    )
    line(f"{src}: {gtxt}")
    line(
        "each test window trades the parameters chosen on data ending before its embargo; one continuous book "
        f"(no liquidation between windows); evaluated in {out['elapsed_seconds']:.1f} s"
    )
    for note in out["notes"]:
        line(f"- {note}")
    common.paths(("saved to", out["run_dir"]), ("report", out["report"]))
