"""``hedge signals``: the liquidity dashboard on one decision date, the timeline plot, the CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from . import common
from .common import DataDirOpt, Format, FormatOpt


def _check_export(path: str) -> Path:
    p = Path(path)
    if p.suffix.lower() != ".csv":
        raise UsageError(
            f"cannot export the signal frame to {p.name!r}: unknown extension {p.suffix or '(none)'!r}",
            "use a .csv file name",
        )
    if not p.parent.exists():
        raise UsageError(f"folder {p.parent} does not exist", "create it first or export elsewhere")
    return p


def _fmt(key: str, rec: dict) -> str:
    from ..signals import SIGNALS

    v = rec["value"]
    if v is None:
        return "unknown"
    units = SIGNALS[key].units
    if isinstance(v, bool) or isinstance(v, str):
        return str(v).lower() if isinstance(v, bool) else v
    if units == "fraction":
        return f"{v:.4f}"
    if units == "bp":
        return f"{v:+.1f} bp"
    if units == "USD bn":
        return f"{v:,.1f} bn"
    if units == "days":
        return f"{v:,.0f} d"
    return f"{v:,.1f}"


def signals_cmd(
    asof: Annotated[
        str | None,
        typer.Option(
            "--asof",
            help="Decision date (YYYY-MM-DD); default: the store's "
            "last common date, as the last NYSE session on or before it.",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            help="Write the timeline since 2008 to FILE (.html with plotly.js inlined, or .png).",
            metavar="FILE",
        ),
    ] = None,
    export: Annotated[
        str | None, typer.Option("--export", help="Write the daily signal frame to FILE.csv.", metavar="FILE")
    ] = None,
    data_dir: DataDirOpt = None,
):
    """Liquidity signals on a decision date: reserves/GDP, RRP, spreads, QT state, FOMC events, stress, regime."""
    from .. import signals
    from ..data.fomc import events as event_table
    from ..report.charts import check_plot_path, signals_timeline

    plot_path = check_plot_path(plot) if plot else None
    export_path = _check_export(export) if export else None
    store = common.open_store(data_dir)
    frame = signals.compute(store)
    from ..signals import resolve_asof

    when = resolve_asof(frame, store, common.parse_date(asof, "--asof"))

    if plot_path or export_path:
        wrote = []
        upto = frame[frame.index <= when] if asof is not None else frame
        if plot_path:
            signals_timeline(upto, plot_path, events=event_table(until=upto.index[-1]))
            wrote.append(str(plot_path))
        if export_path:
            from ..fsutil import atomic_output

            with atomic_output(export_path) as tmp:
                upto.to_csv(tmp, index_label="date", date_format="%Y-%m-%d")
            wrote.append(str(export_path))
        if fmt is Format.json:
            common.emit_json({"asof": when, "wrote": wrote})
        else:
            for w in wrote:
                typer.echo(f"wrote {w}")
        return

    row = signals.snapshot_row(frame, when)
    if fmt is Format.json:
        common.emit_json({"asof": when, "signals": row})
        return
    rows, notes = [], []
    for key, rec in row.items():
        thr = rec["threshold"]
        value = _fmt(key, rec)
        if "reason" in rec:
            notes.append(f"({len(notes) + 1}) {key}: {rec['reason']}")
            value = f"unknown ({len(notes)})"
        rows.append(
            [
                key,
                value,
                "" if thr is None else f"{thr:g}",
                rec["state"] or "",
                rec["observation_date"] or "-",
                rec["available_on"] or "-",
            ]
        )
    ev = row.get("last_event_type", {})
    if ev.get("label"):
        notes.append(f"last FOMC balance-sheet event: {ev['observation_date']} {ev['value']}: {ev['label']}")
    unknown = row.get("liquidity_stress", {}).get("unknown_inputs") or []
    if unknown:
        notes.append("liquidity_stress was computed without: " + ", ".join(unknown))
    _table(f"liquidity signals as known at the {when.date()} close", rows, notes)


def _table(title: str, rows: list[list[str]], notes: list[str]) -> None:
    from . import common

    common.table(title, ["signal", "value", "threshold", "state", "observed", "available"], rows)
    console = common.console()
    for n in notes:
        console.print(n, highlight=False, markup=False)


def _register():
    from . import app

    app.command("signals")(signals_cmd)


_register()
