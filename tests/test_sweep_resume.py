"""Big grids (issue 15): a sweep's chunks on disk, --resume after a kill or Ctrl-C, the streamed PBO, the
progress of a sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backtester.progress import Recorder
from backtester.research.sweep import evaluate, parse_grid, prepare
from backtester.research.sweep.chunks import ChunkStore, sweep_key
from backtester.research.sweep.cscv_chunks import pbo_chunks
from backtester.research.sweep.overfit import pbo_cscv
from backtester.run import RunSpec
from backtester.strategy import get
from tests.conftest import REPO, run_cli

SMALL = ["floor=0.08:0.12:0.01", "gold=0.3,0.5", "btc=0.2,0.4,0.5"]  # 30 combinations, all valid
# 7 x 4 x 3 x 5 x 5 = 2,100 combinations
BIG = ["--grid", "floor=0.06:0.12:0.01", "--grid", "gold=0.2:0.5:0.1", "--grid", "btc=0.2,0.4,0.5",
       "--grid", "spread_bp=0:40:10", "--grid", "rrp_drained_bn=50:250:50"]  # fmt: skip


@pytest.fixture(scope="module")
def small(snapshot_store):
    strat = get("seed-thesis")
    spec = RunSpec("seed-thesis")
    g = parse_grid(SMALL, strat)
    return spec, g, strat, prepare(snapshot_store, spec, g, strategy=strat)


def _store(snapshot_store, small, folder, resume=False) -> ChunkStore:
    spec, g, strat, _ = small
    sid, ident = sweep_key(snapshot_store, spec, g, strategy=strat, blocks=16)
    return ChunkStore(folder, sid, ident, resume=resume)


def _same(a, b) -> None:
    """Two SweepResults with the same numbers."""
    assert a.frame.equals(b.frame)
    assert a.best_index == b.best_index and a.deflated_sharpe == b.deflated_sharpe and a.pbo == b.pbo
    assert a.benchmark == b.benchmark


# ---------------------------------------------------------------- the PBO from chunks


CASES = [(500, 16, 4e8, [0, 7, 7, 200, 500]), (3000, 16, 1e6, [0, 1000, 3000]), (300, 24, 1e6, [0, 1, 299, 300]),
         (10, 2, 4e8, [0, 3, 10])]  # fmt: skip


@pytest.mark.parametrize("N, S, budget, cuts", CASES)
def test_streamed_pbo_equals_pbo_cscv_bit_for_bit(N, S, budget, cuts):
    rng = np.random.default_rng(S + N)
    T = 1000
    r = rng.normal(0.0003, 0.01, (N, T)) + rng.normal(0, 0.0005, (N, 1))
    r[:5] = r[5]  # ties among the trials
    edges = np.linspace(0, T, S + 1).astype(int)
    parts = [(r[:, a:b].sum(1), (r[:, a:b] ** 2).sum(1)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    bs = np.stack([np.stack(p, -1) for p in parts], 1)
    sizes = np.diff(edges)
    ref = pbo_cscv(bs, sizes, budget=budget)
    got = pbo_chunks(lambda: (bs[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)), N, sizes, budget=budget)
    assert got == ref  # the PBO, the splits (sampled or not) and the median logit
    assert ref["sampled"] is (budget < 4e8) and ref["pbo"] is not None


def test_sweep_on_disk_equals_in_memory_and_holds_no_block_sums(snapshot_store, small, tmp_path, monkeypatch):
    inp = small[3]
    ref = evaluate(inp, keep_blocks=True)
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "7")
    st = _store(snapshot_store, small, tmp_path)
    res = evaluate(inp, chunks=st)
    st.close()
    _same(res, ref)
    assert res.block_sums is None and res.pbo["splits"] == 12870 and res.pbo["pbo"] is not None
    assert res.chunks == {"sweep_id": st.sweep_id, "dir": str(st.dir), "total": 5, "reused": 0, "computed": 5,
                          "computed_combinations": 30}  # fmt: skip
    files = sorted(p.name for p in st.dir.iterdir())
    assert files == [f"{lo:012d}-{min(lo + 7, 30):012d}.parquet" for lo in range(0, 30, 7)]
    man = json.loads((st.root / "sweep.json").read_text())
    assert man["sweep_id"] == st.sweep_id and man["chunk"] == 7 and man["combinations"] == 30
    assert man["grid"] == small[1].as_dict() and man["pbo_blocks"] == 16
    blk = np.concatenate(list(st.block_sums([(lo, min(lo + 7, 30)) for lo in range(0, 30, 7)])))
    assert np.array_equal(blk, ref.block_sums)  # the files hold the per-block sums exactly


def test_resume_reuses_whole_chunks_and_recomputes_bad_ones(snapshot_store, small, tmp_path, monkeypatch):
    inp = small[3]
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "4")
    st = _store(snapshot_store, small, tmp_path)
    ref = evaluate(inp, chunks=st)
    st.close()
    files = sorted(st.dir.iterdir())
    assert len(files) == 8
    files[0].unlink()  # missing
    files[1].write_bytes(files[1].read_bytes()[:-100])  # truncated
    files[2].write_bytes(files[3].read_bytes())  # another range's chunk under this name
    stamps = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files[3:]}
    st = _store(snapshot_store, small, tmp_path, resume=True)
    res = evaluate(inp, chunks=st)
    st.close()
    _same(res, ref)
    assert res.chunks["reused"] == 5 and res.chunks["computed"] == 3 and not res.notes
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files[3:]} == stamps  # not rewritten
    # a manifest of another sweep: nothing is trusted
    man = st.root / "sweep.json"
    man.write_text(man.read_text().replace('"pbo_blocks": 16', '"pbo_blocks": 8'))
    st = _store(snapshot_store, small, tmp_path, resume=True)
    res = evaluate(inp, chunks=st)
    st.close()
    _same(res, ref)
    assert res.chunks["reused"] == 0 and "describes another sweep" in res.notes[0]
    # without resume: a fresh start, the earlier chunks replaced
    st = _store(snapshot_store, small, tmp_path)
    res = evaluate(inp, chunks=st)
    st.close()
    assert res.chunks["reused"] == 0 and len(list(st.dir.iterdir())) == 8


def test_ctrl_c_leaves_only_whole_chunk_files(snapshot_store, small, tmp_path, monkeypatch):
    inp = small[3]
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "4")

    class Interrupt(Recorder):
        def advance(self, n=1, **info):
            super().advance(n, **info)
            if len([e for e in self.events if e[0] == "advance"]) == 3:
                raise KeyboardInterrupt

    st = _store(snapshot_store, small, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        evaluate(inp, chunks=st, progress=Interrupt())
    st.close()
    assert sorted(p.name for p in st.dir.iterdir()) == [f"{lo:012d}-{lo + 4:012d}.parquet" for lo in (0, 4, 8)]
    # Ctrl-C while a chunk file is being written: neither it nor its temp file remains
    import pyarrow.parquet as pq

    real = pq.write_table

    def half_then_interrupt(table, where, **kw):
        real(table.slice(0, 1), where, **kw)
        raise KeyboardInterrupt

    st = _store(snapshot_store, small, tmp_path, resume=True)
    monkeypatch.setattr(pq, "write_table", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        evaluate(inp, chunks=st)
    st.close()
    monkeypatch.setattr(pq, "write_table", real)
    assert len(list(st.dir.iterdir())) == 3  # the three whole ones, no temp file
    st = _store(snapshot_store, small, tmp_path, resume=True)
    res = evaluate(inp, chunks=st)
    st.close()
    assert res.chunks["reused"] == 3 and res.chunks["computed"] == 5
    _same(res, evaluate(inp))


def test_sweep_progress_reports_combinations_rate_eta_and_chunks(small, snapshot_store, tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "8")

    class Infos(Recorder):
        def advance(self, n=1, **info):
            self.events.append(("advance", n, info))

    rec = Infos()
    st = _store(snapshot_store, small, tmp_path)
    evaluate(small[3], chunks=st, progress=rec)
    st.close()
    assert rec.events[0] == ("start", "sweep", 30) and rec.events[-1] == ("done",)
    adv = [e for e in rec.events if e[0] == "advance"]
    assert [e[1] for e in adv] == [8, 8, 8, 6]
    assert [e[2]["chunks"] for e in adv] == ["1/4", "2/4", "3/4", "4/4"]
    assert all(e[2]["rate"] > 0 for e in adv) and adv[-1][2]["eta"] == 0
    assert any(e == ("stage", "PBO: reading the chunks' block sums back") for e in rec.events)


def test_sweep_id_follows_what_moves_the_numbers(snapshot_store):
    strat = get("seed-thesis")
    g = parse_grid(SMALL, strat)
    base = sweep_key(snapshot_store, RunSpec("seed-thesis"), g, strategy=strat)[0]
    assert base.startswith("sweep-seed-thesis-")
    assert sweep_key(snapshot_store, RunSpec("seed-thesis"), g, strategy=strat)[0] == base
    others = [
        sweep_key(snapshot_store, RunSpec("seed-thesis"), parse_grid(SMALL[:2], strat), strategy=strat),
        sweep_key(snapshot_store, RunSpec("seed-thesis"), g, strategy=strat, sample=10),
        sweep_key(snapshot_store, RunSpec("seed-thesis"), g, strategy=strat, sample=10, seed=1),
        sweep_key(snapshot_store, RunSpec("seed-thesis"), g, strategy=strat, blocks=8),
        sweep_key(snapshot_store, RunSpec("seed-thesis", fees_bp=5), g, strategy=strat),
        sweep_key(snapshot_store, RunSpec("seed-thesis", start="2016-01-01"), g, strategy=strat),
        sweep_key(snapshot_store, RunSpec("seed-thesis", params={"spread_bp": "10"}), g, strategy=strat),
    ]
    ids = [base] + [k[0] for k in others]
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------- a real kill


def _chunk_files(reports: Path) -> list[Path]:
    return sorted(p for p in reports.glob("sweep-*/chunks/*.parquet") if not p.name.startswith("."))


@pytest.mark.slow
def test_sweep_killed_mid_way_resumes_to_the_uninterrupted_numbers(snapshot_store, tmp_path, monkeypatch):
    reports = tmp_path / "killed"
    args = ["sweep", "seed-thesis", *BIG, "--data-dir", str(snapshot_store.root), "--format", "json", "--top", "25"]
    env = {**os.environ, "HEDGE_SWEEP_CHUNK": "5", "PYTHONPATH": str(REPO), "HEDGE_REPORTS_DIR": str(reports)}
    code = "import sys; from backtester.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while len(_chunk_files(reports)) < 20 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    present = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _chunk_files(reports)}
    assert 20 <= len(present) < 420, "the sweep was not killed mid-way"  # 2,100 / 5 chunk files in all

    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "5")
    code_r, resumed, err = run_cli(*args, "--reports-dir", str(reports), "--resume")
    assert code_r == 0, err
    assert err == ""  # json and no terminal: nothing on stderr
    code_f, fresh, err = run_cli(*args, "--reports-dir", str(tmp_path / "fresh"))
    assert code_f == 0, err
    a, b = json.loads(resumed), json.loads(fresh)
    assert a.pop("sweep_dir") != b.pop("sweep_dir")
    assert a == b and a["combinations"]["total"] == 2100 and a["pbo"] is not None
    after = _chunk_files(reports)
    assert len(after) == 420 and not [p for p in after[0].parent.iterdir() if p.name.startswith(".")]
    assert {n: present[n] for n in present} == {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in after
                                                if p.name in present}  # fmt: skip


@pytest.mark.parametrize("higher", [True, False])
def test_top_rows_equal_a_stable_sort_of_the_valid_rows(higher):
    import pandas as pd

    from backtester.research.sweep.evaluation import SweepResult

    rng = np.random.default_rng(3)
    m = rng.choice([0.1, 0.2, 0.3, np.nan, -0.0, 0.0], size=200)
    frame = pd.DataFrame({"x": np.arange(200), "sharpe": m, "valid": rng.random(200) > 0.2})
    res = SweepResult(frame, "sharpe", higher, "", "", 0, 200, int(frame["valid"].sum()), None, None, None, None,
                      None, 0.0)  # fmt: skip
    for n in (1, 10, 200):
        old = frame[frame["valid"]].sort_values("sharpe", ascending=not higher, na_position="last", kind="stable")
        assert res.top(n).equals(old.head(n))


@pytest.mark.slow
def test_cli_resume_on_dask_reuses_the_local_chunks(snapshot_store, tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "7")
    grid = [x for g in SMALL for x in ("--grid", g)]
    base = ["sweep", "seed-thesis", *grid, "--data-dir", str(snapshot_store.root), "--reports-dir", str(tmp_path)]
    code, local, err = run_cli(*base, "--format", "json")
    assert code == 0, err
    files = _chunk_files(tmp_path)
    assert len(files) == 5
    files[1].unlink()
    files[4].unlink()
    kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files if p.exists()}
    code, dist, err = run_cli(*base, "--format", "json", "--resume", "--executor", "dask", "--workers", "2")
    assert code == 0, err
    assert dist == local  # the same bytes
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files if p.name in kept} == kept
    code, out, err = run_cli(*base, "--resume")
    assert code == 0, err
    sid = json.loads(local)["sweep_id"]
    assert f"sweep {sid}: 5 chunk(s) in" in out.replace("\n", " ") and "(5 reused, 0 computed)" in out
    assert "(every chunk reused)" in out


def test_above_lean_rows_only_the_best_rows_stay_and_the_summary_is_the_same(snapshot_store, tmp_path, monkeypatch):
    import pandas as pd

    from backtester.research.sweep import evaluation as ev
    from backtester.research.sweep.outcome import summary

    strat = get("seed-thesis")
    spec = RunSpec("seed-thesis")
    g = parse_grid(["floor=0.08:0.12:0.01", "gold=0.5,0.7", "btc=0.2,0.4"], strat)  # 0.7 + 0.4: invalid
    inp = prepare(snapshot_store, spec, g, strategy=strat)
    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "3")
    sid, ident = sweep_key(snapshot_store, spec, g, strategy=strat)
    st = ChunkStore(tmp_path, sid, ident)
    full = evaluate(inp, chunks=st)
    st.close()
    monkeypatch.setattr(ev, "LEAN_ROWS", 10)
    monkeypatch.setattr(ev, "LEAN_TOP", 6)
    st = ChunkStore(tmp_path, sid, ident, resume=True)
    lean = evaluate(inp, chunks=st)
    st.close()
    assert not full.lean and lean.lean and lean.chunks["reused"] == 7
    # (invalid_reason: all None among valid rows, object dtype; str dtype with NaN in a frame with invalid rows)
    ref = full.top(6).sort_index()
    assert len(lean.frame) == 6 and lean.frame.drop(columns="invalid_reason").equals(ref.drop(columns="invalid_reason"))
    assert lean.frame["invalid_reason"].isna().all() and ref["invalid_reason"].isna().all()
    assert list(lean.top(6).index) == list(full.top(6).index) and lean.invalid_reasons() == full.invalid_reasons() == {
        "weights sum above 1": 5}  # fmt: skip
    assert lean.best.pop("invalid_reason") is None and pd.isna(full.best.pop("invalid_reason"))
    assert lean.best == full.best and lean.deflated_sharpe == full.deflated_sharpe and lean.pbo == full.pbo
    a, b = summary(inp, lean, 5), summary(inp, full, 5)
    assert a.pop("notes")[-1].startswith("20 combinations: the result frame holds the 6 best valid rows")
    b.pop("notes")
    assert a == b


HUGE = ["--grid", "floor=0.05:0.15:0.0001", "--grid", "btc=0:1:0.001", "--grid", "gold=0.1,0.2"]  # 2,004,002


@pytest.mark.parametrize(
    "args, match",
    [
        (["sweep", "seed-thesis", "--grid", "floor=0.05,0.1", "--max-combinations", "10000001"],
         "above the limit 10,000,000"),
        (["walkforward", "seed-thesis", "--grid", "floor=0.05,0.1", "--max-combinations", "2000000"],
         "above the limit 1,000,000"),
        (["sweep", "seed-thesis", *HUGE, "--max-combinations", "10000000", "--heatmap", "h.html"],
         "--heatmap draws every combination: at most 1,000,000"),
        (["sweep", "seed-thesis", *HUGE, "--max-combinations", "10000000", "--top", "1001"],
         "--top 1001 is above 1,000 for more than 1,000,000 combinations"),
    ],
)  # fmt: skip
def test_sweep_limit_is_ten_million_with_the_chunks_on_disk(args, match, tmp_path):
    code, _, err = run_cli(*args, "--data-dir", str(tmp_path / "none"))
    assert code == 2 and match in err, err
    assert not (tmp_path / "reports").exists()  # nothing written before the arguments are known good


def test_api_sweep_writes_and_resumes_chunks_with_a_progress(snapshot_store, tmp_path, monkeypatch):
    import backtester as hb

    monkeypatch.setenv("HEDGE_SWEEP_CHUNK", "8")
    rec = Recorder()
    a = hb.sweep(snapshot_store, "seed-thesis", SMALL, progress=rec, save_chunks=True, reports_dir=tmp_path)
    assert ("start", "sweep", 30) in rec.events and rec.events[-1] == ("done",)
    assert sum(e[1] for e in rec.events if e[0] == "advance") == 30
    assert a.result.chunks["computed"] == 4 and a.to_json()["sweep_id"] == a.result.chunks["sweep_id"]
    b = hb.sweep(snapshot_store, "seed-thesis", SMALL, resume=True, reports_dir=tmp_path)
    assert b.result.chunks["reused"] == 4 and b.to_json() == a.to_json()
    c = hb.sweep(snapshot_store, "seed-thesis", SMALL)  # in memory: nothing written, the same numbers
    assert c.result.chunks is None and "sweep_id" not in c.to_json()
    assert {k: v for k, v in a.to_json().items() if k not in ("sweep_id", "sweep_dir")} == c.to_json()
