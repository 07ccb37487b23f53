"""Fixtures for the reading tests: a request-counting S3 server and test stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import xarray as xr

from tests.conftest import TEST_KEY, TEST_SECRET
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, write_store


@pytest.fixture(scope="session")
def counting_server() -> Iterator[CountingServer]:
    """A moto S3 server of its own that records every request."""
    server = CountingServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def counted(counting_server: CountingServer, isolated_env: Path) -> CountingServer:
    """The counting server with a profile ``counted`` pointing at it; log cleared."""
    from jasmin_access.config import add_profile

    add_profile(
        COUNTED_PROFILE,
        {"endpoint_url": counting_server.url, "key": TEST_KEY, "secret": TEST_SECRET},
    )
    counting_server.log.clear()
    counting_server.log.delay = 0.0
    return counting_server


@pytest.fixture(scope="session")
def nemo_ref(nemo_files: list[Path]) -> xr.Dataset:
    """The NEMO test files opened with xarray's own open_mfdataset (the reference)."""
    return xr.open_mfdataset(nemo_files).load()


@pytest.fixture
def make_store(nemo_ref: xr.Dataset) -> Callable[..., str]:
    """``make_store(url, profile, fmt=3)`` writes the NEMO reference as a Zarr store."""

    def make(url: str, profile: str | None, fmt: int = 3) -> str:
        return write_store(nemo_ref, url, profile, fmt)

    return make
