"""A read-only FUSE mount of one datastore version (mfusepy over libfuse).

A version never changes, so everything the kernel may cache it caches for a
day: names, attributes, missing names and file pages.  Directory listings
and sizes come from the manifest, read once when mounting, and every
directory is answered in one call with each entry's attributes
(``readdirplus``): ``ls -lR`` sends no request to the store and costs one
call into Python per directory, not one per entry.  Reads go through
:class:`~jasmin_access.datastore.blocks.BlockReader` (ranged GETs of 8 MiB
blocks, read-ahead, a bounded local cache), so a NetCDF file opens in place
with netCDF4 or xarray without being downloaded first.
"""

from __future__ import annotations

import ctypes
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
from typing import Any

from ..errors import InvalidInput, JasminAccessError
from . import layout
from .blocks import BLOCK, BlockCache, BlockReader
from .keylist import KeyList
from .manifest import Manifest
from .repo import open_datastore

__all__ = ["BlockCache", "VersionFS", "mount", "unmount"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 86400
DEFAULT_CACHE = 1 << 30
SWITCH_SECONDS = 0.0005
READ_AHEAD_KB = 32 << 10  # the kernel's read-ahead on the mount (root only): 1 MiB requests
FILL_DIR_PLUS = 2  # enum fuse_fill_dir_flags: the entry carries its attributes
READDIR_PLUS = 1  # enum fuse_readdir_flags: the kernel asked for attributes
CAP_READDIRPLUS, CAP_READDIRPLUS_AUTO = 1 << 13, 1 << 14
DIR = -1  # entry index of a directory in a listing
KEPT_ENTRIES = 250_000  # listings kept ready (the kernel reads a large one in several calls)


def _fuse() -> Any:
    try:
        import mfusepy
    except (ImportError, OSError) as exc:  # OSError: libfuse itself is missing
        raise JasminAccessError(
            f"FUSE is not available here ({exc})",
            "install libfuse (Debian: apt-get install fuse3) and the mfusepy package",
        ) from exc
    return mfusepy


def children(keys: KeyList, directory: str) -> list[tuple[bytes, int]]:
    """Entries of ``directory`` (``""`` for the top) as ``(name, entry number or DIR)``.

    Read straight from the sorted key buffer: the keys below a directory are
    one run of it (two binary searches), a run holding no deeper ``/`` is all
    files and is split in one go, and otherwise each sub-directory is stepped
    over with one galloping search.  Nothing is built when mounting and
    nothing is kept for the whole tree.  A key that is also the prefix of
    others shows as the directory.
    """
    prefix = directory.encode("utf-8", "surrogateescape") + b"/" if directory else b""
    lo, hi = keys.under(prefix)
    if lo >= hi:
        return []
    cut, s = len(prefix), keys.starts
    if keys.blob.count(b"/", s[lo], s[hi]) == (hi - lo) * prefix.count(b"/"):  # files only
        return [(raw[cut:], lo + n) for n, raw in enumerate(keys.run(lo, hi))]
    out: dict[bytes, int] = {}
    i = lo
    while i < hi:
        rest = keys.raw(i)[cut:]
        name, slash, _ = rest.partition(b"/")
        if slash:
            out[name] = DIR
            i = keys.gallop(prefix + name + b"0", i + 1, hi)  # "0" follows "/"
        else:
            out.setdefault(name, i)
            i += 1
    return list(out.items())


class VersionFS:
    """mfusepy operations serving one manifest read-only."""

    def __init__(self, reader: BlockReader, manifest: Manifest) -> None:
        self.m, self.reader = manifest, reader
        self.when = layout.version_time(manifest.id).timestamp()
        self.keys: KeyList = manifest.keys  # the keys in order, and where each is
        self.order: list[int] | None = None
        if not manifest.keys_sorted():  # only a manifest not written by a push
            self.keys, self.order = manifest.keys.sorted_order()
        self.sizes = manifest.sizes
        self._listings: OrderedDict[str, list[tuple[bytes, int]]] = OrderedDict()
        self._kept = 0  # entries in the listings kept
        self._stats: dict[str, Any] | None = None

    # -------------------------------------------------------------- metadata

    def _entry(self, path: str) -> int | None:
        """Manifest entry number of the file ``path``."""
        return self.m.position(path[1:])

    def _base(self) -> dict[str, Any]:
        return {"st_uid": os.getuid(), "st_gid": os.getgid(), "st_nlink": 1,
                "st_atime": self.when, "st_mtime": self.when, "st_ctime": self.when,
                "st_blksize": BLOCK}  # fmt: skip

    def _is_dir(self, path: str) -> bool:
        if path == "/":
            return True
        keys, prefix = self.keys, path[1:].encode("utf-8", "surrogateescape") + b"/"
        i = keys.bisect(prefix)
        return i < len(keys) and keys.raw(i).startswith(prefix)

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        if self._is_dir(path):
            return {**self._base(), "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        i = self._entry(path)
        if i is None:
            raise _fuse().FuseOSError(errno.ENOENT)
        size = int(self.sizes[i])
        return {**self._base(), "st_mode": stat.S_IFREG | 0o444, "st_size": size,
                "st_blocks": (size + 511) // 512}  # fmt: skip

    def readdir(self, path: str, fh: Any) -> list[str]:
        if not self._is_dir(path):
            raise _fuse().FuseOSError(errno.ENOTDIR)
        names = (n.decode("utf-8", "surrogateescape") for n, _ in children(self.keys, path[1:]))
        return [".", "..", *names]

    def listing(self, path: str) -> list[tuple[bytes, int]]:
        """Entries of directory ``path`` as ``(name, size or DIR)``, the latest kept."""
        out = self._listings.get(path)
        if out is None:
            if not self._is_dir(path):
                raise _fuse().FuseOSError(errno.ENOTDIR)
            sizes, order = self.sizes, self.order
            out = [(n, DIR if i == DIR else sizes[i if order is None else order[i]])
                   for n, i in children(self.keys, path[1:])]  # fmt: skip
            self._listings[path] = out
            self._kept += len(out)
            while self._kept > KEPT_ENTRIES and len(self._listings) > 1:
                self._kept -= len(self._listings.popitem(last=False)[1])
        return out

    def stat_templates(self) -> tuple[Any, Any]:
        """A ``struct stat`` for directories and one for files (size set per entry)."""
        mfusepy = _fuse()
        d, f = mfusepy.c_stat(), mfusepy.c_stat()
        mfusepy.set_st_attrs(d, self.getattr("/"), use_ns=False)
        mfusepy.set_st_attrs(f, {**self._base(), "st_mode": stat.S_IFREG | 0o444})
        return d, f

    def open(self, path: str, flags: int) -> int:
        i = self._entry(path)
        if i is None:
            raise _fuse().FuseOSError(errno.ENOENT)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC):
            raise _fuse().FuseOSError(errno.EROFS)
        return i  # the file handle is the entry's index: no lookup per read

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": BLOCK, "f_frsize": 1, "f_blocks": self.m.total_bytes, "f_namemax": 255}

    # -------------------------------------------------------------- data

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        try:
            return self.reader.read(self.m.digest_at(fh), int(self.sizes[fh]), offset, size)
        except Exception as exc:
            log.error("reading %s of %s@%s: %s", path, self.reader.io.url, self.m.id, exc)
            raise _fuse().FuseOSError(errno.EIO) from exc

    def read_into(self, address: int, size: int, offset: int, fh: int) -> int:
        """:meth:`read` straight into the reply buffer at ``address``."""
        try:
            return self.reader.read_into(
                address, self.m.digest_at(fh), int(self.sizes[fh]), offset, size
            )
        except Exception as exc:
            log.error("reading %s@%s: %s", self.reader.io.url, self.m.id, exc)
            raise _fuse().FuseOSError(errno.EIO) from exc

    def init_with_config(self, conn: Any, config: Any) -> None:
        if conn is not None and conn.capable & CAP_READDIRPLUS:  # attributes with every listing
            conn.want = (conn.want | CAP_READDIRPLUS) & ~CAP_READDIRPLUS_AUTO

    def destroy(self, path: str) -> None:
        self.reader.close()


def _operations(fs: VersionFS) -> Any:
    """Wrap :class:`VersionFS` in an ``mfusepy.Operations`` subclass."""
    mfusepy = _fuse()

    class Ops(mfusepy.Operations):  # type: ignore[misc]
        use_ns = False
        getattr = staticmethod(fs.getattr)
        readdir = staticmethod(fs.readdir)
        open = staticmethod(fs.open)
        read = staticmethod(fs.read)
        statfs = staticmethod(fs.statfs)
        init_with_config = staticmethod(fs.init_with_config)
        destroy = staticmethod(fs.destroy)

    return Ops()


def _fuse_class(fs: VersionFS) -> Any:
    """``mfusepy.FUSE`` answering each listing in one call, attributes included.

    mfusepy's own ``readdir`` passes the entry type only, so the kernel asks
    for every entry's attributes again, one call into Python each.  Here a
    listing is a few calls (one per kernel buffer) with all attributes.
    """
    mfusepy = _fuse()
    if mfusepy.fuse_version_major != 3:
        return mfusepy.FUSE
    dstat, fstat = fs.stat_templates()

    class PlusFUSE(mfusepy.FUSE):  # type: ignore[misc]
        def read(self, path: Any, buf: Any, size: int, offset: int, fip: Any) -> int:
            return fs.read_into(ctypes.addressof(buf.contents), size, offset, fip.contents.fh)

        def readdir_fuse_3(self, path: Any, buf: Any, filler: Any, offset: int, fip: Any,
                           flags: int) -> int:  # fmt: skip
            # entries carry their position + 1 as offset: libfuse then hands each one
            # to the kernel with its attributes as it goes (with offset 0 it keeps the
            # whole listing but sends the attributes as unknown)
            entries = fs.listing(path.decode("utf-8", "surrogateescape"))
            plus = FILL_DIR_PLUS if flags & READDIR_PLUS else 0
            for pos in range(offset, 2):
                if filler(buf, b"." * (pos + 1), dstat, pos + 1, 0):
                    return 0
            for pos in range(max(offset, 2), len(entries) + 2):
                name, size = entries[pos - 2]
                if size == DIR:
                    st = dstat
                else:
                    st = fstat
                    st.st_size, st.st_blocks = size, (size + 511) // 512
                if filler(buf, name, st, pos + 1, plus):
                    break
            return 0

    return PlusFUSE


def _raise_read_ahead(mountpoint: str) -> None:
    """Let the kernel read ahead ``READ_AHEAD_KB`` on the mount (needs root; else kept)."""
    deadline = time.monotonic() + 30
    while not os.path.ismount(mountpoint):
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
    dev = os.stat(mountpoint).st_dev
    knob = f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb"
    try:
        with open(knob, "w") as fh:
            fh.write(str(READ_AHEAD_KB))
    except OSError as exc:
        log.info("kernel read-ahead of %s left as it is (%s)", mountpoint, exc)


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
    fs = VersionFS(BlockReader(ds.io, BlockCache(directory, cache_size)), manifest)
    # this process only serves the mount: hand the interpreter lock over more often, so a
    # kernel request waits less behind the threads receiving blocks
    sys.setswitchinterval(SWITCH_SECONDS)
    threading.Thread(target=_raise_read_ahead, args=(mountpoint,), daemon=True).start()
    try:
        _fuse_class(fs)(
            _operations(fs),
            mountpoint,
            foreground=True,
            ro=True,
            nothreads=True,  # one loop: no thread hand-off per request (blocks come from a pool)
            attr_timeout=CACHE_SECONDS,  # a version never changes: let the kernel keep
            entry_timeout=CACHE_SECONDS,  # names and sizes for a day
            negative_timeout=CACHE_SECONDS,
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
