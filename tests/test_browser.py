"""The report pages in a real browser: headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fds 3 and 4, JSON
messages ending in NUL), so no port and no websocket library. A page passes :func:`page_problems` when
every expected chart is in the DOM with drawn geometry (paths with a non-empty bounding box), nothing
went to the console as an error or an uncaught exception, no request left ``file:``/``data:``, no dialog
opened and no script element exists. These tests never skip: without Chromium they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.browser

XSS = "<script>alert(1)</script>"
QS_CHARTS = [
    "qs-returns", "qs-log_returns", "qs-vol_returns", "qs-eoy_returns", "qs-monthly_dist", "qs-daily_returns",
    "qs-rolling_beta", "qs-rolling_vol", "qs-rolling_sharpe", "qs-rolling_sortino", "qs-dd_periods",
    "qs-dd_plot", "qs-monthly_heatmap", "qs-returns_dist",
]  # fmt: skip
PANEL_CHARTS = ["signals", "weights", "drawdowns", "equity"]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--window-size=1400,900",
]  # fmt: skip

CHECK_JS = r"""
(() => {
  const charts = {};
  for (const el of document.querySelectorAll('[data-chart]')) {
    const svg = el.querySelector('svg'), img = el.querySelector('img');
    const r = {present: !!(svg || img), width: 0, height: 0, drawn: 0, img: !svg && !!img};
    if (svg) {
      const b = svg.getBoundingClientRect();
      r.width = b.width; r.height = b.height;
      for (const p of svg.querySelectorAll('path, use, rect, text')) {
        const bb = p.getBBox();
        if (bb.width > 0 || bb.height > 0) r.drawn++;
      }
    } else if (img) {
      r.width = img.naturalWidth; r.height = img.naturalHeight; r.drawn = img.complete && img.naturalWidth > 0 ? 1 : 0;
    }
    charts[el.getAttribute('data-chart')] = r;
  }
  document.querySelectorAll('.plotly-graph-div').forEach((el, i) => {  // plotly pages: one entry per plot
    const svgs = el.querySelectorAll('svg.main-svg'), b = el.getBoundingClientRect();
    let drawn = 0;
    svgs.forEach(svg => svg.querySelectorAll('path, rect, text').forEach(p => {
      const bb = p.getBBox(); if (bb.width > 0 || bb.height > 0) drawn++; }));
    charts['plotly-' + i] = {present: svgs.length > 0, width: b.width, height: b.height, drawn};
  });
  const external = [...document.querySelectorAll('[src],[href]')]
    .map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => /^(https?:)?\/\//i.test(u));
  return JSON.stringify({charts, title: document.title, scripts: document.scripts.length, external,
                         inline_scripts_only: [...document.scripts].every(x => !x.src),
                         h1: (document.querySelector('h1') || {}).textContent || ''});
})()
"""


def chromium() -> str:
    exe = os.environ.get("HEDGE_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if not exe:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run installs it when missing)")
    return exe


class Browser:
    """One headless Chromium, spoken to over the DevTools pipe."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="hedge-chromium-")
        to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, from_chrome_w = os.pipe()

        def child_fds():  # chromium reads commands on fd 3 and writes replies on fd 4
            import fcntl

            a, b = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=child_fds,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _recv(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_chrome_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._recv(deadline))

    def open(self, path: Path) -> tuple[dict, list[dict]]:
        """Load a file in a new tab; return (the CHECK_JS result, the protocol events of that tab)."""
        self.events = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", session=s)
        self.events = []
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=s)
        self.wait_for("Page.loadEventFired")
        got = self.send("Runtime.evaluate", {"expression": CHECK_JS, "returnByValue": True}, session=s)
        time.sleep(0.2)  # late console messages
        self.send("Runtime.evaluate", {"expression": "1"}, session=s)
        self.send("Target.closeTarget", {"targetId": target})
        return json.loads(got["result"]["value"]), list(self.events)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may already be gone
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self._to_chrome_w)
        os.close(self._from_chrome_r)
        shutil.rmtree(self.profile, ignore_errors=True)


