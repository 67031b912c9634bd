"""``hedge data``: import, pull, status, show."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from . import common
from .common import DataDirOpt, Format, FormatOpt

data_app = typer.Typer(
    help="The data store: import the snapshot, pull online, status, show a series.", no_args_is_help=True
)


def _progress(total: int, label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # on stderr, and only on a terminal: stdout stays clean (--format json) and a failure stays one line
    console = Console(stderr=True)
    p = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    return p, p.add_task("", total=total)


@data_app.command("import")
def import_(
    src: Annotated[str, typer.Argument(help="Snapshot folder (fred/, prices/, treasury/; see MANIFEST.md).")],
    series: Annotated[list[str] | None, typer.Option("--series", help="Only these series (repeatable).")] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Validate every file of a snapshot folder, then write them all to the store (atomically)."""
    from ..data.importer import import_snapshot

    store = common.open_store(data_dir, must_exist=False)
    n = len(series) if series else 25
    bar, task = _progress(n, "importing")
    with bar:
        written = import_snapshot(
            src, store, series=series, progress=lambda sid: bar.update(task, advance=1, description=sid)
        )
    ok = [m for m in written if "checksum" in m]
    skipped = [m["series"] for m in written if "skipped" in m]
    warnings = [w for m in ok for w in m.get("warnings", [])]
    for w in warnings:  # kept, but worth a look (validate.check_calendar)
        common.warn(w)
    if fmt is Format.json:
        common.emit_json(
            {
                "data_dir": str(store.root),
                "imported": [{k: m[k] for k in ("series", "first", "last", "rows", "source")} for m in ok],
                "skipped": skipped,
                "warnings": warnings,
            }
        )
        return
    common.table(
        f"imported into {store.root}",
        ["series", "first", "last", "rows", "source"],
        [[m["series"], m["first"], m["last"], m["rows"], m["source"]] for m in ok],
        caption=f"not in the snapshot: {', '.join(skipped)}" if skipped else None,
    )


@data_app.command("status")
def status(data_dir: DataDirOpt = None, fmt: FormatOpt = Format.table):
    """Every stored series: source, units, first/last date, rows, staleness; every checksum is verified
    (a damaged file is listed, then the command exits 1 with the repair command)."""
    from ..data import catalog
    from ..errors import DataError

    store = common.open_store(data_dir)
    from ..data.store import status_rows

    asof, rows = status_rows(store)
    missing = sorted(set(catalog.CATALOG) - {r["series"] for r in rows})
    damaged = [r for r in rows if r["damaged"]]
    if fmt is Format.json:
        common.emit_json({"data_dir": str(store.root), "asof": asof, "series": rows, "missing": missing,
                          "damaged": [r["series"] for r in damaged]})  # fmt: skip
    else:
        common.table(
            f"data store {store.root} (as of {asof}, the last common date of the core series)",
            ["series", "source", "units", "freq", "first", "last", "rows", "behind", "state"],
            [
                [r["series"], "", r["units"].replace("USD ", "$"), r["frequency"], "", "", "", "", "DAMAGED"]
                if r["damaged"]
                else [
                    r["series"],
                    r["source"],
                    r["units"].replace("USD ", "$"),
                    r["frequency"],
                    r["first"],
                    r["last"],
                    r["rows"],
                    f"{r['days_behind']}d",
                    "STALE" if r["stale"] else "ok",
                ]
                for r in rows
            ],
            caption=("missing: " + ", ".join(missing)) if missing else None,
        )
    if damaged:
        ids = [r["series"] for r in damaged]
        raise DataError(
            f"damaged store file(s): {', '.join(ids)}; first: {damaged[0]['damaged']}",
            f"repair with `hedge data import DIR` (DIR: the snapshot folder) or `hedge data pull --series "
            f"{' --series '.join(ids)}`",
        )


@data_app.command("show")
def show(
    series: Annotated[str, typer.Argument(help="Series id, e.g. WALCL, SOFR, BTC-USD (see `hedge data status`).")],
    asof: Annotated[str | None, typer.Option("--asof", help="Point-in-time value known at this decision date.")] = None,
    tail: Annotated[int, typer.Option("--tail", min=1, help="Rows to show without --asof.")] = 10,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Show a series' last rows, or (with --asof) the value known at a decision date."""
    import pandas as pd

    from ..data import catalog
    from ..data.pit import as_known_on

    spec = catalog.get(series)
    store = common.open_store(data_dir)
    frame = store.read(spec.id)
    col = "value" if spec.kind == "macro" else "close"
    if asof is not None:
        when = common.parse_date(asof, "--asof")
        row = as_known_on(frame, [when], spec.staleness_days, column=col).iloc[0]
        if pd.isna(row["observation_date"]):
            first = frame["available_on"].iloc[0].date()
            raise UsageError(
                f"no {spec.id} value was available on {when.date()}", f"its first value is available on {first}"
            )
        hit = frame[frame["date"] == row["observation_date"]].iloc[0]
        out = {
            "series": spec.id,
            "asof": when,
            "value": row["value"],
            "units": spec.units,
            "observation_date": row["observation_date"],
            "published_on": hit["published_on"],
            "available_on": row["available_on"],
            "age_days": row["age_days"],
            "stale": bool(pd.isna(row["value"])),
        }
        if fmt is Format.json:
            common.emit_json(out)
            return
        common.table(
            f"{spec.id} as known on {when.date()}", ["field", "value"], [[k, common.plain(v)] for k, v in out.items()]
        )
        return
    last = frame.tail(tail)
    cols = [
        "date",
        *([col] if spec.kind == "macro" else ["open", "high", "low", "close", "volume"]),
        "published_on",
        "available_on",
    ]
    recs = [{c: r[c] for c in cols} for _, r in last.iterrows()]
    if fmt is Format.json:
        common.emit_json({"series": spec.id, "units": spec.units, "rows": recs})
        return
    common.table(
        f"{spec.id} ({spec.units}), last {len(recs)} rows", cols, [[common.plain(r[c]) for c in cols] for r in recs]
    )


@data_app.command("pull")
def pull(
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Series to pull (repeatable; default all).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Fetch from this date (default: incremental).")] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Fetch series online (FRED, Yahoo, Treasury, LBMA), validate, then write them all atomically."""
    from ..data import catalog
    from ..data.pull import pull_series

    ids = series or list(catalog.CATALOG)
    specs = [catalog.get(s) for s in ids]
    start = common.parse_date(since, "--since")
    store = common.open_store(data_dir, must_exist=False)
    bar, task = _progress(len(specs), "pulling")
    with bar:
        results = pull_series(
            store, specs, since=start, progress=lambda sid: bar.update(task, advance=1, description=sid)
        )
    if fmt is Format.json:
        common.emit_json({"data_dir": str(store.root), "pulled": results})
        return
    common.table(
        f"pulled into {store.root}",
        ["series", "source", "new_rows", "first", "last"],
        [[r["series"], r["source"], r["new_rows"], r["first"], r["last"]] for r in results],
    )


def _register():
    from . import app

    app.add_typer(data_app, name="data")


_register()
