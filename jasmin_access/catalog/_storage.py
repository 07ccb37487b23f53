"""Every storage access of the catalog, in one place.

The catalog lists prefixes, reads and writes small objects and reads byte
ranges of one object; it does so only through :func:`jasmin_access.resolve`
locations and :mod:`jasmin_access.fs`, and only from this module.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from typing import Any

from .. import paths
from ..errors import translating
from ..fs import Entry
from ..stores import Location, resolve

__all__ = [
    "Access", "CatalogStore", "DatastoreState", "datastore_headers", "datastore_state",
    "datastore_store", "list_level",
]  # fmt: skip


@dataclass(frozen=True)
class Access:
    """How to reach a store (the keyword arguments of :func:`jasmin_access.resolve`), and
    whether a dataset's coordinate arrays may be read when its metadata lacks its extents."""

    profile: Any = None
    endpoint_url: str | None = None
    anon: bool | None = None
    coordinate_reads: bool = True  # may read coordinate arrays of stores lacking ACDD extents

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``resolve``/``ls``/``open_dataset``."""
        return {"profile": self.profile, "endpoint_url": self.endpoint_url, "anon": self.anon}

    def resolve(self, url: str) -> Location:
        """The location of ``url``."""
        return resolve(url, **self.kwargs)


def list_level(url: str, access: Access) -> list[Entry]:
    """Objects and pseudo-directories directly under ``url`` (one listing).

    The raw listing: unlike ``ls``, a datastore root shows its own objects
    (marker, ``versions/``, ``tags/`` ...), not its latest version's files, so
    finding a datastore reads none of its manifests.
    """
    loc = access.resolve(url)
    with translating("listing", loc.url, loc.profile_name):
        try:
            objs, dirs = loc.backend.list_level(loc.path)
        except FileNotFoundError:
            return []
    entries = [
        Entry(loc.to_url(o.path), paths.basename(o.path), "file", o.size, o.mtime, o.etag)
        for o in objs
    ]
    entries += [Entry(paths.as_dir(loc.to_url(d)), paths.basename(d), "directory") for d in dirs]
    return entries


@dataclass(frozen=True)
class DatastoreState:
    """A datastore's versions (oldest first) and tags (name -> version IDs): two listings."""

    versions: tuple[str, ...]
    tags: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def fingerprint(self) -> str:
        """Changes with any version pushed or removed and any tag given."""
        text = "\n".join([*self.versions, *(f"{n}={','.join(v)}" for n, v in self.tags)])
        latest = self.versions[-1] if self.versions else "none"
        return f"versions:{len(self.versions)}:{latest}:{hashlib.sha1(text.encode()).hexdigest()}"


def datastore_state(url: str, access: Access) -> DatastoreState:
    """One LIST of ``versions/`` and one walk of ``tags/``; no manifest is read."""
    from ..datastore import open_datastore

    ds, _ = open_datastore(url, **access.kwargs)
    tags = ds.tags()
    return DatastoreState(
        tuple(ds.version_ids()), tuple(sorted((n, tuple(sorted(v))) for n, v in tags.items()))
    )


def datastore_headers(url: str, access: Access, versions: list[str]) -> list[dict[str, Any]]:
    """Each version's manifest header (which inlines its Zarr metadata): one ranged GET each."""
    from concurrent.futures import ThreadPoolExecutor

    from ..datastore import open_datastore

    ds, _ = open_datastore(url, **access.kwargs)
    with ThreadPoolExecutor(min(8, max(len(versions), 1))) as pool:
        return list(pool.map(ds.header, versions))


def datastore_store(url: str, access: Access, header: dict[str, Any], full: bool) -> Any:
    """A read-only zarr store of one version.

    Without ``full`` it holds the metadata of the header only (no request);
    with ``full`` the version's whole manifest is read (one GET) so that
    coordinates can be read.
    """
    from ..datastore import Manifest, open_datastore, version_store
    from ..datastore.zstore import ManifestStore
    from ..reading.zstore import read_store

    ds, _ = open_datastore(url, **access.kwargs)
    if full:
        return version_store(ds, header["id"])
    keep = ("id", "parent", "created", "author", "message")
    manifest = Manifest(**{k: str(header.get(k) or "") for k in keep})
    manifest.metadata = dict(header.get("metadata") or {})
    return ManifestStore(read_store(ds.location), manifest, ds.url)


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

    @property
    def public(self) -> bool:
        """True for a catalog read anonymously over ``http(s)://`` (a public bucket)."""
        return self.url.startswith(("http://", "https://")) and self.location.caps.read_only

    def read_tail(self, key: str, length: int) -> tuple[int, bytes]:
        """The object's size and its last ``length`` bytes.

        One suffix-range GET (the size comes back in ``Content-Range``; public
        buckets often allow GET but not HEAD).
        """
        loc = self._loc(key)
        with translating("reading", loc.url, loc.profile_name):
            if self.public:
                headers, data = _http_get(self.href(key), f"bytes=-{length}")
                total = str(headers.get("Content-Range") or "").rpartition("/")[2]
                return (int(total) if total.isdigit() else len(data)), data
            return loc.backend.read_tail(loc.path, length)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object (one ranged GET)."""
        loc = self._loc(key)
        with translating("reading", loc.url, loc.profile_name):
            if self.public:
                return _http_get(self.href(key), f"bytes={start}-{end - 1}")[1]
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


def _http_get(url: str, byte_range: str, attempts: int = 3) -> tuple[Any, bytes]:
    """One anonymous ranged GET of a public object: headers and body.

    A search of a public catalog makes two of these and nothing else; plain
    HTTP spares it the S3 client's setup (loading the botocore service
    models, starting its event loop), which cost more than the search itself.
    Server errors and dropped connections are retried.
    """
    import time
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Range": byte_range})
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.headers, bytes(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise FileNotFoundError(url) from None
            if exc.code in (401, 403):
                raise PermissionError(f"{url}: HTTP {exc.code} (is the bucket public?)") from None
            if exc.code < 500 or attempt == attempts - 1:
                raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if attempt == attempts - 1:
                raise OSError(f"{url}: {getattr(exc, 'reason', exc)}") from None
        time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")
