"""Storage backends: one registry of storage kinds, keyed by URL scheme.

Each kind is a :class:`~jasmin_access.backends.base.Backend` subclass named
by ``"module:Class"`` and imported only when a URL of its scheme is first
resolved (as fsspec's ``known_implementations``).  Other packages add kinds
through the ``jasmin_access.backends`` entry-point group::

    [project.entry-points."jasmin_access.backends"]
    myscheme = "mypackage.storage:MyBackend"

A scheme nobody registered but fsspec knows (``memory://``, ``gcs://`` ...)
is served by the generic :class:`~jasmin_access.backends.generic.FsspecBackend`.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from ..errors import InvalidInput
from .base import Backend, Capabilities, Obj, Tick, clear_caches, instance

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROFILE_SCHEMES",
    "Backend",
    "Capabilities",
    "Obj",
    "Tick",
    "backend_class",
    "clear_caches",
    "instance",
    "known_schemes",
    "register",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "jasmin_access.backends"
PROFILE_SCHEMES = {"webdav": "webdav", "sftp": "sftp", "azure": "az"}
"""The URL scheme served by each profile type of users' own storage."""

_BUILTIN: dict[str, str] = {
    "s3": "jasmin_access.backends.s3:S3Backend",
    "http": "jasmin_access.backends.s3:HttpsBackend",
    "https": "jasmin_access.backends.s3:HttpsBackend",
    "local": "jasmin_access.backends.local:StoreBackend",
    "file": "jasmin_access.backends.local:LocalBackend",
    "": "jasmin_access.backends.local:LocalBackend",
    "webdav": "jasmin_access.backends.webdav:WebdavBackend",
    "sftp": "jasmin_access.backends.sftp:SftpBackend",
    "az": "jasmin_access.backends.azure:AzureBackend",
    "pool": "jasmin_access.pools.backend:PoolBackend",
}
_registered: dict[str, str | type[Backend]] = {}
_loaded: dict[str, type[Backend]] = {}
_lock = threading.Lock()


def register(scheme: str, target: str | type[Backend], *, replace: bool = False) -> None:
    """Register a backend for ``scheme`` (``"module:Class"`` or the class itself).

    Raises
    ------
    ValueError
        When ``scheme`` is already taken and ``replace`` is false.
    """
    scheme = scheme.lower()
    if not replace and (scheme in _registered or scheme in _BUILTIN):
        raise ValueError(f"a backend for '{scheme}://' is already registered")
    _registered[scheme] = target
    _loaded.pop(scheme, None)


def entry_points(group: str) -> Any:
    """The installed entry points of ``group``.

    :mod:`importlib.metadata` is imported here, when a scheme is not a built-in
    one: importing it (and scanning the installed packages) costs every command
    tens of milliseconds otherwise.
    """
    from importlib import metadata

    return metadata.entry_points(group=group)


def _entry_points() -> dict[str, str]:
    found: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name.lower(), ep.value)
    return found


def known_schemes() -> dict[str, str]:
    """Every registered scheme and where its backend lives (nothing is imported)."""
    out: dict[str, str] = {**_entry_points(), **_BUILTIN}
    for scheme, target in _registered.items():
        name = target if isinstance(target, str) else f"{target.__module__}:{target.__name__}"
        out[scheme] = name
    return out


def _load(target: str | type[Backend]) -> type[Backend]:
    if not isinstance(target, str):
        return target
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{target} is not a jasmin_access Backend")
    return cls


def backend_class(scheme: str) -> type[Backend]:
    """The backend class for ``scheme``, imported on first use.

    Raises
    ------
    InvalidInput
        When neither a registered backend nor fsspec knows the scheme.
    """
    scheme = scheme.lower()
    cls = _loaded.get(scheme)
    if cls is not None:
        return cls
    with _lock:
        target = _registered.get(scheme) or _BUILTIN.get(scheme) or _entry_points().get(scheme)
        if target is None:  # imported only here: fsspec is not needed by the built-in kinds
            from .generic import generic_class

            cls = generic_class(scheme)
        else:
            cls = _load(target)
        if cls is None:
            shown = ", ".join(f"{s}://" for s in sorted(known_schemes()) if s)
            raise InvalidInput(
                f"unsupported URL scheme '{scheme}://'",
                f"use one of {shown} or a local path (or install a backend for it)",
            )
        _loaded[scheme] = cls
        return cls
