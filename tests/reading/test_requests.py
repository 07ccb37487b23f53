"""Request counting against a real S3 server: what opening and reading cost."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, counted_bucket_url

META = (".zmetadata", ".zarray", ".zattrs", ".zgroup", "zarr.json")


@pytest.fixture(scope="module")
def stores(counting_server: CountingServer, nemo_ref: xr.Dataset) -> dict[int, str]:
    """One v3 and one v2 store on the counting server, shared by the read-only tests."""
    import uuid

    from jasmin_access.config import Profile
    from jasmin_access.stores import resolve
    from tests.conftest import TEST_KEY, TEST_SECRET
    from tests.reading.helpers import write_store

    profile = Profile(
        name=COUNTED_PROFILE,
        endpoint_url=counting_server.url,
        key=TEST_KEY,
        secret=TEST_SECRET,
        source="env",
    )
    name = f"shared-{uuid.uuid4().hex[:10]}"
    resolve(f"s3://{name}", profile=profile).fs.mkdir(name)
    return {
        fmt: write_store(nemo_ref, f"s3://{name}/run{fmt}.zarr", profile, fmt) for fmt in (2, 3)
    }


def _metadata_gets(server: CountingServer, bucket: str) -> list[str]:
    return [r.key for r in server.log.gets(bucket[5:]) if r.key.endswith(META)]


def _chunk_gets(server: CountingServer, bucket: str, var: str) -> list[str]:
    return [r.key for r in server.log.gets(bucket[5:]) if f"/{var}/" in r.key]


def test_opening_a_consolidated_v3_store_costs_one_metadata_request(
    counted: CountingServer, stores: dict[int, str]
) -> None:
    url = stores[3]
    bucket = url.rsplit("/", 1)[0]
    counted.log.clear()
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    assert len(ds.data_vars) >= 4
    assert _metadata_gets(counted, bucket) == ["run3.zarr/zarr.json"]
    assert not [r for r in counted.log.requests if r.method == "HEAD"]
    assert _chunk_gets(counted, bucket, "thetao") == []  # opening reads no data


def test_opening_a_consolidated_v2_store_probes_once_per_prefix(
    counted: CountingServer, stores: dict[int, str]
) -> None:
    url = stores[2]
    bucket = url.rsplit("/", 1)[0]
    counted.log.clear()
    ja.open_dataset(url, profile=COUNTED_PROFILE)
    # one probe for a v3 root (absent), then the consolidated v2 document; no .zarray reads
    assert _metadata_gets(counted, bucket) == ["run2.zarr/zarr.json", "run2.zarr/.zmetadata"]
    counted.log.clear()
    ja.open_dataset(url, profile=COUNTED_PROFILE)  # a v2 store was found here: no probe now
    assert _metadata_gets(counted, bucket) == ["run2.zarr/.zmetadata"]
    counted.log.clear()
    ja.open_dataset(stores[3], profile=COUNTED_PROFILE)  # a v3 store beside it still opens
    assert _metadata_gets(counted, bucket)[-1] == "run3.zarr/zarr.json"


def test_metadata_cost_does_not_grow_with_variables(
    counted: CountingServer, nemo_ref: xr.Dataset
) -> None:
    from tests.reading.helpers import write_store

    wide = nemo_ref.assign({f"extra{i}": nemo_ref.tos * i for i in range(20)})
    url = write_store(wide, counted_bucket_url(counted) + "/wide.zarr", COUNTED_PROFILE)
    counted.log.clear()
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    assert "extra19" in ds
    assert _metadata_gets(counted, url.rsplit("/", 1)[0]) == ["wide.zarr/zarr.json"]


def test_subset_fetches_only_intersecting_chunks(
    counted: CountingServer, stores: dict[int, str], nemo_ref: xr.Dataset
) -> None:
    url = stores[3]
    bucket = url.rsplit("/", 1)[0]
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    counted.log.clear()
    part = ds.thetao.isel(time_counter=slice(1, 3), deptht=slice(2, 4)).values
    np.testing.assert_array_equal(
        part, nemo_ref.thetao.isel(time_counter=slice(1, 3), deptht=slice(2, 4)).values
    )
    # storage chunks are (1, 1, y, x): 2 steps x 2 levels = 4 chunks, each fetched once
    assert sorted(_chunk_gets(counted, bucket, "thetao")) == sorted(
        f"run3.zarr/thetao/c/{t}/{z}/0/0" for t in (1, 2) for z in (2, 3)
    )
    assert _chunk_gets(counted, bucket, "so") == []


def test_point_time_series_touches_only_chunks_holding_the_point(
    counted: CountingServer, nemo_ref: xr.Dataset
) -> None:
    from tests.reading.helpers import write_store

    url = counted_bucket_url(counted) + "/tiled.zarr"
    tiled = nemo_ref.copy()
    tiled["tos"].encoding = {"chunks": (1, 10, 12)}
    write_store(tiled, url, COUNTED_PROFILE)
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    counted.log.clear()
    series = ds.tos.isel(y=15, x=20).values
    np.testing.assert_array_equal(series, nemo_ref.tos.isel(y=15, x=20).values)
    keys = _chunk_gets(counted, url.rsplit("/", 1)[0], "tos")
    assert sorted(keys) == [f"tiled.zarr/tos/c/{t}/1/1" for t in range(3)]


def test_chunks_are_fetched_concurrently(counted: CountingServer, stores: dict[int, str]) -> None:
    url = stores[3]
    # one Dask task covering all 15 storage chunks: zarr must fetch them side by side
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE, chunks={"time_counter": 3, "deptht": 5})
    assert ds.thetao.data.npartitions == 1
    counted.log.clear()
    counted.log.delay = 0.05  # each data GET holds the server for a while
    ds.thetao.load()
    n = len(_chunk_gets(counted, url.rsplit("/", 1)[0], "thetao"))
    assert n == 15  # 3 steps x 5 levels, no chunk read twice
    assert counted.log.max_in_flight > 2


@pytest.mark.parametrize("fmt", [2, 3])
def test_dask_chunks_are_whole_storage_chunks(
    counted: CountingServer, stores: dict[int, str], fmt: int
) -> None:
    url = stores[fmt]
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    storage = ds.thetao.encoding["preferred_chunks"]
    assert storage == {"time_counter": 1, "deptht": 1, "y": 30, "x": 36}
    for dim, sizes in zip(ds.thetao.dims, ds.thetao.chunks, strict=True):
        assert all(size % storage[dim] == 0 for size in sizes[:-1])


def _layered(nz: int = 10, ny: int = 100, nx: int = 120) -> xr.Dataset:
    """A 4-D field stored one step and every level a chunk, land as a fill value."""
    rng = np.random.default_rng(3)
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    field = 20 - 0.3 * z + np.sin(y / 9.0) + np.cos(x / 7.0)
    values = np.stack([field + t + rng.normal(0, 0.01, field.shape) for t in range(3)])
    values[:, :, :10, :] = 1e20  # land
    var = xr.Variable(("time_counter", "deptht", "y", "x"), values.astype("f4"))
    var.attrs["_FillValue"] = np.float32(1e20)
    var.encoding["chunks"] = (1, nz, ny, nx)
    return xr.Dataset({"thetao": var})


@pytest.mark.parametrize(("level", "ranged"), [(0, True), (9, False)])
def test_point_near_a_chunk_start_reads_only_the_start_of_each_chunk(
    counted: CountingServer, level: int, ranged: bool
) -> None:
    url = counted_bucket_url(counted) + "/layered.zarr"
    from tests.reading.helpers import write_store

    write_store(_layered(), url, COUNTED_PROFILE)
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    counted.log.clear()
    series = ds.thetao.isel(deptht=level, y=50, x=60).values
    land = ds.thetao.isel(deptht=level, y=5, x=60).values
    bucket = url.rsplit("/", 1)[0][5:]
    gets = [r for r in counted.log.gets(bucket) if "/thetao/c/" in r.key]
    reference = xr.open_zarr(resolve_store(url)).thetao
    np.testing.assert_array_equal(series, reference.isel(deptht=level, y=50, x=60).values)
    np.testing.assert_array_equal(land, reference.isel(deptht=level, y=5, x=60).values)
    assert np.isnan(land).all() and not np.isnan(series).any()
    assert len(gets) == 6  # 3 chunks, twice
    # the surface values lie in the first fifth of each chunk: only a prefix of it is fetched
    assert all(r.range.startswith("bytes=0-") for r in gets) == ranged
    assert any(r.range for r in gets) == ranged


def resolve_store(url: str) -> object:
    """The zarr store at ``url`` on the counting profile (for xarray's own reader)."""
    from jasmin_access.stores import resolve

    return resolve(url, profile=COUNTED_PROFILE).zarr_store(read_only=True)
