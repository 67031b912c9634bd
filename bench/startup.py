"""Start-up bench: wall time of ``hedge --help`` and ``hedge data status``, and what they import.

Each command runs in a fresh subprocess (the installed ``hedge`` console script) N times; the best and
the median wall time are printed. ``data status`` runs on a temporary store imported from the snapshot
(``--snapshot``, default ``$HEDGE_SNAPSHOT_DIR`` or ``../shared/data``). ``python -X importtime`` then
lists every module each command loads: none of vectorbt, quantstats, plotly, numba, matplotlib may be
among them. Exit status 1 if one is, or if ``--help`` misses its target (0.5 s).

    python bench/startup.py [-n 10] [--snapshot DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("vectorbt", "quantstats", "plotly", "numba", "matplotlib")
TARGET_HELP_S = 0.5
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| *(\S+)")


def hedge_script() -> Path | None:
    script = Path(sys.executable).with_name("hedge")
    if script.is_file():
        return script
    found = shutil.which("hedge")
    return Path(found) if found else None


def hedge_cmd(python_flags: list[str] | None = None) -> list[str]:
    """``python [flags] <hedge script>``; the script is the console entry point, a Python file."""
    script = hedge_script()
    if script is None:
        return [sys.executable, *(python_flags or []), "-c", "from backtester.cli import main; main()"]
    return [sys.executable, *(python_flags or []), str(script)]


def wall_times(args: list[str], n: int, env: dict) -> list[float]:
    cmd = hedge_cmd() + args
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"`hedge {' '.join(args)}` failed ({r.returncode}): {r.stderr.strip()}")
    return times


def imports(args: list[str], env: dict) -> tuple[set[str], list[tuple[float, str]], int]:
    """(top-level packages loaded, the costliest packages as (cumulative ms, name), module count)."""
    r = subprocess.run(
        hedge_cmd(["-X", "importtime"]) + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    if r.returncode != 0:
        raise SystemExit(f"`hedge {' '.join(args)}` failed under -X importtime ({r.returncode})")
    cost: dict[str, float] = {}
    count = 0
    for line in r.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if not m:
            continue
        count += 1
        root = m.group(3).split(".")[0]
        cost[root] = max(cost.get(root, 0.0), int(m.group(2)) / 1000)  # the package's own first import
    top = sorted(((ms, name) for name, ms in cost.items() if name != "backtester"), reverse=True)[:6]
    return set(cost), top, count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10, help="runs per command (best and median are reported)")
    ap.add_argument("--snapshot", default=None, help="snapshot folder for the temporary store")
    opts = ap.parse_args()

    from backtester.paths import default_snapshot_dir

    snapshot = Path(opts.snapshot) if opts.snapshot else default_snapshot_dir()
    if not (snapshot / "MANIFEST.md").is_file():
        raise SystemExit(f"no snapshot at {snapshot}: pass --snapshot DIR or set HEDGE_SNAPSHOT_DIR")

    failed = False
    with tempfile.TemporaryDirectory(prefix="hedge-bench-") as tmp:
        env = {**os.environ, "HEDGE_DATA_DIR": str(Path(tmp) / "store"), "HEDGE_REPORTS_DIR": str(Path(tmp) / "r")}
        env.pop("FRED_API_KEY", None)
        t0 = time.perf_counter()
        r = subprocess.run(hedge_cmd() + ["data", "import", str(snapshot)], capture_output=True, text=True, env=env)
        t_import = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"import failed: {r.stderr.strip()}")

        print(f"hedge start-up bench: {platform.python_implementation()} {platform.python_version()}, "
              f"{platform.machine()}, {os.cpu_count()} CPUs; best / median of {opts.n} runs")  # fmt: skip
        print(f"  {'hedge data import <snapshot>':<28} {t_import:6.3f} s  (1 run, 25 series, setup)")
        for args, target in ((["--help"], TARGET_HELP_S), (["data", "status"], None)):
            ts = wall_times(args, opts.n, env)
            best, med = min(ts), statistics.median(ts)
            verdict = ""
            if target is not None:
                ok = best < target
                failed |= not ok
                verdict = f"  target < {target:g} s: {'OK' if ok else 'MISSED'}"
            print(f"  {'hedge ' + ' '.join(args):<28} {best:6.3f} s  median {med:6.3f} s{verdict}")
        for args in (["--help"], ["data", "status"]):
            packages, top, count = imports(args, env)
            heavy = sorted(p for p in packages if p in HEAVY)
            failed |= bool(heavy)
            slow = ", ".join(f"{name} {ms:.0f} ms" for ms, name in top)
            print(f"  imports of `hedge {' '.join(args)}`: {count} modules; heavy: {', '.join(heavy) or 'none'}")
            print(f"    costliest packages (cumulative import time): {slow}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
