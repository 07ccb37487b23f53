"""Listing and object access shared by the fs commands, through the location's backend.

Everything here works on paths of the location's filesystem (``bucket/key``
on S3, absolute paths locally, ``dir/file`` on WebDAV); the public modules
turn them into URLs.  What differs between storage kinds lives in
:mod:`jasmin_access.backends`; this module only binds the verbs to a location.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from .. import paths
from ..backends import Obj
from ..backends.base import is_marker
from ..errors import translating
from ..stores import Location, resolve

__all__ = [
    "Obj",
    "bucket_exists",
    "head",
    "head_info",
    "is_marker",
    "list_buckets",
    "list_level",
    "locate",
    "prefix_exists",
    "rel_key",
    "sep_join",
    "walk_pages",
]

log = logging.getLogger(__name__)


def locate(
    url: str,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    anon: bool | None = None,
    write: bool = False,
) -> Location:
    """:func:`jasmin_access.stores.resolve` with the common keyword arguments."""
    return resolve(url, profile=profile, endpoint_url=endpoint_url, anon=anon, write=write)


def sep_join(loc: Location, base: str, rel: str) -> str:
    """Join an fs path and a ``/`` relative key for ``loc``'s filesystem."""
    return loc.backend.join(base, rel)


def rel_key(loc: Location, base: str, path: str) -> str:
    """``path`` relative to the directory ``base`` (``/``-separated)."""
    return paths.relative(base, path) if base else path.lstrip("/")


def list_level(loc: Location, fs_dir: str) -> tuple[list[Obj], list[str]]:
    """One level below the directory ``fs_dir``: objects and sub-prefixes (fs paths).

    Zero-byte directory markers are dropped.  Raises the backend's error for
    a missing bucket (callers translate).
    """
    return loc.backend.list_level(fs_dir)


def walk_pages(loc: Location, fs_dir: str, *, markers: bool = False) -> Iterator[list[Obj]]:
    """Every object below ``fs_dir``, page by page.

    Directory markers (zero-byte ``prefix/`` objects, empty directories) are
    dropped, or with ``markers`` kept as objects whose path ends in ``/``.
    """
    return loc.backend.walk_pages(fs_dir, markers=markers)


def prefix_exists(loc: Location, fs_dir: str) -> bool:
    """True when anything is stored below ``fs_dir``, if only a directory marker."""
    return loc.backend.prefix_exists(fs_dir)


def head(loc: Location, fs_path: str) -> Obj | None:
    """The object at ``fs_path``, or None when there is none (a prefix is not an object)."""
    return loc.backend.head(fs_path)


def head_info(loc: Location, fs_path: str) -> dict[str, Any]:
    """Content type and user metadata of an object, where the backend keeps them."""
    with translating("reading", loc.url, loc.profile_name):
        return loc.backend.describe(fs_path)


def list_buckets(loc: Location) -> list[str]:
    """Bucket names (fs paths) in the keyspace of ``loc``."""
    return loc.backend.list_buckets()


def bucket_exists(loc: Location) -> bool:
    """True when the bucket of ``loc`` exists (always True without buckets)."""
    if not loc.caps.buckets:
        return True
    return loc.backend.bucket_exists(loc.bucket)
