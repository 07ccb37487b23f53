"""Streaming S3 downloads driven on the s3fs event loop, and what uploads share.

Each transfer is one coroutine run on the filesystem's own loop (through
``fs._call_s3``), so no per-file s3fs machinery (``get_file``/``put_file``,
extra HEADs) sits in the way.  A download is read in large blocks, hashed as
it streams (MD5, or the per-part MD5s of a multipart ETag) and written with
``os.pwrite`` into the temporary file, so the file is never read back to be
verified; objects of :data:`RANGE_MIN` bytes or more are fetched as parallel
ranged GETs, hashed in order as they arrive.  Uploads are in
:mod:`._s3_upload`.

Hashing and file writes run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from s3fs.core import S3_RETRYABLE_ERRORS

from ..errors import IntegrityError
from . import checksums

log = logging.getLogger(__name__)

MiB = checksums.MiB
READ = 1 * MiB  # bytes asked of the response stream at once (about 2x this per download)
RANGE = 16 * MiB  # size of one ranged GET
RANGE_MIN = 96 * MiB  # objects at least this big are fetched as parallel ranges
WINDOW = 4  # ranged GETs of one file in flight at once
PARTS = 8  # upload parts of one file in flight at once (within the budget)
IN_FLIGHT = 128 * MiB  # bytes of upload parts in flight at once, all files together
SMALL = 1 * MiB  # files up to this size are read once into memory and sent in one PUT

Progress = Callable[[int], None]
_RETRYABLE = (*S3_RETRYABLE_ERRORS, OSError)


class Budget:
    """Bytes of request bodies in flight at once, all uploads on a loop together.

    One body larger than the limit is let through alone.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._state: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()

    @contextlib.asynccontextmanager
    async def hold(self, n: int) -> AsyncIterator[None]:
        """Wait until ``n`` more bytes fit, and keep them for the ``async with`` block."""
        state = self._state.setdefault(asyncio.get_running_loop(), [asyncio.Condition(), 0])
        cond = state[0]
        async with cond:
            await cond.wait_for(lambda: state[1] == 0 or state[1] + n <= self.limit)
            state[1] += n
        try:
            yield
        finally:
            async with cond:
                state[1] -= n
                cond.notify_all()


BUDGET = Budget(IN_FLIGHT)


def _md5(data: Any = b"") -> Any:
    return hashlib.md5(data, usedforsecurity=False)


class StreamDigest:
    """The ETag of bytes fed in order: an MD5, or a multipart ETag for a known part size.

    For a multipart ETag (``…-N``) the part size is guessed (ours, then common
    ones); :meth:`etag` is then only right when the guess was.
    """

    def __init__(self, size: int, etag: str | None) -> None:
        self.size, self.done = size, 0
        self.parts: list[bytes] = []
        self.chunk = 0
        count = _part_count(etag)
        if count:
            self.chunk = _guess_part(size, count)
        self.current = _md5()
        self.filled = 0

    def update(self, data: bytes | memoryview) -> None:
        """Feed the next bytes of the object."""
        view = memoryview(data)
        self.done += len(view)
        if not self.chunk:
            self.current.update(view)
            return
        while view:
            take = min(len(view), self.chunk - self.filled)
            self.current.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.chunk:
                self._close_part()

    def _close_part(self) -> None:
        self.parts.append(self.current.digest())
        self.current, self.filled = _md5(), 0

    def etag(self) -> str:
        """The ETag of what was fed (call once, after the last byte)."""
        if not self.chunk:
            return str(self.current.hexdigest())
        if self.filled or not self.parts:
            self._close_part()
        combined = _md5(b"".join(self.parts)).hexdigest()
        return f"{combined}-{len(self.parts)}"


def _part_count(etag: str | None) -> int:
    if not etag or "-" not in etag:
        return 0
    try:
        return int(etag.rsplit("-", 1)[1])
    except ValueError:
        return 0


def _guess_part(size: int, count: int) -> int:
    candidates = [checksums.part_size(size), *checksums._COMMON_PARTS]
    candidates.append(math.ceil(size / count / MiB) * MiB)
    for chunk in candidates:
        if chunk and math.ceil(size / chunk) == count:
            return chunk
    return max(1, math.ceil(size / count))


# --------------------------------------------------------------------------- download


