"""``hedge sweep``: every combination of a parameter grid, with the deflated Sharpe and the PBO.

Combinations whose target weights ever sum above 1 (or go negative) on the window are invalid: they are
skipped and counted (``engine.plan`` would refuse them); if every combination is invalid the command
exits 2. Every check on the arguments (strategy, parameters, grid, metric, heatmap) runs before any
data is read.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from ..errors import UsageError
from . import app, common
from .backtest import (
    BandOpt,
    BenchmarkOpt,
    EndOpt,
    ExecLagOpt,
    ExecutorOpt,
    FeesOpt,
    GoldOpt,
    ParamOpt,
    RebalanceOpt,
    ReportsDirOpt,
    SchedulerOpt,
    SlippageOpt,
    StartOpt,
    StrategiesDirOpt,
    VolTargetOpt,
    WorkersOpt,
)
from .common import DataDirOpt, Format, FormatOpt

TABLE_METRICS = [
    ("sharpe", "Sharpe", "num"), ("cagr", "CAGR", "pct"), ("volatility", "vol", "pct"),
    ("max_drawdown", "max DD", "pct"), ("total_return", "total", "pct"), ("sortino", "Sortino", "num"),
    ("turnover", "turnover", "num"), ("costs", "costs", "pct"),
]  # fmt: skip


GridOpt = Annotated[
    list[str] | None,
    typer.Option("--grid", help="name=v1,v2,... or name=start:stop:step (stop included; repeatable)."),
]
MetricOpt = Annotated[
    str,
    typer.Option(
        "--metric",
        help="Rank by: sharpe, sortino, cagr, total_return, calmar, max_drawdown, volatility, turnover, costs.",
    ),
]
MaxCombinationsOpt = Annotated[
    int,
    typer.Option("--max-combinations", help="Refuse grids larger than this (sweep: up to 10^7; walkforward: 10^6)."),
]


def grid_args(
    strategy: str, grid, param, metric: str, max_combinations: int, strategies_dir, sample=None, limit=None
):  # fmt: skip
    """``research.sweep.outcome.check_args`` (shared with ``hedge walkforward``): (the Strategy, the Grid)."""
    from ..research.sweep.outcome import check_args

    strat, _, g = check_args(strategy, grid, param, metric, max_combinations, strategies_dir, sample, limit)
    return strat, g


def _heatmap_axes(grid, hx, hy) -> tuple[str, str]:
    names = list(grid.names)
    x = (hx or "").lower() or None
    y = (hy or "").lower() or None
    for opt, v in (("--heatmap-x", x), ("--heatmap-y", y)):
        if v is not None and v not in names:
            raise UsageError(f"{opt} {v!r} is not a swept parameter", f"choose one of: {', '.join(names)}")
    rest = [n for n in names if n not in (x, y)]
    x = x or (rest.pop(0) if rest else None)
    y = y or (rest.pop(0) if rest else None)
    if x is None or y is None or x == y:
        raise UsageError(
            "a heatmap needs two different swept parameters",
            "sweep at least two parameters (--grid twice) or pick them with --heatmap-x/--heatmap-y",
        )
    return x, y


@app.command("sweep")
def sweep_cmd(
    strategy: Annotated[str, typer.Argument(help="Strategy name (see `hedge strategies`).")],
    grid: GridOpt = None,
    param: ParamOpt = None,
    metric: MetricOpt = "sharpe",
    top: Annotated[int, typer.Option("--top", help="How many of the best combinations to print.")] = 10,
    heatmap: Annotated[
        str | None, typer.Option("--heatmap", help="Write a heatmap to FILE (.html, plotly.js inlined; or .png).")
    ] = None,
    heatmap_x: Annotated[str | None, typer.Option("--heatmap-x", help="Heatmap x parameter.")] = None,
    heatmap_y: Annotated[str | None, typer.Option("--heatmap-y", help="Heatmap y parameter.")] = None,
    heatmap_agg: Annotated[
        str, typer.Option("--heatmap-agg", help="Over the other parameters: max (the best) or mean.")
    ] = "max",
    max_combinations: MaxCombinationsOpt = 200_000,
    pbo_blocks: Annotated[int, typer.Option("--pbo-blocks", help="CSCV blocks (even) for the PBO.")] = 16,
    best_report: Annotated[
        bool, typer.Option("--best-report", help="Save the best combination's run and write its tearsheet.")
    ] = False,
    title: Annotated[str | None, typer.Option("--title", help="Title of the best combination's tearsheet.")] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fees_bp: FeesOpt = None,
    slippage_bp: SlippageOpt = None,
    exec_lag: ExecLagOpt = 1,
    rebalance: RebalanceOpt = "change+monthly",
    band: BandOpt = 0.05,
    vol_target: VolTargetOpt = None,
    gold: GoldOpt = "GLD",
    benchmark: BenchmarkOpt = "SPY",
    strategies_dir: StrategiesDirOpt = None,
    reports_dir: ReportsDirOpt = None,
    spa: Annotated[
        bool,
        typer.Option("--spa", help="Best-of-sweep tests: Hansen's SPA, White's Reality Check, Romano-Wolf StepM."),
    ] = False,
    spa_reps: Annotated[int, typer.Option("--spa-reps", help="Bootstrap replications of --spa.")] = 1000,
    spa_against: Annotated[
        str, typer.Option("--spa-against", help="Reference of --spa: benchmark (the --benchmark) or cash.")
    ] = "benchmark",
    sample: Annotated[
        int | None, typer.Option("--sample", help="Evaluate a seeded random subset of N combinations of the grid.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --sample and of the --spa bootstrap.")] = 0,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Reuse the chunk files an interrupted run of the same sweep left in <reports-dir>/<sweep-id>/.",
        ),
    ] = False,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Evaluate every combination of a parameter grid (same costs, window and metrics as `hedge backtest`),
    print the best, the deflated Sharpe of the best and the probability of backtest overfitting (CSCV).
    Each chunk of combinations is written to <reports-dir>/<sweep-id>/chunks/ as it completes; --resume
    computes only the chunks an interrupted run did not finish."""
    from ..report.charts import check_plot_path

    # every argument check first: nothing is read before the grid is known to be valid
    from ..research.sweep.evaluation import LEAN_ROWS, LEAN_TOP
    from ..research.sweep.grid import SWEEP_COMBINATIONS_LIMIT

    strat, g = grid_args(strategy, grid, param, metric, max_combinations, strategies_dir, sample,
                         SWEEP_COMBINATIONS_LIMIT)  # fmt: skip
    if top < 1:
        raise UsageError(f"--top {top} is below 1", "print at least one row")
    lean = (min(sample, g.size) if sample else g.size) > LEAN_ROWS  # only the best rows stay in memory
    if lean and top > LEAN_TOP:
        raise UsageError(f"--top {top} is above {LEAN_TOP:,} for more than {LEAN_ROWS:,} combinations",
                         f"give --top {LEAN_TOP:,} or less (every row is in the sweep's chunk files)")  # fmt: skip
    if lean and heatmap is not None:
        raise UsageError(f"--heatmap draws every combination: at most {LEAN_ROWS:,}",
                         "sweep a coarser grid or a --sample for the heatmap")  # fmt: skip
    from ..research.sweep.overfit import MAX_BLOCKS
    from ..research.sweep.spa import MAX_REPS

    if pbo_blocks < 2 or pbo_blocks % 2 or pbo_blocks > MAX_BLOCKS:
        raise UsageError(
            f"--pbo-blocks {pbo_blocks} must be an even number from 2 to {MAX_BLOCKS}",
            f"e.g. 16 (the default); {MAX_BLOCKS} blocks already mean 2.7 million CSCV splits",
        )
    if not 1 <= spa_reps <= MAX_REPS:
        raise UsageError(f"--spa-reps {spa_reps} is outside 1..{MAX_REPS:,}", "e.g. 1000")
    if spa_against not in ("benchmark", "cash"):
        raise UsageError(f"--spa-against {spa_against!r} is unknown", "use benchmark or cash")
    if seed < 0:
        raise UsageError(f"--seed {seed} is negative", "give a seed >= 0")
    hx = hy = None
    if heatmap_agg not in ("max", "mean"):
        raise UsageError(f"--heatmap-agg {heatmap_agg!r} is unknown", "use max (the best) or mean")
    if heatmap is not None:
        check_plot_path(heatmap)
        hx, hy = _heatmap_axes(g, heatmap_x, heatmap_y)
    elif heatmap_x or heatmap_y:
        raise UsageError("--heatmap-x/--heatmap-y without --heatmap", "give --heatmap FILE.html or FILE.png")
    spec = common.run_spec(
        strategy, param=param, start=start, end=end, gold=gold, benchmark=benchmark, strategies_dir=strategies_dir,
        fees_bp=fees_bp, slippage_bp=slippage_bp, exec_lag=exec_lag, rebalance=rebalance, band=band,
        vol_target=vol_target,
    )  # fmt: skip

    from ..paths import reports_dir as resolve_reports
    from ..research import executor as exmod
    from ..research.sweep.outcome import run_sweep, summary
    from .progress import terminal

    exmod.check(executor, scheduler, workers)
    store = common.open_store(data_dir)
    prog = terminal(enabled=fmt is not Format.json)
    with exmod.make(executor, scheduler, workers) as ex:  # open until --spa and --best-report are done
        try:
            inp, res = run_sweep(store, spec, g, strategy=strat, metric=metric, blocks=pbo_blocks, progress=prog,
                                 executor=ex, sample=sample, seed=seed, reports_dir=resolve_reports(reports_dir),
                                 resume=resume)  # fmt: skip
        finally:
            prog.done()
        names = list(g.names)
        top_rows = res.top(top)
        out = summary(inp, res, top)
        if spa:  # its chunks run on the executor too
            _spa(out, inp, res, top_rows, spa_reps, spa_against, seed, fmt, ex)
        if heatmap is not None:
            from ..report.heatmap import write_heatmap

            ttl = f"{strategy} sweep, {res.start} .. {res.end}"
            out["heatmap"] = str(write_heatmap(res, hx, hy, heatmap, ttl, agg=heatmap_agg))
        if best_report:  # the best run's random-timing controls on the executor
            out.update(_best_report(store, inp, res, out, title, reports_dir, ex))
    if fmt is Format.json:
        common.emit_json(out)
        return
    _print(out, res, names, top_rows, inp)


