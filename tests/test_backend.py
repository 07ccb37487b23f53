"""The ``jasmin`` xarray engine: xr.open_dataset(url, engine="jasmin", ...)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from jasmin_access.backend import JasminBackendEntrypoint, profile_from_storage_options
from jasmin_access.errors import InvalidInput
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.reading.helpers import write_store


@pytest.fixture(scope="module")
def reference(nemo_files: list[Path]) -> xr.Dataset:
    return xr.open_mfdataset(nemo_files, data_vars="minimal", coords="minimal").load()


def test_engine_is_registered() -> None:
    assert "jasmin" in xr.backends.list_engines()


def test_engine_with_profile_and_selections(
    bucket: str, profile_for, reference: xr.Dataset
) -> None:
    url = write_store(reference, f"{bucket}/run.zarr", profile_for(bucket))
    ds = xr.open_dataset(
        url, engine="jasmin", profile=profile_for(bucket), variables=["tos"], chunks={}
    )
    assert list(ds.data_vars) == ["tos"]
    assert ds.tos.chunks is not None
    xr.testing.assert_equal(ds.tos.load(), reference.tos)
    lazy = xr.open_dataset(url, engine="jasmin", profile=profile_for(bucket))
    xr.testing.assert_equal(lazy.thetao.load(), reference.thetao)


def test_engine_with_storage_options(
    s3_bucket: str, s3_endpoint: str, reference: xr.Dataset
) -> None:
    url = write_store(reference, f"{s3_bucket}/run.zarr", "moto")
    options = {"endpoint_url": s3_endpoint, "key": TEST_KEY, "secret": TEST_SECRET}
    ds = xr.open_dataset(url, engine="jasmin", storage_options=options, chunks={})
    xr.testing.assert_equal(ds.zos.load(), reference.zos)


def test_storage_options_mapping() -> None:
    prof = profile_from_storage_options(
        {"client_kwargs": {"endpoint_url": "http://h:1"}, "key": "k", "secret": "s3cr3t-value"}
    )
    assert prof.resolved_endpoint == "http://h:1" and prof.key == "k"
    assert "s3cr3t-value" not in repr(prof)
    with pytest.raises(InvalidInput, match="unsupported storage_options"):
        profile_from_storage_options({"requester_pays": True})


def test_guess_can_open() -> None:
    engine = JasminBackendEntrypoint()
    assert engine.guess_can_open("s3://bucket/run.zarr")
    assert engine.guess_can_open("local://bucket/x/run.index.json")
    assert not engine.guess_can_open("/data/file.nc")
    assert not engine.guess_can_open(42)
