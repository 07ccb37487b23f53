"""The read-only zarr store of an S3 backend: zarr's ``ObjectStore`` over obstore.

zarr's own store does everything reading needs (whole, ranged and suffix
GETs, coalesced partial reads, listings); this subclass only makes it pickle
by profile, never by the settings obstore holds (which include the secret).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from zarr.storage import ObjectStore

from .. import paths
from ..config import Profile
from .s3read import BODY_RETRIES, S3Reader, cut_body

__all__ = ["S3ReadStore"]


class S3ReadStore(ObjectStore[Any]):
    """Keys below ``fs_path`` (``bucket/prefix``) on an S3 profile, read-only."""

    def __init__(self, reader: S3Reader, fs_path: str) -> None:
        bucket, prefix = paths.split_bucket(fs_path.strip("/"))
        super().__init__(reader.store(bucket, prefix.strip("/")), read_only=True)
        self.reader = reader
        self.fs_path = fs_path

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.reader.profile, self.fs_path))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, S3ReadStore)
            and other.fs_path == self.fs_path
            and other.reader.profile == self.reader.profile
        )

    def __hash__(self) -> int:
        return hash((self.fs_path, self.reader.profile.name))

    def __str__(self) -> str:
        return f"s3://{self.fs_path}"

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        """One read, repeated when the answer's body is cut off (as s3fs's outer loop)."""
        for attempt in range(BODY_RETRIES + 1):
            try:
                return await super().get(key, prototype, byte_range)
            except Exception as exc:
                if attempt == BODY_RETRIES or not cut_body(exc):
                    raise
        raise AssertionError("unreachable")

    async def get_partial_values(
        self, prototype: Any, key_ranges: Iterable[tuple[str, Any]]
    ) -> list[Any]:
        """Each range read as by :meth:`get`, all at once."""
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    def with_read_only(self, read_only: bool = False) -> S3ReadStore:
        if not read_only:
            raise ValueError("the S3 read store is read-only")
        return self


def _rebuild(profile: Profile, fs_path: str) -> Any:
    from . import backend_class
    from .s3read import credential_key, reader

    found = reader(profile, credential_key(profile))
    if found is None:  # obstore missing where this is unpickled: the backend's own store
        return backend_class("s3")(profile).zarr_store(fs_path, read_only=True)
    return S3ReadStore(found, fs_path)
