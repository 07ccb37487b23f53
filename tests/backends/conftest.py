"""Every registered backend, each on a real server, as one parametrized fixture.

``place`` is a fresh, empty directory (or bucket) on one backend, with the
profile to reach it: the conformance suite runs once per backend.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from jasmin_access.stores import Location, resolve

BACKENDS = ["local", "store", "s3", "memory", "webdav", "sftp"]


@dataclass
class Place:
    """A fresh empty directory on one backend."""

    name: str
    url: str
    profile: str | None

    def loc(self, rel: str = "", **kwargs: object) -> Location:
        """The location of ``rel`` below the place."""
        url = f"{self.url}/{rel}" if rel else self.url
        return resolve(url, profile=self.profile, **kwargs)  # type: ignore[arg-type]

    def put(self, rel: str, data: bytes) -> Location:
        """Write one object."""
        loc = self.loc(rel)
        loc.backend.write_bytes(loc.path, data)
        return loc


def _unique() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """A fresh empty place on each backend in turn."""
    kind = request.param
    if kind == "local":
        return Place(kind, str(tmp_path / "place"), None)
    if kind == "store":
        return Place(kind, str(request.getfixturevalue("local_bucket")), None)
    if kind == "s3":
        return Place(kind, str(request.getfixturevalue("s3_bucket")), "moto")
    if kind == "memory":
        return Place(kind, f"memory://{_unique()}", None)
    if kind == "sftp":
        return Place(kind, f"sftp://{_unique()}", str(request.getfixturevalue("sftp_profile")))
    url = str(request.getfixturevalue("webdav_dir"))
    return Place(kind, url, str(request.getfixturevalue("webdav_profile")))
