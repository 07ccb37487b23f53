"""Running work units with dask: threads, local processes or a cluster.

``scheduler``:

``"threads"`` (default when ``workers`` is not given)
    A local thread pool with one thread per CPU.  NetCDF/HDF5 reads are
    serialised by :data:`jasmin_access.conversion.sources.READ_LOCK`; compression
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
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .chunkio import encode_unit, put_sync, start_put
from .plan import Unit
from .writer import SimulatedCrash, StoreTarget, write_unit, write_unit_zarr

__all__ = ["run_units"]

log = logging.getLogger(__name__)

Task = Callable[[StoreTarget, Unit], Any]

#: Units being read or encoded per worker thread.
WINDOW_PER_WORKER = 2
#: Encoded units uploading per worker thread (compressed bytes only).
UPLOADS_PER_WORKER = 8


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
    from dask.callbacks import Callback

    keys = {f"unit-{i}": u for i, u in enumerate(units)}

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        unit = keys.get(key if isinstance(key, str) else str(key))
        if unit is not None:
            on_done(unit, result)

    # A plain task graph: units are passed as literals, not traversed by dask.
    graph = {k: (task, target, u) for k, u in keys.items()}
    get = _getter(scheduler)
    with Callback(posttask=posttask):
        get(graph, list(keys), num_workers=workers)


def _stage(target: StoreTarget, unit: Unit) -> cf.Future[Any] | None:
    """Read and encode a unit; start its upload (returned) or store it here."""
    chunk = encode_unit(target, unit)
    if chunk is None:
        write_unit_zarr(target, unit)
        return None
    upload = start_put(target, chunk)
    if upload is None:
        put_sync(target, chunk)
    return upload


def _pipeline(
    target: StoreTarget, units: list[Unit], on_done: Callable[[Unit, Any], None], workers: int
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
                pending[pool.submit(_stage, target, unit)] = unit
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


def _getter(scheduler: str) -> Callable[..., Any]:
    if scheduler == "processes":
        from dask.multiprocessing import get as mp_get

        return mp_get
    if scheduler in ("sync", "synchronous"):
        from dask.local import get_sync

        return lambda graph, keys, num_workers: get_sync(graph, keys)
    from dask.threaded import get as threaded_get

    return threaded_get


def _distributed(
    task: Task,
    target: StoreTarget,
    units: list[Unit],
    on_done: Callable[[Unit, Any], None],
    address: str,
) -> None:
    from distributed import Client, as_completed

    with Client(address) as client:
        futures = {client.submit(task, target, u, pure=False): u for u in units}
        try:
            for fut in as_completed(futures):
                on_done(futures[fut], fut.result())
        finally:
            client.cancel(list(futures))


def run_units(
    units: Iterable[Unit],
    target: StoreTarget,
    on_done: Callable[[Unit, Any], None],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    task: Task = write_unit,
    fail_after: int | None = None,
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
        ``"threads"``, ``"processes"`` or a ``tcp://`` scheduler address.
    workers
        Local threads or processes (default: CPUs, 2-16).
    task
        The function to run (write or verify).
    fail_after
        Test hook: stop with :class:`SimulatedCrash` after this many units.
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

    scheduler = scheduler or ("processes" if workers else "threads")
    if scheduler.startswith(("tcp://", "tls://", "inproc://")):
        _distributed(task, target, todo, done, scheduler)
    elif scheduler == "threads" and task is write_unit:
        _pipeline(target, todo, done, workers or default_workers())
    elif scheduler in ("threads", "processes", "sync", "synchronous"):
        _local(task, target, todo, done, scheduler, workers or default_workers())
    else:
        from ..errors import InvalidInput

        raise InvalidInput(
            f"unknown scheduler {scheduler!r}", "use threads, processes or tcp://host:port"
        )
