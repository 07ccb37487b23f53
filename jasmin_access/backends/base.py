"""The :class:`Backend` base: what a storage kind can do (flags) and its verbs.

A backend instance stands for one keyspace reached one way (an S3 endpoint
with one profile, one WebDAV server as one user, one local directory).  Code
outside this package never asks *which* kind a location is: it reads the
capability flags in :attr:`Backend.caps` or calls a verb.

Paths handed to the verbs are paths on the backend's fsspec filesystem
(``bucket/key`` on S3, absolute paths locally, ``dir/file`` on WebDAV);
:meth:`Backend.to_url` names them back in the backend's own URL form.

The verbs implemented here work for any fsspec filesystem (the generic
backend uses them as they are); kinds with faster native calls override them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any, ClassVar

from .. import paths
from ..caches import BoundedCache
from ..config import Profile
from ..errors import IntegrityError, NotSupported, ReadOnly, translate
from ._listing import Listing
from .capabilities import Capabilities, Obj, Request, Tick, _noop, choose_profile, is_marker
from .checksums import STREAM_BLOCK, HashingReader, check_read
from .fanout import in_order

__all__ = [
    "Backend",
    "Capabilities",
    "Obj",
    "Request",
    "Tick",
    "choose_profile",
    "clear_caches",
    "instance",
    "is_marker",
]

log = logging.getLogger(__name__)

DELETE_WORKERS = 8
READ_WINDOW = 64  # objects read at once by read_many (about 15 ms a request)


def _rebuild(cls: type[Backend], profile: Profile | None, args: tuple[Any, ...]) -> Backend:
    return instance(cls, profile, *args)


class Backend(Listing):
    """Base class of every storage kind (see the module docstring).

    Subclasses set :attr:`scheme`, :attr:`caps`, implement :meth:`filesystem`
    and may override any verb.  Instances are shared per ``(class, profile,
    args)`` by :func:`jasmin_access.backends.instance` and pickle by profile
    (which pickles without secrets).
    """

    scheme: ClassVar[str] = ""
    name: ClassVar[str] = ""  # shown to users; the scheme when empty
    caps: ClassVar[Capabilities] = Capabilities()
    url_root: str = ""
    fs_root: str = ""

    def __init__(self, profile: Profile | None = None, *args: Any) -> None:
        self.profile = profile
        self.args = args

    # ------------------------------------------------------------------ making one

    @classmethod
    def credential_key(cls, profile: Profile | None) -> tuple[Any, ...]:
        """What, besides the profile, decides the client (credentials from the environment)."""
        return ()

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``(backend, fs path)`` for a URL ``text`` whose part after ``scheme://`` is ``rest``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ identity

    @property
    def identity(self) -> str:
        """A secret-free string naming this keyspace (used in cache keys)."""
        prof = self.profile
        return f"{self.scheme}:{prof.name if prof else ''}:{self.fs_root}:{self.args!r}"

    @property
    def profile_name(self) -> str | None:
        """Name of the profile, for messages."""
        return self.profile.name if self.profile else None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.profile, self.args))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.identity})"

    # ------------------------------------------------------------------ paths and URLs

    def fs_path(self, rest: str) -> str:
        """The fs path for what follows ``scheme://`` in a URL (already validated)."""
        return self.join(self.fs_root, rest) if self.fs_root else rest

    def relative(self, fs_path: str) -> str:
        """``fs_path`` relative to the keyspace root."""
        if self.fs_root and fs_path.startswith(self.fs_root):
            return fs_path[len(self.fs_root) :].lstrip("/")
        return fs_path.lstrip("/")

    def to_url(self, fs_path: str) -> str:
        """Name a path on the filesystem in this backend's URL form."""
        return self.url_root + self.relative(fs_path)

    def join(self, base: str, rel: str) -> str:
        """Join an fs path and a ``/``-separated relative key (a leading ``/`` is kept)."""
        if not rel:
            return base
        out = paths.join(base, rel)
        return "/" + out if base.startswith("/") else out

    def parent(self, fs_path: str) -> str:
        """The directory holding ``fs_path`` (a leading ``/`` is kept)."""
        return paths.parent(fs_path)

    def split(self, fs_path: str) -> tuple[str, str]:
        """``(bucket, key)`` of an fs path (bucket ``""`` without buckets)."""
        rel = self.relative(fs_path)
        return paths.split_bucket(rel) if self.caps.buckets else ("", rel)

    def is_root(self, fs_path: str) -> bool:
        """True at a bucket root (or the whole keyspace without buckets)."""
        return self.split(fs_path)[1] == ""

    def hint_url(self, example: str = "") -> str:
        """An example URL in this backend's form, for hints."""
        return self.url_root + example

    # ------------------------------------------------------------------ clients

    def filesystem(self, asynchronous: bool = False) -> Any:
        """A new fsspec filesystem (the one client factory of this backend)."""
        raise NotSupported(f"{self.scheme}:// has no filesystem")

    @cached_property
    def fs(self) -> Any:
        """The shared synchronous filesystem."""
        return self.filesystem()

    def async_filesystem(self) -> Any:
        """A filesystem usable from another event loop (zarr's, kerchunk's)."""
        fs = self.filesystem(asynchronous=True)
        if not (getattr(fs, "async_impl", False) and getattr(fs, "asynchronous", False)):
            from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

            fs = AsyncFileSystemWrapper(fs, asynchronous=True)
        return fs

    def zarr_store(self, fs_path: str, *, read_only: bool = False) -> Any:
        """A zarr v3 store rooted at ``fs_path`` (the one zarr-store factory)."""
        import zarr.storage

        read_only = read_only or self.caps.read_only
        return zarr.storage.FsspecStore(
            fs=self.async_filesystem(), path=fs_path, read_only=read_only
        )

    def translate(self, exc: BaseException) -> BaseException | None:
        """This backend's own errors as builtin ones (``None``: leave to the common rules)."""
        return None

    def require_writable(self, url: str) -> None:
        """Raise :class:`ReadOnly` when nothing can be written here."""
        if self.caps.read_only:
            raise ReadOnly(
                f"{url} is read-only", "write through a URL whose profile has credentials"
            )

    def describe(self, fs_path: str) -> dict[str, Any]:
        """Content type and user metadata of an object, where the backend keeps them."""
        return {}

    def list_buckets(self) -> list[str]:
        """Bucket fs paths (empty without buckets)."""
        return []

    def bucket_exists(self, bucket: str) -> bool:
        """True when ``bucket`` exists (always True without buckets)."""
        return True

    def make_bucket(self, bucket: str) -> None:
        """Make a bucket."""
        raise NotSupported(f"{self.scheme}:// has no buckets", "make a directory by writing to it")

    # ------------------------------------------------------------------ writing

    def prepare_parent(self, fs_path: str) -> None:
        """Make the directory that will hold ``fs_path`` (directory backends)."""
        if self.caps.directories:
            parent = self.parent(fs_path)
            if parent:
                self.fs.makedirs(parent, exist_ok=True)

    def open_read(self, fs_path: str) -> Any:
        """A binary file object reading ``fs_path``."""
        return self.fs.open(fs_path, "rb")

    def open_random(self, fs_path: str, block_size: int, cache_type: str = "blockcache") -> Any:
        """A file object for random reads (NetCDF/HDF5), cached in blocks."""
        size = int(self.fs.info(fs_path)["size"])
        return self.fs.open(fs_path, "rb", block_size=block_size, cache_type=cache_type, size=size)

    def open_write(self, fs_path: str) -> Any:
        """A binary file object writing ``fs_path`` (visible once closed)."""
        self.prepare_parent(fs_path)
        return self.fs.open(fs_path, "wb")

    def write_bytes(self, fs_path: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` at ``fs_path`` (``content_type`` where the backend keeps one)."""
        self.prepare_parent(fs_path)
        self.fs.pipe_file(fs_path, data)

    def read_tail(self, fs_path: str, length: int) -> tuple[int, bytes]:
        """The object's size and its last ``length`` bytes."""
        size = int(self.fs.size(fs_path))
        return size, self.read_range(fs_path, max(0, size - length), size)

    def read_bytes(self, fs_path: str) -> bytes:
        """The whole object at ``fs_path``."""
        return bytes(self.fs.cat_file(fs_path))

    def read_many(self, fs_paths: Iterable[str], window: int = READ_WINDOW) -> Iterator[Any]:
        """The whole objects at ``fs_paths``, in the order given, ``window`` read at once.

        Each item is the object's bytes, or the exception reading it raised
        (untranslated), so that one failure does not end the others.  At most
        ``window`` objects are in flight or waiting to be taken, so memory does
        not grow with the number of paths (it is ``window`` times the object
        size: meant for small objects, such as file heads).  Each read is :meth:`read_bytes`
        (one GET on object stores, through the compiled client where there is
        one); stopping the iteration cancels the reads not started.
        """
        return in_order(self.read_bytes, fs_paths, window)

    def read_json(self, fs_path: str) -> dict[str, Any] | None:
        """The JSON object stored at ``fs_path``; None when there is none.

        Raises
        ------
        ValueError
            When the object is not a JSON object.
        """
        try:
            data = json.loads(self.read_bytes(fs_path))
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise ValueError(f"{self.to_url(fs_path)} is not a JSON object")
        return data

    def read_range(self, fs_path: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of the object (one ranged read)."""
        return bytes(self.fs.cat_file(fs_path, start=start, end=stop))

    def delete_many(self, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """Delete objects (and empty directories named as markers, ``dir/``).

        Returns ``(failures as (url, message), bulk_refused)``.
        """

        def one(fs_path: str) -> tuple[str, str] | None:
            try:
                if fs_path.endswith("/"):
                    self.rmdir(fs_path.rstrip("/"))
                else:
                    self.fs.rm_file(fs_path)
            except Exception as exc:
                url = self.to_url(fs_path)
                return url, str(translate(exc, action="deleting", url=url))
            return None

        if not fs_paths:
            return [], False
        with ThreadPoolExecutor(max_workers=min(DELETE_WORKERS, len(fs_paths))) as pool:
            failures = [r for r in pool.map(one, fs_paths) if r is not None]
        self.fs.invalidate_cache()  # listings cached by the client are stale now
        return failures, False

    def remove_empty_dirs(self, fs_dir: str) -> None:
        """Remove ``fs_dir`` and the empty directories below it (directory backends)."""
        if not self.caps.directories:
            return
        _, dirs = self.list_level(fs_dir)
        for d in dirs:
            self.remove_empty_dirs(d)
        objs, dirs = self.list_level(fs_dir)
        if not objs and not dirs and not self.is_root(fs_dir):
            try:
                self.rmdir(fs_dir)
            except (OSError, NotImplementedError):
                return

    def rmdir(self, fs_dir: str) -> None:
        """Remove one empty directory."""
        self.fs.rmdir(fs_dir)

    def upload(self, local_path: str, target: str, what: str, tick: Tick = _noop) -> None:
        """Copy a local file to ``target``, verified by size (and MD5 where offered)."""
        with open(local_path, "rb") as src:
            digest = self._stream(src, target, tick)
        self._verify_landed(target, os.path.getsize(local_path), digest, what)

    def download(self, obj: Obj, tmp: str, what: str, tick: Tick = _noop) -> None:
        """Write ``obj`` into the local file ``tmp``, verified by size (and checksum)."""
        md5 = hashlib.md5(usedforsecurity=False)
        done = 0
        with self.open_read(obj.path) as src, open(tmp, "wb") as dst:
            while block := src.read(STREAM_BLOCK):
                dst.write(block)
                md5.update(block)
                done += len(block)
                tick(len(block))
        check_read(done, obj, md5.hexdigest(), self.caps.checksum, what)

    def copy(self, obj: Obj, target: str, what: str) -> None:
        """Copy ``obj`` to ``target`` inside this backend, verified by size."""
        if not self.caps.server_side_copy:
            raise NotSupported(f"{self.scheme}:// cannot copy on the server")
        self.prepare_parent(target)
        self.fs.copy(obj.path, target)
        landed = self.head(target)
        if landed is None or landed.size != obj.size:
            raise IntegrityError(f"server-side copy of {what} did not verify", "re-run the copy")

    def receive(self, source: Backend, obj: Obj, target: str, what: str, tick: Tick) -> None:
        """Stream ``obj`` from another backend to ``target``: no local file, bounded memory.

        Verified by size and by MD5 against whichever side reports one.
        """
        with source.open_read(obj.path) as src:
            reader = HashingReader(src, tick)
            self.write_stream(target, reader, obj.size)
        digest = (reader.done, reader.md5.hexdigest())
        check_read(digest[0], obj, digest[1], source.caps.checksum, what)
        self._verify_landed(target, obj.size, digest, what)

    def write_stream(self, target: str, reader: Any, size: int) -> None:
        """Store what ``reader`` yields at ``target``, a block at a time (no local file)."""
        with self.open_write(target) as dst:
            while block := reader.read(STREAM_BLOCK):
                dst.write(block)

    def _stream(self, src: Any, target: str, tick: Tick) -> tuple[int, str]:
        reader = HashingReader(src, tick)
        self.write_stream(target, reader, -1)
        return reader.done, reader.md5.hexdigest()

    def _verify_landed(self, target: str, size: int, digest: tuple[int, str], what: str) -> None:
        landed = self.head(target)
        if landed is None or landed.size != size or digest[0] != size:
            got = "nothing" if landed is None else f"{landed.size} bytes"
            raise IntegrityError(
                f"transfer of {what} did not verify: sent {digest[0]} of {size} bytes, "
                f"store has {got}",
                "re-run the same command to transfer it again",
            )
        plain_md5 = self.caps.checksum == "md5-etag" and landed.etag and "-" not in landed.etag
        if plain_md5 and landed.etag != digest[1]:
            raise IntegrityError(
                f"transfer of {what} did not verify: sent MD5 {digest[1]}, "
                f"store reports {landed.etag}",
                "re-run the same command to transfer it again",
            )


_instances: BoundedCache[tuple[Any, ...], Backend] = BoundedCache(64)


def instance(cls: type[Backend], profile: Any, *args: Any) -> Backend:
    """The shared backend for ``(cls, profile, args)`` and the credentials now in force.

    The cache key holds the class, the profile and the backend's own
    credential key (so a changed secret gets a new client), bounded in size.
    """
    key = (cls, profile, args, cls.credential_key(profile))
    return _instances.get_or_make(key, lambda: cls(profile, *args))


def clear_caches() -> None:
    """Forget every shared backend (and so their clients)."""
    _instances.clear()
