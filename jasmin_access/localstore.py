"""The embedded local object store: a directory used as a flat keyspace of buckets.

Writes are atomic (temporary file in the same directory, then rename), so a
reader or a concurrent writer never sees a torn object; temporary files are
hidden from listings; emptied pseudo-directories are pruned, as on S3.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from . import paths

__all__ = ["TMP_PREFIX", "LocalObjectFileSystem"]

TMP_PREFIX = ".jasmin-tmp-"


class _AtomicWriter:
    """A file written to a temporary name and renamed into place on close."""

    def __init__(self, path: str, mode: str) -> None:
        self.path = path
        self.exclusive = "x" in mode
        if self.exclusive and os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "object exists", path)
        directory = os.path.dirname(path)
        fd, self.tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
        self.f = os.fdopen(fd, mode.replace("x", "w"))
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def write(self, data: bytes) -> int:
        return self.f.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.f.close()
        os.chmod(self.tmp, 0o644)
        if not self.exclusive:
            os.replace(self.tmp, self.path)
            return
        try:  # "x" mode: publish only if nobody else did meanwhile
            os.link(self.tmp, self.path)
        finally:
            os.unlink(self.tmp)

    def discard(self) -> None:
        self.closed = True
        self.f.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def __enter__(self) -> _AtomicWriter:
        return self

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


class LocalObjectFileSystem(LocalFileSystem):
    """A local directory behaving as a flat object store.

    Writes are atomic (temporary file in the same directory, then rename), so
    concurrent writers to one key leave one complete version; empty
    pseudo-directories disappear when their last object is removed, as on S3;
    temporary files are never listed.
    """

    cachable = False

    def __init__(self, root: str | os.PathLike[str], **kwargs: Any) -> None:
        super().__init__(auto_mkdir=True, **kwargs)
        self.store_root = str(Path(root).resolve())

    def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any) -> Any:
        if "w" in mode or "x" in mode:
            path = self._strip_protocol(path)
            if os.path.isdir(path):
                raise IsADirectoryError(f"{path} is a prefix in the local store")
            self.makedirs(self._parent(path), exist_ok=True)
            return _AtomicWriter(path, mode if "b" in mode else mode + "b")
        return super()._open(path, mode, block_size=block_size, **kwargs)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        if self.isdir(path1):
            return
        with open(path1, "rb") as src, self._open(path2, "wb") as dst:
            while chunk := src.read(8 << 20):
                dst.write(chunk)

    def put_file(self, path1: str, path2: str, callback: Any = None, **kwargs: Any) -> None:
        self.cp_file(path1, path2)

    def rm_file(self, path: str) -> None:
        path = self._strip_protocol(path)
        super().rm_file(path)
        self._prune(os.path.dirname(path))

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Remove objects (and, with ``recursive``, prefixes); prune emptied parents."""
        targets = [self._strip_protocol(p) for p in (path if isinstance(path, list) else [path])]
        super().rm(targets, recursive=recursive, maxdepth=maxdepth)
        for target in targets:
            self._prune(os.path.dirname(target.rstrip("/")))

    def _prune(self, directory: str) -> None:
        """Remove emptied pseudo-directories up to, but not including, the bucket."""
        while (
            directory.startswith(self.store_root + os.sep)
            and os.path.dirname(directory) != self.store_root
        ):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def ls(self, path: str, detail: bool = False, **kwargs: Any) -> list[Any]:
        out = super().ls(path, detail=detail, **kwargs)
        name = (lambda e: e["name"]) if detail else (lambda e: e)
        return [e for e in out if not paths.basename(name(e)).startswith(TMP_PREFIX)]
