"""``hedge strategies``, ``hedge backtest`` and ``hedge now``."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from . import app, common, progress
from .common import DataDirOpt, Format, FormatOpt

StrategiesDirOpt = Annotated[
    str | None, typer.Option("--strategies-dir", help="A folder of extra strategy modules.", show_default=False)
]
ReportsDirOpt = Annotated[
    str | None,
    typer.Option(
        "--reports-dir", help="Where runs are saved (else $HEDGE_REPORTS_DIR, else ./reports).", show_default=False
    ),
]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Strategy parameter name=value (repeatable).")]
# the run options shared by backtest, sweep and walkforward (one declaration each)
StartOpt = Annotated[str | None, typer.Option("--start", help="First decision date (ISO).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last date (ISO; default: the store's last date).")]
FeesOpt = Annotated[float | None, typer.Option("--fees-bp", help="Fees in bp for every asset (default: per asset).")]
SlippageOpt = Annotated[float | None, typer.Option("--slippage-bp", help="Slippage in bp (default: per asset).")]
ExecLagOpt = Annotated[int, typer.Option("--exec-lag", help="Fill this many decision dates later (>= 1).")]
RebalanceOpt = Annotated[
    str, typer.Option("--rebalance", help="change+monthly (default) | change | monthly | weekly | band")
]
BandOpt = Annotated[float, typer.Option("--band", help="Drift band for --rebalance band.")]
VolTargetOpt = Annotated[float | None, typer.Option("--vol-target", help="Annual vol target of the risky sleeve.")]
GoldOpt = Annotated[str, typer.Option("--gold", help="GLD (default) or LBMA_GOLD (a fixing, labelled proxy).")]
BenchmarkOpt = Annotated[
    str,
    typer.Option(
        "--benchmark",
        help="An asset (SPY), weights of any assets (spy=0.6,gdx=0.4), or a saved run run:RUN_ID (backtest only).",
    ),
]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="Where the chunks run: local (this process) or dask (dask.distributed).")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Dask scheduler address (default $HEDGE_DASK_SCHEDULER; else a local cluster)."),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Worker processes of the local Dask cluster (default 2).")
]
CostOpt = Annotated[
    list[str] | None,
    typer.Option("--cost", help="Per-asset costs ASSET=FEE+SLIPPAGE bp, e.g. IBIT=5+5 (repeatable)."),
]


@app.command("strategies")
def strategies_cmd(
    strategies_dir: StrategiesDirOpt = None,
    show: Annotated[
        str | None, typer.Option("--show", help="Explain one strategy file (.toml): params, rules, assets.")
    ] = None,
    fmt: FormatOpt = Format.table,
):
    """List the strategies (built-in, and *.py / *.toml in --strategies-dir) with their parameters."""
    from ..strategy import registry

    if show is not None:
        return _show_file(show, fmt)
    reg = registry(strategies_dir)
    out = {
        name: {
            "description": s.description,
            "source": s.source,
            "params": {
                k: {
                    "type": p.type.__name__,
                    "default": p.default,
                    "min": p.min,
                    "max": p.max,
                    "choices": list(p.choices) if p.choices else None,
                    "help": p.help,
                    "unit": p.unit_of(k),
                }
                for k, p in s.params.items()
            },
        }
        for name, s in reg.items()
    }
    if fmt is Format.json:
        common.emit_json({"strategies": out})
        return
    rows, lists = [], []
    for name, s in out.items():
        rows.append([name, "", "", "", ""])
        for k, p in s["params"].items():
            span, meaning = "", p["help"]
            if p["choices"] and len("|".join(p["choices"])) <= 12:
                span = "|".join(p["choices"])
            elif p["choices"]:
                span = f"{len(p['choices'])} choices"
                lists.append(f"{name} {k}: one of {', '.join(p['choices'])}")
            elif p["min"] is not None:
                span = f"{p['min']:g}..{p['max']:g}"
            rows.append(["  " + k, common.plain(p["default"]), span, p["unit"], meaning])
    common.table(
        "strategies and their parameters (--param name=value)",
        ["strategy / parameter", "default", "range", "unit", "meaning"],
        rows,
        wrap=set(),
    )
    con = common.console()
    for line in lists:
        con.print(line, highlight=False, markup=False)
    for name, s in out.items():
        con.print(f"{name}: {s['description']}", highlight=False, markup=False)


def _show_file(path: str, fmt: Format) -> None:
    from ..strategies import files

    if not files.is_strategy_file(path):
        raise UsageError(f"--show {path!r} is not a .toml strategy file", "give the path of a .toml file")
    info = files.load(path).explain()
    if fmt is Format.json:
        common.emit_json({"strategy": info})
        return
    con = common.console()
    con.print(f"{info['name']}  ({info['source']}, sha256 {info['sha256'][:12]})", highlight=False, markup=False)
    if info["description"]:
        con.print(info["description"], highlight=False, markup=False)
    common.table(
        "parameters",
        ["name", "type", "default", "range", "help"],
        [
            [k, p["type"], p["default"], "-" if p["min"] is None else f"{p['min']:g} .. {p['max']:g}", p["help"]]
            for k, p in info["params"].items()
        ],
    )
    rows = []
    for r in info["rules"]:
        cond = "otherwise" if r["default"] else f"when {r['when']}"
        w = ", ".join(f"{a} = {v}" for a, v in r["weights"].items()) or "all CASH"
        rows.append([str(r["rule"]), r["label"], cond, w + " (rest CASH)"])
    common.table(
        "rules, first true wins (an unknown condition does not fire)", ["#", "label", "condition", "weights"], rows
    )
    con.print("no rule true: all CASH", highlight=False, markup=False)


METRIC_ROWS = [
    ("total_return", "total return", "pct"), ("cagr", "CAGR", "pct"), ("volatility", "volatility", "pct"),
    ("sharpe", "Sharpe (excess of cash)", "num"), ("sortino", "Sortino (excess of cash)", "num"),
    ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "num"), ("turnover", "turnover (1-way/yr)", "num"),
    ("costs", "costs (of equity)", "pct"), ("opening_cost", "opening cost", "pct"), ("days", "days", "int"),
]  # fmt: skip


def _cell(v, kind):
    if kind == "pct":
        return common.fmt_pct(v)
    if kind == "num":
        return common.fmt_num(v, 2)
    return "-" if v is None else str(v)


def metrics_table(title: str, cols: dict[str, dict], caption: str | None = None) -> None:
    rows = [[label, *[_cell(m.get(k), kind) for m in cols.values()]] for k, label, kind in METRIC_ROWS]
    tim = sorted({a for m in cols.values() for a in (m.get("time_in_market") or {})})
    for a in tim:
        rows.append([f"time in {a}", *[common.fmt_pct((m.get("time_in_market") or {}).get(a)) for m in cols.values()]])
    # too many runs for one table: the same rows, a few runs at a time
    common.table(title, ["metric", *cols.keys()], rows, caption=caption, repeat=1)


@app.command("backtest")
def backtest_cmd(
    strategy: Annotated[str, typer.Argument(help="Strategy name (see `hedge strategies`) or a .toml strategy file.")],
    param: ParamOpt = None,
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
    cost: CostOpt = None,
    export_weights: Annotated[str | None, typer.Option("--export-weights", help="Write held weights to CSV.")] = None,
    report: Annotated[bool, typer.Option("--report", help="Also write the HTML tearsheet.")] = False,
    title: Annotated[str | None, typer.Option("--title", help="Tearsheet title.")] = None,
    strategies_dir: StrategiesDirOpt = None,
    reports_dir: ReportsDirOpt = None,
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Backtest a strategy against a benchmark on the store's data, with costs, and save the run."""
    from .. import api
    from ..research import executor as exmod
    from ..run import experiment_of, run_backtest

    spec = common.run_spec(
        strategy, param=param, start=start, end=end, gold=gold, benchmark=benchmark, strategies_dir=strategies_dir,
        fees_bp=fees_bp, slippage_bp=slippage_bp, exec_lag=exec_lag, rebalance=rebalance, band=band,
        vol_target=vol_target, cost=cost,
    )  # fmt: skip
    if export_weights is not None and not export_weights.endswith(".csv"):
        raise UsageError(f"--export-weights {export_weights!r} is not a .csv file", "give a path ending in .csv")
    exmod.check(executor, scheduler, workers)
    store = common.open_store(data_dir)
    prog = progress.terminal(enabled=fmt is not Format.json)
    try:
        run = run_backtest(store, spec, progress=prog, reports_dir=reports_dir)
        command = common.command_line()
        experiment = experiment_of(run, title, report)
        with exmod.make(executor, scheduler, workers) as ex:  # the controls' random timings run there
            kw = dict(command=command, progress=prog, experiment=experiment, executor=ex)
            written = api.report(run, reports_dir, title=title, **kw) if report else None
            path = run.path if report else api.save(run, reports_dir, **kw)
        if export_weights:
            from ..fsutil import atomic_output

            with atomic_output(export_weights) as tmp:
                run.result.weights.to_csv(tmp, index_label="date", float_format="%.10g")
        out = {**run.summary(), **(run.analysis or {}), "run_dir": str(path)}
        if report:
            out["report"] = str(written)
    finally:
        prog.done()
    if fmt is Format.json:
        common.emit_json(out)
        return
    name = run.strategy.name
    metrics_table(
        f"{name} vs {run.benchmark_label}  {out['period']['start']} .. {out['period']['end']}  (run {run.run_id})",
        {name: run.metrics, run.benchmark_label: run.bench_metrics},
    )
    if run.analysis:
        analysis_tables(run.analysis, strategy, run.benchmark_label)
    con = common.console()
    for n in run.notes:
        con.print(f"- {n}", highlight=False, markup=False)
    common.paths(("saved to", path), ("report", out.get("report")))


