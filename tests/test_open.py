"""jasmin_access.open_dataset / open_mfdataset on both backends, against xarray's own reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.errors import InvalidInput, NotFound
from jasmin_access.stores import resolve
from tests.reading.helpers import put_files, write_store

FIELDS = ["thetao", "so", "tos", "zos"]


@pytest.fixture(scope="module")
def reference(nemo_files: list[Path]) -> xr.Dataset:
    """xr.open_mfdataset over the original NetCDF files."""
    return xr.open_mfdataset(nemo_files, data_vars="minimal", coords="minimal").load()


def _assert_same(ds: xr.Dataset, ref: xr.Dataset, names: list[str] = FIELDS) -> None:
    for name in names:
        xr.testing.assert_equal(ds[name].load(), ref[name])
    np.testing.assert_array_equal(ds.nav_lat.values, ref.nav_lat.values)
    np.testing.assert_array_equal(ds.time_counter.values, ref.time_counter.values)


@pytest.mark.parametrize("fmt", [2, 3])
def test_zarr_store_values_equal_open_mfdataset(
    bucket: str, profile_for, reference: xr.Dataset, fmt: int
) -> None:
    url = write_store(reference, f"{bucket}/run.zarr", profile_for(bucket), fmt)
    ds = ja.open_dataset(url, profile=profile_for(bucket))
    assert ds.thetao.chunks is not None  # lazy, Dask-backed
    assert ds.thetao.attrs["units"] == "degC"
    _assert_same(ds, reference)


def test_netcdf_in_place_single_list_and_glob(
    bucket: str, profile_for, nemo_files: list[Path], reference: xr.Dataset
) -> None:
    profile = profile_for(bucket)
    urls = put_files(nemo_files, f"{bucket}/nc", profile)
    one = ja.open_dataset(urls[0], profile=profile)
    assert one.thetao.chunks is not None
    with xr.open_dataset(nemo_files[0]) as expected:
        xr.testing.assert_equal(one.thetao.load(), expected.thetao)
    _assert_same(ja.open_dataset(list(reversed(urls)), profile=profile), reference)
    _assert_same(ja.open_dataset(f"{bucket}/nc/*_grid_T.nc", profile=profile), reference)


def test_open_mfdataset_joins_stores_under_a_prefix(
    bucket: str, profile_for, reference: xr.Dataset
) -> None:
    profile = profile_for(bucket)
    for i in range(reference.sizes["time_counter"]):
        part = reference.isel(time_counter=[i])
        write_store(part, f"{bucket}/runs/month{i + 1:02d}.zarr", profile)
    ds = ja.open_mfdataset(f"{bucket}/runs/", profile=profile)
    _assert_same(ds, reference)
    glob = ja.open_mfdataset(f"{bucket}/runs/month*.zarr", profile=profile, variables=["tos"])
    assert list(glob.data_vars) == ["tos"]
    xr.testing.assert_equal(glob.tos.load(), reference.tos)


def test_selections_match_xarray_selections(
    bucket: str, profile_for, reference: xr.Dataset
) -> None:
    url = write_store(reference, f"{bucket}/run.zarr", profile_for(bucket))
    ds = ja.open_dataset(
        url,
        profile=profile_for(bucket),
        variables=["tos"],
        time=("1976-02", "1976-03"),
        bbox=(-60, -20, 30, 20),
    )
    assert list(ds.data_vars) == ["tos"]
    assert [str(t)[:7] for t in ds.time_counter.values.astype("datetime64[M]")] == [
        "1976-02",
        "1976-03",
    ]
    lat, lon = ds.nav_lat.values, ds.nav_lon.values
    inside = (lat >= -20) & (lat <= 20) & (lon >= -60) & (lon <= 30)
    ref_lat, ref_lon = reference.nav_lat.values, reference.nav_lon.values
    ref_inside = (ref_lat >= -20) & (ref_lat <= 20) & (ref_lon >= -60) & (ref_lon <= 30)
    # no cell centred in the box is lost ...
    assert int(inside.sum()) == int(ref_inside.sum()) > 0
    # ... and the window is the centres' window plus at most the covering edge cells
    rows = np.flatnonzero(ref_inside.any(axis=1))
    cols = np.flatnonzero(ref_inside.any(axis=0))
    assert 0 <= ds.sizes["y"] - (rows[-1] - rows[0] + 1) <= 2
    assert 0 <= ds.sizes["x"] - (cols[-1] - cols[0] + 1) <= 2
    np.testing.assert_array_equal(
        ds.tos.isel(time_counter=0).values[inside],
        reference.tos.isel(time_counter=1).values[ref_inside],
    )


def test_unfinished_conversion_is_reported(bucket: str, profile_for) -> None:
    profile = profile_for(bucket)
    loc = resolve(f"{bucket}/half.zarr/.jasmin-access/in-progress.json", profile=profile)
    with loc.fs.open(loc.path, "wb") as f:
        f.write(json.dumps({"run_id": "x"}).encode())
    with pytest.raises(NotFound, match="unfinished conversion") as info:
        ja.open_dataset(f"{bucket}/half.zarr", profile=profile)
    assert "re-run" in str(info.value)


def test_missing_store_and_bad_selections(bucket: str, profile_for, reference: xr.Dataset) -> None:
    profile = profile_for(bucket)
    with pytest.raises(NotFound, match="no Zarr store"):
        ja.open_dataset(f"{bucket}/nothing.zarr", profile=profile)
    with pytest.raises(NotFound, match="nothing matches"):
        ja.open_dataset(f"{bucket}/nc/*.nc", profile=profile)
    url = write_store(reference, f"{bucket}/run.zarr", profile)
    with pytest.raises(InvalidInput, match="not in the dataset"):
        ja.open_dataset(url, profile=profile, variables=["nope"])
    with pytest.raises(InvalidInput, match="covers"):
        ja.open_dataset(url, profile=profile, time=("2001-01", "2001-02"))


def test_chunks_none_gives_lazy_numpy_backed_arrays(
    local_bucket: str, reference: xr.Dataset
) -> None:
    url = write_store(reference, f"{local_bucket}/run.zarr", None)
    ds = ja.open_dataset(url, chunks=None)
    assert ds.thetao.chunks is None
    np.testing.assert_array_equal(ds.thetao[1, 2].values, reference.thetao[1, 2].values)


def test_sharded_store_with_hidden_prefix_opens(
    bucket: str, profile_for, reference: xr.Dataset, tmp_path: Path
) -> None:
    import zarr

    profile = profile_for(bucket)
    loc = resolve(f"{bucket}/sharded.zarr", profile=profile)
    store = loc.zarr_store()
    group = zarr.open_group(store, mode="w", zarr_format=3)
    arr = group.create_array(
        "tos",
        shape=reference.tos.shape,
        chunks=(1, 10, 12),
        shards=(3, 30, 36),
        dtype="f4",
        dimension_names=["time_counter", "y", "x"],
        attributes={"units": "degC"},
    )
    arr[:] = reference.tos.values
    t = group.create_array("time_counter", shape=(3,), dtype="f8", dimension_names=["time_counter"])
    t[:] = np.arange(3.0)
    t.attrs.update(units="days since 1976-01-01", calendar="noleap")
    marker = loc.child(".jasmin-access/run.json")
    with marker.fs.open(marker.path, "wb") as f:
        f.write(b"{}")
    zarr.consolidate_metadata(store)
    cache = str(tmp_path / "cache")
    ds = ja.open_dataset(loc.url, profile=profile, cache=cache)
    np.testing.assert_array_equal(ds.tos.values, reference.tos.values)
    assert ds.tos.encoding["preferred_chunks"]["time_counter"] in (1, 3)
    again = ja.open_dataset(loc.url, profile=profile, cache=cache, time=("1976-01-02", None))
    np.testing.assert_array_equal(again.tos.values, reference.tos.values[1:])


def test_a_whole_variable_load_holds_the_values_once(local_bucket: str) -> None:
    # the embedded store: the test S3 server runs in this process and its memory would count
    import tracemalloc

    rng = np.random.default_rng(0)
    values = (rng.integers(0, 50, size=(8, 10, 160, 160)) / 10).astype("f4")  # 8.2 MB
    source = xr.Dataset({"t": (("time_counter", "deptht", "y", "x"), values)})
    source.t.encoding["chunks"] = (1, 10, 160, 160)  # 8 storage chunks
    ds = ja.open_dataset(write_store(source, f"{local_bucket}/once.zarr", None))
    assert ds.t.chunks is not None and len(ds.t.data.chunks[0]) == 1  # one Dask task
    assert ds.t[0, 0, 0, 0].values == values[0, 0, 0, 0]  # what a first compute imports
    tracemalloc.start()
    try:
        first = ds.t.values
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(first, values)
    assert peak < 1.5 * values.nbytes  # Dask's copy of a lone block would need 2x
    first[...] = 0.0  # the loaded result is the caller's own: a new load is unaffected
    np.testing.assert_array_equal(ds.t.values, values)
