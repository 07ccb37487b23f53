"""ETags and MD5s: how uploads and downloads are verified.

S3 reports the MD5 of the content as the ETag of a single-part upload, and
``md5(md5(part1) + md5(part2) + …)-N`` for an N-part multipart upload, so a
local file can be checked against an object without downloading it again,
provided the part size is known (ours is :func:`part_size`; common defaults
of other tools are tried too).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from typing import Any

from ..errors import IntegrityError
from .capabilities import Obj, Tick, _noop

__all__ = ["HashingReader", "check_read", "etag_matches", "local_etag", "part_size", "verify_file"]

MiB = 1 << 20
MIN_PART = 8 * MiB
MAX_PARTS = 10_000
SINGLE_LIMIT = 5 * 1024 * MiB
SINGLE_MAX = 64 * MiB  # smaller files are sent in one PUT
STREAM_BLOCK = 8 * MiB  # bytes moved at once by streaming copies (memory bound per file)
_COMMON_PARTS = (5 * MiB, 8 * MiB, 16 * MiB, 50 * MiB, 64 * MiB, 100 * MiB, 128 * MiB)


def part_size(size: int) -> int:
    """Multipart part size for a file of ``size`` bytes: 8 MiB, growing with the file.

    Small parts keep many requests in flight within one file and little of it
    in memory (parts are read from the file as they are sent); past 400 MiB a
    file gets about 50 parts, so files of tens of GB get parts of several
    hundred MB (as advised for the JASMIN store), never more than 10,000 parts.

    >>> part_size(10 * MiB) // MiB, part_size(1024 * MiB) // MiB, part_size(20_000 * MiB) // MiB
    (8, 21, 400)
    """
    wanted = max(MIN_PART, math.ceil(size / 50 / MiB) * MiB)
    return max(wanted, math.ceil(size / MAX_PARTS))


def is_multipart(size: int, chunk: int) -> bool:
    """True when ``size`` bytes are uploaded in parts of ``chunk``, not in one PUT.

    Files under :data:`SINGLE_MAX` go in one PUT (streamed from the file: many
    files at once fill the link with fewer requests); bigger ones in parts.
    """
    return size >= min(SINGLE_LIMIT, max(2 * chunk, SINGLE_MAX))


def _digests(path: str, chunk: int, parts_too: bool = True) -> tuple[str, list[bytes]]:
    whole = hashlib.md5(usedforsecurity=False)
    parts: list[bytes] = []
    with open(path, "rb") as f:
        while block := f.read(min(chunk, 16 * MiB) if not parts_too else chunk):
            whole.update(block)
            if parts_too:
                parts.append(hashlib.md5(block, usedforsecurity=False).digest())
    return whole.hexdigest(), parts


def local_etag(path: str | os.PathLike[str], chunk: int | None = None) -> str:
    """The ETag S3 will report for ``path`` uploaded with parts of ``chunk`` bytes.

    Without ``chunk``: as this project uploads it (:func:`part_size`,
    :func:`is_multipart`); with one, as a tool that uses parts of ``chunk``
    for anything of two parts or more would.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if chunk is None:
        chunk = part_size(size)
        multipart = is_multipart(size, chunk)
    else:
        multipart = size >= min(SINGLE_LIMIT, 2 * chunk)
    if not multipart:
        return _digests(path, chunk, parts_too=False)[0]
    _, parts = _digests(path, chunk)
    combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
    return f"{combined}-{len(parts)}"


def etag_matches(path: str | os.PathLike[str], etag: str | None) -> bool | None:
    """Whether a local file has content matching an S3 ETag.

    Returns
    -------
    bool or None
        True/False, or None when it cannot be told (no ETag, or a multipart
        ETag whose part size is none of the known ones).
    """
    if not etag:
        return None
    path = os.fspath(path)
    etag = etag.strip('"')
    if "-" not in etag:
        return _digests(path, 8 * MiB, parts_too=False)[0] == etag
    try:
        count = int(etag.rsplit("-", 1)[1])
    except ValueError:
        return None
    size = os.path.getsize(path)
    candidates = {part_size(size), *_COMMON_PARTS}
    if count:
        candidates.add(math.ceil(size / count / MiB) * MiB)
    for chunk in sorted(candidates):
        if math.ceil(size / chunk) != count:
            continue
        _, parts = _digests(path, chunk)
        if hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest() + f"-{count}" == etag:
            return True
    return None


def verify_file(path: str | os.PathLike[str], size: int, etag: str | None, what: str) -> None:
    """Raise :class:`IntegrityError` if ``path`` does not have ``size`` bytes matching ``etag``.

    An ETag that cannot be checked (unknown multipart part size) leaves only
    the size check.
    """
    actual = os.path.getsize(path)
    if actual != size:
        raise IntegrityError(
            f"size mismatch for {what}: expected {size} bytes, got {actual}",
            "re-run the same command to transfer it again",
        )
    if etag_matches(path, etag) is False:
        raise IntegrityError(
            f"checksum mismatch for {what}: content does not match ETag {etag}",
            "re-run the same command to transfer it again",
        )


def file_md5(path: str | os.PathLike[str]) -> str:
    """MD5 hex digest of a whole local file."""
    return _digests(os.fspath(path), 16 * MiB, parts_too=False)[0]


class HashingReader:
    """A binary reader that counts, MD5-hashes and reports (``tick``) what passes through."""

    def __init__(self, raw: Any, tick: Tick = _noop) -> None:
        self.raw, self.tick = raw, tick
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.done = 0

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (at most one stream block when ``n`` is negative)."""
        block = bytes(self.raw.read(n if n is not None and n >= 0 else STREAM_BLOCK))
        if block:
            self.md5.update(block)
            self.done += len(block)
            self.tick(len(block))
        return block

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(STREAM_BLOCK):
            yield block


def check_read(done: int, obj: Obj, md5: str, kind: str | None, what: str) -> None:
    """Compare what was read with what the source listed (size, plain-MD5 ETag)."""
    if done != obj.size:
        raise IntegrityError(
            f"size mismatch for {what}: expected {obj.size} bytes, got {done}",
            "re-run the same command to transfer it again",
        )
    if kind == "md5-etag" and obj.etag and "-" not in obj.etag and obj.etag != md5:
        raise IntegrityError(
            f"checksum mismatch for {what}: content does not match ETag {obj.etag}",
            "re-run the same command to transfer it again",
        )