def analysis_tables(analysis: dict, strategy: str, bench: str) -> None:
    """``attribution`` and ``controls`` (``research.controls``) as two tables with their verdicts."""
    a = analysis["attribution"]
    rows = []
    for key, name in (("hedge_on", "hedge on"), ("hedge_off", "hedge off")):
        p = a[key]
        for who, label in (("strategy", strategy), ("benchmark", bench)):
            m = p.get(who) or {}
            rows.append(
                [f"{name} ({common.fmt_pct(p['share'], 1)})" if who == "strategy" else "", label,
                 common.fmt_pct(m.get("total_return")), common.fmt_pct(m.get("cagr")),
                 common.fmt_pct(m.get("volatility")), common.fmt_pct(m.get("max_drawdown"))]
            )  # fmt: skip
    common.table(
        f"attribution: hedge on = {a['definition']}; {a['switches']} switches",
        ["state (days)", "series", "total", "CAGR", "volatility", "max DD"],
        rows,
        caption=f"costs {common.fmt_pct(a['costs'])} (opening {common.fmt_pct(a['opening_cost'])}), "
        f"turnover {common.fmt_num(a['turnover'], 2)}/yr",
    )
    c = analysis["controls"]
    st, rt = c["static"], c["random_timing"]
    sm = st.get("metrics") or {}
    rows = [
        ["static mix (average weights, monthly)", common.fmt_num(sm.get("sharpe"), 2), common.fmt_pct(sm.get("cagr")),
         "-", "-"],
        [f"random timing (n={rt['n']}, seed {rt['seed']}), median",
         common.fmt_num((rt.get("random_sharpe") or {}).get("p50"), 2), "-", common.fmt_pct(rt.get("percentile"), 1),
         common.fmt_num(rt.get("p_value"), 3)],
    ]  # fmt: skip
    common.table("controls", ["control", "Sharpe", "CAGR", "strategy pctile", "p-value"], rows)
    con = common.console()
    for v in (a["verdict"], st["verdict"], rt["verdict"]):
        con.print(f"* {v}", highlight=False, markup=False)


