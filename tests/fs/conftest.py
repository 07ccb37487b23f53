"""Helpers for the fs tests: write objects on either backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jasmin_access.stores import resolve

Put = Callable[..., None]


@pytest.fixture
def put(profile_for: Callable[[str], str | None]) -> Put:
    """``put(url, data=b"x")`` writes one object (S3 or the embedded store)."""

    def write(url: str, data: bytes = b"x") -> None:
        loc = resolve(url, profile=profile_for(url))
        loc.fs.pipe_file(loc.path, data)

    return write


@pytest.fixture
def tree_bucket(bucket: str, put: Put) -> str:
    """A bucket with run1/, run10/, a nested prefix and awkward names."""
    files = {
        "run1/a.nc": b"a" * 10,
        "run1/b.txt": b"b" * 3,
        "run1/sub/c.nc": b"c" * 5,
        "run10/d.nc": b"d" * 7,
        "top.txt": b"top",
    }
    for key, data in files.items():
        put(f"{bucket}/{key}", data)
    return bucket