def _in_thread(func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Start ``func(*args)`` in the loop's thread pool now; await the result later."""
    return asyncio.get_running_loop().run_in_executor(None, func, *args)


def _write(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _hash_and_write(digest: StreamDigest, fd: int, chunks: list[bytes], offset: int) -> None:
    for chunk in chunks:
        digest.update(chunk)
    total = sum(len(c) for c in chunks)
    written = os.pwritev(fd, chunks, offset)
    if written < total:  # a short write: finish it piece by piece
        _write(fd, b"".join(chunks)[written:], offset + written)


async def _get(fs: Any, bucket: str, key: str, start: int) -> Any:
    kw: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if start:
        kw["Range"] = f"bytes={start}-"
    resp = await fs._call_s3("get_object", **kw)
    return resp["Body"]


async def _stream(
    fs: Any, bucket: str, key: str, fd: int, digest: StreamDigest, progress: Progress
) -> None:
    """One GET; what arrives is gathered into blocks of about :data:`READ` bytes,
    each hashed and written (``pwritev``, no joining) in a worker thread while
    the next block arrives.  A broken stream is resumed with a ranged GET.
    """
    offset = received = failures = 0
    chunks: list[bytes] = []
    pending: asyncio.Future[Any] | None = None
    body = await _get(fs, bucket, key, 0)
    try:
        while True:
            try:
                data = await body.read(READ)
            except _RETRYABLE as exc:
                failures += 1
                if failures > max(1, int(getattr(fs, "retries", 1))):
                    raise
                log.info("read of %s/%s broke at %d (%s); resuming", bucket, key, received, exc)
                body.close()
                body = await _get(fs, bucket, key, received)
                continue
            if data:
                chunks.append(data)
                received += len(data)
            if chunks and (not data or received - offset >= READ or len(chunks) >= 256):
                if pending is not None:
                    await pending
                pending = _in_thread(_hash_and_write, digest, fd, chunks, offset)
                progress(received - offset)
                chunks, offset = [], received
            if not data:
                await pending if pending is not None else None
                return
    finally:
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
        body.close()


async def _fetch_range(fs: Any, bucket: str, key: str, fd: int, start: int, end: int) -> bytes:
    kw = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
    resp = await fs._call_s3("get_object", **kw)
    body = resp["Body"]
    try:
        data = await body.read()
    finally:
        body.close()
    total = str(resp.get("ContentRange", "")).rpartition("/")[2]
    if len(data) != end - start or (total.isdigit() and int(total) != _size_of(fd)):
        raise IntegrityError(
            f"size mismatch for {bucket}/{key}: expected {_size_of(fd)} bytes, the store "
            f"has {total or 'another size'} (ranged read of {len(data)} bytes at {start})",
            "re-run the same command to transfer it again",
        )
    await _in_thread(_write, fd, data, start)
    return bytes(data)


def _size_of(fd: int) -> int:
    return os.fstat(fd).st_size


async def _ranged(
    fs: Any, bucket: str, key: str, fd: int, digest: StreamDigest, progress: Progress
) -> None:
    """Parallel ranged GETs (``WINDOW`` at once), hashed in order as they complete."""
    size = digest.size
    starts = deque(range(0, size, RANGE))
    inflight: deque[asyncio.Task[bytes]] = deque()
    try:
        while starts or inflight:
            while starts and len(inflight) < WINDOW:
                start = starts.popleft()
                end = min(size, start + RANGE)
                fetch = _fetch_range(fs, bucket, key, fd, start, end)
                inflight.append(asyncio.ensure_future(fetch))
            data = await inflight.popleft()
            await _in_thread(digest.update, data)
            progress(len(data))
    finally:
        for task in inflight:
            task.cancel()
        await asyncio.gather(*inflight, return_exceptions=True)


async def download(
    fs: Any,
    bucket: str,
    key: str,
    size: int,
    etag: str | None,
    tmp: str,
    progress: Progress,
) -> StreamDigest:
    """Fetch ``bucket/key`` (``size`` bytes) into the existing file ``tmp``.

    Returns
    -------
    StreamDigest
        The digest of the bytes received (``.done`` of them), for the caller
        to compare with the ETag.
    """
    digest = StreamDigest(size, etag)
    fd = os.open(tmp, os.O_WRONLY)
    try:
        if size >= RANGE_MIN:
            os.ftruncate(fd, size)
            await _ranged(fs, bucket, key, fd, digest, progress)
        else:
            await _stream(fs, bucket, key, fd, digest, progress)
    finally:
        os.close(fd)
    return digest
