"""Every storage access of the catalog, in one place.

The catalog lists prefixes, reads and writes small objects and reads byte
ranges of one object; it does so only through :func:`jasmin_access.resolve`
locations and :mod:`jasmin_access.fs`, and only from this module.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, translating
from ..fs import Entry, ls
from ..stores import Location, resolve

__all__ = ["Access", "CatalogStore", "datastore_versions", "list_level"]


@dataclass(frozen=True)
class Access:
    """How to reach a store: the keyword arguments of :func:`jasmin_access.resolve`."""

    profile: Any = None
    endpoint_url: str | None = None
    anon: bool | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``resolve``/``ls``/``open_dataset``."""
        return {"profile": self.profile, "endpoint_url": self.endpoint_url, "anon": self.anon}

    def resolve(self, url: str) -> Location:
        """The location of ``url``."""
        return resolve(url, **self.kwargs)


def list_level(url: str, access: Access) -> list[Entry]:
    """Objects and pseudo-directories directly under ``url`` (one listing)."""
    try:
        return list(ls(url, **access.kwargs))
    except NotFound:
        return []


def datastore_versions(url: str, access: Access) -> tuple[list[dict[str, Any]], Any]:
    """A datastore's versions (newest first, as ``datastore log`` gives them) and the
    read-only zarr store of the newest.

    One GET of the marker, one LIST of the versions, one ranged GET per version
    header, one LIST of the tags, one GET of the newest manifest.
    """
    from .. import datastore

    versions = datastore.log(url, **access.kwargs)
    if not versions:
        raise NotFound(
            f"{url} has no version yet", f"push one: jasmin-access datastore push {url} SRC"
        )
    ds, _ = datastore.open_datastore(url, **access.kwargs)
    return versions, datastore.version_store(ds, versions[0]["id"])


def fingerprint(entry: Entry) -> str:
    """What changes when an object is rewritten: its ETag, else its modification time."""
    if entry.etag:
        return str(entry.etag).strip('"')
    return f"mtime:{entry.last_modified.isoformat() if entry.last_modified else ''}:{entry.size}"


class CatalogStore:
    """The prefix a catalog lives under: read, write and delete its objects by relative key.

    Parameters
    ----------
    url
        The catalog prefix, e.g. ``s3://bucket/catalog``.
    access
        Store access.
    """

    def __init__(self, url: str, access: Access) -> None:
        self.access = access
        self.location = access.resolve(url.rstrip("/"))
        self.url = self.location.url.rstrip("/")

    def href(self, key: str) -> str:
        """Absolute URL of a key under the catalog."""
        return f"{self.url}/{key}"

    def _loc(self, key: str) -> Location:
        return self.location.child(key)

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        loc = self._loc(key)
        with translating("reading", loc.url, loc.profile_name):
            try:
                return bytes(loc.fs.cat_file(loc.path))
            except FileNotFoundError:
                return None

    def read_tail(self, key: str, length: int) -> tuple[int, bytes]:
        """The object's size and its last ``length`` bytes.

        One suffix-range GET on S3 (the size comes back in ``Content-Range``;
        public buckets often allow GET but not HEAD).
        """
        loc = self._loc(key)
        with translating("reading", loc.url, loc.profile_name):
            return loc.backend.read_tail(loc.path, length)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object (one ranged GET)."""
        loc = self._loc(key)
        with translating("reading", loc.url, loc.profile_name):
            return bytes(loc.fs.cat_file(loc.path, start=start, end=end))

    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Write (replace) one object; S3 readers see the old or the new bytes, never a mix."""
        loc = self._loc(key)
        loc.require_writable()
        with translating("writing", loc.url, loc.profile_name):
            loc.backend.write_bytes(loc.path, data, content_type)

    def delete(self, key: str) -> None:
        """Remove one object if it exists."""
        loc = self._loc(key)
        with (
            translating("deleting", loc.url, loc.profile_name),
            contextlib.suppress(FileNotFoundError),
        ):
            loc.fs.rm_file(loc.path)