def _spa(out, inp, res, top_rows, reps, against, seed, fmt, executor=None) -> None:
    """``--spa``: SPA / Reality Check / StepM over every valid combination, into ``out`` (the StepM
    members of the top rows marked ``stepm: true``)."""
    from ..research.sweep.spa import best_of_sweep
    from .progress import terminal

    r = best_of_sweep(inp, reps=reps, against=against, seed=seed, progress=terminal(enabled=fmt != Format.json),
                      executor=executor)  # fmt: skip
    mask = r.pop("_stepm_mask")
    r.pop("elapsed")
    out["spa"] = {
        **r.pop("spa"),
        **{k: r[k] for k in ("against", "reference", "reps", "seed", "block", "block_rule", "combinations", "days")},
        "best_mean_excess_annual": r["statistic_annual"],
        "best_combination": r["best_combination"],
    }
    out["spa"]["best_combination"] = inp.combos.number(r["best_combination"])
    out["reality_check"] = r["reality_check"]
    st = r["stepm"]
    if st["combinations"] is not None:
        st["combinations"] = [inp.combos.number(i) for i in st["combinations"]]
    out["stepm"] = st
    for row, i in zip(out["top"], top_rows.index, strict=True):
        row["stepm"] = bool(mask[i])
    out["best"]["stepm"] = bool(mask[res.best_index])


