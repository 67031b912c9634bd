"""``hedge report`` (the tearsheet of a saved run) and ``hedge compare`` (runs side by side)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, common
from .backtest import ReportsDirOpt
from .common import Format, FormatOpt

TitleOpt = Annotated[str | None, typer.Option("--title", help="Page title (shown as text).")]


def _run_id(rid: str) -> str:
    from ..paths import check_run_id

    return check_run_id(rid)


@app.command("report")
def report_cmd(
    run_id: Annotated[str, typer.Argument(help="A saved run's id (printed by `hedge backtest`).")],
    title: TitleOpt = None,
    reports_dir: ReportsDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Write the HTML tearsheet of a saved run (QuantStats + liquidity panels) and update index.html."""
    from ..paths import reports_dir as resolve
    from ..report import write_report
    from ..run import load_run

    root = resolve(reports_dir)
    load_run(root, _run_id(run_id))  # a usage error when there is no such run
    path = write_report(root / run_id, title=title)
    out = {"run_id": run_id, "report": str(path), "index": str(root / "index.html")}
    if fmt is Format.json:
        common.emit_json(out)
        return
    typer.echo(f"wrote {path}\nindex {out['index']}")


@app.command("compare")
def compare_cmd(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more saved run ids.")],
    title: TitleOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Each run over its own period (default: the dates all runs share).")
    ] = False,
    reports_dir: ReportsDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Saved runs side by side on their common window (rebased there), and an HTML page with their equity
    curves, drawdowns, yearly returns and correlations."""
    from ..paths import reports_dir as resolve
    from ..report.compare import write_compare
    from .backtest import metrics_table

    path, out = write_compare(resolve(reports_dir), [_run_id(r) for r in run_ids], title=title, full=full)
    out["page"] = str(path)
    if fmt is Format.json:
        common.emit_json(out)
        return
    cols = {f"{r['strategy_name']}\n{r['run_id'].rsplit('-', 1)[-1]}": r["strategy"] for r in out["runs"]}
    lines = [
        f"{r['run_id']}: vs {r['benchmark_name']}, run {r['period'].get('start')} .. {r['period'].get('end')}"
        for r in out["runs"]
    ]
    w = out["window"]
    head = f"compare over the common window {w['start']} .. {w['end']}" if w else "compare, each over its own period"
    metrics_table(head + ("" if out["same_period"] or w else " (periods differ)"), cols)
    con = common.console()
    for line in lines:
        con.print(line, highlight=False, markup=False)
    typer.echo(f"page {path}")
