"""Streaming S3 uploads driven on the s3fs event loop.

An upload hashes the file (or each part) first, since ``Content-MD5`` goes
before the body, then sends the body read from the file as it goes out, so
memory does not grow with file sizes (files up to
:data:`._s3_transfer.SMALL` are read once into memory); a multipart upload
sends its parts in parallel (within :data:`._s3_transfer.BUDGET`), each
checked against the part's MD5, and takes the object's ETag from the
CompleteMultipartUpload answer (no HEAD).

Hashing runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
from typing import Any

from ..errors import IntegrityError
from ._s3_transfer import BUDGET, PARTS, READ, Progress, _in_thread, _md5

log = logging.getLogger(__name__)


def read_body(path: str, offset: int, length: int) -> tuple[io.BytesIO, str]:
    """``length`` bytes of ``path`` from ``offset`` as a request body, and their MD5.

    The bytes are read straight into the body's own buffer (no copy is made
    later when the HTTP client takes a view of it); the body may be shorter
    than ``length`` if the file shrank.
    """
    body = io.BytesIO()
    if length:
        body.seek(length - 1)
        body.write(b"\0")
    digest = _md5()
    got = 0
    with open(path, "rb", buffering=0) as f, body.getbuffer() as buf:
        f.seek(offset)
        while got < length:
            n = f.readinto(buf[got:])
            if not n:
                break
            got += n
        digest.update(buf[:got])
    body.truncate(got)
    body.seek(0)
    return body, str(digest.hexdigest())


def content_md5(hexdigest: str) -> str:
    """The ``Content-MD5`` header value for an MD5 given in hex."""
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


class FileSlice(io.RawIOBase):
    """``length`` bytes of a file from ``offset``, read as a request body is sent.

    Seekable within the slice (a retried request starts again from 0).
    """

    def __init__(self, path: str, offset: int, length: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with the slice)
        self._start, self._length, self._pos = offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + pos))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")[: self._length - self._pos]
        if not view:
            return 0
        n = os.preadv(self._file.fileno(), [view], self._start + self._pos)
        self._pos += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def span_md5(path: str, offset: int, length: int) -> tuple[str, int]:
    """The MD5 (hex) of ``length`` bytes of ``path`` from ``offset``, and how many there were."""
    digest = _md5()
    got = 0
    with FileSlice(path, offset, length) as f:
        while block := f.read(READ):
            digest.update(block)
            got += len(block)
    return str(digest.hexdigest()), got


async def _send_part(
    fs: Any, path: str, target: tuple[str, str, str], number: int, span: tuple[int, int]
) -> tuple[str, str]:
    """Hash the part, then send it read from the file (never whole in memory)."""
    bucket, key, upload_id = target
    offset, length = span
    expected, found = await _in_thread(span_md5, path, offset, length)
    if found != length:
        raise IntegrityError(
            f"{path} changed while it was being uploaded", "re-run the same command"
        )
    with FileSlice(path, offset, length) as body:
        resp = await fs._call_s3(
            "upload_part",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ContentLength=length,
            ContentMD5=content_md5(expected),
        )
    got = str(resp.get("ETag", "")).strip('"')
    if got and got != expected:
        raise IntegrityError(
            f"part {number} of {path} did not verify: sent MD5 {expected}, store reports {got}",
            "re-run the same command to upload it again",
        )
    return got or expected, expected


async def upload_multipart(
    fs: Any,
    path: str,
    bucket: str,
    key: str,
    chunk: int,
    extra: dict[str, Any],
    progress: Progress,
) -> tuple[str, str]:
    """Upload ``path`` in parts of ``chunk`` bytes, up to ``PARTS`` at once.

    Each part is read from the file when its turn comes (within
    :data:`BUDGET`), so memory holds only the parts in flight.

    Returns
    -------
    tuple of str
        ``(expected, reported)``: the multipart ETag computed from the parts
        sent, and the one the store reported on completion ('' if none).
    """
    size = os.path.getsize(path)
    spans = [(o, min(chunk, size - o)) for o in range(0, size, chunk)]
    created = await fs._call_s3("create_multipart_upload", Bucket=bucket, Key=key, **extra)
    target = (bucket, key, created["UploadId"])
    window = asyncio.Semaphore(PARTS)

    async def one(number: int, span: tuple[int, int]) -> tuple[str, str]:
        async with window, BUDGET.hold(span[1]):
            out = await _send_part(fs, path, target, number, span)
        progress(span[1])
        return out

    tasks = [asyncio.ensure_future(one(i + 1, s)) for i, s in enumerate(spans)]
    try:
        sent = await asyncio.gather(*tasks)
        parts = [{"PartNumber": i + 1, "ETag": f'"{got}"'} for i, (got, _) in enumerate(sent)]
        done = await fs._call_s3(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=key,
            UploadId=target[2],
            MultipartUpload={"Parts": parts},
        )
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _abort(fs, target)
        raise
    digests = b"".join(bytes.fromhex(md5) for _, md5 in sent)
    expected = f"{_md5(digests).hexdigest()}-{len(sent)}"
    return expected, str(done.get("ETag", "")).strip('"')


async def upload_single(
    fs: Any, path: str, bucket: str, key: str, extra: dict[str, Any], progress: Progress
) -> tuple[str, str]:
    """One PUT of the whole file from memory (within :data:`BUDGET`), sent with its MD5.

    Returns
    -------
    tuple of str
        ``(expected, reported)``: the MD5 of the bytes sent and the ETag the
        store answered with ('' if none).
    """
    size = os.path.getsize(path)
    async with BUDGET.hold(size):
        body, expected = await _in_thread(read_body, path, 0, size + 1)  # +1: notice growth
        with body.getbuffer() as view:
            sent = len(view)
        if sent != size:
            raise IntegrityError(f"{path} changed while it was being read", "re-run the command")
        return await _put(fs, (bucket, key), body, (expected, size), extra, progress)


async def upload_stream(
    fs: Any, path: str, bucket: str, key: str, extra: dict[str, Any], progress: Progress
) -> tuple[str, str]:
    """One PUT whose body is read from the file as it is sent, with its MD5.

    The file is read twice, once to hash it (the ``Content-MD5`` header goes
    before the body) and once as it is sent (then mostly from the page cache),
    and never held in memory.  A file that changed in between is refused by
    the store (its MD5 no longer matches) or caught by the size check.

    Returns
    -------
    tuple of str
        ``(expected, reported)`` as :func:`upload_single`.
    """
    size = os.path.getsize(path)
    expected, found = await _in_thread(span_md5, path, 0, size + 1)  # +1: notice growth
    if found != size:
        raise IntegrityError(f"{path} changed while it was being read", "re-run the command")
    with FileSlice(path, 0, size) as body:
        return await _put(fs, (bucket, key), body, (expected, size), extra, progress)


async def _put(
    fs: Any,
    where: tuple[str, str],
    body: Any,
    md5_size: tuple[str, int],
    extra: dict[str, Any],
    progress: Progress,
) -> tuple[str, str]:
    expected, size = md5_size
    resp = await fs._call_s3(
        "put_object",
        Bucket=where[0],
        Key=where[1],
        Body=body,
        ContentLength=size,
        ContentMD5=content_md5(expected),
        **extra,
    )
    progress(size)
    return expected, str(resp.get("ETag", "")).strip('"')


async def _abort(fs: Any, target: tuple[str, str, str]) -> None:
    bucket, key, upload_id = target
    try:
        await fs._call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:  # the original error matters more
        log.warning("could not abort the multipart upload of %s/%s: %s", bucket, key, exc)
