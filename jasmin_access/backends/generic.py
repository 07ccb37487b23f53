"""Any installed fsspec filesystem as a backend, with sensible defaults.

``memory://``, ``gcs://``, ``ftp://`` ... work with every command once their
fsspec implementation is installed: listings through ``ls``, writes through
``open``/``pipe_file`` (directories made first), copies streamed.  Nothing is
assumed about checksums.  Backends for servers users bring (WebDAV, SFTP)
build on :class:`FsspecBackend` with their own client and settings.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import fsspec
from fsspec.callbacks import Callback
from fsspec.registry import known_implementations, registry

from .. import paths
from ..errors import IntegrityError, InvalidInput
from .base import Backend, Capabilities, Obj, Request, Tick, _noop, instance

__all__ = ["AutoMkdirMixin", "FsspecBackend", "PicklesByBackend", "generic_class"]


class FsspecBackend(Backend):
    """An fsspec filesystem by protocol name; no profile, fsspec's defaults."""

    protocol: str = ""
    caps = Capabilities(directories=True)

    @classmethod
    def resolve(cls, scheme: str, text: str, rest: str, request: Request) -> tuple[Backend, str]:
        """The shared instance; the path as fsspec names it."""
        paths.validate_key(rest.strip("/"))
        backend = instance(cls, None)
        return backend, backend.fs_path(rest)

    def filesystem(self, asynchronous: bool = False) -> Any:
        """``fsspec.filesystem(protocol)`` (asynchronous where the implementation is)."""
        cls = fsspec.get_filesystem_class(self.protocol)
        if asynchronous and getattr(cls, "async_impl", False):
            return fsspec.filesystem(self.protocol, asynchronous=True, skip_instance_cache=True)
        return fsspec.filesystem(self.protocol)

    def upload(self, local_path: str, target: str, what: str, tick: Tick = _noop) -> None:
        """The filesystem's own ``put_file`` (one streamed request), verified by size."""
        self.prepare_parent(target)
        size = os.path.getsize(local_path)
        with _Ticks(tick, size) as callback:
            self.fs.put_file(local_path, target, callback=callback)
        self._verify_landed(target, size, (size, ""), what)

    def download(self, obj: Obj, tmp: str, what: str, tick: Tick = _noop) -> None:
        """The filesystem's own ``get_file`` (one streamed request), verified by size."""
        with _Ticks(tick, obj.size) as callback:
            self.fs.get_file(obj.path, tmp, callback=callback)
        got = os.path.getsize(tmp)
        if got != obj.size:
            raise IntegrityError(
                f"size mismatch for {what}: expected {obj.size} bytes, got {got}",
                "re-run the same command to transfer it again",
            )

    def fs_path(self, rest: str) -> str:
        """The path fsspec uses for ``scheme://rest``."""
        return str(self.fs._strip_protocol(f"{self.protocol}://{rest.strip('/')}")).rstrip("/")

    def to_url(self, fs_path: str) -> str:
        """``scheme://path``."""
        return f"{self.scheme}://{fs_path.strip('/')}"


class _Ticks(Callback):
    """fsspec progress reported as byte counts to a tick function; the rest at the end."""

    def __init__(self, tick: Tick, size: int) -> None:
        super().__init__()
        self.tick, self.size, self.told = tick, size, 0

    def call(self, *args: Any, **kwargs: Any) -> None:
        """Report what moved since the last call (fsspec sets ``value``)."""
        step = min(int(self.value or 0), self.size) - self.told
        if step > 0:
            self.told += step
            self.tick(step)

    def __enter__(self) -> _Ticks:
        return self

    def __exit__(self, exc_type: Any, *args: Any) -> None:
        if exc_type is None and self.told < self.size:
            self.tick(self.size - self.told)
            self.told = self.size


def generic_class(scheme: str) -> type[FsspecBackend] | None:
    """A backend class for an fsspec protocol, or None when fsspec does not know it."""
    if scheme not in known_implementations and scheme not in registry:
        return None
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        raise InvalidInput(
            f"unsupported URL scheme '{scheme}://': its fsspec package is not installed",
            str(exc) or f"install the fsspec implementation of {scheme}://",
        ) from None
    cls = _made.get(scheme)
    if cls is None:
        attrs = {"scheme": scheme, "protocol": scheme, "__module__": __name__}
        cls = _made[scheme] = type(f"{_PREFIX}{scheme}", (FsspecBackend,), attrs)
    return cls


_PREFIX = "Fsspec_"
_made: dict[str, type[FsspecBackend]] = {}


def __getattr__(name: str) -> Any:
    """``Fsspec_<scheme>`` classes, made on first use (so pickles of them load anywhere)."""
    if name.startswith(_PREFIX):
        cls = generic_class(name[len(_PREFIX) :])
        if cls is not None:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PicklesByBackend:
    """An fsspec filesystem that pickles as its backend (by profile, so without secrets)."""

    def __init__(self, *args: Any, jasmin_backend: Backend | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jasmin_backend = jasmin_backend

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_fs, (self.jasmin_backend,))


def _rebuild_fs(backend: Backend) -> Any:
    return backend.filesystem()


class AutoMkdirMixin:
    """Make the parent directories before a write (WebDAV and SFTP need them).

    zarr and the converter write keys anywhere below a store's root; on servers
    with real directories each key's directory must exist first.  Directories
    known to exist are remembered per instance.
    """

    def _known_dirs(self) -> set[str]:
        known = self.__dict__.get("_jasmin_dirs")
        if known is None:
            known = self.__dict__["_jasmin_dirs"] = set()
            self.__dict__["_jasmin_dirs_lock"] = threading.Lock()
        return known  # type: ignore[no-any-return]

    def _parent_made(self, path: str) -> None:
        parent = paths.parent(str(self._strip_protocol(path)))  # type: ignore[attr-defined]
        known = self._known_dirs()
        if not parent or parent in known:
            return
        with self.__dict__["_jasmin_dirs_lock"]:
            self.makedirs(parent, exist_ok=True)  # type: ignore[attr-defined]
            while parent:
                known.add(parent)
                parent = paths.parent(parent)

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> Any:
        """Write ``value``, making the directory first."""
        self._parent_made(path)
        return super().pipe_file(path, value, *args, **kwargs)  # type: ignore[misc]

    def _open(self, path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode or "a" in mode or "x" in mode:
            self._parent_made(path)
        return super()._open(path, mode, *args, **kwargs)  # type: ignore[misc]

    def put_file(self, lpath: str, rpath: str, *args: Any, **kwargs: Any) -> Any:
        """Upload, making the directory first."""
        self._parent_made(rpath)
        return super().put_file(lpath, rpath, *args, **kwargs)  # type: ignore[misc]

    def cp_file(self, path1: str, path2: str, *args: Any, **kwargs: Any) -> Any:
        """Copy, making the directory first."""
        self._parent_made(path2)
        return super().cp_file(path1, path2, *args, **kwargs)  # type: ignore[misc]

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget the directories known to exist too (something may have removed them)."""
        self.__dict__.pop("_jasmin_dirs", None)
        super().invalidate_cache(path)  # type: ignore[misc]
