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
    """Validate every file of a snapshot folder (and user files declared in its catalog.toml), then write
    them all to the store (atomically). Every file not imported is listed with the reason."""
    from ..data.catalog import CATALOG
    from ..data.importer import import_snapshot

    store = common.open_store(data_dir, must_exist=False)
    n = len(series) if series else len(CATALOG)
    bar, task = _progress(n, "importing")
    with bar:
        written = import_snapshot(
            src, store, series=series, progress=lambda sid: bar.update(task, advance=1, description=sid)
        )
    ok = [m for m in written if "checksum" in m]
    missing = [m["series"] for m in written if "skipped" in m and "series" in m]
    skipped = [{"file": m["file"], "reason": m["skipped"]} for m in written if "skipped" in m and "file" in m]
    warnings = [w for m in ok for w in m.get("warnings", [])]
    for w in warnings:  # kept, but worth a look (validate.check_calendar)
        common.warn(w)
    if fmt is Format.json:
        common.emit_json(
            {
                "data_dir": str(store.root),
                "imported": [
                    {**{k: m[k] for k in ("series", "first", "last", "rows", "source")}, "user": "declaration" in m}
                    for m in ok
                ],
                "skipped": skipped,
                "missing": missing,
                "warnings": warnings,
            }
        )
        return
    common.table(
        f"imported into {store.root}",
        ["series", "first", "last", "rows", "source"],
        [[m["series"] + (" (user)" if "declaration" in m else ""), m["first"], m["last"], m["rows"], m["source"]]
         for m in ok],
        caption=f"built-in series not in the folder: {', '.join(missing)}" if missing else None,
    )  # fmt: skip
    if skipped:
        common.table("files not imported", ["file", "why"], [[s["file"], s["reason"]] for s in skipped])


@data_app.command("status")
def status(data_dir: DataDirOpt = None, fmt: FormatOpt = Format.table):
    """Every stored series: source, units, first/last date, rows, staleness; every checksum is verified
    (a damaged file is listed, then the command exits 1 with the repair command)."""
    from ..data import catalog
    from ..data.store import status_rows
    from ..errors import DataError

    store = common.open_store(data_dir)
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
                    r["series"] + ("*" if r["user"] else ""),
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
            caption="; ".join(
                x
                for x in (
                    "* user series (hedge data add; remove with hedge data remove)"
                    if any(r["user"] for r in rows)
                    else "",
                    ("missing: " + ", ".join(missing)) if missing else "",
                )
                if x
            )
            or None,
        )
        user = [r for r in rows if r["user"] and not r["damaged"]]
        if user:
            common.table(
                "user series: declarations",
                ["series", "kind", "calendar", "available", "staleness", "holdable"],
                [
                    [r["series"], r["kind"], r["calendar"] or "-", r["available"], f"{r['staleness_limit_days']}d",
                     "yes" if r["holdable"] else "no"]
                    for r in user
                ],
            )  # fmt: skip
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

    store = common.open_store(data_dir)
    spec = catalog.CATALOG.get(series) or store.spec(_canonical(series))
    frame = store.read(spec.id)
    decl = _declaration(store, spec)
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
            **decl,
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
        common.emit_json({"series": spec.id, "units": spec.units, **decl, "rows": recs})
        return
    common.table(
        f"{spec.id} ({spec.units}), last {len(recs)} rows", cols, [[common.plain(r[c]) for c in cols] for r in recs]
    )
    if decl:
        d = decl["declaration"]
        common.say(
            f"user {d['kind']} {spec.id}: calendar {d['calendar'] or '-'}, available {d['available']},"
            f" {d['frequency']}, staleness {d['staleness_days']} days, units {d['units']}"
        )


def _canonical(series: str) -> str:
    from ..data.declared import canonical_id

    return canonical_id(series)


def _declaration(store, spec) -> dict:
    if not spec.user:
        return {}
    d = store.meta(spec.id)["declaration"]
    keep = ("kind", "calendar", "available", "units", "frequency", "staleness_days", "source", "source_id")
    return {"declaration": {k: d.get(k) for k in keep}}


