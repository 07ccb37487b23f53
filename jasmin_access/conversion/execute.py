"""Running work units with dask: threads, local processes or a cluster.

``scheduler``:

``"threads"`` (default when ``workers`` is not given)
    A local thread pool with one thread per CPU.  NetCDF/HDF5 reads are
    serialised by :data:`jasmin_access.conversion.rawread.READ_LOCK`; compression
    runs in parallel outside it.  When writing, the threads only read and
    encode: uploads to S3 are coroutines on the filesystem's event loop, many in
    flight at once (:func:`_pipeline`).
``"processes"`` (default when ``workers`` is given)
    ``workers`` local processes (dask's multiprocessing scheduler): reads in
    parallel too.  ``scheduler="threads", workers=N`` gives N threads.
``"tcp://host:port"``
    An existing ``dask.distributed`` scheduler, e.g. one started on a SLURM
    system with dask-jobqueue (``SLURMCluster(...).scheduler_address``).  Tasks
    carry no secrets; workers read credentials from their own config.

Memory stays bounded by the unit size times the number of workers: each task
reads one slab, writes it and returns only a byte count (the threads pipeline
reads and encodes at most :data:`WINDOW_PER_WORKER` units per worker, and keeps
at most :data:`UPLOADS_PER_WORKER` encoded units per worker uploading).
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..execution import check_scheduler, is_distributed, map_local
from .chunkio import encode_unit, put_sync, start_put
from .plan import Unit
from .writer import SimulatedCrash, StoreTarget, write_unit, write_unit_zarr

__all__ = ["ReadAhead", "read_ahead", "run_units"]

log = logging.getLogger(__name__)

Task = Callable[[StoreTarget, Unit], Any]

#: Units being read or encoded per worker thread.
WINDOW_PER_WORKER = 2
#: Encoded units uploading per worker thread (compressed bytes only).
UPLOADS_PER_WORKER = 8
#: Units read and encoded ahead per worker while the destination is prepared.
AHEAD_PER_WORKER = 8


class ReadAhead:
    """The first units, read and encoded while the destination is being prepared.

    Preparing the destination (S3 client, listing, marker, metadata) is mostly
    Python on one core; reading and compressing release the GIL, so the other
    cores start on the data meanwhile.  Nothing is stored here: the pipeline
    uploads a unit only after the marker exists, and units that turn out to be
    done already (a resumed run) are dropped.
    """

    def __init__(self, target: StoreTarget, units: Iterable[Unit], workers: int) -> None:
        self._pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="convert-ahead")
        self._futures: dict[tuple[str, int], cf.Future[Any]] = {
            (u.array, u.index): self._pool.submit(encode_unit, target, u) for u in units
        }

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def take(self, unit: Unit) -> cf.Future[Any] | None:
        """The encoding started for ``unit``, if any."""
        return self._futures.pop((unit.array, unit.index), None)

    def close(self) -> None:
        """Drop what was not taken."""
        for fut in self._futures.values():
            fut.cancel()
        self._futures.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)


def default_workers() -> int:
    """Default number of local workers: the CPUs, at least 2, at most 16.

    (More threads than cores did not speed up uploads to the test server on two
    cores: compression and the HTTP client compete for the same CPUs.)
    """
    return max(2, min(16, os.cpu_count() or 2))


def _local(
    task: Task,
    target: StoreTarget,
    units: list[Unit],
    on_done: Callable[[Unit, Any], None],
    scheduler: str,
    workers: int,
) -> None:
    map_local(task, units, on_done, scheduler, workers, target)


def _stage(target: StoreTarget, unit: Unit, ahead: cf.Future[Any] | None) -> cf.Future[Any] | None:
    """Read and encode a unit (unless done ahead); start its upload (returned) or store it."""
    chunk = ahead.result() if ahead is not None else encode_unit(target, unit)
    if chunk is None:
        write_unit_zarr(target, unit)
        return None
    upload = start_put(target, chunk)
    if upload is None:
        put_sync(target, chunk)
    return upload


def _pipeline(
    target: StoreTarget,
    units: list[Unit],
    on_done: Callable[[Unit, Any], None],
    workers: int,
    ahead: ReadAhead | None = None,
) -> None:
    """Threads read and encode; uploads run on the event loop; ``on_done`` once stored."""
    todo: Iterator[Unit] = iter(units)
    pending: dict[cf.Future[Any], Unit] = {}
    uploads: set[cf.Future[Any]] = set()
    pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="convert")
    try:
        while True:
            while (
                len(pending) - len(uploads) < WINDOW_PER_WORKER * workers
                and len(uploads) < UPLOADS_PER_WORKER * workers
            ):
                unit = next(todo, None)
                if unit is None:
                    break
                early = ahead.take(unit) if ahead is not None else None
                pending[pool.submit(_stage, target, unit, early)] = unit
            if not pending:
                return
            finished, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                unit = pending.pop(fut)
                uploads.discard(fut)
                result = fut.result()
                if isinstance(result, cf.Future):
                    pending[result] = unit  # encoded: now uploading
                    uploads.add(result)
                else:
                    on_done(unit, unit.nbytes)
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _distributed(
    task: Task,
    target: StoreTarget,
    units: list[Unit],
    on_done: Callable[[Unit, Any], None],
    address: str,
) -> None:
    from ..execution import announce, map_distributed

    if task is write_unit:  # batches, each pipelined on its worker like the threads run
        map_distributed(write_units, units, on_done, address, target, progress=announce,
                        batched=True)  # fmt: skip
    else:
        map_distributed(task, units, on_done, address, target, progress=announce)


def write_units(target: StoreTarget, units: list[Unit]) -> list[int]:
    """Write a batch of units on a cluster's worker; their byte counts, in order.

    The worker's threads read and encode while the uploads of earlier units
    are in flight (:func:`_pipeline`), as the default threads run does, instead
    of one unit read, encoded and uploaded at a time.
    """
    done: dict[tuple[str, int], int] = {}
    _pipeline(target, units, lambda u, n: done.__setitem__((u.array, u.index), int(n)),
              _worker_threads())  # fmt: skip
    return [done[(u.array, u.index)] for u in units]


def _worker_threads() -> int:
    """Threads of the Dask worker running this task (1 outside a worker)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _scheduler_name(scheduler: str | None, workers: int | None) -> str:
    """The scheduler used: as given, else processes when ``workers`` is given, else threads."""
    return scheduler or ("processes" if workers else "threads")


