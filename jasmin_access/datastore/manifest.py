"""Version manifests: one immutable, compact object per version.

Layout of a manifest object (little-endian)::

    b"JDSMAN2\\n"                 8 bytes of magic (format 2)
    u32 H                        length of the compressed header
    zlib(JSON header)            id, parent, created, author, message, source,
                                 counts, the Zarr metadata documents inline,
                                 and ``sections``: [name, stored length, codec]
    sections, in order:
      keys     zlib   UTF-8, joined by "\\n", sorted
      starts   zlib   n + 1 offsets (u32, or u64 past 4 GiB of keys): key i is
                      keys[starts[i] : starts[i + 1] - 1]
      digests  raw    n x 32 raw SHA-256 bytes (random: nothing to compress)
      sizes    zlib   n x uint64
      inline   zlib   the bytes of the small objects held inline (header
                      ``inline``: [digest, length] pairs in order), concatenated

Columns rather than one JSON record per entry, and the keys kept as the one
buffer they are stored as (:class:`~jasmin_access.datastore.keylist.KeyList`):
a version of 1,000,000 objects is parsed with a few decompressions and no
Python object per entry, and a key is found by a binary search of the bytes.
The header comes first and has its own length, so ``log`` reads it with one
ranged GET.  Format 1 (``JDSMAN1``: the same columns in one zlib stream,
without ``starts``) is still read.

Small objects (coordinate chunks of a few hundred bytes: the ones every
open reads) are also held inline, up to :data:`INLINE_OBJECT` bytes each and
:data:`INLINE_TOTAL` per manifest, so opening a version needs no GET beyond
the manifest.  They are uploaded as objects all the same: ``verify``,
``get``, the mount and ``gc`` never depend on the inline copy.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import zlib
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from .keylist import KeyList, as_keys

__all__ = ["HEADER_PROBE", "Manifest", "decode", "decode_header", "encode"]

MAGIC = b"JDSMAN2\n"
MAGIC_1 = b"JDSMAN1\n"  # format 1: still read
FORMAT = "jasmin-access datastore manifest 2"
HEADER_PROBE = 64 << 10  # bytes fetched by a ranged GET when only the header is wanted
INLINE_OBJECT = 4096  # objects up to this size are held inline ...
INLINE_TOTAL = 1 << 20  # ... up to this many bytes per manifest
_PREFIX = len(MAGIC) + 4
SECTIONS = ("keys", "starts", "digests", "sizes", "inline")
PIECE = 4 << 20  # a section is compressed in independent pieces of this many bytes


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
        Logical keys, sorted: a :class:`~jasmin_access.datastore.keylist.KeyList`
        (a list of strings given here is turned into one).
    digests
        ``32 * len(keys)`` bytes: the raw SHA-256 of each key's object.
    sizes
        Object sizes (``array("Q")``, parallel to ``keys``).
    metadata
        Zarr metadata documents (``zarr.json``, ``.zmetadata`` ...) inline, as text.
    inline
        Hex SHA-256 -> bytes of the small objects held inline.
    """

    id: str
    parent: str | None
    created: str
    author: str
    message: str
    source: str = ""
    keys: Any = field(default_factory=KeyList)
    digests: bytes = b""
    sizes: Any = field(default_factory=lambda: array("Q"))
    metadata: dict[str, str] = field(default_factory=dict)
    inline: dict[str, bytes] = field(default_factory=dict)
    new_objects: int = 0
    new_bytes: int = 0
    count: int = 0
    total_bytes: int = 0
    _sorted: bool | None = field(default=None, repr=False)
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.keys = as_keys(self.keys)
        self.sizes = as_sizes(self.sizes)
        if len(self.keys):
            self.count = len(self.keys)
            self.total_bytes = sum(self.sizes)

    # ------------------------------------------------------------------ lookups

    def digest_at(self, i: int) -> str:
        """Hex SHA-256 of entry ``i``."""
        return self.digests[32 * i : 32 * i + 32].hex()

    def keys_sorted(self) -> bool:
        """True when the keys are in order, as every push writes them (checked once)."""
        if self._sorted is None:
            self._sorted = self.keys.is_sorted()
        return self._sorted

    def position(self, key: str) -> int | None:
        """Entry number of ``key``, or None: a binary search of the sorted key buffer (no
        index to build, so a version of 1,000,000 objects is ready as soon as it is read)."""
        if self.keys_sorted():
            return self.keys.find(key)
        if self._index is None:  # a manifest written out of order: an index instead
            self._index = {k: n for n, k in enumerate(self.keys)}
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
            and as_sizes(self.sizes) == as_sizes(other.sizes)
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


def as_sizes(values: Any) -> array[int]:
    """Object sizes as a flat ``array('Q')`` (from a list, a NumPy array or an array).

    Plain arrays rather than NumPy: a push or an open of a version need not import it.
    """
    if isinstance(values, array) and values.typecode == "Q":
        return values
    out = array("Q")
    if hasattr(values, "astype"):  # a NumPy array: its bytes, without a Python int each
        out.frombytes(values.astype("<u8").tobytes())
        return _little(out)
    out.extend(int(v) for v in values)
    return out


def _little(values: array[int]) -> array[int]:
    """``values`` with little-endian bytes, the order of the manifest (a no-op on most hosts)."""
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values


