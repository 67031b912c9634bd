"""Read a saved run folder (``backtester.run.save_run``) back into frames."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import DataError

FILES = ("run.json", "returns.csv", "weights.csv", "target.csv", "trades.csv", "signals.csv")


@dataclass
class SavedRun:
    path: Path
    manifest: dict  # run.json
    returns: pd.DataFrame  # strategy, benchmark, cash
    weights: pd.DataFrame  # held weights incl. CASH
    target: pd.DataFrame
    trades: pd.DataFrame
    signals: pd.DataFrame  # signal values on the run's sessions, incl. ``regime``

    @property
    def run_id(self) -> str:
        return self.manifest.get("run_id") or self.path.name

    @property
    def summary(self) -> dict:
        return self.manifest.get("summary") or {}

    @property
    def strategy_name(self) -> str:
        return str(self.summary.get("strategy_name") or self.manifest.get("spec", {}).get("strategy") or "strategy")

    @property
    def benchmark_name(self) -> str:
        return str(self.summary.get("benchmark_name") or self.manifest.get("spec", {}).get("benchmark") or "benchmark")

    def file_hashes(self) -> dict[str, str]:
        """sha256 of every saved file of the run (the audit trail of what the report was made from)."""
        return {n: hashlib.sha256((self.path / n).read_bytes()).hexdigest() for n in FILES}


def _frame(path: Path, dates: bool = True) -> pd.DataFrame:
    if dates:
        df = pd.read_csv(path, index_col="date", parse_dates=["date"])
        df.index = pd.DatetimeIndex(df.index).astype("datetime64[ns]")
        return df
    return pd.read_csv(path, parse_dates=["date"]) if path.stat().st_size else pd.DataFrame()


def read_manifest(run_dir: Path) -> dict:
    p = Path(run_dir) / "run.json"
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise DataError(f"{run_dir} is not a saved run (no run.json)", "run `hedge backtest ...` first") from None
    except (OSError, ValueError) as e:
        raise DataError(f"run {Path(run_dir).name} is damaged: run.json ({e})", "run the backtest again") from None


def load_saved_run(run_dir: Path) -> SavedRun:
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    missing = [n for n in FILES if not (run_dir / n).is_file()]
    if missing:
        raise DataError(
            f"run {run_dir.name} is incomplete (missing {', '.join(missing)})", "run the backtest again to rewrite it"
        )
    try:
        rets = _frame(run_dir / "returns.csv")
        out = SavedRun(
            path=run_dir,
            manifest=manifest,
            returns=rets,
            weights=_frame(run_dir / "weights.csv"),
            target=_frame(run_dir / "target.csv"),
            trades=_frame(run_dir / "trades.csv", dates=False),
            signals=_frame(run_dir / "signals.csv"),
        )
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"run {run_dir.name} is damaged ({type(e).__name__}: {e})", "run the backtest again") from None
    need = {"strategy", "benchmark", "cash"}
    if not need <= set(rets.columns) or rets.empty or rets["strategy"].isna().any():
        raise DataError(f"run {run_dir.name} is damaged (returns.csv)", "run the backtest again to rewrite it")
    return out
