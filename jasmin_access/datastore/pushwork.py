"""The work of a push that can run anywhere: hashing and uploading source files, in batches.

:func:`fan_out` runs a batch function on the scheduler given (see
:mod:`jasmin_access.execution`): threads in this process (default), local
worker processes, or the workers of a ``dask.distributed`` cluster.  Tasks
carry a source :class:`~jasmin_access.stores.Location`, the datastore's
:class:`~jasmin_access.datastore._io.RootIO` and lists of keys: locations
pickle by profile name, without credentials, and each worker reads its own
from its config file or environment.  Workers read the source and write the
objects themselves; what comes back to the client is digests and sizes (and
the Zarr metadata documents, which the manifest holds inline), never chunk data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from ..errors import IntegrityError
from ..fs.usage import ZARR_METADATA
from ..stores import Location
from . import layout
from ._io import RootIO, open_source_file
from .manifest import INLINE_OBJECT

__all__ = ["Hashed", "batches", "fan_out", "hash_files", "upload_files"]

WORKERS = 8
BLOCK = 8 << 20
IN_MEMORY = 64 << 20  # objects up to this size are uploaded from memory
INLINE_METADATA = 4 << 20
BATCH_BYTES = 256 << 20  # per task on processes or a cluster
BATCH_FILES = 256

T = TypeVar("T")


class Hashed(NamedTuple):
    """A source file read and hashed: its key, SHA-256 (hex), size, and its bytes when it
    is Zarr metadata or small enough to be held inline by the manifest."""

    key: str
    digest: str
    size: int
    data: bytes | None


def src_path(src: Location, key: str) -> str:
    """The fs path of ``key`` below the source root."""
    return src.backend.join(src.path.rstrip("/") or src.path, key)


def is_metadata(key: str) -> bool:
    """True for a Zarr metadata document (``zarr.json``, ``.zarray`` ...)."""
    return key.rsplit("/", 1)[-1] in ZARR_METADATA


def keeps_bytes(key: str, size: int) -> bool:
    """True when the manifest holds the file's bytes: Zarr metadata, or a small object."""
    return size <= (INLINE_METADATA if is_metadata(key) else INLINE_OBJECT)


def hash_one(src: Location, key: str) -> Hashed:
    """Read one source file and hash it (keeping its bytes when :func:`keeps_bytes`)."""
    digest = hashlib.sha256()
    kept: list[bytes] = []
    size = 0
    with open_source_file(src, src_path(src, key)) as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
            size += len(block)
            if keeps_bytes(key, size):
                kept.append(block)
    data = b"".join(kept) if keeps_bytes(key, size) else None
    return Hashed(key, digest.hexdigest(), size, data)


def hash_files(src: Location, keys: list[str]) -> list[Hashed]:
    """Task: hash the files ``keys`` of ``src``."""
    return [hash_one(src, k) for k in keys]


def upload_one(io: RootIO, src: Location, key: str, digest: str, size: int) -> None:
    """Upload one source file as the object ``digest``, checking small ones against it."""
    target = layout.object_key(digest)
    path = src_path(src, key)
    if size <= IN_MEMORY:
        with open_source_file(src, path) as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(
                f"{src.url}/{key} changed while it was being pushed",
                "re-run the push once the source is no longer being written",
            )
        io.put(target, data)
        return
    if src.caps.local_path:
        io.put_file(target, path)
        return
    with tempfile.TemporaryDirectory(prefix="jasmin-push-") as tmp:
        local = os.path.join(tmp, "object")
        src.fs.get_file(path, local)
        io.put_file(target, local)


def upload_files(io: RootIO, src: Location, items: list[tuple[str, str, int]]) -> int:
    """Task: upload ``(key, digest, size)`` items; returns the bytes uploaded."""
    for key, digest, size in items:
        upload_one(io, src, key, digest, size)
    return sum(size for _k, _d, size in items)


def batches(items: list[T], size_of: Callable[[T], int], scheduler: str | None) -> list[list[T]]:
    """Items grouped into tasks: one each on threads, up to 256 MB or 256 files otherwise."""
    if _threads(scheduler):
        return [[item] for item in items]
    out: list[list[T]] = []
    current: list[T] = []
    weight = 0
    for item in items:
        if current and (weight + size_of(item) > BATCH_BYTES or len(current) >= BATCH_FILES):
            out.append(current)
            current, weight = [], 0
        current.append(item)
        weight += size_of(item)
    if current:
        out.append(current)
    return out


def _threads(scheduler: str | None) -> bool:
    return scheduler in (None, "threads", "sync", "synchronous")


def fan_out(
    func: Callable[..., T], tasks: list[Any], scheduler: str | None, *args: Any
) -> Iterable[T]:
    """``func(*args, task)`` for every task, on ``scheduler``; results in any order."""
    from ..execution import announce, is_distributed, map_distributed

    if not tasks:
        return []
    if is_distributed(scheduler):
        results: list[T] = []
        map_distributed(func, tasks, lambda _t, r: results.append(r), str(scheduler), *args,
                        progress=announce)  # fmt: skip
        return results
    if scheduler in ("sync", "synchronous"):
        return [func(*args, t) for t in tasks]
    if scheduler == "processes":
        import multiprocessing

        n = min(os.cpu_count() or 2, len(tasks))
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n, mp_context=spawn) as pool:
            return list(pool.map(_call, [(func, args, t) for t in tasks]))
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(tasks))) as threads:
        return list(threads.map(lambda t: func(*args, t), tasks))


def _call(job: tuple[Callable[..., T], tuple[Any, ...], Any]) -> T:
    func, args, task = job
    return func(*args, task)
