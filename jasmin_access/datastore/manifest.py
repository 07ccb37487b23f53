"""Version manifests: one immutable, compact object per version.

Layout of a manifest object (little-endian)::

    b"JDSMAN1\\n"                 8 bytes of magic
    u32 H                        length of the compressed header
    zlib(JSON header)            id, parent, created, author, message, source,
                                 counts, and the Zarr metadata documents inline
    zlib(body)                   the entries as three columns:
                                   keys   : UTF-8, joined by "\\n", sorted
                                   hashes : n x 32 raw SHA-256 bytes
                                   sizes  : n x uint64

Columns rather than one JSON record per entry: a version of 1,000,000 objects
is ~40 MB of body that decompresses and splits in well under a second, and
its memory is one string per key plus two flat buffers.  The header comes
first and has its own length, so ``log`` reads it with one ranged GET.
"""

from __future__ import annotations

import bisect
import itertools
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import IntegrityError

__all__ = ["HEADER_PROBE", "Manifest", "decode", "decode_header", "encode"]

MAGIC = b"JDSMAN1\n"
FORMAT = "jasmin-access datastore manifest 1"
HEADER_PROBE = 64 << 10  # bytes fetched by a ranged GET when only the header is wanted
_PREFIX = len(MAGIC) + 4


@dataclass
class Manifest:
    """One version: logical key -> (SHA-256, size), plus who, when and why.

    Attributes
    ----------
    id
        The version ID (also its object name): time-ordered, unique.
    parent
        The ID of the version this one was made from (None for the first).
    keys
        Logical keys, sorted.
    digests
        ``32 * len(keys)`` bytes: the raw SHA-256 of each key's object.
    sizes
        Object sizes (uint64 array, parallel to ``keys``).
    metadata
        Zarr metadata documents (``zarr.json``, ``.zmetadata`` ...) inline, as text.
    """

    id: str
    parent: str | None
    created: str
    author: str
    message: str
    source: str = ""
    keys: list[str] = field(default_factory=list)
    digests: bytes = b""
    sizes: Any = field(default_factory=lambda: np.zeros(0, dtype="<u8"))
    metadata: dict[str, str] = field(default_factory=dict)
    new_objects: int = 0
    new_bytes: int = 0
    count: int = 0
    total_bytes: int = 0
    _sorted: bool | None = field(default=None, repr=False)
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.keys:
            self.count = len(self.keys)
            self.total_bytes = int(np.asarray(self.sizes, dtype="<u8").sum())

    # ------------------------------------------------------------------ lookups

    def digest_at(self, i: int) -> str:
        """Hex SHA-256 of entry ``i``."""
        return self.digests[32 * i : 32 * i + 32].hex()

    def keys_sorted(self) -> bool:
        """True when the keys are in order, as every push writes them (checked once)."""
        if self._sorted is None:
            keys = self.keys
            self._sorted = all(a <= b for a, b in itertools.pairwise(keys))
        return self._sorted

    def position(self, key: str) -> int | None:
        """Entry number of ``key``, or None: a binary search of the sorted keys (no index
        to build, so a version of 1,000,000 objects is ready as soon as it is parsed)."""
        keys = self.keys
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return i
        if self.keys_sorted():
            return None
        if self._index is None:  # a manifest written out of order: an index instead
            self._index = {k: n for n, k in enumerate(keys)}
        return self._index.get(key)

    def lookup(self, key: str) -> tuple[str, int] | None:
        """``(hex digest, size)`` of ``key``, or None when the version has no such key."""
        i = self.position(key)
        return None if i is None else (self.digest_at(i), int(self.sizes[i]))

    def raw_digests(self) -> set[bytes]:
        """The distinct raw digests referenced by this version."""
        d = self.digests
        return {d[i : i + 32] for i in range(0, len(d), 32)}

    def entries(self) -> dict[str, tuple[str, int]]:
        """Every entry as ``{key: (hex digest, size)}``."""
        return {k: (self.digest_at(i), int(self.sizes[i])) for i, k in enumerate(self.keys)}

    def same_content(self, other: Manifest) -> bool:
        """True when both versions map the same keys to the same bytes."""
        return (
            self.keys == other.keys
            and self.digests == other.digests
            and bool(np.array_equal(self.sizes, other.sizes))
        )

    def header(self) -> dict[str, Any]:
        """Everything but the entries (what ``log`` shows)."""
        return {
            "format": FORMAT,
            "id": self.id,
            "parent": self.parent,
            "created": self.created,
            "author": self.author,
            "message": self.message,
            "source": self.source,
            "count": self.count,
            "bytes": self.total_bytes,
            "new_objects": self.new_objects,
            "new_bytes": self.new_bytes,
            "metadata": self.metadata,
        }


