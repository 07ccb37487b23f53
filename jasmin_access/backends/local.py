"""Local paths and the embedded local object store (``local://bucket/key``).

Both read and write files on this machine (``local_path``): listings use
``os.scandir``, copies land in a temporary file beside the target and are
renamed into place once verified.
"""

from __future__ import annotations

import glob as pyglob
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import paths
from ..config import Profile, get_profile
from ..errors import IntegrityError, InvalidInput, translate
from ..localstore import TMP_PREFIX, LocalObjectFileSystem
from . import checksums
from .base import Backend, Capabilities, Obj, Request, Tick, _noop, instance

__all__ = ["LocalBackend", "StoreBackend", "place", "temp_beside"]


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=UTC)


def _level(fs_dir: str) -> tuple[list[Obj], list[str]]:
    objs: list[Obj] = []
    dirs: list[str] = []
    with os.scandir(fs_dir) as it:
        for e in it:
            if e.name.startswith(TMP_PREFIX):
                continue
            if e.is_dir():
                dirs.append(e.path)
            else:
                st = e.stat()
                objs.append(Obj(e.path, st.st_size, _mtime(st), None))
    return objs, dirs


def _same_name(target: str) -> InvalidInput:
    return InvalidInput(
        f"cannot write {target}: a local store cannot hold an object and a prefix "
        "with the same name",
        "choose another destination name",
    )


def place(tmp: str, target: str) -> None:
    """Rename a verified temporary file into place."""
    os.chmod(tmp, 0o644)
    try:
        os.replace(tmp, target)
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise _same_name(target) from exc