@app.command("now")
def now_cmd(
    strategy: Annotated[str, typer.Argument(help="Strategy name (see `hedge strategies`) or a .toml strategy file.")],
    param: ParamOpt = None,
    value: Annotated[
        float | None, typer.Option("--value", help="Portfolio value in USD (default: holdings total).")
    ] = None,
    holdings: Annotated[str | None, typer.Option("--holdings", help="CSV asset,value_usd of current holdings.")] = None,
    fractional: Annotated[
        bool, typer.Option("--fractional", help="Fractional ETF shares (default: whole shares).")
    ] = False,
    gold: GoldOpt = "GLD",
    strategies_dir: StrategiesDirOpt = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Target weights for the latest decision date and the signals behind them; with --value or --holdings,
    the orders to get there (whole shares unless --fractional) and a fee estimate."""
    from ..now import target_now

    store = common.open_store(data_dir)
    from ..strategy import parse_params

    out = target_now(
        store,
        strategy,
        parse_params(param),
        value=value,
        holdings=holdings,
        gold=gold,
        strategies_dir=strategies_dir,
        fractional=fractional,
    )
    if fmt is Format.json:
        common.emit_json(out)
        return
    asof, fill = out["asof"].date(), out["fill_on"].date()
    title = f"{strategy}: target at the {asof} close (fills at the {fill} close)"
    if not out["orders"]:
        common.table(
            title,
            ["asset", "target", "price", "price date"],
            [[t["asset"], common.fmt_pct(t["target_weight"]), common.fmt_num(t["price"], 2), t["price_date"]]
             for t in out["targets"]],
        )  # fmt: skip
    else:
        units = "units" if out["fractional"] else "units (whole shares)"
        common.table(
            title + f", portfolio ${out['value_usd']:,.0f}",
            ["asset", "target", "price", "price date", "now $", "target $", "order $", units, "fees $"],
            [
                [o["asset"], common.fmt_pct(o["target_weight"]), common.fmt_num(o["price"], 2), o["price_date"],
                 f"{o['current_usd']:,.0f}", f"{o['target_usd']:,.0f}", f"{o['order_usd']:+,.0f}",
                 _units(o), f"{o['fees_usd']:,.2f}"]
                for o in out["orders"]
            ],
        )  # fmt: skip
    con = common.console()
    if out["orders"]:
        con.print(f"estimated fees and slippage: ${out['fees_usd']:,.2f}", highlight=False, markup=False)
    else:
        con.print(f"no orders: {out['order_hint']}", highlight=False, markup=False)
    for w in out["warnings"]:
        con.print(f"warning: {w}", highlight=False, markup=False)
    common.table(
        "signals behind it",
        ["signal", "value", "observed", "available"],
        [[k, _sig(v["value"]), v["observation_date"], v["available_on"]] for k, v in out["signals"].items()],
    )


def _sig(v) -> str:
    v = common.plain(v)
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _units(o: dict) -> str:
    u = o["order_units"]
    if o["target_weight"] == 0 and o["current_usd"] > 0 and o["asset"] != "CASH":
        return "sell all"
    if u is None:
        return "-"
    if o["asset"] == "CASH":
        return ""
    return f"{u:+,.0f}" if float(u).is_integer() else f"{u:+,.6f}"
