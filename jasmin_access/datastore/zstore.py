"""A read-only zarr store over one version's manifest.

Metadata documents come from the manifest itself (no request); every other
key is looked up in the manifest and read from ``objects/<sha256>`` through
the ordinary read store of the datastore root (:func:`read_store`), so a
version opens with one GET (its manifest) and then costs only chunk GETs.
Whole-object reads are checked against their SHA-256: a missing or damaged
object is reported with its key, object and version, never read as fill
values.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from zarr.abc.store import ByteRequest
from zarr.storage import WrapperStore

from ..errors import IntegrityError
from ..reading.zstore import read_store
from . import layout
from .manifest import Manifest
from .repo import Datastore

__all__ = ["ManifestStore", "version_store"]


class ManifestStore(WrapperStore[Any]):
    """Logical keys of one version mapped onto content-addressed objects."""

    #: whole objects are checked against their SHA-256; ranged reads cannot be
    verifies_whole_objects = True

    def __init__(self, store: Any, manifest: Manifest, url: str) -> None:
        super().__init__(store)
        self.manifest = manifest
        self.url = url
        self._read_only = True

    def _with_store(self, store: Any) -> ManifestStore:
        return type(self)(store, self.manifest, self.url)

    def __repr__(self) -> str:
        return f"ManifestStore({self.url}@{self.manifest.id})"

    def reading_through(self, wrap: Callable[[Any], Any]) -> ManifestStore:
        """This version, reading its objects through ``wrap(store)``.

        For a chunk cache: objects never change and are named by their
        SHA-256, so a cached object is never stale, whatever version reads it.
        """
        return type(self)(wrap(self._store), self.manifest, self.url)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ManifestStore)
            and other.url == self.url
            and other.manifest.id == self.manifest.id
        )

    @property
    def read_only(self) -> bool:
        return True

    def _where(self, key: str, digest: str) -> str:
        return f"{self.url}@{self.manifest.id}: {key} (object {layout.object_key(digest)})"

    async def get(self, key: str, prototype: Any, byte_range: ByteRequest | None = None) -> Any:
        if byte_range is None and key in self.manifest.metadata:
            return prototype.buffer.from_bytes(self.manifest.metadata[key].encode())
        entry = self.manifest.lookup(key)
        if entry is None:
            return None
        digest, _size = entry
        small = self.manifest.inline.get(digest) if byte_range is None else None
        if small is not None and hashlib.sha256(small).hexdigest() == digest:
            return prototype.buffer.from_bytes(small)  # held by the manifest: no request
        buf = await self._store.get(layout.object_key(digest), prototype, byte_range)
        if buf is None:
            raise IntegrityError(
                f"{self._where(key, digest)} is missing",
                f"run `jasmin-access datastore verify {self.url}@{self.manifest.id}`",
            )
        if byte_range is None and hashlib.sha256(buf.as_numpy_array()).hexdigest() != digest:
            raise IntegrityError(
                f"{self._where(key, digest)} is corrupted (SHA-256 differs)",
                f"run `jasmin-access datastore verify {self.url}@{self.manifest.id}`",
            )
        return buf

    async def get_partial_values(
        self, prototype: Any, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Any]:
        return [await self.get(k, prototype, r) for k, r in key_ranges]

    async def exists(self, key: str) -> bool:
        return key in self.manifest.metadata or self.manifest.lookup(key) is not None

    async def getsize(self, key: str) -> int:
        entry = self.manifest.lookup(key)
        if entry is None:
            raise FileNotFoundError(key)
        return entry[1]

    async def list(self) -> AsyncIterator[str]:
        for key in self.manifest.keys:
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in self.manifest.keys:
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        base = prefix.rstrip("/") + "/" if prefix else ""
        seen: set[str] = set()
        for key in self.manifest.keys:
            if key.startswith(base):
                name = key[len(base) :].split("/", 1)[0]
                if name not in seen:
                    seen.add(name)
                    yield name

    async def set(self, key: str, value: Any) -> None:
        raise PermissionError(f"{self.url}@{self.manifest.id} is read-only")

    async def delete(self, key: str) -> None:
        raise PermissionError(f"{self.url}@{self.manifest.id} is read-only")

    @property
    def supports_writes(self) -> bool:
        return False

    @property
    def supports_deletes(self) -> bool:
        return False


def version_store(ds: Datastore, vid: str) -> ManifestStore:
    """The read-only zarr store of version ``vid`` (costs one GET: the manifest)."""
    manifest = ds.manifest(vid)
    return ManifestStore(read_store(ds.location), manifest, ds.url)


def stored_by_array(manifest: Manifest) -> dict[str, int]:
    """Stored bytes per top-level array, from the manifest (no listing)."""
    from ..reading.metainfo import stored_by_array as by_array

    return by_array(manifest.keys, manifest.sizes)