@contextmanager
def temp_beside(target: str) -> Iterator[str]:
    """A temporary file in ``target``'s directory, removed unless renamed into place."""
    if os.path.isdir(target):
        raise _same_name(target)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise _same_name(target) from exc
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=os.path.dirname(target))
    os.close(fd)
    try:
        yield tmp
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class LocalBackend(Backend):
    """Plain local paths (``/data/run1``, ``file:///data/run1``, ``./run1``)."""

    scheme = "file"
    name = "local"
    caps = Capabilities(checksum="md5-file", local_path=True, directories=True)

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """An absolute path."""
        return instance(cls, None), str(Path(rest).expanduser().resolve())

    def filesystem(self, asynchronous: bool = False) -> LocalObjectFileSystem:
        """A local filesystem with atomic writes."""
        return LocalObjectFileSystem("/")

    def zarr_store(self, fs_path: str, *, read_only: bool = False) -> Any:
        """zarr's ``LocalStore``."""
        import zarr.storage

        return zarr.storage.LocalStore(fs_path, read_only=read_only)

    def fs_path(self, rest: str) -> str:
        """An absolute path."""
        return str(Path(rest).expanduser().resolve())

    def relative(self, fs_path: str) -> str:
        """Local paths are their own names."""
        return fs_path

    def to_url(self, fs_path: str) -> str:
        """Local paths are their own URLs."""
        return fs_path

    def join(self, base: str, rel: str) -> str:
        """Join with the OS separator."""
        return os.path.join(base, *rel.split("/")) if rel else base

    def parent(self, fs_path: str) -> str:
        """The directory holding ``fs_path``."""
        return os.path.dirname(fs_path.rstrip("/"))

    def split(self, fs_path: str) -> tuple[str, str]:
        """No buckets: the key is the path."""
        return "", fs_path

    def is_root(self, fs_path: str) -> bool:
        """``/`` and the home directory count as roots."""
        return fs_path.rstrip("/") in ("", str(Path.home()))

    def hint_url(self, example: str = "") -> str:
        """A local path."""
        return "/" + example

    def list_level(self, fs_dir: str) -> tuple[list[Obj], list[str]]:
        """One ``os.scandir``; nothing for a missing directory."""
        if not os.path.isdir(fs_dir):
            return [], []
        return _level(fs_dir)

    def walk_pages(self, fs_dir: str, markers: bool = False) -> Iterator[list[Obj]]:
        """Depth first, one directory a page; empty directories as markers if asked."""
        stack = [fs_dir]
        while stack:
            current = stack.pop()
            try:
                objs, dirs = _level(current)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if markers and not objs and not dirs:  # an empty directory: the local marker
                objs = [Obj(current.rstrip("/") + "/", 0, _mtime(os.stat(current)), None)]
            if objs:
                yield objs
            stack.extend(sorted(dirs, reverse=True))

    def prefix_exists(self, fs_dir: str) -> bool:
        """A directory, if an empty one."""
        return os.path.isdir(fs_dir)

    def head(self, fs_path: str) -> Obj | None:
        """``os.stat`` of a regular file."""
        if not os.path.isfile(fs_path):
            return None
        st = os.stat(fs_path)
        return Obj(fs_path, st.st_size, _mtime(st), None)

    def glob(self, pattern: str, files_only: bool = False) -> list[str]:
        """Paths matching a glob (``**`` crosses directories); only files if asked."""
        found = pyglob.glob(pattern, recursive=True)
        return [p for p in found if os.path.isfile(p)] if files_only else found

    def describe(self, fs_path: str) -> dict[str, Any]:
        """MD5 of the content (what S3 reports for one PUT) and a guessed content type."""
        import mimetypes

        return {
            "etag": checksums.file_md5(fs_path),
            "content_type": mimetypes.guess_type(fs_path)[0],
        }

    def delete_many(self, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """Unlink each file."""
        failures = []
        for p in fs_paths:
            try:
                self._unlink(p)
            except OSError as exc:
                failures.append((self.to_url(p), str(translate(exc, action="deleting", url=p))))
        return failures, False

    def _unlink(self, fs_path: str) -> None:
        if fs_path.endswith("/"):  # an empty directory (a marker)
            os.rmdir(fs_path)
        else:
            os.unlink(fs_path)

    def remove_empty_dirs(self, fs_dir: str) -> None:
        """Remove ``fs_dir`` and the directories below it that are empty."""
        if not os.path.isdir(fs_dir):
            return
        for current, _dirs, _files in os.walk(fs_dir, topdown=False):
            try:
                os.rmdir(current)
            except OSError:
                continue

    def write_bytes(self, fs_path: str, data: bytes, content_type: str | None = None) -> None:
        """Atomic write."""
        with self.fs.open(fs_path, "wb") as f:
            f.write(data)

    def read_bytes(self, fs_path: str) -> bytes:
        """Read the file."""
        return Path(fs_path).read_bytes()

    def upload(self, local_path: str, target: str, what: str, tick: Tick = _noop) -> None:
        """Copy through a temporary file beside ``target``, compared before it is placed."""
        with temp_beside(target) as tmp:
            with open(local_path, "rb") as src, open(tmp, "wb") as dst:
                while block := src.read(8 << 20):  # in blocks: a progress bar moves by bytes
                    dst.write(block)
                    tick(len(block))
            if checksums.local_etag(tmp) != checksums.local_etag(local_path):
                raise IntegrityError(f"copy of {what} does not match its source", "re-run the copy")
            place(tmp, target)

    def download(self, obj: Obj, tmp: str, what: str, tick: Tick = _noop) -> None:
        """Copy the file into ``tmp``."""
        shutil.copyfile(obj.path, tmp)
        if os.path.getsize(tmp) != obj.size:
            raise IntegrityError(f"copy of {what} does not match its source", "re-run the copy")
        tick(obj.size)

    def open_write(self, fs_path: str) -> Any:
        """Atomic write (temporary file renamed on close)."""
        return self.fs.open(fs_path, "wb")


class StoreBackend(LocalBackend):
    """The embedded object store: a directory used as a flat keyspace of buckets."""

    scheme = "local"
    name = "store"
    caps = Capabilities(buckets=True, checksum="md5-file", local_path=True)
    url_root = "local://"

    def __init__(self, profile: Profile | None = None, *args: Any) -> None:
        super().__init__(profile, *args)
        assert profile is not None
        self.fs_root = str(profile.local_root())

    @classmethod
    def credential_key(cls, profile: Profile | None) -> tuple[Any, ...]:
        """The store's directory (the built-in profile follows ``$JASMIN_ACCESS_HOME``)."""
        return (str(profile.local_root()),) if profile else ()

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """``local://bucket/key`` in the profile's store (the built-in ``local`` one)."""
        prof = request.profile
        if not (isinstance(prof, Profile) and prof.is_local):
            prof = get_profile("local", config=request.config)
        backend = instance(cls, prof)
        return backend, backend.fs_path(rest)

    @property
    def identity(self) -> str:
        """The store's directory."""
        return f"local:{self.fs_root}"

    def filesystem(self, asynchronous: bool = False) -> LocalObjectFileSystem:
        """The store's filesystem (atomic writes, pruned empty prefixes)."""
        return LocalObjectFileSystem(self.fs_root)

    def fs_path(self, rest: str) -> str:
        """``root/bucket/key``."""
        return str(Path(self.fs_root, rest)) if rest else self.fs_root

    def relative(self, fs_path: str) -> str:
        """The key below the store root."""
        return fs_path[len(self.fs_root) :].lstrip("/")

    def to_url(self, fs_path: str) -> str:
        """``local://bucket/key``."""
        return self.url_root + self.relative(fs_path)

    def join(self, base: str, rel: str) -> str:
        """Absolute directory path: keep the leading ``/``."""
        return "/" + paths.join(base, rel) if rel else base

    def split(self, fs_path: str) -> tuple[str, str]:
        """``(bucket, key)``."""
        return paths.split_bucket(self.relative(fs_path))

    def is_root(self, fs_path: str) -> bool:
        """A bucket root."""
        return self.split(fs_path)[1] == ""

    def hint_url(self, example: str = "") -> str:
        """A ``local://`` URL."""
        return self.url_root + example

    def list_buckets(self) -> list[str]:
        """The store's top-level directories."""
        root = self.fs_root
        if not os.path.isdir(root):
            return []
        return sorted(os.path.join(root, n) for n in os.listdir(root) if not n.startswith("."))

    def bucket_exists(self, bucket: str) -> bool:
        """A top-level directory."""
        return os.path.isdir(os.path.join(self.fs_root, bucket))

    def make_bucket(self, bucket: str) -> None:
        """Make the top-level directory."""
        os.makedirs(os.path.join(self.fs_root, bucket), exist_ok=True)

    def _unlink(self, fs_path: str) -> None:
        if fs_path.endswith("/"):  # an empty directory (a marker)
            self.fs.rm(fs_path.rstrip("/"), recursive=True)
        else:
            self.fs.rm_file(fs_path)

    def delete_many(self, fs_paths: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """Delete, pruning emptied prefixes but keeping the buckets."""
        failures, refused = super().delete_many(fs_paths)
        for bucket in {self.split(p)[0] for p in fs_paths}:
            if bucket:
                self.make_bucket(bucket)
        return failures, refused

    def remove_empty_dirs(self, fs_dir: str) -> None:
        """The store prunes emptied prefixes itself."""
        return None
