"""``cp -r`` and ``sync`` of many files on local processes or a Dask cluster.

The client lists both sides (metadata only: names, sizes, ETags) and hands
out :class:`CopyTask` s: one per large file, or one per group of small files.
Each task holds the two :class:`~jasmin_access.stores.Location` s (their
profiles pickle by name, without credentials: a worker reads its own from
its config file or environment) and the object records.  The worker compares
the contents where the sizes agree and checksums are asked for (a local
source is read to compute its MD5 there, not on the client), then moves the
bytes itself (:func:`~jasmin_access.fs._single.transfer_one`, verified, written
to a temporary name then renamed) or skips the file, and sends back one
status per file.  No data and no secret pass through the client.

A task run twice (its worker died and the scheduler ran it again) writes the
same bytes to the same names, so a rerun of the command resumes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from ..backends import Obj
from ..errors import JasminAccessError, translate
from ..execution import announce, check_scheduler, is_distributed, map_distributed
from ..stores import Location
from ._single import same_content, transfer_one
from .records import TransferItem

__all__ = ["CopyTask", "copy_files", "copy_items", "groups", "run_task", "spreads"]

MiB = 1 << 20
GROUP_BYTES = 64 * MiB  # small files are grouped into tasks of about this many bytes
GROUP_FILES = 64  # and at most this many files
TASK_THREADS = 8  # files of one task copied at once (small files wait on round trips)

Outcome = tuple[str, str | None]  # (status, error)
#: (source object, destination fs path, the destination object to compare with first or None)
Job = tuple[Obj, str, Obj | None]


@dataclass(frozen=True)
class CopyTask:
    """Files to copy from one location to another: what a worker is sent."""

    src: Location
    dst: Location
    pairs: tuple[Job, ...]

    @property
    def nbytes(self) -> int:
        """Bytes the task moves."""
        return sum(job[0].size for job in self.pairs)


def spreads(scheduler: str | None) -> bool:
    """True when ``scheduler`` sends files to other processes (not this one's threads)."""
    check_scheduler(scheduler)
    return scheduler == "processes" or is_distributed(scheduler)


def run_task(task: CopyTask) -> list[Outcome]:
    """Copy the task's files (on a worker, a few at once); one ``(status, error)`` per file.

    A file whose job names a destination object is compared with it first
    (checksums) and skipped when they hold the same content.
    """

    def one(job: Job) -> Outcome:
        obj, target, found = job
        try:
            if found is not None and _same(task, obj, found):
                return "skipped", None
            transfer_one(task.src, task.dst, obj, target)
        except Exception as exc:
            url = task.src.to_url(obj.path)
            err = translate(exc, action="copying", url=url, profile=task.src.profile_name)
            if not isinstance(err, JasminAccessError):
                raise
            return "failed", str(err)
        return "copied", None

    with ThreadPoolExecutor(max_workers=min(TASK_THREADS, len(task.pairs) or 1)) as pool:
        return list(pool.map(one, task.pairs))


def groups(
    pairs: Sequence[Job], limit: int | None = None, files: int = GROUP_FILES
) -> Iterator[tuple[Job, ...]]:
    """Files of ``limit`` bytes (:data:`GROUP_BYTES`) or more alone; smaller ones together."""
    limit = GROUP_BYTES if limit is None else limit
    group: list[Job] = []
    held = 0
    for pair in pairs:
        size = pair[0].size
        if size >= limit:
            yield (pair,)
            continue
        if group and (held + size > limit or len(group) >= files):
            yield tuple(group)
            group, held = [], 0
        group.append(pair)
        held += size
    if group:
        yield tuple(group)


def copy_files(
    src: Location,
    dst: Location,
    pairs: Sequence[Job],
    scheduler: str,
    on_done: Callable[[CopyTask, list[Outcome]], None],
    workers: int,
) -> None:
    """Copy ``pairs`` as tasks on ``scheduler`` (``processes`` or a Dask address).

    ``on_done(task, outcomes)`` is called in this thread as each task finishes.
    """
    tasks = [CopyTask(src, dst, g) for g in groups(pairs)]
    if not tasks:
        return
    if is_distributed(scheduler):
        map_distributed(run_task, tasks, on_done, str(scheduler), progress=announce)
        return
    count = max(1, min(workers, os.cpu_count() or 1, len(tasks)))
    # spawned, not forked: a fork would inherit this process's event-loop threads
    context: Any = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())


def copy_items(
    src: Location,
    dst: Location,
    todo: Sequence[tuple[Obj, str, Obj | None, TransferItem]],
    scheduler: str,
    advance: Callable[[int], None],
    workers: int,
) -> None:
    """Copy ``todo`` on ``scheduler``; each item's status is set as its task ends.

    ``advance(n)`` is told the bytes of each finished task (the progress bar).
    """
    items = {(obj.path, target): item for obj, target, _, item in todo}

    def done(task: CopyTask, outcomes: list[Outcome]) -> None:
        for (obj, target, _), (status, error) in zip(task.pairs, outcomes, strict=True):
            item = items[(obj.path, target)]
            item.status, item.error = status, error
        advance(task.nbytes)

    jobs = [(obj, target, found) for obj, target, found, _ in todo]
    copy_files(src, dst, jobs, scheduler, done, workers)


def _same(task: CopyTask, obj: Any, found: Any) -> bool:
    """True when the destination still holds ``obj``'s content (gone since listing: False)."""
    try:
        return bool(same_content(task.src, obj, task.dst, found))
    except FileNotFoundError:  # removed while the task waited: copy it
        return False
