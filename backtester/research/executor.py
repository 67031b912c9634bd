"""Where chunks of a sweep run: in this process (``local``) or on a Dask cluster (``dask``).

A sweep's grid is an integer range over its Cartesian product: a task is a range ``[lo, hi)`` of
combination numbers (10^4 - 10^5 of them), never a Python object per combination. The data every task
needs (the prepared inputs without the strategy object or the signal frame, and the window's arrays) is
sent to the workers once (``Client.scatter``, broadcast); a task returns its combinations' metric rows,
held-time shares, per-block PBO sums and status codes, never an equity curve. Each combination's numbers
do not depend on the chunk, the block or the thread that computes it, so a Dask run equals a local run
bit for bit.

``dask`` connects to a running scheduler (``--scheduler tcp://HOST:8786`` or ``$HEDGE_DASK_SCHEDULER``;
start one with ``dask scheduler`` and workers with ``dask worker tcp://HOST:8786``), or starts a
``LocalCluster`` of ``--workers N`` single-threaded worker processes on 127.0.0.1 for the duration of the
command. ``dask.distributed`` is imported only when this executor is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import DataError, UsageError

EXECUTORS = ("local", "dask")
SCHEDULER_ENV = "HEDGE_DASK_SCHEDULER"
DASK_CHUNK = 16384  # combinations per Dask task


def _cluster_failures() -> tuple[type[BaseException], ...]:
    """What a lost worker or scheduler raises on the client (a task's own error is re-raised as itself)."""
    import concurrent.futures

    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    return (KilledWorker, CommClosedError, concurrent.futures.CancelledError, TimeoutError, OSError)


def _quiet_distributed(levels: dict | None = None) -> dict:
    """Silence every ``distributed`` logger (dask's config gives some their own level), or restore
    ``levels``; returns the levels it replaced."""
    import logging

    names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    old = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL + 1 if levels is None else levels.get(n, logging.NOTSET))
    return old


def cluster_failed(e: BaseException) -> DataError:
    """One line for a cluster that failed under a command (what finished is kept where the command keeps it)."""
    what = " ".join(str(e).split()).split(". ")[0][:160] or "no message"  # its first sentence
    return DataError(
        f"the Dask cluster failed while running this command ({type(e).__name__}: {what})",
        "run it again (a sweep with --resume keeps the chunks already finished), or use --executor local",
    )


class LocalExecutor:
    """Runs every chunk here, in order."""

    name = "local"
    workers = 1

    def share(self, key, make: Callable):
        """A handle on data every task needs (here: the object itself)."""
        return make()

    def map_chunks(self, fn: Callable, shared, ranges: list[tuple[int, int]]) -> Iterator[tuple[int, object]]:
        """``fn(*shared, lo, hi)`` for each range, as (range number, result) in completion order."""
        for k, (lo, hi) in enumerate(ranges):
            yield k, fn(*shared, lo, hi)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class DaskExecutor:
    """Chunks as tasks on a ``dask.distributed`` cluster; ``shared`` data scattered once per object."""

    scheduler: str | None = None
    n_workers: int = 2
    name: str = "dask"
    _client: object = None
    _cluster: object = None
    _scattered: dict = field(default_factory=dict)
    _log_level: dict | None = None

    def __post_init__(self):
        try:
            from distributed import Client, LocalCluster
        except ModuleNotFoundError:  # pragma: no cover - pinned dependency
            raise DataError(
                "dask.distributed is not installed", "pip install 'dask[distributed]' (a pinned dependency)"
            ) from None
        if self.scheduler:
            # distributed logs a lost connection on stderr besides raising: the command's one error line says it
            self._log_level = _quiet_distributed()
            try:
                self._client = Client(self.scheduler, timeout=10)
            except (OSError, TimeoutError) as e:
                _quiet_distributed(self._log_level)
                self._log_level = None
                raise DataError(
                    f"cannot reach the Dask scheduler at {self.scheduler} ({type(e).__name__})",
                    "start one with `dask scheduler` and workers with `dask worker ADDRESS`, or drop --scheduler",
                ) from None
        else:
            env = {"NUMBA_NUM_THREADS": "1"}
            if os.environ.get("NUMBA_CACHE_DIR"):
                env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
            old = {k: os.environ.get(k) for k in env}
            os.environ.update(env)  # inherited by the worker processes
            try:
                self._cluster = LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,  # no dashboard; its plain HTTP server (health routes) on a free
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # loopback port, never a fixed 8787
                    silence_logs=50,
                )
            finally:
                for k, v in old.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            self._client = Client(self._cluster)

    @property
    def workers(self) -> int:
        return len(self._client.scheduler_info().get("workers", {})) or self.n_workers

    def share(self, key, make: Callable):
        """Data every task needs, sent to every worker once per ``key`` (a future)."""
        if key not in self._scattered:
            self._scattered[key] = self._scatter(make())
        return self._scattered[key]

    def map_chunks(self, fn: Callable, shared, ranges: list[tuple[int, int]]) -> Iterator[tuple[int, object]]:
        from distributed import as_completed

        try:
            futures = [self._client.submit(fn, *shared, lo, hi, pure=False) for lo, hi in ranges]
            index = {f.key: k for k, f in enumerate(futures)}
            for f in as_completed(futures):
                yield index[f.key], f.result()
        except _cluster_failures() as e:  # evaluated only when something was raised
            raise cluster_failed(e) from None

    def _scatter(self, obj):
        try:
            return self._client.scatter(obj, broadcast=True, hash=False)
        except _cluster_failures() as e:  # evaluated only when something was raised
            raise cluster_failed(e) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._log_level is not None:
            _quiet_distributed(self._log_level)
            self._log_level = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


