"""What a storage kind can do, what it lists, and what a caller asked of it.

These small types are shared by every backend and by the code above them:
callers branch on :class:`Capabilities` flags, never on a kind's name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ..config import Profile
from ..errors import ProfileNotFound

__all__ = ["Capabilities", "Obj", "Request", "Tick", "choose_profile", "is_marker"]

Tick = Callable[[int], None]


def _noop(_: int) -> None:
    return None


class Obj(NamedTuple):
    """One object as listed: fs path, size, modification time, ETag (or None)."""

    path: str
    size: int
    mtime: datetime | None
    etag: str | None


def is_marker(obj: Obj) -> bool:
    """True for a directory marker (``prefix/``, zero bytes): an empty directory, not a file."""
    return obj.path.endswith("/")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; callers branch on these, never on a kind's name.

    Attributes
    ----------
    read_only
        Nothing can be written (anonymous public URLs).
    buckets
        The first path component is a bucket (or container): listing the root
        lists buckets, and a bucket must exist before anything is written to it.
    server_side_copy
        :meth:`Backend.copy` copies within the backend without moving the bytes.
    bulk_delete
        :meth:`Backend.delete_many` removes many objects per request.
    multipart
        Large uploads go up in parallel parts.
    checksum
        What an object's ``etag`` is: ``"md5-etag"`` (S3: the MD5, or the
        multipart ETag), ``"md5-file"`` (computable from the local file), or
        ``None`` (no content checksum the client can check).
    local_path
        Paths are files on this machine: NetCDF is read straight from disk and
        zarr uses its ``LocalStore``.
    directories
        Directories exist on their own (POSIX, WebDAV, SFTP): they are made
        before writing below them and emptied ones are removed after a move.
    """

    read_only: bool = False
    buckets: bool = False
    server_side_copy: bool = False
    bulk_delete: bool = False
    multipart: bool = False
    checksum: str | None = None
    local_path: bool = False
    directories: bool = False


@dataclass(frozen=True)
class Request:
    """What the caller of ``resolve`` asked for, besides the URL."""

    profile: str | Profile | None = None
    endpoint_url: str | None = None
    anon: bool | None = None
    config: Any = None
    write: bool = False


def choose_profile(request: Request, types: tuple[str, ...], scheme: str) -> Profile:
    """The profile serving a ``scheme://`` URL: one of ``types``.

    A named profile of another type is for the other URL of a command (``cp
    webdav://a s3://b -p nc``): this URL then takes the default profile if it
    fits, else the only profile of a fitting type.

    Raises
    ------
    ProfileNotFound
        When no profile, or more than one, could serve the URL.
    """
    from ..config import ENV_PROFILE, get_profile, load_config

    if isinstance(request.profile, Profile) and request.profile.type in types:
        return request.profile
    config = request.config or load_config()
    named = request.profile.name if isinstance(request.profile, Profile) else request.profile
    for name in (named, os.environ.get(ENV_PROFILE), config.default_profile):
        if name and name in config.profiles and config.profiles[name].type in types:
            return get_profile(name, config=config)
    if named and named not in config.profiles:
        get_profile(named, config=config)  # raises ProfileNotFound with the known names
    fitting = sorted(n for n, p in config.profiles.items() if p.type in types)
    if len(fitting) == 1:
        return get_profile(fitting[0], config=config)
    kind = types[0]
    if not fitting:
        raise ProfileNotFound(
            f"no {kind} profile for {scheme}:// URLs",
            f"add one with `jasmin-access config add NAME --type {kind} ...`",
        )
    raise ProfileNotFound(
        f"several {kind} profiles could serve {scheme}:// URLs ({', '.join(fitting)})",
        "choose one with --profile NAME",
    )
