"""Research commands: ``hedge events`` (event study).

Thin over ``backtester.eventstudy`` (the rules are in its docstring and printed with the tables).
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import app, common
from .common import DataDirOpt, Format, FormatOpt

_TYPES_HELP = (
    "Event types, comma-separated (default: qt-end,qt-start,qe-start,rmp-start,"
    "reserves-below-10,rrp-drained,spread-spike)."
)


def _fmt_event(e: dict) -> str:
    if e["status"] == "ok":
        return f"{e['date']} {common.fmt_pct(e['return'], 1)}"
    end = f", ends {e['end_date']}" if e["status"] == "past data" and e["end_date"] else ""
    return f"{e['date']} MISSING ({e['status']}{end})"


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
            )
        else:
            common.table(
                f"{t['type']}: {len(evs)} event(s) ({t['source']}, {t['definition']})",
                ["known on (event date)", "announced", "effective", "label"],
                [[e["date"], e["announced"], e["effective"], e["label"]] for e in evs],
            )
        rows = []
        for r in t["results"]:
            b = r["baseline"]
            if r["anecdotal"]:
                shown = [_fmt_event(e) for e in r["events"] if e["status"] != "overlap"]
                detail = "; ".join(shown) or "-"
                if r["n_overlap"]:
                    detail += f" (+{r['n_overlap']} skipped: overlap)"
            else:
                lo, hi = r["ci95"]
                detail = f"[{common.fmt_pct(lo, 1)}, {common.fmt_pct(hi, 1)}]"
            rows.append(
                [
                    r["asset"],
                    f"{r['horizon']} ({r['sessions']})",
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
            "n = counted events with data / all events (skipped: overlap or MISSING). "
            + (t["note"] + ". " if t["note"] else "")
            + "baseline = every decision date with a full horizon."
        )
        common.table(
            f"{t['type']}: forward returns from the known date",
            [
                "asset",
                "horizon (sessions)",
                "n",
                "mean",
                "median",
                "hit",
                "95% CI of mean / each event",
                "all days mean",
                "all days hit",
            ],
            rows,
            caption=caption,
        )
    con.print(f"horizons in NYSE sessions: {hz}; prices: {ends}")
    from rich.markup import escape

    for k, v in study["rules"].items():
        con.print(f"[dim]{k}: {escape(v)}[/dim]", highlight=False)


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
    from .. import eventstudy as es

    types_ = es.check_types(types)
    hz = es.check_horizons(horizons)
    assets_ = es.check_assets(assets)
    if plot is not None and not plot.lower().endswith((".html", ".htm")):
        from ..errors import UsageError

        raise UsageError(f"--plot {plot!r} is not an .html file", "give a file name ending in .html")
    store = common.open_store(data_dir)
    inputs = es.Inputs(store)
    study = es.event_study(store, types_, list(hz), assets_, inputs=inputs)
    written = es.plot_paths(store, study, plot, inputs=inputs) if plot else None
    if fmt is Format.json:
        common.emit_json({**study, "plot": written})
        return
    _events_tables(study)
    if written:
        common.console().print(f"chart: {written}")