def _best_report(store, inp, res, out, title, reports_dir, executor=None) -> dict:
    """Save the best combination's run (the sweep's statistics in its run.json) and write its tearsheet."""
    from .. import api
    from ..research.controls import rank_stability
    from ..research.sweep.best import best_run, sweep_record

    run, warning = best_run(store, inp, res)
    ttl = title or f"{inp.strategy.name} (best of {res.n_valid:,} by {res.metric})"
    extra = sweep_record(out)
    if not res.lean:  # it evaluates every combination again, in memory, on each half
        extra["sweep"]["rank_stability"] = rank_stability(inp, res)  # issue 13: the best's rank in each half
    page = api.report(run, reports_dir, title=ttl, command=common.command_line(), extra=extra, executor=executor)
    rec = {"run_id": run.run_id, "run_dir": str(run.path), "report": str(page)}
    if warning:
        rec["warning"] = warning
    return rec


def _cell(v, kind):
    if kind == "pct":
        return common.fmt_pct(v)
    return common.fmt_num(v, 2)


def _stepm_where(out, st) -> str:
    """Where the StepM combinations are: marked in the table, or (ranked by the mean excess return, not by
    the table's metric) none of the rows shown."""
    if not st["count"]:
        return ""
    if any(row.get("stepm") for row in out["top"]):
        return " (* in the table)"
    return " (none among the rows above, which rank by the metric; --format json lists them: stepm.combinations)"


