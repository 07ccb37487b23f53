"""One execution layer for bulk work: threads, local processes or a Dask cluster.

Every bulk command (``convert``, ``append``, ``verify``, ``index``) takes the
same options and hands them to :func:`scheduler_for`:

``--scheduler threads`` (default) / ``processes``
    Work on this machine.
``--scheduler tcp://host:port`` / ``tls://host:port``
    An existing ``dask.distributed`` scheduler (a ``LocalCluster``, a Pangeo
    gateway cluster, one started by hand on LOTUS).
``--cluster slurm --cores N --memory M --jobs J``
    Start a dask-jobqueue ``SLURMCluster`` of ``J`` jobs for this run (the
    optional ``cluster`` extra: ``pip install 'jasmin-access[cluster]'``); the
    jobs are cancelled when the run ends.

Tasks carry no secrets: filesystems and profiles pickle by profile *name* and
config file, and each worker reads credentials from its own config file or
environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``).  Tasks return
small results (byte counts, references), never the data.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidInput, JasminAccessError

__all__ = [
    "ClusterSpec",
    "WorkerLost",
    "is_distributed",
    "map_distributed",
    "map_local",
    "scheduler_for",
]

log = logging.getLogger(__name__)

LOCAL = ("threads", "processes", "sync", "synchronous")
REMOTE = ("tcp://", "tls://", "inproc://")


class WorkerLost(JasminAccessError):
    """Workers died more often than the scheduler allows for one task."""


@dataclass(frozen=True)
class ClusterSpec:
    """A batch cluster to start for one run (``--cluster slurm``)."""

    kind: str = "slurm"
    cores: int = 1
    memory: str = "4GB"
    jobs: int = 1
    queue: str | None = None
    walltime: str | None = None

    def start(self) -> Any:
        """Start the cluster (dask-jobqueue) and ask for :attr:`jobs` jobs."""
        if self.kind != "slurm":
            raise InvalidInput(f"unknown cluster {self.kind!r}", "use --cluster slurm")
        if shutil.which("sbatch") is None:
            raise InvalidInput(
                "--cluster slurm needs SLURM (no sbatch on PATH)",
                "run it on a SLURM login node, or give --scheduler tcp://HOST:PORT",
            )
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise InvalidInput(
                "--cluster slurm needs dask-jobqueue",
                "pip install 'jasmin-access[cluster]'",
            ) from None
        extra = {k: v for k, v in (("queue", self.queue), ("walltime", self.walltime)) if v}
        cluster = SLURMCluster(cores=self.cores, memory=self.memory, processes=1, **extra)
        cluster.scale(jobs=self.jobs)
        return cluster


def is_distributed(scheduler: str | None) -> bool:
    """True for a ``dask.distributed`` scheduler address."""
    return bool(scheduler) and str(scheduler).startswith(REMOTE)


def check_scheduler(scheduler: str | None) -> None:
    """Refuse an unknown scheduler name in one line."""
    if scheduler is None or scheduler in LOCAL or is_distributed(scheduler):
        return
    raise InvalidInput(
        f"unknown scheduler {scheduler!r}",
        "use threads, processes, tcp://host:port or tls://host:port",
    )


@contextlib.contextmanager
def scheduler_for(
    scheduler: str | None = None, cluster: ClusterSpec | str | None = None, **cluster_kw: Any
) -> Iterator[str | None]:
    """The scheduler to pass on: as given, or the address of a cluster started for the run.

    Parameters
    ----------
    scheduler
        ``threads``, ``processes``, ``tcp://...`` or ``tls://...`` (None: the default).
    cluster
        ``"slurm"`` (or a :class:`ClusterSpec`) to start a batch cluster for the run.
    **cluster_kw
        ``cores``, ``memory``, ``jobs``, ``queue``, ``walltime`` for the cluster.

    Yields
    ------
    str or None
        What to pass as ``scheduler=`` to the bulk functions.
    """
    if cluster is None:
        check_scheduler(scheduler)
        yield scheduler
        return
    if scheduler is not None:
        raise InvalidInput("give --scheduler or --cluster, not both")
    if isinstance(cluster, str):
        cluster = ClusterSpec(cluster, **{k: v for k, v in cluster_kw.items() if v is not None})
    started = cluster.start()
    log.info("cluster started: %s (dashboard %s)", started.scheduler_address,
             getattr(started, "dashboard_link", "?"))  # fmt: skip
    try:
        yield started.scheduler_address
    finally:
        started.close()


#: Seconds to wait for a scheduler's port to accept a connection.
CONNECT_TIMEOUT = 10.0


def _reachable(address: str) -> None:
    """Fail at once when nothing listens at ``address`` (a refused connection).

    ``distributed`` retries a refused connection until its own timeout (30 s).
    """
    parts = urlsplit(address)
    if not parts.hostname or not parts.port:
        return  # let distributed parse (and refuse) the address
    try:
        socket.create_connection((parts.hostname, parts.port), CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise InvalidInput(
            f"no Dask scheduler answers at {address} ({exc.strerror or type(exc).__name__})",
            "start one (dask scheduler, LocalCluster, SLURMCluster) or check the address",
        ) from None


def _client(address: str) -> Any:
    from distributed import Client

    _reachable(address)
    try:
        return Client(address)
    except (OSError, TimeoutError) as exc:
        raise InvalidInput(
            f"no Dask scheduler answers at {address} ({exc})",
            "start one (dask scheduler, LocalCluster, SLURMCluster) or check the address",
        ) from None


#: Tasks per worker thread when items are sent in batches (balance against per-task cost).
TASKS_PER_THREAD = 4
#: Most items in one batch.
MAX_BATCH = 16


def batch_size(count: int, threads: int) -> int:
    """Items per task: about :data:`TASKS_PER_THREAD` tasks a thread, :data:`MAX_BATCH` at most."""
    return max(1, min(MAX_BATCH, count // max(1, threads * TASKS_PER_THREAD)))


def map_distributed(
    func: Callable[..., Any],
    items: Iterable[Any],
    on_done: Callable[[Any, Any], None],
    address: str,
    *args: Any,
    progress: Callable[[str], None] | None = None,
    batched: bool = False,
) -> None:
    """Run ``func(*args, item)`` for every item on the cluster at ``address``.

    ``on_done(item, result)`` is called in this thread as each finishes.  A task
    whose worker dies is run again on another worker by the scheduler; when
    that keeps failing, one :class:`WorkerLost` line says so, and what finished
    is kept (a rerun resumes).

    With ``batched``, each task is ``func(*args, [item, ...])`` over a few items
    (:func:`batch_size` for the cluster's threads) and returns their results
    in order: fewer, larger tasks, each of which can overlap its items' I/O.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    todo = list(items)
    with _client(address) as client:
        if progress is not None:
            progress(f"Dask dashboard: {client.dashboard_link}")
        size = batch_size(len(todo), sum(client.nthreads().values())) if batched else 0
        groups = [todo[i : i + size] for i in range(0, len(todo), size)] if size else todo
        futures = {client.submit(func, *args, group, pure=False): group for group in groups}
        try:
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except KilledWorker as exc:
                    raise WorkerLost(
                        f"workers of {address} died running a task ({exc.task})",
                        "check the workers' memory and logs, then run the command again "
                        "(finished work is kept)",
                    ) from None
                if not size:
                    on_done(futures[fut], result)
                    continue
                for item, one in zip(futures[fut], result, strict=True):
                    on_done(item, one)
        finally:
            client.cancel(list(futures))


def _local_get(scheduler: str) -> Callable[..., Any]:
    """Dask's local scheduler for ``scheduler``: processes, one thread, or threads."""
    if scheduler == "processes":
        from dask.multiprocessing import get as mp_get

        return mp_get
    if scheduler in ("sync", "synchronous"):
        from dask.local import get_sync

        return lambda graph, keys, num_workers: get_sync(graph, keys)
    from dask.threaded import get as threaded_get

    return threaded_get


def map_local(
    func: Callable[..., Any],
    items: Iterable[Any],
    on_done: Callable[[Any, Any], None],
    scheduler: str,
    workers: int,
    *args: Any,
) -> None:
    """Run ``func(*args, item)`` for every item on this machine, as :func:`map_distributed` does.

    ``scheduler`` ``"processes"`` runs the tasks in ``workers`` worker processes
    (dask's multiprocessing scheduler: each task and its result are pickled),
    ``"sync"`` in this thread, anything else on ``workers`` threads.
    ``on_done(item, result)`` is called in this thread as each finishes.
    """
    from dask.callbacks import Callback

    keys = {f"item-{i}": item for i, item in enumerate(items)}
    if not keys:
        return

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        item = keys.get(key if isinstance(key, str) else str(key))
        if item is not None:
            on_done(item, result)

    # a plain task graph: items are passed as literals, not traversed by dask
    graph = {k: (func, *args, item) for k, item in keys.items()}
    with Callback(posttask=posttask):
        _local_get(scheduler)(graph, list(keys), num_workers=workers)


_sinks: list[Callable[[str], None]] = []


def announce(text: str) -> None:
    """Show ``text`` (e.g. the dashboard link) on the progress display, else log it."""
    if _sinks:
        _sinks[-1](text)
    else:
        log.info("%s", text)


@contextlib.contextmanager
def status_sink(sink: Callable[[str], None]) -> Iterator[None]:
    """Route :func:`announce` to ``sink`` (a progress display) while the block runs."""
    _sinks.append(sink)
    try:
        yield
    finally:
        _sinks.remove(sink)