def encode(manifest: Manifest) -> bytes:
    """The bytes of a manifest object (format 2)."""
    keys = as_keys(manifest.keys)
    header = manifest.header()
    header["keys_bytes"] = len(keys.blob)
    header["sorted"] = manifest.keys_sorted()
    header["starts"] = keys.starts.itemsize
    header["inline"] = [[d, len(b)] for d, b in manifest.inline.items()]
    raw = {
        "keys": keys.blob,
        "starts": _little(keys.starts).tobytes(),
        "digests": manifest.digests,
        "sizes": _little(as_sizes(manifest.sizes)).tobytes(),
        "inline": b"".join(manifest.inline.values()),
    }
    pieces = {k: [v] if k == "digests" else _deflate(v) for k, v in raw.items()}
    header["sections"] = [[k, [len(p) for p in pieces[k]], "raw" if k == "digests" else "zlib"]
                          for k in SECTIONS]  # fmt: skip
    head = zlib.compress(json.dumps(header, separators=(",", ":")).encode(), 6)
    body = b"".join(p for k in SECTIONS for p in pieces[k])
    return MAGIC + struct.pack("<I", len(head)) + head + body


def _deflate(data: bytes) -> list[bytes]:
    """``data`` compressed as independent pieces of :data:`PIECE` bytes (inflated in parallel)."""
    view = memoryview(data)
    return [zlib.compress(view[i : i + PIECE], 1) for i in range(0, len(data), PIECE)] or [
        zlib.compress(b"", 1)
    ]


def _header_length(data: bytes, where: str) -> int:
    if (
        len(data) >= _PREFIX
        and data[:6] == b"JDSMAN"
        and data[: len(MAGIC)] not in (MAGIC, MAGIC_1)
    ):
        raise IntegrityError(
            f"{where} is a datastore manifest of format {data[6:7].decode(errors='replace')}, "
            "newer than this jasmin-access reads",
            "upgrade jasmin-access (pip install -U jasmin-access); the version is intact",
        )
    if len(data) < _PREFIX or data[: len(MAGIC)] not in (MAGIC, MAGIC_1):
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
        raise _damaged(where, "header", exc) from exc
    return header


def _damaged(where: str, part: str, why: object) -> IntegrityError:
    return IntegrityError(
        f"{where}: damaged manifest {part} ({why})",
        "remove that version with `datastore rm` and push again",
    )


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


def _sections(data: bytes, start: int, header: dict[str, Any], where: str) -> dict[str, bytes]:
    """The format-2 sections of a manifest's body, the pieces inflated in parallel threads
    (``zlib`` lets go of the interpreter lock)."""
    view, pos, jobs = memoryview(data), start, []
    try:
        for name, lengths, codec in header["sections"]:
            for length in lengths:
                jobs.append((str(name), view[pos : pos + int(length)], codec))
                pos += int(length)
        if pos != len(data) or {j[0] for j in jobs} != set(SECTIONS):
            raise ValueError("wrong length")
        with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
            done = list(pool.map(_inflate, jobs))
    except (zlib.error, KeyError, TypeError, ValueError) as exc:
        raise _damaged(where, "body", exc) from exc
    out: dict[str, list[bytes]] = {}
    for (name, _piece, _codec), piece in zip(jobs, done, strict=True):
        out.setdefault(name, []).append(piece)
    return {name: p[0] if len(p) == 1 else b"".join(p) for name, p in out.items()}


def _inflate(job: tuple[str, memoryview, str]) -> bytes:
    _name, piece, codec = job
    return zlib.decompress(piece) if codec == "zlib" else bytes(piece)


def _sections_1(data: bytes, start: int, header: dict[str, Any], where: str) -> dict[str, bytes]:
    """The columns of a format-1 manifest's body (one zlib stream, no key offsets)."""
    try:
        body = zlib.decompress(data[start:])
    except zlib.error as exc:
        raise _damaged(where, "body", exc) from exc
    n, kb = int(header.get("count", 0)), int(header["keys_bytes"])
    return {"keys": body[:kb], "digests": body[kb : kb + 32 * n],
            "sizes": body[kb + 32 * n : kb + 40 * n], "inline": body[kb + 40 * n :]}  # fmt: skip


def _keys(parts: dict[str, bytes], header: dict[str, Any], n: int, where: str) -> KeyList:
    blob = parts["keys"]
    if "starts" not in parts:  # format 1: the offsets found from the keys
        keys = KeyList.from_blob(blob, n)
    else:
        starts = array("I" if int(header.get("starts", 4)) == 4 else "Q")
        starts.frombytes(parts["starts"])
        keys = KeyList(blob, _little(starts))
    ok = len(blob) == int(header["keys_bytes"]) and len(keys) == n
    if not ok or (n and (keys.starts[0] != 0 or keys.starts[-1] != len(blob) + 1)):
        raise _damaged(where, "body", "keys do not match their count")
    return keys


def decode(data: bytes, where: str = "manifest") -> Manifest:
    """Parse a whole manifest object (format 2, or format 1 as written before).

    Raises
    ------
    IntegrityError
        Naming ``where`` when the object is truncated or damaged.
    """
    header = decode_header(data, where)
    m = _from_header(header)
    start, n = header_size(data, where), m.count
    reader = _sections if data[: len(MAGIC)] == MAGIC else _sections_1
    parts = reader(data, start, header, where)
    inline = [(str(d), int(size)) for d, size in header.get("inline") or []]
    if (len(parts["digests"]) != 32 * n or len(parts["sizes"]) != 8 * n
            or len(parts["inline"]) != sum(size for _d, size in inline)):  # fmt: skip
        raise IntegrityError(f"{where}: manifest body has the wrong length", "push again")
    m.keys = _keys(parts, header, n, where)
    if "sorted" in header:
        m._sorted = bool(header["sorted"])
    m.digests = parts["digests"]
    m.sizes = array("Q")
    m.sizes.frombytes(parts["sizes"])
    m.sizes = _little(m.sizes)
    end = 0
    for digest, size in inline:
        m.inline[digest] = parts["inline"][end : end + size]
        end += size
    return m