def _print(out, res, names, top_rows, inp) -> None:
    c = out["combinations"]
    inv = ""
    if c["invalid"]:
        inv = ", " + ", ".join(f"{v:,} invalid ({k}): skipped" for k, v in c["invalid_reasons"].items())
    rows = []
    marked = {i for row, i in zip(out["top"], top_rows.index, strict=True) if row.get("stepm")}
    for rank, i in enumerate(top_rows.index, 1):
        r = res.frame.loc[i]
        rows.append(
            [
                f"{rank}*" if i in marked else rank,
                *[common.plain(r[n]) for n in names],
                *[_cell(common.plain(r[k]), kd) for k, _, kd in TABLE_METRICS],
            ]
        )
    common.table(
        f"{out['strategy_name']} sweep {out['period']['start']} .. {out['period']['end']}: "
        f"{c['total']:,} combinations"
        + (f" (a seeded sample of the grid's {c['grid']:,})" if c.get("sample") else "")
        + f" ({c['valid']:,} valid{inv}), best by {out['metric']}",
        ["#", *names, *[lab for _, lab, _ in TABLE_METRICS]],
        rows,
        optional=["costs", "turnover", "Sortino", "total", "vol"],
    )
    con = common.console()

    def line(s):
        con.print(s, highlight=False, markup=False)

    d = out["deflated_sharpe_detail"] or {}
    if d:
        root = math.sqrt(252)
        line(
            f"deflated Sharpe of the best: {common.fmt_num(out['deflated_sharpe'], 3)} (probability that its true "
            f"Sharpe {common.fmt_num(d['sharpe_period'] * root, 2)} beats {common.fmt_num(d['expected_max_sharpe_period'] * root, 2)}, "  # noqa: E501
            f"the best of {d['n_trials']:,} trials by luck; annualized)"
        )
    p = out["pbo_detail"] or {}
    if p.get("pbo") is not None:
        samp = f" sampled of {p['splits_total']:,}" if p.get("sampled") else ""
        line(
            f"PBO (CSCV, {p['blocks']} blocks, {p['splits']:,} splits{samp}): {common.fmt_num(p['pbo'], 3)} "
            "(share of splits where the in-sample best ranks at or below the out-of-sample median)"
        )
    elif p:
        line(f"PBO: - ({p.get('reason')})")
    if out.get("spa"):
        sp, st = out["spa"], out["stepm"]
        line(
            f"best of sweep vs {sp['reference']} ({sp['combinations']:,} combinations, {sp['reps']:,} stationary "
            f"bootstrap reps, mean block {sp['block']:.1f} days, seed {sp['seed']}): SPA p = "
            f"{sp['consistent']:.3f} (lower {sp['lower']:.3f}, upper {sp['upper']:.3f}); Reality Check p = "
            f"{out['reality_check']['p_value']:.3f}; StepM at {st['size']:.0%} FWER: {st['count']:,} "
            f"combination(s) beat {sp['reference']}" + _stepm_where(out, st)
        )
    b = out["benchmark"]
    if b:
        line(
            f"benchmark {out['benchmark_name']}: Sharpe {common.fmt_num(b['sharpe'], 2)}, "
            f"CAGR {common.fmt_pct(b['cagr'])}, max DD {common.fmt_pct(b['max_drawdown'])}"
        )
    compiled = f", of which {res.compile_seconds:.1f} s compiling kernels" if res.compile_seconds >= 0.5 else ""
    speed = f"{res.rate:,.0f} combinations/s without compiling"
    if res.chunks and not res.chunks["computed"]:
        speed = "every chunk reused"
    line(
        f"evaluated in {res.elapsed:.2f} s{compiled} ({speed}); each "
        f"row equals `hedge backtest {out['strategy_name']} --param ...` on {out['period']['start']} .. "
        f"{out['period']['end']}"
    )
    if res.chunks:
        ch = res.chunks
        line(
            f"sweep {ch['sweep_id']}: {ch['total']:,} chunk(s) in {ch['dir']}"
            + (f" ({ch['reused']:,} reused, {ch['computed']:,} computed)" if ch["reused"] else "")
        )
    for n in out["notes"]:
        line(f"- {n}")
    if out.get("heatmap"):
        line(f"heatmap: {out['heatmap']}")
    if out.get("run_dir"):
        common.paths(("best run saved to", out["run_dir"]), ("report", out.get("report")))
        for k in ("report_note", "warning"):
            if out.get(k):
                line(f"- {out[k]}")