def encode(manifest: Manifest) -> bytes:
    """The bytes of a manifest object."""
    if any("\n" in k for k in manifest.keys):
        raise ValueError("logical keys cannot contain a newline")
    keys_blob = "\n".join(manifest.keys).encode()
    header = manifest.header()
    header["keys_bytes"] = len(keys_blob)
    head = zlib.compress(json.dumps(header, separators=(",", ":")).encode(), 6)
    sizes = np.asarray(manifest.sizes, dtype="<u8").tobytes()
    body = zlib.compress(keys_blob + manifest.digests + sizes, 1)
    return MAGIC + struct.pack("<I", len(head)) + head + body


def _header_length(data: bytes, where: str) -> int:
    if len(data) < _PREFIX or data[: len(MAGIC)] != MAGIC:
        raise IntegrityError(
            f"{where} is not a datastore manifest (bad magic)",
            "the manifest object is damaged; remove that version with `datastore rm`",
        )
    return int(struct.unpack("<I", data[len(MAGIC) : _PREFIX])[0])


def header_size(data: bytes, where: str = "manifest") -> int:
    """Bytes needed from the start of a manifest object to read its header."""
    return _PREFIX + _header_length(data, where)


def decode_header(data: bytes, where: str = "manifest") -> dict[str, Any]:
    """The header of a manifest from (at least) its first :func:`header_size` bytes."""
    n = _header_length(data, where)
    try:
        header: dict[str, Any] = json.loads(zlib.decompress(data[_PREFIX : _PREFIX + n]))
    except (zlib.error, ValueError) as exc:
        raise IntegrityError(
            f"{where}: damaged manifest header ({exc})",
            "remove that version with `datastore rm` and push again",
        ) from exc
    return header


def _from_header(h: dict[str, Any]) -> Manifest:
    m = Manifest(
        id=str(h["id"]),
        parent=h.get("parent"),
        created=str(h.get("created", "")),
        author=str(h.get("author", "")),
        message=str(h.get("message", "")),
        source=str(h.get("source", "")),
        metadata=dict(h.get("metadata") or {}),
        new_objects=int(h.get("new_objects", 0)),
        new_bytes=int(h.get("new_bytes", 0)),
    )
    m.count, m.total_bytes = int(h.get("count", 0)), int(h.get("bytes", 0))
    return m


def decode(data: bytes, where: str = "manifest") -> Manifest:
    """Parse a whole manifest object.

    Raises
    ------
    IntegrityError
        Naming ``where`` when the object is truncated or damaged.
    """
    header = decode_header(data, where)
    m = _from_header(header)
    try:
        body = zlib.decompress(data[header_size(data, where) :])
    except zlib.error as exc:
        raise IntegrityError(
            f"{where}: damaged manifest body ({exc})",
            "remove that version with `datastore rm` and push again",
        ) from exc
    n, kb = m.count, int(header["keys_bytes"])
    if len(body) != kb + 40 * n:
        raise IntegrityError(f"{where}: manifest body has the wrong length", "push again")
    m.keys = body[:kb].decode().split("\n") if n else []
    m.digests = body[kb : kb + 32 * n]
    m.sizes = np.frombuffer(body, dtype="<u8", count=n, offset=kb + 32 * n)
    return m