MAX_WORKERS = 64  # local worker processes: each holds a copy of the inputs


def check(executor: str = "local", scheduler: str | None = None, workers: int | None = None) -> None:
    """The checks on ``executor``, ``scheduler`` and ``workers`` (UsageError naming them), before any work."""
    if executor not in EXECUTORS:
        raise UsageError(f"executor {executor!r} is unknown", "use local or dask", param="executor")
    if executor == "local" and (scheduler or workers):
        raise UsageError(
            "scheduler/workers need executor dask", "add executor dask", param=("scheduler", "workers", "executor")
        )
    if workers is not None and workers < 1:
        raise UsageError(f"workers {workers} is below 1", "e.g. workers 2", param="workers")
    if workers is not None and workers > MAX_WORKERS:
        raise UsageError(
            f"workers {workers} is above {MAX_WORKERS} (local processes)",
            "use scheduler for a larger cluster",
            param=("workers", "scheduler"),
        )
    if scheduler and workers:
        raise UsageError(
            "workers starts a local cluster; scheduler connects to one",
            "give one of them",
            param=("workers", "scheduler"),
        )


def make(executor: str = "local", scheduler: str | None = None, workers: int | None = None):
    """The executor named on the command line (a context manager: a local cluster stops on exit)."""
    check(executor, scheduler, workers)
    if executor == "local":
        return LocalExecutor()
    scheduler = scheduler or (None if workers else os.environ.get(SCHEDULER_ENV)) or None
    return DaskExecutor(scheduler=scheduler, n_workers=workers or 2)


def ranges(n: int, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of at most ``size`` over ``0 .. n``."""
    size = max(1, int(size))
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def ordered(executor, fn: Callable, shared, chunks: list[tuple[int, int]], advance: Callable | None = None) -> list:
    """``executor.map_chunks(fn, shared, chunks)`` collected in range order (``advance(hi - lo)`` as each
    range finishes); ``executor`` None runs here."""
    ex = LocalExecutor() if executor is None else executor
    out: list = [None] * len(chunks)
    for k, r in ex.map_chunks(fn, shared, chunks):
        out[k] = r
        if advance is not None:
            lo, hi = chunks[k]
            advance(hi - lo)
    return out


def share_new(executor, make: Callable, label: str = "data"):
    """``executor.share`` under a key used once (no stale hit when an id is reused); None runs here."""
    import uuid

    ex = LocalExecutor() if executor is None else executor
    return ex.share((label, uuid.uuid4().hex), make)