@data_app.command("pull")
def pull(
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Built-in series to pull (repeatable; default all).")
    ] = None,
    ticker: Annotated[
        list[str] | None, typer.Option("--ticker", help="Any Yahoo ticker, added or updated as a user price.")
    ] = None,
    fred: Annotated[
        list[str] | None, typer.Option("--fred", help="Any FRED series id, added or updated as a user series.")
    ] = None,
    calendar: Annotated[
        str | None, typer.Option("--calendar", help="nyse (default) or crypto, for new --ticker prices.")
    ] = None,
    available: Annotated[
        str | None, typer.Option("--available", help="Availability rule of new --fred series (see data add).")
    ] = None,
    frequency: Annotated[
        str | None, typer.Option("--frequency", help="daily | weekly | monthly | quarterly (new --fred series).")
    ] = None,
    units: Annotated[str | None, typer.Option("--units", help="Units of new --fred series.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Fetch from this date (default: incremental).")] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Fetch series online (FRED, Yahoo, Treasury, LBMA), validate, then write them all atomically.

    Without options, every built-in series and every user series pulled before; --ticker/--fred add or
    update user series."""
    from ..data import catalog
    from ..data.pull import pull_series

    store = common.open_store(data_dir, must_exist=False)
    specs, decls = _pull_specs(store, series, ticker or [], fred or [], calendar, available, frequency, units)
    start = common.parse_date(since, "--since")
    bar, task = _progress(len(specs), "pulling")
    with bar:
        results = pull_series(
            store,
            specs,
            since=start,
            progress=lambda sid: bar.update(task, advance=1, description=sid),
            declarations=decls,
        )
    for r in results:
        r["user"] = r["series"] not in catalog.CATALOG
        for w in r["warnings"]:  # kept, but worth a look (validate.check_calendar), as `data import` says
            common.warn(w)
    if fmt is Format.json:
        common.emit_json({"data_dir": str(store.root), "pulled": results})
        return
    common.table(
        f"pulled into {store.root}",
        ["series", "source", "new_rows", "first", "last"],
        [
            [r["series"] + ("*" if r["user"] else ""), r["source"], r["new_rows"], r["first"], r["last"]]
            for r in results
        ],
        caption="* user series" if any(r["user"] for r in results) else None,
    )


def _pull_specs(store, series, tickers, freds, calendar, available, frequency, units):
    """(specs to pull, declarations of new user series). Built-in ids given to --ticker/--fred are refused."""
    from ..data import catalog, declared

    if not (series or tickers or freds):
        user = [s for s in store.user_specs().values() if s.source in ("yahoo", "fred")] if store.exists() else []
        return list(catalog.CATALOG.values()) + user, {}
    specs = [catalog.get(s) for s in series or []]
    decls: dict[str, dict] = {}
    for source, names in (("yahoo", tickers), ("fred", freds)):
        for raw in names:
            sid = declared.canonical_id(raw)
            if sid in catalog.CATALOG:
                raise UsageError(f"{sid} is a built-in series", f"pull it with `hedge data pull --series {sid}`")
            if sid in store.ids():
                spec = store.spec(sid)
                if spec.source != source:
                    raise UsageError(
                        f"user series {sid} was not pulled from {source} (source: {spec.source})",
                        f"remove it first with `hedge data remove {sid}`",
                    )
                specs.append(spec)
                continue
            if source == "yahoo":
                d = declared.declare(
                    sid, "price", calendar=calendar, source="yahoo",
                    source_id=str(raw).strip().upper(), title=f"Yahoo {str(raw).strip().upper()}",
                )  # fmt: skip
            else:
                d = declared.declare(
                    sid, "series", available=available, frequency=frequency, units=units, source="fred",
                    source_id=sid, title=f"FRED {sid}",
                )  # fmt: skip
            decls[sid] = d
            specs.append(declared.to_spec(d))
    return specs, decls


@data_app.command("add")
def add(
    file: Annotated[str, typer.Argument(help="CSV file: date,close[,open,high,low,adj_close,volume] or date,value.")],
    series_id: Annotated[str, typer.Option("--id", help="Id of the series (not a built-in id).")],
    kind: Annotated[str, typer.Option("--kind", help="price (holdable) or series (a signal input).")],
    calendar: Annotated[
        str | None, typer.Option("--calendar", help="nyse (default) | crypto (prices trading every day).")
    ] = None,
    available: Annotated[
        str | None,
        typer.Option(
            "--available",
            help="same-session | next-session | next-business-day | weekly-h41 | lag:Nd (default: by kind).",
        ),
    ] = None,
    units: Annotated[str | None, typer.Option("--units", help="Units (default USD/share, USD, value).")] = None,
    frequency: Annotated[
        str | None, typer.Option("--frequency", help="daily (default) | weekly | monthly | quarterly.")
    ] = None,
    staleness: Annotated[
        int | None, typer.Option("--staleness", help="Days after which a value is too old to use.")
    ] = None,
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Add your own price or series from a CSV file, validated like an import, with its declaration."""
    from ..data import declared

    decl = declared.declare(
        series_id, kind, calendar=calendar, available=available, units=units, frequency=frequency,
        staleness=staleness,
    )  # fmt: skip
    store = common.open_store(data_dir, must_exist=False)
    meta = declared.add_file(store, file, decl)
    out = {
        "data_dir": str(store.root),
        "series": decl["id"],
        "replaced": meta["replaced"],
        **{k: meta[k] for k in ("first", "last", "rows", "source")},
        "declaration": {k: v for k, v in decl.items() if k not in ("rule", "id")},
    }
    if fmt is Format.json:
        common.emit_json(out)
        return
    d = out["declaration"]
    common.say(
        f"{'replaced' if meta['replaced'] else 'added'} {d['kind']} {decl['id']}: {meta['rows']} rows"
        f" {meta['first']} .. {meta['last']}; calendar {d['calendar'] or '-'}, available {d['available']},"
        f" {d['frequency']}, staleness {d['staleness_days']} days, units {d['units']}"
        + ("; holdable by every strategy and as a benchmark" if d["kind"] == "price" else "")
    )


@data_app.command("remove")
def remove(
    series_id: Annotated[str, typer.Argument(help="A user series id (see `hedge data status`).")],
    data_dir: DataDirOpt = None,
    fmt: FormatOpt = Format.table,
):
    """Drop a user series (its data and declaration) from the store."""
    from ..data import declared

    store = common.open_store(data_dir)
    out = declared.remove(store, series_id)
    if fmt is Format.json:
        common.emit_json({"data_dir": str(store.root), "removed": out})
        return
    typer.echo(f"removed {out['series']} ({out['rows']} rows, {out['source']})")


def _register():
    from . import app

    app.add_typer(data_app, name="data")


_register()
