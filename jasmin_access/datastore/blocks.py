"""Reading objects of a datastore in fixed-size blocks, for the FUSE mount.

A block is fetched with one ranged GET and, while it is being read, kept in
memory.  A read that lands in block ``b`` starts the GETs of the next blocks
too, so a sequential reader finds them arrived.  The blocks a reader asked
for are also kept in a bounded local cache on disk (least recently used
blocks go first); the blocks fetched ahead of a sequential reader are not:
a file streamed through the mount is read once, the kernel's page cache keeps
its pages while memory allows, and copying each block to disk as well was
two thirds of the mount's CPU time per GiB.  Since objects are
content-addressed and never change, a block is named by the object's SHA-256
and its number, and a cached block is never stale.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import layout
from ._io import RootIO

__all__ = ["BLOCK", "BlockCache", "BlockReader"]

BLOCK = 8 << 20
READ_AHEAD = 6  # blocks fetched ahead of a sequential reader
WORKERS = 8
HOT_BLOCKS = 12  # blocks kept in memory: the kernel reads 128 KiB - 1 MiB at a time


class BlockCache:
    """Blocks of objects on local disk, at most ``limit`` bytes, least recently used out."""

    def __init__(self, directory: str, limit: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.limit = max(limit, BLOCK)
        self.used = 0
        self._lru: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes | None:
        """The cached block ``name``, or None."""
        with self._lock:
            if name not in self._lru:
                return None
            self._lru.move_to_end(name)
        try:
            return (self.dir / name).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, name: str, data: bytes) -> None:
        """Keep ``data`` as block ``name``, evicting old blocks past the limit."""
        tmp = self.dir / f".{name}.{threading.get_ident()}"
        tmp.write_bytes(data)
        os.replace(tmp, self.dir / name)
        with self._lock:
            self.used += len(data) - self._lru.pop(name, 0)
            self._lru[name] = len(data)
            while self.used > self.limit and len(self._lru) > 1:
                old, size = self._lru.popitem(last=False)
                self.used -= size
                (self.dir / old).unlink(missing_ok=True)


class BlockReader:
    """Byte ranges of content-addressed objects, served block by block.

    Parameters
    ----------
    io
        The datastore root the objects are read from.
    cache
        The local block cache.
    """

    def __init__(self, io: RootIO, cache: BlockCache) -> None:
        self.io, self.cache = io, cache
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="block")
        self.pending: dict[tuple[str, int], Future[bytes]] = {}
        self.recent: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.gets = 0

    def _fetch(self, digest: str, size: int, block: int, keep: bool) -> bytes:
        name = f"{digest}.{block}"
        data = self.cache.get(name)
        if data is not None:
            return data
        start = block * BLOCK
        data = self.io.get_range(layout.object_key(digest), start, min(start + BLOCK, size))
        self.gets += 1
        if keep:
            self.cache.put(name, data)
        return data

    def _start(self, digest: str, size: int, block: int, keep: bool) -> Future[bytes]:
        """The fetch of a block; ``keep``: also into the disk cache (asked for, not ahead)."""
        key = (digest, block)
        fut = self.pending.get(key)
        if fut is None:
            fut = self.pool.submit(self._fetch, digest, size, block, keep)
            self.pending[key] = fut
        return fut

    def block(self, digest: str, size: int, block: int) -> bytes:
        """Block ``block`` of an object: from memory, the read-ahead, the disk cache or a GET."""
        key = (digest, block)
        with self.lock:
            data = self.recent.get(key)
            if data is not None:
                self.recent.move_to_end(key)
                return data
            fut = self._start(digest, size, block, True)
            last = (size - 1) // BLOCK
            for ahead in range(block + 1, min(block + READ_AHEAD, last) + 1):
                if (digest, ahead) not in self.recent:
                    self._start(digest, size, ahead, False)
        data = fut.result()
        with self.lock:
            self.pending.pop(key, None)
            self.recent[key] = data
            while len(self.recent) > HOT_BLOCKS:
                self.recent.popitem(last=False)
            if len(self.pending) > 4 * READ_AHEAD:  # read-ahead nobody came for
                for done in [k for k, f in self.pending.items() if f.done()]:
                    del self.pending[done]
        return data

    def read_into(self, address: int, digest: str, total: int, offset: int, size: int) -> int:
        """Copy bytes ``[offset, offset + size)`` of an object to memory at ``address``.

        The FUSE reply buffer is filled straight from the blocks (no slice of
        a block is copied first); returns the number of bytes copied.
        """
        stop = min(offset + size, total)
        pos = offset
        while pos < stop:
            block = pos // BLOCK
            data = self.block(digest, total, block)
            lo = pos - block * BLOCK
            n = min(len(data) - lo, stop - pos)
            if n <= 0:
                break
            start = ctypes.cast(data, ctypes.c_void_p).value or 0  # the block's own bytes
            ctypes.memmove(address + pos - offset, start + lo, n)
            pos += n
        return pos - offset

    def read(self, digest: str, total: int, offset: int, size: int) -> bytes:
        """Bytes ``[offset, offset + size)`` of an object of ``total`` bytes."""
        stop = min(offset + size, total)
        block = offset // BLOCK
        if stop <= offset:
            return b""
        if (stop - 1) // BLOCK == block:  # the common case: inside one block
            lo = offset - block * BLOCK
            return self.block(digest, total, block)[lo : lo + stop - offset]
        out = []
        pos = offset
        while pos < stop:
            block = pos // BLOCK
            lo = pos - block * BLOCK
            piece = self.block(digest, total, block)[lo : lo + stop - pos]
            if not piece:
                break
            out.append(piece)
            pos += len(piece)
        return b"".join(out)

    def close(self) -> None:
        """Stop fetching."""
        self.pool.shutdown(wait=False, cancel_futures=True)