def read_ahead(
    units: Iterable[Unit], target: StoreTarget, scheduler: str | None, workers: int | None
) -> ReadAhead:
    """Start encoding the first units early (the default threads pipeline only; else none)."""
    n = workers or default_workers()
    early = AHEAD_PER_WORKER * n if _scheduler_name(scheduler, workers) == "threads" else 0
    return ReadAhead(target, itertools.islice(units, early), n)


def run_units(
    units: Iterable[Unit],
    target: StoreTarget,
    on_done: Callable[[Unit, Any], None],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    task: Task = write_unit,
    fail_after: int | None = None,
    ahead: ReadAhead | None = None,
) -> None:
    """Run ``task(target, unit)`` for every unit, calling ``on_done`` as each finishes.

    Parameters
    ----------
    units
        The units to run.
    target
        Where to write.
    on_done
        Called in the coordinating thread with ``(unit, result)``.
    scheduler
        ``"threads"``, ``"processes"`` or a ``tcp://``/``tls://`` scheduler address
        (see :mod:`jasmin_access.execution`).
    workers
        Local threads or processes (default: CPUs, 2-16).
    task
        The function to run (write or verify).
    fail_after
        Test hook: stop with :class:`SimulatedCrash` after this many units.
    ahead
        Units already being encoded (threads pipeline only).
    """
    todo = list(units)
    if not todo:
        return
    count = 0

    def done(unit: Unit, result: Any) -> None:
        nonlocal count
        on_done(unit, result)
        count += 1
        if fail_after is not None and count >= fail_after:
            raise SimulatedCrash(f"stopped after {count} units (test hook)")

    scheduler = _scheduler_name(scheduler, workers)
    if is_distributed(scheduler):
        _distributed(task, target, todo, done, scheduler)
    elif scheduler == "threads" and task is write_unit:
        _pipeline(target, todo, done, workers or default_workers(), ahead)
    else:
        check_scheduler(scheduler)
        _local(task, target, todo, done, scheduler, workers or default_workers())