def page_problems(result: dict, events: list[dict], charts: list[str], scripts_ok: bool = False) -> list[str]:
    """Everything wrong with a rendered page (empty when it is fine). ``scripts_ok``: a plotly page, whose
    inlined plotly.js is allowed (inline only: no script loads from anywhere)."""
    out = []
    if result.get("external"):
        out.append(f"external URLs in the page: {result['external'][:3]}")
    if scripts_ok:
        if not result.get("inline_scripts_only"):
            out.append("a script is loaded from a file or URL")
        result = {**result, "scripts": 0}
    for name in charts:
        c = result["charts"].get(name)
        if c is None or not c["present"]:
            out.append(f"chart {name} is missing")
        elif c["width"] < 300 or c["height"] < 100 or c["drawn"] < (1 if c.get("img") else 20):  # an image: loaded
            out.append(f"chart {name} is not drawn: {c}")
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(f"uncaught: {d.get('text')} {(d.get('exception') or {}).get('description', '')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(f"console error: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.requestWillBeSent":
            url = p["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                out.append(f"request to {url}")
        elif m == "Page.javascriptDialogOpening":
            out.append(f"a dialog opened: {p.get('message')}")
    if result.get("scripts"):
        out.append(f"{result['scripts']} script elements")
    return out


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def pages(snapshot_store, tmp_path_factory):
    reports = tmp_path_factory.mktemp("browser-reports")
    root = str(snapshot_store.root)
    ids = []
    for strategy in ("seed-thesis", "qt-pivot"):
        code, out, err = run_cli(
            "backtest", strategy, "--report", "--title", XSS, "--data-dir", root, "--reports-dir", str(reports),
            "--format", "json",
        )  # fmt: skip
        assert code == 0, err
        ids.append(json.loads(out)["run_id"])
    code, out, err = run_cli("compare", *ids, "--title", XSS, "--reports-dir", str(reports), "--format", "json")
    assert code == 0, err
    return {"dir": reports, "ids": ids, "compare": Path(json.loads(out)["page"])}


def test_tearsheet_renders_with_every_chart_and_no_error(browser, pages):
    page = pages["dir"] / pages["ids"][0] / "tearsheet.html"
    result, events = browser.open(page)
    assert page_problems(result, events, QS_CHARTS + PANEL_CHARTS) == []
    assert result["title"] == XSS  # the title is text
    assert result["h1"].startswith(XSS)


def test_a_missing_or_empty_chart_or_a_script_error_fails_the_check(browser, pages, tmp_path):
    html = (pages["dir"] / pages["ids"][0] / "tearsheet.html").read_text()
    # a chart removed: its figure stays, its svg goes
    no_weights = re.sub(
        r'(<figure class="chart" data-chart="weights">)<svg\b.*?</svg>', r"\1", html, count=1, flags=re.S
    )
    assert no_weights != html
    # a QuantStats chart removed with its container
    no_eoy = re.sub(r"<div id=\"eoy_returns\"[^>]*>.*?</svg>\s*</div>", "", html, count=1, flags=re.S)
    assert no_eoy != html
    # a page with QuantStats' own body tag (it calls a function the page does not define)
    broken = html.replace("<body>", '<body onload="save()">', 1)
    for name, text, expect in (
        ("no-weights.html", no_weights, "chart weights is missing"),
        ("no-eoy.html", no_eoy, "chart qs-eoy_returns is missing"),
        ("broken.html", broken, "uncaught"),
    ):
        p = pages["dir"] / pages["ids"][0] / name  # beside the real one: same relative links
        p.write_text(text)
        try:
            result, events = browser.open(p)
        finally:
            p.unlink()
        problems = page_problems(result, events, QS_CHARTS + PANEL_CHARTS)
        assert any(expect in x for x in problems), (name, problems)


def test_index_and_compare_render(browser, pages):
    result, events = browser.open(pages["dir"] / "index.html")
    assert page_problems(result, events, []) == []
    result, events = browser.open(pages["compare"])
    assert page_problems(result, events, ["compare-equity"]) == []
    assert result["title"] == XSS


@pytest.fixture(scope="module")
def more_pages(snapshot_store, tmp_path_factory):
    """Every other page type on the snapshot: best of a sweep (with its heatmap), walk-forward, signals,
    events and thesis pages."""
    d = tmp_path_factory.mktemp("browser-more")
    root, reports = str(snapshot_store.root), str(d / "reports")
    base = ["--data-dir", root, "--format", "json"]
    code, out, err = run_cli(
        "sweep", "seed-thesis", "--grid", "floor=0.09:0.11:0.01", "--grid", "spread_bp=0,5", "--best-report",
        "--heatmap", str(d / "heat.html"), "--reports-dir", reports, *base,
    )  # fmt: skip
    assert code == 0, err
    best = json.loads(out)["report"]
    code, out, err = run_cli(
        "walkforward", "seed-thesis", "--grid", "floor=0.09,0.1", "--train", "3y", "--test", "1y", "--reports-dir",
        reports, *base,
    )  # fmt: skip
    assert code == 0, err
    wf = json.loads(out)["report"]
    for args in (("signals", "--plot", str(d / "signals.html")), ("events", "--plot", str(d / "events.html")),
                 ("thesis", "--html", str(d / "thesis.html"))):  # fmt: skip
        code, out, err = run_cli(*args, *base)
        assert code == 0, err
    pages = {"heatmap": "heat", "signals": "signals", "events": "events", "thesis": "thesis"}
    out = {k: d / f"{v}.html" for k, v in pages.items()}
    return {**out, "best": Path(best), "walkforward": Path(wf), "index": Path(reports) / "index.html"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "page, charts, plotly",
    [
        ("best", QS_CHARTS + PANEL_CHARTS, False),
        ("walkforward", QS_CHARTS + PANEL_CHARTS, False),
        ("index", [], False),
        ("thesis", ["thesis-fed", "thesis-returns"], False),
        ("heatmap", ["plotly-0"], True),
        ("signals", ["plotly-0"], True),
        ("events", ["plotly-0"], True),
    ],
)
def test_every_page_type_renders_at_1400px(browser, more_pages, page, charts, plotly):
    result, events = browser.open(more_pages[page])
    assert page_problems(result, events, charts, scripts_ok=plotly) == []
