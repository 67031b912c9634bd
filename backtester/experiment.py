"""Experiment files (``hedge run EXPERIMENT.toml``) and reruns of saved runs (``hedge rerun RUN_ID``).

An experiment file declares one run, or several ``[[run]]`` entries that end in one compare page::

    title = "The essay's rule and two variations"   # the compare page's title (one run: its tearsheet's)
    report = true                                   # write each run's tearsheet
    # run options; at the top level they are the defaults of every [[run]]
    strategy = "seed-thesis.toml"                   # a strategy name, or a .toml file (relative to this file)
    params = { floor = 0.10 }                       # a [[run]]'s params are merged over these
    start = "2015-01-02"                            # also: end, fees_bp, slippage_bp, exec_lag, rebalance,
    benchmark = "spy=0.6,ief=0.4"                   #   band, vol_target, gold, benchmark, strategies_dir
    [[run]]
    title = "as in the essay"
    [[run]]
    strategy = "seed-thesis-trend.toml"

Command-line options override the file (for every run). Each run is saved as ``hedge backtest`` saves it,
with the fully resolved experiment in its run.json (and a copy of its strategy file), so
:func:`rerun` reproduces it from the run folder alone: same run id, byte-identical run.json.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from pathlib import Path

from .errors import DataError, UsageError
from .run import STRATEGY_COPY, RunSpec

RUN_KEYS = {f.name for f in fields(RunSpec)}
ENTRY_KEYS = RUN_KEYS | {"title"}
TOP_KEYS = ENTRY_KEYS | {"report", "run"}
MAX_RUNS = 50


def load(path: str | Path) -> tuple[list[tuple[RunSpec, str | None]], dict]:
    """-> ([(RunSpec, tearsheet title), ...], {"title": ..., "report": ...})."""
    path = Path(path)
    where = path.name
    if not path.is_file():
        raise UsageError(f"experiment file {path} does not exist", "give the path of an experiment .toml file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise UsageError(f"{where}: invalid TOML: {e}", "fix the file's syntax (see examples/)") from None
    bad = sorted(set(doc) - TOP_KEYS)
    if bad:
        raise UsageError(f"{where}: unknown key '{bad[0]}'", f"an experiment has: {', '.join(sorted(TOP_KEYS))}")
    runs = doc.get("run", [{}])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise UsageError(f"{where}: [[run]] entries are not tables", "write [[run]] then key = value lines")
    if len(runs) > MAX_RUNS:
        raise UsageError(f"{where}: {len(runs)} runs", f"an experiment has at most {MAX_RUNS} runs")
    base = {k: v for k, v in doc.items() if k in ENTRY_KEYS}
    report = doc.get("report", False)
    if not isinstance(report, bool):
        raise UsageError(f"{where}: report must be true or false", "write report = true")
    out = []
    for i, entry in enumerate(runs, start=1):
        at = f"{where} run {i}" if "run" in doc else where
        bad = sorted(set(entry) - ENTRY_KEYS)
        if bad:
            raise UsageError(f"{at}: unknown key '{bad[0]}'", f"a run has: {', '.join(sorted(ENTRY_KEYS))}")
        merged = {**base, **entry, "params": {**_table(base.get("params"), at), **_table(entry.get("params"), at)}}
        title = merged.pop("title", None) if "run" in doc else entry.get("title")
        if "strategy" not in merged or not isinstance(merged["strategy"], str):
            raise UsageError(f"{at}: no strategy", 'write strategy = "seed-thesis" or strategy = "rules.toml"')
        s = merged["strategy"]
        if s.lower().endswith(".toml") and not Path(s).is_absolute():
            merged["strategy"] = str(path.parent / s)
        sd = merged.get("strategies_dir")
        if isinstance(sd, str) and not Path(sd).is_absolute():
            merged["strategies_dir"] = str(path.parent / sd)
        out.append((_spec(merged, at), title if isinstance(title, str) else None))
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    return out, {"title": title, "report": report}


def _table(v, at) -> dict:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise UsageError(f"{at}: params is not a table", "write params = { floor = 0.1 }")
    return {str(k).lower(): x for k, x in v.items()}


def _spec(d: dict, at: str) -> RunSpec:
    import datetime as dt

    kw = {k: v for k, v in d.items() if k in RUN_KEYS}
    for k in ("start", "end"):
        if k in kw and kw[k] is not None:
            v = kw[k]  # TOML gives a date for a bare 2015-01-02, a str for a quoted one
            try:
                kw[k] = (v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))).isoformat()
            except ValueError:
                raise UsageError(f"{at}: {k} {v!r} is not a date", "use ISO YYYY-MM-DD") from None
    num, text = (int, float), (str,)
    types = {"fees_bp": num, "slippage_bp": num, "band": num, "vol_target": num, "exec_lag": (int,),
             "rebalance": text, "gold": text, "benchmark": text, "strategies_dir": text}  # fmt: skip
    for k, t in types.items():
        if k in kw and kw[k] is not None and (isinstance(kw[k], bool) or not isinstance(kw[k], t)):
            raise UsageError(f"{at}: {k} = {kw[k]!r} has the wrong type", f"{k} is a {t[-1].__name__}")
    for k in ("fees_bp", "slippage_bp", "band", "vol_target"):
        if kw.get(k) is not None:
            kw[k] = float(kw[k])
    return RunSpec(**kw)


def override(spec: RunSpec, options: dict) -> RunSpec:
    """Command-line options over the file's values (None = not given); ``params`` merge key by key."""
    given = {k: v for k, v in options.items() if v is not None and k != "params"}
    out = replace(spec, **given)
    if options.get("params"):
        out = replace(out, params={**spec.params, **options["params"]})
    return out


def spec_from_experiment(exp: dict) -> RunSpec:
    return RunSpec(**{k: exp[k] for k in RUN_KEYS if k in exp})


def rerun(store, reports_dir: Path, run_id: str):
    """Run a saved run again from its folder: -> (Run, manifest). The strategy file comes from the copy
    saved with the run; the id must come out the same (else the data or the tool changed: DataError)."""
    from .run import load_run, run_backtest
    from .strategies import files

    man = load_run(reports_dir, run_id)
    if "walkforward" in man:
        raise UsageError(
            f"run {run_id} is a walk-forward book, not one backtest", f"run its command again: {man.get('command')}"
        )
    exp = man.get("experiment")
    if not isinstance(exp, dict):
        raise UsageError(f"run {run_id} has no saved experiment", "it was saved by an older version: run it again")
    spec = spec_from_experiment(exp)
    strat = None
    sf = exp.get("strategy_file")
    if sf:
        copy = Path(reports_dir) / run_id / STRATEGY_COPY
        if not copy.is_file():
            raise DataError(f"run {run_id} lacks its strategy file copy {copy}", "run the backtest again")
        fs = files.load(copy, shown_as=sf.get("source"))
        if fs.sha256 != sf.get("sha256"):
            raise DataError(f"the strategy copy of run {run_id} was edited", "run the backtest again")
        strat = fs.strategy()
    run = run_backtest(store, spec, strategy=strat)
    if run.run_id != run_id:
        raise DataError(
            f"rerunning {run_id} gives run {run.run_id}: the data or the tool's version changed since",
            f"the data now hash to {run.data['hash'][:12]}; `hedge backtest` saves the new run",
        )
    return run, man
