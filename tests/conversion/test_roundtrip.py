"""Round trips: sources → store → xarray equals the decoded sources, on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr

from jasmin_access.conversion import convert, verify
from jasmin_access.stores import resolve

from .helpers import assert_same, open_store, reference, zstore


def _run(files: list[Path], url: str, profile: str | None, **kw: Any) -> Any:
    report = convert([str(f) for f in files], url, profile=profile, **kw)
    assert report.chunks_written == report.chunks_total > 0
    return report


def test_nemo_monthly(bucket: str, profile_for: Any, nemo_files: list[Path]) -> None:
    url = f"{bucket}/nemo.zarr"
    report = _run(nemo_files, url, profile_for(bucket), chunks="time_counter=1")
    store = open_store(url, profile_for(bucket))
    assert_same(store, reference(nemo_files))
    assert store.thetao.encoding["chunks"] == (1, 5, 30, 36)
    assert report.sources == 3 and report.bytes_stored > 0
    assert verify([str(f) for f in nemo_files], url, profile=profile_for(bucket)).ok


def test_nemo_daily_uneven_files_give_uniform_chunks(
    bucket: str, profile_for: Any, nemo_daily_files: list[Path]
) -> None:
    url = f"{bucket}/daily.zarr"
    _run(nemo_daily_files, url, profile_for(bucket), chunks={"time_counter": 10})
    store = open_store(url, profile_for(bucket))
    assert_same(store, reference(nemo_daily_files))
    assert store.sizes["time_counter"] == 31 + 29 + 31
    arr = zarr.open_array(zstore(url, profile_for(bucket)), path="thetao", mode="r")
    assert arr.chunks[0] == 10  # uniform across the 31/29/31 file boundaries


def test_worker_processes_write_the_same_chunks(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path]
) -> None:
    """Worker processes open the store themselves (no encoders from the parent)."""
    url = f"{s3_bucket}/procs.zarr"
    _run(nemo_files, url, s3_profile, chunks="time_counter=1", workers=2)
    assert_same(open_store(url, s3_profile), reference(nemo_files))


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF4_CLASSIC"])
def test_netcdf_formats(bucket: str, profile_for: Any, feature_files: Any, fmt: str) -> None:
    files = feature_files(fmt=fmt)
    url = f"{bucket}/{fmt.lower()}.zarr"
    _run(files, url, profile_for(bucket))
    store = open_store(url, profile_for(bucket))
    ref = reference(files, concat_dim="time")
    assert_same(store, ref)
    assert store.station.values.tolist() == [b"alpha", b"beta", b"gamma6"]


@pytest.mark.parametrize("calendar", ["noleap", "360_day"])
def test_features_calendars_groups(
    bucket: str, profile_for: Any, feature_files: Any, calendar: str
) -> None:
    files = feature_files(calendar=calendar, nfiles=3, steps=2)
    url = f"{bucket}/feat.zarr"
    _run(files, url, profile_for(bucket), chunks="time=4")
    store = open_store(url, profile_for(bucket))
    ref = reference(files, concat_dim="time")
    assert_same(store, ref)
    # packed int16 stays packed; fill and missing values decode to NaN
    raw = xr.open_zarr(zstore(url, profile_for(bucket)), decode_cf=False)
    assert raw.packed.dtype == np.int16 and raw.packed.attrs["scale_factor"] == np.float32(0.01)
    assert (
        np.isnan(store.packed.values[:, 0, 0]).all() and np.isnan(store.temp.values[:, 2, 3]).all()
    )
    assert store.time.values[0].calendar == calendar
    assert raw.time.attrs["units"] == "days since 2000-01-01"
    assert "time_bnds" in store and store.label.values.tolist() == [
        "north",
        "east",
        "south",
        "west",
    ]
    group = open_store(url, profile_for(bucket), group="extra")
    assert_same(group, xr.open_dataset(files[0], group="extra").load())


def test_time_units_differing_between_files(tmp_path: Path, feature_files: Any) -> None:
    files = feature_files(nfiles=2, steps=3, units_change=True)
    url = str(tmp_path / "units.zarr")
    _run(files, url, None)
    store = open_store(url)
    ref = reference(files, concat_dim="time")
    np.testing.assert_array_equal(store.time.values, ref.time.values)
    np.testing.assert_array_equal(store.time_bnds.values, ref.time_bnds.values)
    assert store.time.encoding["units"] == "days since 2000-01-01"
    assert verify([str(f) for f in files], url).ok


@pytest.mark.parametrize(
    "options",
    [{"zarr_format": 2}, {"shard_mb": 1, "chunks": "time_counter=1"}],
    ids=["v2", "sharded"],
)
def test_zarr_v2_and_sharded(
    bucket: str, profile_for: Any, nemo_files: list[Path], options: dict[str, Any]
) -> None:
    url = f"{bucket}/variant.zarr"
    _run(nemo_files, url, profile_for(bucket), **options)
    store = open_store(url, profile_for(bucket))
    assert_same(store, reference(nemo_files))
    group = zarr.open_group(zstore(url, profile_for(bucket)), mode="r")
    assert group.metadata.zarr_format == options.get("zarr_format", 3)
    if "shard_mb" in options:
        assert group["thetao"].shards == (3, 5, 30, 36) and group["thetao"].chunks[0] == 1


def test_sources_on_s3_read_by_range(
    s3_bucket: str, s3_profile: str, nemo_files: list[Path], feature_files: Any
) -> None:
    loc = resolve(f"{s3_bucket}/in/", profile=s3_profile)
    for f in nemo_files:
        loc.fs.put_file(str(f), f"{loc.path}/{f.name}")
    nc3 = feature_files(fmt="NETCDF3_64BIT_OFFSET")
    for f in nc3:
        loc.fs.put_file(str(f), f"{loc.path}/nc3/{f.name}")
    url = f"{s3_bucket}/from-s3.zarr"
    convert(f"{s3_bucket}/in/*_grid_T.nc", url, profile=s3_profile, zarr_format=2)
    assert_same(open_store(url, s3_profile), reference(nemo_files))
    url3 = f"{s3_bucket}/nc3.zarr"
    convert(f"{s3_bucket}/in/nc3/*.nc", url3, profile=s3_profile)
    assert_same(open_store(url3, s3_profile), reference(nc3, concat_dim="time"))


def test_selection_attrs_and_bitround(tmp_path: Path, nemo_files: list[Path]) -> None:
    url = str(tmp_path / "sel.zarr")
    files = [str(f) for f in nemo_files]
    convert(files, url, variables=["tos"], attrs={"project": "demo"}, keep_bits=8)
    store = open_store(url)
    assert "tos" in store and "thetao" not in store and "nav_lat" in store.coords
    assert store.attrs["project"] == "demo"
    assert store.tos.attrs["keep_bits"] == 8
    ref = reference(nemo_files).tos
    assert not np.array_equal(store.tos.values, ref.values)  # lossy
    np.testing.assert_allclose(store.tos.values, ref.values, rtol=2.0**-9)
    assert verify(files, url, variables=["tos"]).ok
    prov = store.attrs["jasmin_access"]
    assert [s["name"] for s in prov["sources"]] == files
    assert prov["options"]["keep_bits"] == 8 and "jasmin-access convert" in store.attrs["history"]
    dropped = str(tmp_path / "drop.zarr")
    convert(files, dropped, drop_variables=["so", "thetao"])
    assert set(open_store(dropped).data_vars) >= {"tos", "zos"}
    assert "so" not in open_store(dropped)
