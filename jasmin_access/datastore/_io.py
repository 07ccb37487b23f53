"""The only place where the datastore package touches storage.

Everything else in :mod:`jasmin_access.datastore` speaks in keys relative to a
datastore root (``versions/…``, ``objects/…``) through :class:`RootIO`, which
maps them onto the location's filesystem with the public helpers of
:mod:`jasmin_access.fs`.  No request here carries a conditional header: every
write is a plain PUT of an object that is either content-addressed or uniquely
named, so a store that rejects ``If-None-Match``/``If-Match`` (JASMIN) is fine.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, NamedTuple

from ..errors import JasminAccessError, NotFound, translate, translating
from ..fs._backend import head, list_level, prefix_exists, rel_key, sep_join, walk_pages
from ..fs.remove import delete_paths
from ..stores import Location

__all__ = ["RootIO", "Stat"]

WORKERS = 16


class Stat(NamedTuple):
    """One stored object: key relative to the root, size, store-side modification time, ETag."""

    key: str
    size: int
    mtime: datetime | None
    etag: str | None = None


class RootIO:
    """Reads and writes keys below one datastore root.

    Parameters
    ----------
    root
        The datastore's location (a prefix on any backend).
    """

    def __init__(self, root: Location) -> None:
        self.root = root
        self.url = root.url.rstrip("/")

    # ------------------------------------------------------------------ paths

    def path(self, key: str) -> str:
        """The fs path of ``key``."""
        return sep_join(self.root, self.root.path.rstrip("/"), key)

    def key_url(self, key: str) -> str:
        """The URL of ``key``, for messages."""
        return f"{self.url}/{key}"

    # ------------------------------------------------------------------ reads

    def get(self, key: str) -> bytes | None:
        """The bytes of ``key``, or None when there is no such object."""
        try:
            with translating("reading", self.key_url(key), self.root.profile_name):
                return self.root.backend.read_bytes(self.path(key))  # one GET on S3
        except NotFound:
            return None
        except FileNotFoundError:
            return None

    def get_range(self, key: str, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)`` of ``key`` (one ranged GET)."""
        with translating("reading", self.key_url(key), self.root.profile_name):
            return self.root.backend.read_range(self.path(key), start, stop)

    def stat(self, key: str) -> Stat | None:
        """Size and store-side modification time of ``key``, or None."""
        with translating("reading", self.key_url(key), self.root.profile_name):
            obj = head(self.root, self.path(key))
        return None if obj is None else Stat(key, obj.size, obj.mtime)

    def stat_many(self, keys: list[str]) -> dict[str, Stat]:
        """:meth:`stat` of many keys at once; missing keys are left out."""
        if not keys:
            return {}
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(keys))) as pool:
            found = pool.map(self.stat, keys)
        return {s.key: s for s in found if s is not None}

    def list_dir(self, prefix: str) -> list[Stat]:
        """Objects directly below the directory ``prefix`` (one LIST on S3)."""
        base = self.path(prefix.rstrip("/"))
        with translating("listing", self.key_url(prefix), self.root.profile_name):
            objs, _dirs = list_level(self.root, base)
        return [Stat(self._rel(o.path), o.size, o.mtime) for o in objs]

    def list_dirs(self, prefix: str) -> list[str]:
        """Sub-directory names directly below ``prefix``."""
        base = self.path(prefix.rstrip("/"))
        with translating("listing", self.key_url(prefix), self.root.profile_name):
            _objs, dirs = list_level(self.root, base)
        return [d.rstrip("/").rsplit("/", 1)[-1] for d in dirs]

    def walk(self, prefix: str) -> Iterator[Stat]:
        """Every object below ``prefix``, recursively (streamed page by page)."""
        base = self.path(prefix.rstrip("/"))
        with translating("listing", self.key_url(prefix), self.root.profile_name):
            for page in walk_pages(self.root, base):
                for o in page:
                    yield Stat(self._rel(o.path), o.size, o.mtime)

    def _rel(self, fs_path: str) -> str:
        return rel_key(self.root, self.root.path.rstrip("/"), fs_path)

    # ------------------------------------------------------------------ writes

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (a plain PUT; atomic rename locally)."""
        self.root.require_writable()
        with translating("writing", self.key_url(key), self.root.profile_name):
            self.root.backend.write_bytes(self.path(key), data)

    def put_file(self, key: str, local_path: str) -> None:
        """Upload the local file ``local_path`` as ``key`` (multipart when large, verified)."""
        self.root.require_writable()
        with translating("writing", self.key_url(key), self.root.profile_name):
            self.root.backend.upload(local_path, self.path(key), self.key_url(key))

    def delete(self, keys: list[str]) -> list[tuple[str, str]]:
        """Delete ``keys``; returns ``(url, reason)`` of those that failed."""
        self.root.require_writable()
        failures, _bulk_refused = delete_paths(self.root, [self.path(k) for k in keys])
        return failures


def open_source_file(loc: Location, fs_path: str) -> Any:
    """A readable binary file for an object or file of a source location."""
    return loc.backend.open_read(fs_path)


def walk_source(loc: Location) -> Iterator[Stat]:
    """Every file below a source directory or prefix, keys relative to it."""
    base = loc.path.rstrip("/") or loc.path
    if not loc.caps.buckets and not prefix_exists(loc, base):
        raise NotFound(f"no such directory: {loc.url}", "give a directory, prefix or Zarr store")
    try:
        with translating("listing", loc.url, loc.profile_name):
            for page in walk_pages(loc, base):
                for o in page:
                    yield Stat(rel_key(loc, base, o.path), o.size, o.mtime, o.etag)
    except JasminAccessError:
        raise
    except Exception as exc:  # pragma: no cover - translated above
        raise translate(exc, action="listing", url=loc.url) from exc
