"""Reference indexes over NetCDF objects on a store: build, open, detect changed sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr

import jasmin_access as ja
from jasmin_access.errors import IntegrityError, InvalidInput
from jasmin_access.open import build_index
from jasmin_access.stores import resolve
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.reading.counting import CountingServer
from tests.reading.helpers import COUNTED_PROFILE, counted_bucket_url, put_files

FIELDS = ["thetao", "so", "tos", "zos"]


def _reference(files: list[Path]) -> xr.Dataset:
    return xr.open_mfdataset(files, data_vars="minimal", coords="minimal").load()


def test_index_opens_to_the_same_values(bucket: str, profile_for, nemo_files: list[Path]) -> None:
    profile = profile_for(bucket)
    put_files(nemo_files, f"{bucket}/run", profile)
    url = build_index(f"{bucket}/run/*_grid_T.nc", profile=profile)
    assert url == f"{bucket}/run/{nemo_files[0].stem}.index.json"
    ds = ja.open_dataset(url, profile=profile)
    ref = _reference(nemo_files)
    for name in [*FIELDS, "nav_lat", "nav_lon", "deptht"]:
        xr.testing.assert_equal(ds[name].load(), ref[name])
    xr.testing.assert_equal(ds.time_counter, ref.time_counter)
    assert "time_counter" not in ds.nav_lat.dims


def test_daily_files_with_uneven_lengths(local_bucket: str, nemo_daily_files: list[Path]) -> None:
    put_files(nemo_daily_files, f"{local_bucket}/daily", None)
    url = build_index(f"{local_bucket}/daily/*.nc", f"{local_bucket}/daily/all.index.json")
    ds = ja.open_dataset(url)
    ref = _reference(nemo_daily_files)
    assert ds.sizes["time_counter"] == 31 + 29 + 31
    xr.testing.assert_equal(ds.tos.load(), ref.tos)
    xr.testing.assert_equal(ds.time_centered.load(), ref.time_centered)


def test_changed_source_fails_with_a_clear_message(
    bucket: str, profile_for, nemo_files: list[Path]
) -> None:
    profile = profile_for(bucket)
    urls = put_files(nemo_files, f"{bucket}/run", profile)
    url = build_index(urls, f"{bucket}/run/run.index.json", profile=profile)
    loc = resolve(urls[1], profile=profile)
    loc.fs.put(str(nemo_files[0]), loc.path)  # another file's bytes under this name
    with pytest.raises(IntegrityError, match="changed since index") as info:
        ja.open_dataset(url, profile=profile)
    assert nemo_files[1].name in str(info.value)
    assert "rebuild" in str(info.value)
    loc.fs.rm(loc.path)
    with pytest.raises(IntegrityError, match="no longer exists"):
        ja.open_dataset(url, profile=profile)


def test_index_holds_no_secret_and_no_endpoint(
    s3_bucket: str, s3_endpoint: str, nemo_files: list[Path]
) -> None:
    urls = put_files(nemo_files[:2], f"{s3_bucket}/run", "moto")
    url = build_index(urls, profile="moto")
    loc = resolve(url, profile="moto")
    text = loc.fs.cat_file(loc.path).decode()
    assert TEST_SECRET not in text and TEST_KEY not in text
    assert s3_endpoint not in text
    doc = json.loads(text)
    sources = doc["jasmin_access"]["sources"]
    assert [s["key"] for s in sources] == [u[5:] for u in urls]
    assert all(s["size"] > 0 and s["etag"] for s in sources)


def test_opening_an_index_reads_only_the_index_and_needed_ranges(
    counted: CountingServer, nemo_files: list[Path]
) -> None:
    bucket = counted_bucket_url(counted)
    put_files(nemo_files, f"{bucket}/run", COUNTED_PROFILE)
    url = build_index(f"{bucket}/run/*.nc", profile=COUNTED_PROFILE)
    counted.log.clear()
    ds = ja.open_dataset(url, profile=COUNTED_PROFILE)
    name = bucket[5:]
    on_sources = [r for r in counted.log.requests if r.key.endswith(".nc")]
    index_gets = [r for r in counted.log.gets(name) if r.key.endswith(".index.json")]
    listings = [r for r in counted.log.requests if "list-type" in r.query]
    assert len(index_gets) == 1 and len(listings) == 1  # the index, one check of the sources
    assert on_sources == []  # coordinates are inlined: opening reads no source bytes
    counted.log.clear()
    ds.tos.reset_coords(drop=True).isel(time_counter=1).load()
    reads = {r.key.rsplit("/", 1)[1] for r in counted.log.gets(name) if r.key.endswith(".nc")}
    assert reads == {nemo_files[1].name}


def test_index_rejects_non_netcdf(local_bucket: str) -> None:
    with pytest.raises(InvalidInput, match="not NetCDF"):
        build_index([f"{local_bucket}/run.zarr"])


def test_index_builds_inside_a_running_event_loop(local_bucket: str, nemo_files) -> None:
    """As in Jupyter, where an event loop is already running in the main thread."""
    import asyncio

    import jasmin_access as ja

    ja.cp(str(nemo_files[0].parent) + "/", local_bucket + "/nc/", recursive=True)

    async def inside_a_loop() -> str:
        return ja.open.build_index(local_bucket + "/nc/*_grid_T.nc")

    url = asyncio.run(inside_a_loop())
    ds = ja.open_dataset(url)
    assert ds.sizes["time_counter"] == len(nemo_files)


def test_xios_files_without_time_units_are_refused_not_merged(
    local_bucket: str, tmp_path: Path
) -> None:
    from tests.data.producers import xios_monthly

    files = xios_monthly(tmp_path / "xios")  # time_counter = 0 in every file
    put_files(files, f"{local_bucket}/xios", None)
    dest = f"{local_bucket}/xios/all.index.json"
    with pytest.raises(InvalidInput, match="'time_counter' repeats values") as caught:
        build_index(f"{local_bucket}/xios/*.nc", dest)
    assert files[1].name in str(caught.value) and "jasmin-access convert" in str(caught.value)
    assert not resolve(dest).fs.exists(resolve(dest).path)
