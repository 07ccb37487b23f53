"""``stat``, ``cat`` and ``head``: one object's metadata and bytes.

Byte ranges are inclusive, as in HTTP (``0-99`` is the first 100 bytes), and
are read with ranged GETs: the whole object is never fetched for a range.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from ..errors import InvalidInput, NotFound, translating
from ..stores import Location
from ._backend import head as _head_obj
from ._backend import head_info, list_level, locate
from .records import ObjectInfo

__all__ = ["cat", "cat_to", "head", "parse_range", "stat"]

BLOCK = 8 << 20
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(text: str | tuple[int | None, int | None]) -> tuple[int | None, int | None]:
    """Parse ``"START-END"``, ``"START-"`` or ``"-SUFFIX"`` (inclusive, as in HTTP).

    >>> parse_range("0-99"), parse_range("100-"), parse_range("-10")
    ((0, 99), (100, None), (None, 10))
    """
    if isinstance(text, tuple):
        start, end = text
    else:
        m = _RANGE.match(text)
        if not m or m.group(1) == m.group(2) == "":
            raise InvalidInput(
                f"invalid byte range '{text}'", "use START-END (inclusive), START- or -LAST"
            )
        start = int(m.group(1)) if m.group(1) else None
        end = int(m.group(2)) if m.group(2) else None
    if start is not None and end is not None and end < start:
        raise InvalidInput(f"byte range ends before it starts: {start}-{end}", "use START <= END")
    return start, end


def _object(loc: Location) -> ObjectInfo:
    obj = _head_obj(loc, loc.path)
    if obj is None:
        if list_level(loc, loc.path) != ([], []):
            raise NotFound(
                f"{loc.url} is a prefix (a directory), not an object",
                f"use `jasmin-access ls {loc.url}` or `du`",
            )
        raise NotFound(f"no such object: {loc.url}", "check the path with `jasmin-access ls`")
    return ObjectInfo(
        path=loc.url,
        size=obj.size,
        etag=obj.etag,
        content_type=None,
        last_modified=obj.mtime,
    )


def stat(
    url: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> ObjectInfo:
    """Size, ETag, content type, modification time and user metadata of one object.

    On local backends the ETag is the MD5 of the content (what S3 reports for
    a single-part upload) and the content type is guessed from the name.

    Raises
    ------
    NotFound
        When there is no object at ``url`` (a prefix is named as such).
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    with translating("reading", loc.url, loc.profile_name):
        info = _object(loc)
        described = head_info(loc, loc.path)
        info.etag = described.get("etag") or info.etag
        info.content_type = described.get("content_type")
        info.metadata = dict(described.get("metadata") or {})
    return info


def _bounds(info: ObjectInfo, byte_range: tuple[int | None, int | None]) -> tuple[int, int]:
    """Half-open ``[start, stop)`` for an inclusive range, clipped to the object."""
    start, end = byte_range
    if start is None:  # suffix: the last ``end`` bytes
        return max(info.size - (end or 0), 0), info.size
    if start >= info.size and info.size > 0:
        raise InvalidInput(
            f"byte range starts at {start} but {info.path} has {info.size} bytes",
            f"use a start below {info.size}",
        )
    stop = info.size if end is None else min(end + 1, info.size)
    return start, stop


def cat(
    url: str,
    *,
    byte_range: str | tuple[int | None, int | None] | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> bytes:
    """The bytes of one object, or of an inclusive byte range of it.

    Parameters
    ----------
    byte_range
        ``"START-END"`` (inclusive), ``"START-"``, ``"-LAST"`` or a tuple.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    with translating("reading", loc.url, loc.profile_name):
        info = _object(loc)
        start, stop = _bounds(info, parse_range(byte_range) if byte_range else (0, None))
        if stop <= start:
            return b""
        return loc.backend.read_range(loc.path, start, stop)


def cat_to(
    url: str,
    out: BinaryIO,
    *,
    byte_range: str | tuple[int | None, int | None] | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> int:
    """Stream one object (or an inclusive range) into the binary file ``out``.

    Returns
    -------
    int
        Bytes written.
    """
    loc = locate(url, profile=profile, endpoint_url=endpoint_url, anon=anon)
    written = 0
    with translating("reading", loc.url, loc.profile_name):
        info = _object(loc)
        start, stop = _bounds(info, parse_range(byte_range) if byte_range else (0, None))
        pos = start
        while pos < stop:
            end = min(pos + BLOCK, stop)
            chunk = loc.backend.read_range(loc.path, pos, end)
            out.write(chunk)
            written += len(chunk)
            pos = end
    return written


def head(
    url: str,
    *,
    nbytes: int = 1024,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> bytes:
    """The first ``nbytes`` bytes of one object (one ranged GET)."""
    if nbytes < 0:
        raise InvalidInput(f"negative byte count {nbytes}", "give -c 0 or more")
    if nbytes == 0:
        return b""
    return cat(
        url,
        byte_range=(0, nbytes - 1),
        profile=profile,
        endpoint_url=endpoint_url,
        anon=anon,
    )
