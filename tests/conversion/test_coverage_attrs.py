"""``convert`` and ``append`` record the extents of what they wrote as ACDD global
attributes (in the consolidated metadata, also of a datastore version)."""

from __future__ import annotations

import json
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pytest
import zarr

import jasmin_access as ja
from tests.data import producers


def _expected(files: list[Path]) -> dict[str, object]:
    """The extents read from the XIOS files themselves with netCDF4 (land left out)."""
    lons, lats, times = [], [], []
    units = calendar = ""
    for path in files:
        with netCDF4.Dataset(path) as ds:
            lons.append(np.ma.filled(ds["nav_lon"][:], np.nan))
            lats.append(np.ma.filled(ds["nav_lat"][:], np.nan))
            times.append(ds["time_centered"][:])
            units, calendar = ds["time_centered"].units, ds["time_centered"].calendar
            depth = ds["deptht"][:]
    span = cftime.num2date([np.min(times), np.max(times)], units, calendar)
    return {
        "geospatial_lat_min": float(np.nanmin(lats)),
        "geospatial_lat_max": float(np.nanmax(lats)),
        "time_coverage_start": span[0].isoformat(),
        "time_coverage_end": span[1].isoformat(),
        "geospatial_vertical_min": float(depth.min()),
        "geospatial_vertical_max": float(depth.max()),
    }


def _coverage(attrs: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in attrs.items() if k.startswith(("geospatial_", "time_coverage_"))}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_convert_then_append_record_the_extents(tmp_path: Path, zarr_format: int) -> None:
    files = producers.xios_monthly(tmp_path / "nc", months=3, nrec=2)
    store = tmp_path / "run.zarr"
    ja.convert([str(p) for p in files[:2]], str(store), zarr_format=zarr_format)
    first = dict(zarr.open_consolidated(str(store), zarr_format=zarr_format).attrs)
    want = _expected(files[:2])
    for key, value in want.items():
        close = pytest.approx(value, abs=1e-5) if isinstance(value, float) else value
        assert first[key] == close, key
    assert first["time_coverage_start"].startswith("1976-11")
    assert (first["geospatial_lon_min"], first["geospatial_lon_max"]) == (-180.0, 180.0)
    assert first["geospatial_vertical_positive"] == "down"

    ja.append([str(files[2])], str(store))
    after = _coverage(dict(zarr.open_consolidated(str(store), zarr_format=zarr_format).attrs))
    assert after["time_coverage_end"] == _expected(files)["time_coverage_end"]
    assert after["time_coverage_end"].startswith("1977-01")
    assert after["time_coverage_start"] == first["time_coverage_start"]


def test_converting_into_a_datastore_keeps_them_in_the_version(tmp_path: Path) -> None:
    from jasmin_access.datastore import open_datastore

    files = producers.xios_monthly(tmp_path / "nc", months=2)
    url = str(tmp_path / "ds")
    ja.convert([str(p) for p in files], f"{url}@")
    ds, _ = open_datastore(url)
    header = ds.header(ds.latest() or "")
    attrs = json.loads(header["metadata"]["zarr.json"])["attributes"]
    assert _coverage(attrs) and attrs["time_coverage_end"] == _expected(files)["time_coverage_end"]


def test_on_s3_the_extents_come_from_the_stored_coordinates_without_reading_metadata(
    tmp_path: Path, s3_proxy: object, proxied_profile: str
) -> None:
    """The coordinates' objects are fetched; the arrays' metadata is known, never read back."""
    from jasmin_access.stores import resolve

    files = producers.xios_monthly(tmp_path / "nc", months=2, nrec=2)
    resolve("s3://cover-test", profile=proxied_profile).fs.mkdir("cover-test")
    s3_proxy.requests.clear()  # type: ignore[attr-defined]
    ja.convert([str(p) for p in files], "s3://cover-test/run.zarr", profile=proxied_profile)
    gets = [p for m, p, q in s3_proxy.requests if m == "GET" and not q]  # type: ignore[attr-defined]
    assert any("/nav_lat/" in p for p in gets)  # the coordinates were read back from the store
    assert not [p for p in gets if p.rsplit("/", 1)[-1] in ("zarr.json", ".zarray", ".zattrs")]
    loc = resolve("s3://cover-test/run.zarr", profile=proxied_profile)
    attrs = json.loads(loc.fs.cat_file(f"{loc.path}/zarr.json"))["attributes"]
    for key, value in _expected(files).items():
        close = pytest.approx(value, abs=1e-5) if isinstance(value, float) else value
        assert attrs[key] == close, key
