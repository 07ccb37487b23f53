"""Every registered backend, each on a real server, as one parametrized fixture.

``place`` is a fresh, empty directory (or bucket) on one backend, with the
profile to reach it: the conformance suite runs once per backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jasmin_access.config import add_profile
from jasmin_access.stores import Location, resolve
from tests.backends.servers import AzuriteServer, SftpServer, WebdavServer
from tests.conftest import _bucket_name, _free_port

BACKENDS = ["local", "store", "s3", "memory", "webdav", "sftp", "azure"]


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


def _serving(server: Any) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebdavServer]:
    """A WsgiDAV server (basic auth) over a fresh directory, once per session."""
    yield from _serving(WebdavServer(tmp_path_factory.mktemp("dav-root"), _free_port()))


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    """An asyncssh SFTP server (password or key) over a fresh directory, once per session."""
    root, keys = tmp_path_factory.mktemp("sftp-root"), tmp_path_factory.mktemp("sftp-keys")
    yield from _serving(SftpServer(root, _free_port(), keys))


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    """Azurite's blob service (npm ``azurite``) over a fresh directory, once per session."""
    yield from _serving(AzuriteServer(tmp_path_factory.mktemp("azurite"), _free_port()))


@pytest.fixture
def webdav_profile(webdav_server: WebdavServer, isolated_env: Path) -> str:
    """Name of a ``webdav`` profile ("dav") for the test server."""
    add_profile("dav", webdav_server.profile_settings())
    return "dav"


@pytest.fixture
def sftp_profile(sftp_server: SftpServer, isolated_env: Path) -> str:
    """Name of an ``sftp`` profile ("hpc") reaching the test server with a key file."""
    add_profile("hpc", sftp_server.profile_settings())
    return "hpc"


@pytest.fixture
def azure_profile(azurite: AzuriteServer, isolated_env: Path) -> str:
    """Name of an ``azure`` profile ("blob") for the emulator's account."""
    add_profile("blob", azurite.profile_settings())
    return "blob"


@pytest.fixture
def webdav_dir(webdav_profile: str) -> str:
    """URL of a fresh, empty directory on the WebDAV server (``webdav://test-…``)."""
    loc = resolve(f"webdav://{_bucket_name()}", profile=webdav_profile)
    loc.fs.makedirs(loc.path, exist_ok=True)
    return loc.url


@pytest.fixture
def azure_container(azure_profile: str) -> str:
    """URL of a fresh, empty container on Azurite (``az://test-…``)."""
    from jasmin_access.fs import mb

    return mb(f"az://{_bucket_name()}", profile=azure_profile)


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
    if kind == "azure":
        url = str(request.getfixturevalue("azure_container"))
        return Place(kind, url, str(request.getfixturevalue("azure_profile")))
    if kind == "sftp":
        return Place(kind, f"sftp://{_unique()}", str(request.getfixturevalue("sftp_profile")))
    url = str(request.getfixturevalue("webdav_dir"))
    return Place(kind, url, str(request.getfixturevalue("webdav_profile")))
