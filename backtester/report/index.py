"""``<reports-dir>/index.html``: every saved run (strategy, benchmark, period, CAGR, Sharpe, max drawdown,
links to its tearsheet and files), newest first, and the comparison pages. Rewritten on each report."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from ._io import atomic_write_text, esc

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{margin:30px;font:13px/1.4 Arial,sans-serif;color:#000}}.container{{max-width:1200px;margin:auto}}
h1{{font-weight:400;margin:0 0 4px}}h2{{font-size:16px;margin:30px 0 8px}}p{{color:#555}}
table{{border-spacing:0;width:100%;margin:0 0 30px}}td,th{{padding:4px 6px;text-align:right}}
td:first-child,th:first-child,td.l,th.l{{text-align:left}}thead th{{background:#eee}}
tbody tr:nth-child(even){{background:#fafafa}}a{{color:#09c;text-decoration:none}}a:hover{{text-decoration:underline}}
td{{font-variant-numeric:tabular-nums}}td .title{{font-weight:bold}}td .params,td .options{{color:#555;font-size:12px}}
</style></head><body><div class="container">
{body}
</div></body></html>
"""


def _pct(v) -> str:
    return "-" if not isinstance(v, int | float) else f"{100 * v:.2f}%"


def _num(v) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:.2f}"


def href(*parts: str) -> str:
    """A link inside the reports folder: ``./`` + percent-encoded path parts, so no run id or file name
    can make it a ``javascript:`` (or any other scheme) link or leave the folder."""
    from urllib.parse import quote

    return "./" + "/".join(quote(p, safe="") for p in parts)


def scan(reports_dir: Path) -> tuple[list[dict], list[dict]]:
    """(every saved run folder under ``reports_dir`` with its summary, newest first; the folders that look
    like runs but cannot be read, each ``{"run_id", "why"}``). A broken folder never breaks the index."""
    from ..paths import check_run_id

    out, broken = [], []
    root = Path(reports_dir)
    for d in sorted(root.iterdir()) if root.is_dir() else ():
        if d.name.startswith(".") or not (d / "run.json").exists():
            continue
        try:
            check_run_id(d.name)
            if d.is_symlink():
                raise ValueError("a symbolic link, not a run folder")
            man = json.loads((d / "run.json").read_text())
            mtime = (d / "run.json").stat().st_mtime
            if not isinstance(man, dict):
                raise ValueError("run.json is not an object")
            s = man.get("summary") or {}
            spec = man.get("spec") or {}
            if not isinstance(s, dict) or not isinstance(spec, dict):
                raise ValueError("run.json has no summary")
            period, metrics, bench = (s.get(k) or {} for k in ("period", "strategy", "benchmark"))
            if not all(isinstance(x, dict) for x in (period, metrics, bench, s.get("params") or {})):
                raise ValueError("run.json summary is malformed")
            out.append(
                {
                    "run_id": d.name,
                    "strategy": s.get("strategy_name") or spec.get("strategy"),
                    "benchmark": s.get("benchmark_name"),
                    "params": s.get("params") or {},
                    "start": period.get("start"),
                    "end": period.get("end"),
                    "metrics": metrics,
                    "bench_metrics": bench,
                    "tearsheet": (d / "tearsheet.html").is_file(),
                    "title": _page_title(d / "tearsheet.html"),
                    "options": key_options(spec),
                    "saved": _dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M"),
                    "mtime": mtime,
                }
            )
        except Exception as e:  # noqa: BLE001 - any unreadable folder is skipped and named
            why = e.what if hasattr(e, "what") else f"{type(e).__name__}: {e}"
            broken.append({"run_id": d.name, "why": " ".join(str(why).split())[:200]})
    return sorted(out, key=lambda r: (-r["mtime"], r["run_id"])), broken


def runs(reports_dir: Path) -> list[dict]:
    """Every readable saved run folder under ``reports_dir`` (newest first) with its summary."""
    return scan(reports_dir)[0]


DEFAULT_OPTIONS = {"fees_bp": None, "slippage_bp": None, "exec_lag": 1, "rebalance": "change", "vol_target": None,
                   "gold": "GLD"}  # fmt: skip


