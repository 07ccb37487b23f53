"""A local, size-bounded, least-recently-used cache of chunk objects.

Re-reading the same data in a notebook then costs no network.  Entries are
files named by a hash of (store, key, byte range) under a directory per store;
a hit refreshes the file's modification time, and when the cache grows past
its bound the least recently used files are removed.  Only chunk bytes are
kept: never metadata, URLs with credentials, or secrets.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.storage import WrapperStore

from ..errors import InvalidInput
from ..zarrkeys import is_metadata_key

__all__ = ["DEFAULT_CACHE_DIR", "CachingStore", "ChunkCache", "parse_size"]

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "~/.cache/jasmin-access/chunks"
_UNITS = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_UNITS.update({"KI": 1024, "MI": 1024**2, "GI": 1024**3, "TI": 1024**4})


def parse_size(text: str | int | float) -> int:
    """``"2GB"`` → ``2000000000``; ``"512MiB"`` → ``536870912``; numbers pass through."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]I?)?B?\s*", str(text).upper())
    if not m:
        raise InvalidInput(f"invalid size '{text}'", "write it like 2GB, 500MB or 1GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2) or ""])


class ChunkCache:
    """An on-disk LRU cache of bytes with a total size bound.

    Parameters
    ----------
    directory
        Cache directory (``~`` expanded, created on first write).
    max_bytes
        Size bound; the least recently used entries are evicted beyond it.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int | str) -> None:
        self.directory = Path(directory).expanduser()
        self.max_bytes = parse_size(max_bytes)
        self._lock = threading.Lock()
        self._total: int | None = None
        self.hits = 0
        self.misses = 0

    def _path(self, namespace: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.directory / namespace / digest[:2] / digest[2:]

    def get(self, namespace: str, key: str) -> bytes | None:
        """The cached bytes, refreshing the entry's recency, or None."""
        path = self._path(namespace, key)
        try:
            data = path.read_bytes()
            os.utime(path)
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, namespace: str, key: str, data: bytes) -> None:
        """Store ``data``, then evict old entries if the bound is exceeded."""
        if len(data) > self.max_bytes:
            return
        path = self._path(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        with self._lock:
            self._total = (self._total if self._total is not None else self.size()) + len(data)
            if self._total > self.max_bytes:
                self._total = self._evict()

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        for root, _dirs, files in os.walk(self.directory):
            for name in files:
                path = Path(root, name)
                try:
                    st = path.stat()
                except OSError:
                    continue
                out.append((st.st_mtime, st.st_size, path))
        return out

    def size(self) -> int:
        """Total bytes held."""
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> int:
        entries = sorted(self._entries(), key=lambda e: e[0])
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * 0.9)
        for _mtime, size, path in entries:
            if total <= target:
                break
            try:
                path.unlink()
                total -= size
            except OSError:
                continue
        log.debug("chunk cache %s evicted down to %d bytes", self.directory, total)
        return total

    def clear(self) -> None:
        """Remove every entry."""
        for _, _, path in self._entries():
            path.unlink(missing_ok=True)
        self._total = 0


def _range_suffix(byte_range: Any) -> str:
    if byte_range is None:
        return ""
    if isinstance(byte_range, RangeByteRequest):
        return f"@{byte_range.start}-{byte_range.end}"
    if isinstance(byte_range, OffsetByteRequest):
        return f"@{byte_range.offset}-"
    if isinstance(byte_range, SuffixByteRequest):
        return f"@-{byte_range.suffix}"
    return f"@{byte_range!r}"


class CachingStore(WrapperStore[Any]):
    """A read-only zarr store that keeps chunk reads in a :class:`ChunkCache`.

    Parameters
    ----------
    store
        The store to read through.
    cache
        The cache.
    namespace
        Directory name for this store's entries (a hash of its location and
        root metadata, so a rewritten store never serves stale chunks).
    """

    def __init__(self, store: Any, cache: ChunkCache, namespace: str) -> None:
        super().__init__(store)
        self.cache = cache
        self.namespace = namespace

    def _with_store(self, store: Any) -> CachingStore:
        return type(self)(store, self.cache, self.namespace)

    def __str__(self) -> str:
        return str(self._store)

    def __repr__(self) -> str:
        return f"CachingStore({self._store!r}, {str(self.cache.directory)!r})"

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if is_metadata_key(key):
            return await self._store.get(key, prototype, byte_range)
        entry = key + _range_suffix(byte_range)
        data = self.cache.get(self.namespace, entry)
        if data is not None:
            return prototype.buffer.from_bytes(data)
        value = await self._store.get(key, prototype, byte_range)
        if value is not None:
            self.cache.put(self.namespace, entry, value.to_bytes())
        return value


def namespace_for(identity: str, root_document: bytes) -> str:
    """Cache namespace of a store: its identity and root metadata, hashed."""
    h = hashlib.sha256(identity.encode())
    h.update(b"\0")
    h.update(root_document)
    return h.hexdigest()[:32]
