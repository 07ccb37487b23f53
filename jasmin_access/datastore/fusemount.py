"""A read-only FUSE mount of one datastore version (mfusepy over libfuse).

Directory listings and file sizes come from the manifest, read once when
mounting: ``ls -lR`` sends no request to the store.  Reads fetch fixed-size
blocks of the file's object with ranged GETs, keep them in a bounded local
cache (least recently used blocks go first) and read a few blocks ahead when
a file is read sequentially, so a NetCDF file opens in place with netCDF4 or
xarray without being downloaded first.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, JasminAccessError
from . import layout
from ._io import RootIO
from .manifest import Manifest
from .repo import open_datastore

__all__ = ["BlockCache", "VersionFS", "mount", "unmount"]

log = logging.getLogger(__name__)

BLOCK = 8 << 20
READ_AHEAD = 4
CACHE_SECONDS = 86400
HOT_BLOCKS = 8  # blocks kept in memory: the kernel reads 128 KiB at a time from each
DEFAULT_CACHE = 1 << 30


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


def _fuse() -> Any:
    try:
        import mfusepy
    except (ImportError, OSError) as exc:  # OSError: libfuse itself is missing
        raise JasminAccessError(
            f"FUSE is not available here ({exc})",
            "install libfuse (Debian: apt-get install fuse3) and the mfusepy package",
        ) from exc
    return mfusepy


class VersionFS:
    """mfusepy operations serving one manifest read-only."""

    def __init__(self, io: RootIO, manifest: Manifest, cache: BlockCache) -> None:
        self.io, self.m, self.cache = io, manifest, cache
        self.when = layout.version_time(manifest.id).timestamp()
        self.files: dict[str, tuple[str, int]] = {}
        self.dirs: dict[str, list[str]] = {"/": []}
        for i, key in enumerate(manifest.keys):
            self.files["/" + key] = (manifest.digest_at(i), int(manifest.sizes[i]))
            parent = "/"
            for part in key.split("/"):
                path = parent.rstrip("/") + "/" + part
                if path not in self.dirs and path != "/" + key:
                    self.dirs[path] = []
                    self.dirs[parent].append(part)
                elif path == "/" + key:
                    self.dirs[parent].append(part)
                parent = path
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.pending: dict[str, Future[bytes]] = {}
        self.recent: OrderedDict[str, bytes] = OrderedDict()  # the blocks being read now
        self.lock = threading.Lock()
        self.reads = 0

    # -------------------------------------------------------------- metadata

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        base = {"st_uid": os.getuid(), "st_gid": os.getgid(), "st_nlink": 1}
        base.update(st_atime=self.when, st_mtime=self.when, st_ctime=self.when)
        if path in self.dirs:
            return {**base, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2, "st_size": 0}
        entry = self.files.get(path)
        if entry is None:
            raise _fuse().FuseOSError(errno.ENOENT)
        return {**base, "st_mode": stat.S_IFREG | 0o444, "st_size": entry[1]}

    def readdir(self, path: str, fh: Any) -> list[str]:
        if path not in self.dirs:
            raise _fuse().FuseOSError(errno.ENOTDIR)
        return [".", "..", *self.dirs[path]]

    def open(self, path: str, flags: int) -> int:
        if path not in self.files:
            raise _fuse().FuseOSError(errno.ENOENT)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC):
            raise _fuse().FuseOSError(errno.EROFS)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": BLOCK, "f_frsize": 1, "f_blocks": self.m.total_bytes, "f_namemax": 255}

    # -------------------------------------------------------------- data

    def _fetch(self, digest: str, size: int, block: int) -> bytes:
        name = f"{digest}.{block}"
        data = self.cache.get(name)
        if data is not None:
            return data
        start = block * BLOCK
        data = self.io.get_range(layout.object_key(digest), start, min(start + BLOCK, size))
        self.reads += 1
        self.cache.put(name, data)
        return data

    def _block(self, digest: str, size: int, block: int) -> bytes:
        """Block ``block`` of an object: from memory, the read-ahead, the disk cache or a GET."""
        name = f"{digest}.{block}"
        with self.lock:
            data = self.recent.get(name)
            if data is not None:
                self.recent.move_to_end(name)
                return data
            fut = self.pending.get(name) or self.pool.submit(self._fetch, digest, size, block)
            self.pending[name] = fut
            last = (size - 1) // BLOCK
            for ahead in range(block + 1, min(block + READ_AHEAD, last) + 1):
                key = f"{digest}.{ahead}"
                if key not in self.pending and key not in self.recent:
                    self.pending[key] = self.pool.submit(self._fetch, digest, size, ahead)
        data = fut.result()
        with self.lock:
            self.pending.pop(name, None)
            self.recent[name] = data
            while len(self.recent) > HOT_BLOCKS:
                self.recent.popitem(last=False)
            if len(self.pending) > 4 * READ_AHEAD:  # read-ahead nobody came for
                for key in [k for k, f in self.pending.items() if f.done()]:
                    del self.pending[key]
        return data

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        entry = self.files.get(path)
        if entry is None:
            raise _fuse().FuseOSError(errno.ENOENT)
        digest, total = entry
        stop = min(offset + size, total)
        out = []
        pos = offset
        try:
            while pos < stop:
                block = pos // BLOCK
                data = self._block(digest, total, block)
                lo = pos - block * BLOCK
                piece = data[lo : lo + (stop - pos)]
                if not piece:
                    break
                out.append(piece)
                pos += len(piece)
        except Exception as exc:
            log.error("reading %s of %s@%s: %s", path, self.io.url, self.m.id, exc)
            raise _fuse().FuseOSError(errno.EIO) from exc
        return b"".join(out)

    def destroy(self, path: str) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _operations(fs: VersionFS) -> Any:
    """Wrap :class:`VersionFS` in an ``mfusepy.Operations`` subclass."""
    mfusepy = _fuse()

    class Ops(mfusepy.Operations):  # type: ignore[misc]
        getattr = staticmethod(fs.getattr)
        readdir = staticmethod(fs.readdir)
        open = staticmethod(fs.open)
        read = staticmethod(fs.read)
        statfs = staticmethod(fs.statfs)
        destroy = staticmethod(fs.destroy)

    return Ops()


def serve(
    url: str,
    mountpoint: str,
    *,
    cache_dir: str | None = None,
    cache_size: int = DEFAULT_CACHE,
    **kw: Any,
) -> None:
    """Mount ``URL@V`` at ``mountpoint`` and serve until unmounted (foreground)."""
    ds, selector = open_datastore(url, **kw)
    vid = ds.require().select(selector)
    manifest = ds.manifest(vid)
    own = cache_dir is None
    directory = cache_dir or tempfile.mkdtemp(prefix="jasmin-mount-")
    fs = VersionFS(ds.io, manifest, BlockCache(directory, cache_size))
    try:
        _fuse().FUSE(
            _operations(fs),
            mountpoint,
            foreground=True,
            ro=True,
            nothreads=True,  # one loop: no thread hand-off per callback (reads run in a pool)
            attr_timeout=CACHE_SECONDS,  # a version never changes: let the kernel keep
            entry_timeout=CACHE_SECONDS,  # names and sizes for a day
            kernel_cache=True,
            fsname=f"jasmin-access:{ds.url}@{vid}"[:200],
        )
    finally:
        if own:
            shutil.rmtree(directory, ignore_errors=True)


def _check_mountpoint(mountpoint: str) -> str:
    path = os.path.abspath(mountpoint)
    if not os.path.isdir(path):
        raise InvalidInput(f"mount point {mountpoint} is not a directory", "create it first")
    if os.path.ismount(path):
        raise InvalidInput(f"{mountpoint} is already a mount point", "unmount it first")
    return path


def mount(
    url: str,
    mountpoint: str,
    *,
    cache_dir: str | None = None,
    cache_size: int = DEFAULT_CACHE,
    timeout: float = 60.0,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
) -> int:
    """Mount the version ``URL@V`` read-only at ``mountpoint`` in a background process.

    Returns the serving process's ID once the mount is there; stop it with
    :func:`unmount`.

    Raises
    ------
    JasminAccessError
        When the mount did not come up (the serving process's error is given).
    """
    path = _check_mountpoint(mountpoint)
    _fuse()
    argv = [sys.executable, "-c", "from jasmin_access.cli import main; main()"]
    argv += ["-q", "datastore", "mount", "--foreground", url, path]
    argv += ["--cache-size", str(cache_size)] + (["--cache-dir", cache_dir] if cache_dir else [])
    for flag, value in (("--profile", profile), ("--endpoint-url", endpoint_url)):
        if value:
            argv += [flag, value]
    if anon:
        argv.append("--anon")
    with tempfile.TemporaryFile() as log_file:
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=log_file, start_new_session=True
        )
        _wait_for_mount(proc, path, url, log_file, timeout)
    return int(proc.pid)


def _wait_for_mount(proc: Any, path: str, url: str, log_file: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.ismount(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            log_file.seek(0)
            lines = log_file.read().decode(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"exit code {proc.returncode}"
            reason = reason.removeprefix("jasmin-access: error: ")
            raise JasminAccessError(f"mounting {url} failed: {reason}")
        time.sleep(0.05)


def unmount(mountpoint: str) -> None:
    """Unmount a datastore mount (``fusermount3 -u``, else ``fusermount -u`` / ``umount``)."""
    path = os.path.abspath(mountpoint)
    if not os.path.ismount(path):
        raise InvalidInput(f"{mountpoint} is not mounted", "nothing to unmount")
    for tool in (["fusermount3", "-u"], ["fusermount", "-u"], ["umount"]):
        if shutil.which(tool[0]):
            done = subprocess.run([*tool, path], capture_output=True, text=True)
            if done.returncode == 0:
                return
            last = done.stderr.strip()
    raise JasminAccessError(f"could not unmount {mountpoint}: {last or 'no unmount tool'}")