def key_options(spec: dict) -> str:
    """The run options that differ from the defaults, as CLI flags (``--rebalance monthly --fees-bp 5``)."""
    out = []
    for k, default in DEFAULT_OPTIONS.items():
        v = spec.get(k, default)
        if v != default:
            out.append(f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}")
    if spec.get("rebalance") == "band":
        out.append(f"--band {spec.get('band', 0.05):g}")
    for k in ("start", "end"):
        if spec.get(k):
            out.append(f"--{k} {spec[k]}")
    return " ".join(out)


def _page_title(path: Path) -> str | None:
    """The <title> of a written tearsheet (read from its first few kilobytes), None without one."""
    import html
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(8192)
    except OSError:
        return None
    m = re.search(r"<title>(.*?)</title>", head, flags=re.S)
    return html.unescape(m.group(1).strip()) if m else None


def render_index(reports_dir: Path) -> str:
    rows = []
    good, broken = scan(reports_dir)
    for r in good:
        rid = esc(r["run_id"])
        link_to = lambda name, rid=r["run_id"]: esc(href(rid, name))  # noqa: E731
        m, b = r["metrics"], r["bench_metrics"]
        link = (
            f'<a href="{link_to("tearsheet.html")}">tearsheet</a>'
            if r["tearsheet"]
            else f'<span title="hedge report {rid}">no tearsheet (hedge report {rid})</span>'
        )
        params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        about = "".join(
            f'<div class="{cls}">{esc(text)}</div>'
            for cls, text in (("title", r["title"]), ("params", params), ("options", r["options"]))
            if text
        )
        rows.append(
            f'<tr><td class="l">{esc(r["strategy"])}</td><td class="l">{rid}{about}</td>'
            f'<td class="l">{esc(r["benchmark"])}</td><td>{esc(r["start"])} .. {esc(r["end"])}</td>'
            f"<td>{_pct(m.get('cagr'))}</td><td>{_num(m.get('sharpe'))}</td><td>{_pct(m.get('max_drawdown'))}</td>"
            f"<td>{_pct(b.get('cagr'))}</td><td>{_num(b.get('sharpe'))}</td><td>{_pct(b.get('max_drawdown'))}</td>"
            f'<td class="l">{link} &middot; <a href="{link_to("run.json")}">run.json</a> &middot; '
            f'<a href="{link_to("returns.csv")}">returns.csv</a></td><td>{esc(r["saved"])}</td></tr>'
        )
    head = (
        "<tr><th>strategy</th><th>run</th><th>benchmark</th><th>period</th><th>CAGR</th><th>Sharpe</th>"
        '<th>max DD</th><th>bench CAGR</th><th>bench Sharpe</th><th>bench max DD</th><th class="l">links</th>'
        "<th>saved</th></tr>"
    )
    table = f"<table><thead>{head}</thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    comps = sorted(Path(reports_dir).glob("compare-*.html"), key=lambda p: -p.stat().st_mtime)
    comp = (
        "<h2>Comparisons</h2><ul>"
        + "".join(f'<li><a href="{esc(href(p.name))}">{esc(p.name)}</a></li>' for p in comps)
        + "</ul>"
        if comps
        else ""
    )
    body = (
        "<h1>Backtest runs</h1>"
        f"<p>{len(rows)} saved runs, newest first. Sharpe in excess of CASH; 252 periods a year. "
        "Rebuilt by <code>hedge report RUN_ID</code> and <code>hedge backtest ... --report</code>.</p>"
        + (table if rows else "<p>No saved runs yet: run <code>hedge backtest STRATEGY --report</code>.</p>")
        + comp
        + (
            "<h2>Skipped folders</h2><p>These folders hold a run.json that cannot be read; rerun their backtest "
            "or remove them.</p><ul>"
            + "".join(f"<li>{esc(b['run_id'])}: {esc(b['why'])}</li>" for b in broken)
            + "</ul>"
            if broken
            else ""
        )
    )
    return PAGE.format(title="Backtest runs", body=body)


def write_index(reports_dir) -> Path:
    from ..fsutil import clean_stale

    reports_dir = Path(reports_dir)
    clean_stale(reports_dir)  # temp files and folders of killed saves and page writes
    return atomic_write_text(reports_dir / "index.html", render_index(reports_dir))
