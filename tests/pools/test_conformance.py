"""The backend conformance suite, run through a pool (a dataset on a disk, S3 or WebDAV).

A ``pool://`` URL naming a dataset resolves to the backend holding it, so the
suite checks that nothing is lost on the way: listings, heads, ranges, uploads,
copies, deletes and error classes behave as on the backend itself.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.backends import test_conformance as suite
from tests.backends.conftest import Place, webdav_dir, webdav_profile, webdav_server
from tests.pools.conftest import define

# a dataset's backend is the one holding it (not PoolBackend): the rest of the suite applies
TESTS = [n for n in dir(suite) if n.startswith("test_") and n != "test_registry_serves_the_scheme"]
globals().update({name: getattr(suite, name) for name in TESTS})
__all__ = ["webdav_dir", "webdav_profile", "webdav_server"]  # fixtures, used by name


@pytest.fixture(params=["disk", "s3", "webdav"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    """A fresh dataset of a pool whose first backend is a disk, the S3 server or WebDAV."""
    first = {"id": "disk", "url": str(tmp_path / "disk"), "order": 0}
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        first = {"id": "s3", "url": f"{bucket}/data", "order": 0,
                 "profile": request.getfixturevalue("s3_profile")}  # fmt: skip
    if request.param == "webdav":
        first = {"id": "dav", "url": request.getfixturevalue("webdav_dir"), "order": 0,
                 "profile": request.getfixturevalue("webdav_profile")}  # fmt: skip
    define("conf", [first, {"id": "spare", "url": str(tmp_path / "spare"), "order": 1}])
    return Place("pool", f"pool://conf/ds-{uuid.uuid4().hex[:8]}", None)
